"""Proof and summary: every application answers HTTP from the controller, and one table of the fleet
(host, tool, platform, prefix, packages, service state, answer) built from the pkgsrc facts the tools
returned and from the init system.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from tests.demo.fleet import App, Node
from tests.testbed.hosts import Host
from tests.testbed.netns import netns_path
from tests.testbed.testbed import Testbed

BOOTSTRAP_PACKAGES = ("bmake", "bootstrap-mk-files", "cwrappers", "nawk", "pkg_install", "pkgin")


@dataclass(frozen=True)
class Row:
    """One application on one host."""

    host: str
    tool: str
    user: str
    platform: str
    prefix: str
    packages: str
    service: str
    state: str
    answer: Optional[str]


def http_get(tb: Testbed, ip: str, port: int) -> Optional[str]:
    """GET / from the controller's network namespace (across the testbed network); None if no answer."""
    argv = ["nsenter", "--net=%s" % netns_path(tb.ctl_netns), "curl", "-fsS", "--retry", "30",
            "--retry-connrefused", "--retry-delay", "0", "--max-time", "5", "http://%s:%d/" % (ip, port)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    return proc.stdout if proc.returncode == 0 else None


def service_state(host: Host, node: Node, app: App) -> str:
    """systemctl is-active for the application's unit (the user's manager for a user service)."""
    argv = ["systemctl"] + (["--user"] if app.scope == "user" else []) + ["is-active", app.unit]
    proc = host.run(argv, user=None if node.user == "root" else node.user, check=False)
    return proc.stdout.strip() or "unknown"


def main_pid(host: Host, node: Node, app: App) -> str:
    """The process id systemd runs the application's service as ('0' when it is not running)."""
    argv = ["systemctl"] + (["--user"] if app.scope == "user" else []) + ["show", "-p", "MainPID", "--value", app.unit]
    return host.run(argv, user=None if node.user == "root" else node.user, check=False).stdout.strip()


def platform(facts: Dict[str, Any]) -> str:
    """OS, release, arch and init system, as pkgsrc.deploy detected them."""
    info = facts.get("host") or {}
    if not info:
        return "?"
    init = info.get("init", "?")
    return "%s %s %s, %s" % (info.get("os_id", info.get("opsys", "?")), info.get("os_release", ""),
                             info.get("arch", ""), init)


def packages(facts: Dict[str, Any], prefix: str, real: bool = False) -> str:
    """The packages installed in prefix beyond the bootstrap set, and the versions of its tools (real: the
    real ones, which the stand-ins imitate down to their version numbers)."""
    for entry in facts.get("prefixes") or []:
        if entry.get("prefix") == prefix:
            pkgs = entry.get("packages") or []
            extra = sorted(p["pkgname"] for p in pkgs if p["name"] not in BOOTSTRAP_PACKAGES)
            tools = "%spkg_install %s, pkgin %s" % ("REAL " if real else "", entry.get("pkg_install_version"),
                                                    entry.get("pkgin_version"))
            return "%s (+%s)" % (", ".join(extra) or "-", tools)
    return "(no prefix %s in the facts)" % prefix


def table(rows: Sequence[Row]) -> str:
    """The fleet summary as an aligned text table."""
    header = ("host", "tool", "user", "platform", "prefix", "packages", "service", "state", "GET /")
    lines: List[Sequence[str]] = [header]
    for row in rows:
        answer = (row.answer or "NO ANSWER").strip().splitlines()
        lines.append((row.host, row.tool, row.user, row.platform, row.prefix, row.packages, row.service, row.state,
                      answer[-1] if answer else ""))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
