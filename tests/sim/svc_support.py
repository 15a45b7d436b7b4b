"""Shared by the SMF/launchctl stand-in tests: launchers for the four tools in one directory, the
managers wired to them, and small process helpers. The fixtures `dtd` and `tools` are in
tests/sim/conftest.py.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from pkgsrc_core.runner import SubprocessRunner
from pkgsrc_core.services import LaunchdManager, ServiceSpec, SmfManager
from tests.sim import _smf, launchctl
from tests.sim.launcher import copy_support, make_launcher, read_log

FMRI = "svc:/pkgsrc/demo:default"
TOOLS = ("svccfg", "svcadm", "svcs", "launchctl")


class Tools:
    """Launchers for the four stand-ins in one tmp directory, ways to run them, and managers."""

    def __init__(self, root: Path, dtd: Path, **extra: str) -> None:
        self.root = root
        support = copy_support(root / "support")
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "calls.jsonl"
        self.config = {"SMF_STATE": str(root / "smf"), "SMF_DTD": str(dtd), "LAUNCHD_STATE": str(root / "launchd"),
                       "SMF_CHILD_GRACE": "0.3", "LAUNCHD_GRACE": "0.3"}
        self.config.update(extra)
        for tool in TOOLS:
            path = self.bin / tool
            path.write_text(make_launcher(tool, tool, [str(support)], self.config, str(self.log), sys.executable))
            path.chmod(0o755)

    def path(self, tool: str) -> str:
        return str(self.bin / tool)

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.path(tool)] + list(args), capture_output=True, text=True, timeout=60,
                              check=False)

    def state(self, fmri: str = FMRI) -> str:
        """`svcs -H -o state,nstate,fmri` of fmri, blanks squeezed."""
        out = self.run("svcs", "-H", "-o", "state,nstate,fmri", fmri)
        assert out.returncode == 0, out.stderr
        return " ".join(out.stdout.split())

    def write(self, name: str, text: str) -> str:
        path = self.root / name
        path.write_text(text)
        return str(path)

    def smf(self, **kw) -> SmfManager:
        return SmfManager(SubprocessRunner(timeout=60), svccfg=self.path("svccfg"), svcadm=self.path("svcadm"),
                          svcs=self.path("svcs"), manifest_dir=str(self.root / "manifests"), poll_interval=0.05,
                          wait_timeout=20, **kw)

    def launchd(self) -> LaunchdManager:
        return LaunchdManager(SubprocessRunner(timeout=60), launchctl=self.path("launchctl"),
                              plist_dir=str(self.root / "LaunchDaemons"))

    def calls(self):
        """Every logged run as [tool, *argv]."""
        return [[c["tool"]] + c["argv"] for c in read_log(self.log)]

    def cleanup(self) -> None:
        _smf.kill_all(self.config["SMF_STATE"])
        launchctl.kill_all(self.config["LAUNCHD_STATE"])


def spec(**kw) -> ServiceSpec:
    data = {"name": "demo", "command": ["/bin/sleep", "30"], "description": "Demo daemon"}
    data.update(kw)
    return ServiceSpec(**data)


def alive(pid: int) -> bool:
    """True while pid runs (a zombie counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            data = handle.read()
    except OSError:
        return False
    return data[data.rfind(")") + 2:].split()[0] != "Z"


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
