"""Per-host cgroup folders in the hybrid (v1 name=systemd + v2 unified) hierarchy of this machine.

There is no systemd on the controller to give each container its own scope, so without care every
container would land in one cgroup and two containers would share their service cgroups. Each host
gets ``<name>`` in both ``/sys/fs/cgroup/systemd`` and ``/sys/fs/cgroup/unified``; its launcher moves
itself there before exec'ing nspawn. Teardown removes the folders bottom-up.
"""
from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
HIERARCHIES = ("systemd", "unified")


def paths(name: str) -> list[Path]:
    """The host's folder in each hierarchy it lives in."""
    return [CGROUP_ROOT / h / name for h in HIERARCHIES]


def create(name: str) -> None:
    """Create the host's cgroup folders."""
    for path in paths(name):
        path.mkdir(exist_ok=True)


def _walk(path: Path) -> list[Path]:
    """``path`` and every cgroup below it, deepest first."""
    found: list[Path] = []
    for dirpath, dirnames, _files in os.walk(path, topdown=False):
        del dirnames
        found.append(Path(dirpath))
    return found


def pids(name: str) -> list[int]:
    """Every process in the host's cgroup subtree (either hierarchy)."""
    result: set[int] = set()
    for top in paths(name):
        if not top.is_dir():
            continue
        for folder in _walk(top):
            try:
                text = (folder / "cgroup.procs").read_text(encoding="ascii")
            except OSError:
                continue
            result.update(int(p) for p in text.split())
    return sorted(result)


def remove(name: str) -> list[str]:
    """Remove the host's cgroup folders bottom-up; return the ones that could not be removed."""
    stuck: list[str] = []
    for top in paths(name):
        if not top.is_dir():
            continue
        for folder in _walk(top):
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                stuck.append(f"{folder}: {exc.strerror}")
    return stuck


def find(prefix: str) -> list[str]:
    """Top-level cgroup folders named ``prefix*`` in any mounted hierarchy (for leftovers and ``down --all``)."""
    found = []
    if not CGROUP_ROOT.is_dir():
        return found
    for hierarchy in sorted(os.listdir(CGROUP_ROOT)):
        base = CGROUP_ROOT / hierarchy
        if not base.is_dir() or base.is_symlink():
            continue
        try:
            entries = os.listdir(base)
        except OSError:
            continue
        found.extend(str(base / e) for e in sorted(entries) if e.startswith(prefix) and (base / e).is_dir())
    return found
