"""Executables for the stand-in tools: a launcher per tool, with its compiled-in defaults.

A real pkg_add has PKG_DBDIR and friends compiled in; a stand-in's launcher carries the same
defaults in CONFIG. Every invocation is appended to a JSON-lines log (one object per call:
tool, argv, cwd, pid, uid, time) before the tool runs, so tests and benchmarks can count the
processes a run spawned. The log path is baked in; PKGSRC_SIM_LOG overrides it.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Mapping, Sequence

SIM_DIR = Path(__file__).resolve().parent
CORE_DIR = SIM_DIR.parent.parent / "plugins" / "module_utils" / "pkgsrc_core"

_TEMPLATE = '''#!{python}
# Test stand-in for {tool} made by pkgsrc.deploy tests/sim: NOT the real program.
import json, os, sys, time
sys.path[:0] = {paths!r}
CONFIG = {config!r}
LOG = os.environ.get("PKGSRC_SIM_LOG", {log!r})
if LOG:
    try:
        os.makedirs(os.path.dirname(LOG), exist_ok=True)
        entry = {{"tool": {tool!r}, "argv": sys.argv[1:], "cwd": os.getcwd(), "pid": os.getpid(),
                 "uid": os.getuid(), "time": time.time()}}
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, (json.dumps(entry) + "\\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass
from sim import {module} as _tool
sys.exit(_tool.main(sys.argv[1:], CONFIG))
'''


def make_launcher(tool: str, module: str, paths: Sequence[str], config: Mapping[str, str],
                  log_path: str = "", python: str = "/usr/bin/python3") -> str:
    """Text of an executable that runs `sim.<module>.main(argv, config)` as `tool`.

    paths: directories put first on sys.path; one of them must hold the `sim` package (and
    `pkgsrc_core` if the tool uses it). An empty log_path logs nowhere unless PKGSRC_SIM_LOG.
    """
    return _TEMPLATE.format(python=python, tool=tool, paths=list(paths), config=dict(config),
                            log=log_path, module=module)


def copy_support(dest: Path) -> Path:
    """Copy the `sim` package and the core into dest (dest/sim, dest/pkgsrc_core); return dest."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "test_*.py")
    shutil.copytree(SIM_DIR, dest / "sim", ignore=ignore, dirs_exist_ok=True)
    shutil.copytree(CORE_DIR, dest / "pkgsrc_core", ignore=ignore, dirs_exist_ok=True)
    return dest


def read_log(log_path: os.PathLike, tools: Sequence[str] | None = None) -> list[dict]:
    """The logged invocations (optionally only of the named tools); [] if there is no log."""
    path = Path(log_path)
    if not path.exists():
        return []
    calls = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [c for c in calls if tools is None or c["tool"] in tools]
