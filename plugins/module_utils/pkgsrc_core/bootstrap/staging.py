"""Placing an extracted kit: a staging directory on the target filesystem, then renames.

A kit is extracted into <parent of prefix>/.pkgsrc-bootstrap-staging-XXXX (a tree mirroring the
logical paths: opt/pkg/..., var/db/pkgin/...). plan_placement() compares it with the target:
every staged path whose target does not exist yet moves as a whole subtree with one rename;
existing directories are descended into and left as they are; an existing identical file or
symlink is kept (an interrupted run converges); a known replaceable file is replaced; anything
else is a conflict and nothing moves. The subtree holding the package database moves last, so
the install only counts as bootstrapped once everything else is in place. A subtree on another
filesystem is first copied into a staging directory beside its target, then renamed.
"""
from __future__ import annotations

import os
import posixpath
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from typing import Callable, Collection, Iterable, List, Optional, Tuple

from ..errors import PkgsrcError
from ..fsutil import files_equal, is_within, join_root, nearest_existing, remove_tree

STAGING_PREFIX = ".pkgsrc-bootstrap-staging-"
_STAGING_NAME = re.compile(r"^" + re.escape(STAGING_PREFIX) + r"[A-Za-z0-9_]{6,}$")
Log = Optional[Callable[[str], None]]


class PlacementConflict(PkgsrcError):
    """Staged paths collide with existing files that are not ours to replace."""


@dataclass(frozen=True)
class Placement:
    """What placing a staging tree does: renames (source, target host paths), kept and replaced paths."""

    staging: str
    moves: Tuple[Tuple[str, str], ...]
    kept: Tuple[str, ...]
    replaced: Tuple[str, ...]


def staging_parent(root: str, prefix: str) -> str:
    """Host directory for the staging tree: the parent of the prefix, or its nearest existing ancestor."""
    return nearest_existing(join_root(root, posixpath.dirname(prefix)))


def make_staging(parent: str) -> str:
    """A new, empty, private staging directory inside parent."""
    path = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent)
    os.chmod(path, 0o700)
    return path


def find_stale(dirs: Iterable[str]) -> Tuple[str, ...]:
    """Staging directories of our own naming left in dirs by an interrupted run."""
    found: List[str] = []
    for directory in sorted(set(dirs)):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            if _STAGING_NAME.match(name) and os.path.isdir(path) and not os.path.islink(path):
                found.append(path)
    return tuple(sorted(found))


def _same(staged: str, target: str) -> bool:
    s_info, t_info = os.lstat(staged), os.lstat(target)
    if stat.S_ISLNK(s_info.st_mode):
        return stat.S_ISLNK(t_info.st_mode) and os.readlink(staged) == os.readlink(target)
    if stat.S_ISREG(s_info.st_mode) and stat.S_ISREG(t_info.st_mode):
        return (stat.S_IMODE(s_info.st_mode) == stat.S_IMODE(t_info.st_mode)) and files_equal(staged, target)
    return False


def plan_placement(staging: str, root: str, replaceable: Collection[str] = (), last: Collection[str] = ()
                   ) -> Placement:
    """Compare the staging tree with the target (read only); PlacementConflict lists every clash.

    replaceable: logical paths of files that may replace an existing file (marker, paths.d file).
    last: logical paths (e.g. the pkgdb) whose subtree must be placed after everything else.
    """
    moves: List[Tuple[str, str, str]] = []
    kept: List[str] = []
    replaced: List[str] = []
    conflicts: List[str] = []

    def visit(logical_dir: str) -> None:
        host_dir = staging + ("" if logical_dir == "/" else logical_dir)
        for name in sorted(os.listdir(host_dir)):
            logical = posixpath.join(logical_dir, name)
            staged = os.path.join(host_dir, name)
            target = join_root(root, logical)
            s_info = os.lstat(staged)
            if not os.path.lexists(target):
                moves.append((logical, staged, target))
            elif stat.S_ISDIR(s_info.st_mode) and os.path.isdir(target):
                visit(logical)
            elif logical in replaceable and stat.S_ISREG(s_info.st_mode) and not os.path.isdir(target):
                if _same(staged, target):
                    kept.append(logical)
                else:
                    replaced.append(logical)
                    moves.append((logical, staged, target))
            elif _same(staged, target):
                kept.append(logical)
            else:
                conflicts.append(logical)

    visit("/")
    if conflicts:
        shown = ", ".join(conflicts[:10]) + (" and %d more" % (len(conflicts) - 10) if len(conflicts) > 10 else "")
        raise PlacementConflict("the kit would overwrite existing files: %s; nothing was placed" % shown,
                                "remove or move them (they do not belong to a bootstrapped install), or choose "
                                "another prefix")

    def is_last(logical: str) -> bool:
        return any(is_within(p, logical) or is_within(logical, p) for p in last)

    ordered = sorted(moves, key=lambda m: (is_last(m[0]), m[0]))
    return Placement(staging, tuple((m[1], m[2]) for m in ordered), tuple(kept), tuple(replaced))


def _copy_beside(source: str, target: str) -> str:
    """Copy source into a staging dir next to target (other filesystem); return the copy's path."""
    holder = make_staging(posixpath.dirname(target))
    copy = os.path.join(holder, posixpath.basename(target))
    if os.path.isdir(source) and not os.path.islink(source):
        shutil.copytree(source, copy, symlinks=True)
        shutil.copystat(source, copy)
    elif os.path.islink(source):
        os.symlink(os.readlink(source), copy)
    else:
        shutil.copy2(source, copy)
    return copy


def apply_placement(placement: Placement, log: Log = None) -> List[str]:
    """Rename every staged subtree into place (pkgdb last); returns the target paths placed."""
    placed: List[str] = []
    for source, target in placement.moves:
        parent = posixpath.dirname(target)
        if not os.path.isdir(parent):
            raise PkgsrcError("cannot place %s: %s is not a directory" % (target, parent))
        if os.lstat(source).st_dev != os.stat(parent).st_dev:
            copy = _copy_beside(source, target)
            os.replace(copy, target)
            remove_tree(posixpath.dirname(copy))
        else:
            os.replace(source, target)
        placed.append(target)
        if log:
            log("placed %s" % target)
    return placed


def discard(staging: str) -> None:
    """Remove a staging directory (whatever it still holds)."""
    remove_tree(staging)
