"""A prefix's repository configuration, planned then written, and pkgin's database reloaded.

pkgin's repositories.conf and preferred.conf, and
pkg_install.conf's PKG_PATH and VERIFIED_INSTALLATION. Plan (file texts before/after, pure
renderers from pkgconf.py), then write what changed atomically and refresh pkgin's database.
"""
from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import CommandError, PkgsrcError
from ..fsutil import atomic_write, read_text
from ..layout import Layout
from ..lock import DEFAULT_TIMEOUT, PkgdbLock
from ..runner import Runner
from ..versions import compile_pattern
from .journal import HistoryOptions, Journal, installed_packages, result_fields
from .pkgconf import VERIFIED_VALUES, check_repository, pkg_path_for, render_pkg_install_conf, render_repositories
from .tools import Command, pkgin_update_command, record_pkgin_loaded, run_commands, tool_path

PREFERRED_HEADER = "# Managed by pkgsrc.deploy: pkgin pins, one pattern per line.\n"


@dataclass(frozen=True)
class RepositoryRequest:
    """The adapters' options. None leaves that part of the configuration alone."""

    repositories: Optional[Tuple[str, ...]] = None
    branch: Optional[str] = None
    preferred: Optional[Tuple[str, ...]] = None
    pkg_path: bool = True
    verified_installation: Optional[str] = None
    update_cache: bool = True


@dataclass(frozen=True)
class FileChange:
    """One configuration file's text before and after."""

    path: str
    before: Optional[str]
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def expand(urls: Sequence[str], branch: Optional[str]) -> List[str]:
    """URLs with `{branch}` replaced (pkgin's own `$arch`/`$osrelease` are left for pkgin)."""
    out = []
    for url in urls:
        if "{branch}" in url:
            if not branch:
                raise PkgsrcError("repository %s uses {branch} but no branch is given" % url,
                                  "set branch (trunk or a quarterly such as 2025Q3)")
            url = url.replace("{branch}", branch)
        out.append(check_repository(url))
    return out


def render_preferred(current: Optional[str], pins: Sequence[str]) -> str:
    """preferred.conf listing exactly the given pins (pkg_install patterns), in order."""
    for pin in pins:
        compile_pattern(pin)
    lines = [line.strip() for line in (current or "").splitlines()
             if line.strip() and not line.strip().startswith("#")]
    if current is not None and lines == list(pins):
        return current
    return PREFERRED_HEADER + "".join(p + "\n" for p in pins)


def plan_repository(request: RepositoryRequest, layout: Layout) -> List[FileChange]:
    """Every file the request touches, with its text before and after (pure but for reading)."""
    etc = layout.host(layout.sysconfdir)
    changes: List[FileChange] = []
    settings: Dict[str, Optional[str]] = {}
    if request.verified_installation is not None:
        if request.verified_installation not in VERIFIED_VALUES:
            raise PkgsrcError("verified_installation %r is not valid" % request.verified_installation,
                              "use one of: %s" % ", ".join(VERIFIED_VALUES))
        settings["VERIFIED_INSTALLATION"] = request.verified_installation
    if request.repositories is not None:
        urls = expand(request.repositories, request.branch)
        if not urls:
            raise PkgsrcError("no repository given", "list at least one repository URL")
        path = os.path.join(etc, "pkgin", "repositories.conf")
        before = read_text(path)
        changes.append(FileChange(path, before, render_repositories(before, urls)))
        if request.pkg_path:
            settings["PKG_PATH"] = pkg_path_for(urls)
    if settings:
        path = os.path.join(etc, "pkg_install.conf")
        before = read_text(path)
        changes.append(FileChange(path, before, render_pkg_install_conf(before, settings)))
    if request.preferred is not None:
        path = os.path.join(etc, "pkgin", "preferred.conf")
        before = read_text(path)
        changes.append(FileChange(path, before, render_preferred(before, request.preferred)))
    return [c for c in changes if c.changed]


def _request_record(request: RepositoryRequest) -> Dict[str, object]:
    return {k: v for k, v in asdict(request).items() if v is not None}


def manage_repository(request: RepositoryRequest, layout: Layout, runner: Runner,
                      check_mode: bool = False, history: Optional[HistoryOptions] = None) -> Dict[str, object]:
    """Write the changed files (0644, atomically), then `pkgin -y update` if repositories changed.

    A change is a transaction of the prefix's history (kind repository; the package set stays).
    """
    changes = plan_repository(request, layout)
    diff = [{"before": c.before or "", "after": c.after, "before_header": c.path, "after_header": c.path}
            for c in changes]
    commands: List[Command] = []
    pkgin = tool_path(layout, "pkgin")
    repos_changed = any(c.path.endswith("repositories.conf") for c in changes)
    if repos_changed and request.update_cache and os.access(pkgin, os.X_OK):
        # Forced: pkgin loads a repository added beside the others only then.
        commands.append(pkgin_update_command(layout, force=True))
    journal = None
    if changes and not check_mode:
        dbdir = layout.host(layout.pkg_dbdir)
        with PkgdbLock(dbdir, timeout=DEFAULT_TIMEOUT) if os.path.isdir(dbdir) else nullcontext():
            journal = Journal(layout, "repository", history, runner) if os.path.isdir(dbdir) else None
            _write(changes, commands, request, layout, runner, journal)
    return {"changed": bool(changes), "files": [c.path for c in changes], "diff": diff,
            "commands": [c.as_dict() for c in commands], **result_fields(journal)}


def _write(changes: Sequence[FileChange], commands: Sequence[Command], request: RepositoryRequest, layout: Layout,
           runner: Runner, journal: Optional[Journal]) -> None:
    installed = installed_packages(layout) if journal else {}
    if journal:
        journal.recover(installed)
        journal.begin(_request_record(request), installed)
        journal.messages.extend("wrote %s" % c.path for c in changes)
    done: List[Dict[str, object]] = []
    try:
        for change in changes:
            atomic_write(change.path, change.after, mode=0o644)
        for cmd in commands:
            done.extend(run_commands([cmd], runner))
    except CommandError as exc:
        if journal:
            journal.ran(done + [{"argv": exc.argv, "rc": exc.rc}])
            journal.fail(exc, installed)
        raise
    if commands:
        record_pkgin_loaded(layout)
    if journal:
        journal.ran(done)
        journal.finish("ok", installed_packages(layout))
