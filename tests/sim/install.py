"""Install the stand-in tools under a prefix: launchers plus a copy of `sim` and `pkgsrc_core`.

    sbin/pkg_add, pkg_info, pkg_delete, pkg_admin, pkg_create   (package pkg_install)
    bin/pkgin                                                  (package pkgin)
    libexec/pkgsrc-sim/bin/svcs, svcadm, svccfg, launchctl      (OS tools, shipped in pkg_install)
    libexec/pkgsrc-sim/sim/..., libexec/pkgsrc-sim/pkgsrc_core/...  (support files, pkg_install)

Each launcher has the layout's paths compiled in (PREFIX, PKG_DBDIR, SYSCONFDIR, VARBASE) as
the real tools do, plus the state directories of the SMF and launchd stand-ins
(<VARBASE>/sim/smf, <VARBASE>/sim/launchd) and the SMF DTD (tests/data/smf, copied to
libexec/pkgsrc-sim/smf/) for svccfg's validation. The OS tools' real
locations are in OS_TOOL_PATHS; a test host links them there.
"""
from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Tuple

from .launcher import SIM_DIR, copy_support, make_launcher

SUPPORT_DIR = "libexec/pkgsrc-sim"

TOOLS: Dict[str, Tuple[str, str]] = {
    "sbin/pkg_add": ("pkg_add", "pkg_install"),
    "sbin/pkg_info": ("pkg_info", "pkg_install"),
    "sbin/pkg_delete": ("pkg_delete", "pkg_install"),
    "sbin/pkg_admin": ("pkg_admin", "pkg_install"),
    "sbin/pkg_create": ("pkg_create", "pkg_install"),
    "bin/pkgin": ("pkgin", "pkgin"),
    SUPPORT_DIR + "/bin/svcs": ("svcs", "pkg_install"),
    SUPPORT_DIR + "/bin/svcadm": ("svcadm", "pkg_install"),
    SUPPORT_DIR + "/bin/svccfg": ("svccfg", "pkg_install"),
    SUPPORT_DIR + "/bin/launchctl": ("launchctl", "pkg_install"),
}
"""Executable path relative to the prefix -> (module in sim, owning package).

The SMF and launchd stand-ins stand for OS tools, not pkgsrc ones; they ride along with the
support files in pkg_install's package so that every kit carries them (see OS_TOOL_PATHS)."""

TOOL_OWNERS: Dict[str, str] = {path: owner for path, (_unused, owner) in TOOLS.items()}

OS_TOOL_PATHS: Dict[str, str] = {
    SUPPORT_DIR + "/bin/svcs": "/usr/bin/svcs",
    SUPPORT_DIR + "/bin/svcadm": "/usr/sbin/svcadm",
    SUPPORT_DIR + "/bin/svccfg": "/usr/sbin/svccfg",
    SUPPORT_DIR + "/bin/launchctl": "/bin/launchctl",
}
"""Where the real OS tools live, for the stand-ins that have no pkgsrc package."""

_DTD = SIM_DIR.parent / "data" / "smf" / "service_bundle.dtd.1"


@dataclass(frozen=True)
class SimLayout:
    """The four paths the tools need (the same attribute names as the fixtures' KitLayout)."""

    prefix: str
    pkg_dbdir: str
    sysconfdir: str
    varbase: str


def _dtd_path() -> Path:
    env = os.environ.get("PKGSRC_SAMPLES")
    if env:
        candidate = Path(env).parent / "smf" / "service_bundle.dtd.1"
        if candidate.is_file():
            return candidate
    return _DTD


def _support_files() -> Dict[str, bytes]:
    """Relative path under SUPPORT_DIR -> content, as launcher.copy_support selects them."""
    out: Dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="sim-support.") as tmp:
        root = copy_support(Path(tmp))
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if not path.is_file() or path.name in ("conftest.py",) or not path.name.endswith(".py"):
                continue
            out[rel] = path.read_bytes()
    return out


def tool_files(layout: Any, *, python: str = "/usr/bin/python3", log_path: str = "") -> Dict[str, Tuple[bytes, int]]:
    """Path relative to layout.prefix -> (content, mode) for the launchers and support files."""
    prefix = str(layout.prefix).rstrip("/")
    support = prefix + "/" + SUPPORT_DIR
    varbase = str(layout.varbase).rstrip("/")
    config = {"PREFIX": prefix, "PKG_DBDIR": str(layout.pkg_dbdir), "SYSCONFDIR": str(layout.sysconfdir),
              "VARBASE": varbase, "SMF_STATE": varbase + "/sim/smf", "LAUNCHD_STATE": varbase + "/sim/launchd"}
    files: Dict[str, Tuple[bytes, int]] = {}
    dtd = _dtd_path()
    if dtd.is_file():
        files[SUPPORT_DIR + "/smf/service_bundle.dtd.1"] = (dtd.read_bytes(), 0o644)
        config["SMF_DTD"] = support + "/smf/service_bundle.dtd.1"
    for rel, content in _support_files().items():
        files[SUPPORT_DIR + "/" + rel] = (content, 0o644)
    for path, (module, _owner) in TOOLS.items():
        text = make_launcher(os.path.basename(path), module, [support], config, log_path=log_path, python=python)
        files[path] = (text.encode("utf-8"), 0o755)
    return dict(sorted(files.items()))


def install_tools(dest_root: os.PathLike, layout: Any, *, python: str = sys.executable,
                  log_path: str = "") -> List[Path]:
    """Write tool_files under dest_root + layout.prefix; return the paths written."""
    base = Path(dest_root) / str(layout.prefix).lstrip("/")
    written = []
    for rel, (content, mode) in tool_files(layout, python=python, log_path=log_path).items():
        target = base / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            target.unlink()
        target.write_bytes(content)
        target.chmod(mode)
        written.append(target)
    return written
