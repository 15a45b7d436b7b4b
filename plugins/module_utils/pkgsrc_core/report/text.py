"""Plain-text rendering of the fleet report, for mail: every line fits in 80 columns.

One table line per host, then details for every host that is not green, then the fleet-wide
rollups (vulnerable and unreachable hosts, every prefix's last transaction, tool versions,
branches, packages found at more than one version). Input is the dict from report.build_report.
Text has no colour: an interrupted or failed transaction is written in capitals, and its host
is amber.
"""
from __future__ import annotations

import textwrap
from typing import Any, Dict, List, Mapping, Optional, Sequence

WIDTH = 80
# STATUS, HOST, PLATFORM, BRANCH, PKGS, VULN, DRIFT: 6+25+18+8+5+4+5 plus 6 spaces = 77 columns.
_COLUMNS = (("STATUS", 6, "<"), ("HOST", 25, "<"), ("PLATFORM", 18, "<"), ("BRANCH", 8, "<"),
            ("PKGS", 5, ">"), ("VULN", 4, ">"), ("DRIFT", 5, ">"))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "~"


def _row(cells: Sequence[str]) -> str:
    parts = []
    for (_title, width, align), cell in zip(_COLUMNS, cells):
        cell = _cut(cell, width)
        parts.append(cell.ljust(width) if align == "<" else cell.rjust(width))
    return " ".join(parts).rstrip()


def _wrap(text: str, indent: str = "  ", more: Optional[str] = None) -> List[str]:
    return textwrap.wrap(text, width=WIDTH, initial_indent=indent,
                         subsequent_indent=more if more is not None else indent + "  ",
                         break_long_words=True, break_on_hyphens=False) or [indent.rstrip()]


def _plural(count: int, word: str) -> str:
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def _platform(host: Mapping[str, Any]) -> str:
    plat = host.get("platform")
    if not plat:
        return "-"
    words = [plat.get("os_id") or plat.get("platform"), plat.get("os_release"), plat.get("arch")]
    return " ".join(w for w in words if w) or "-"


def _cells(host: Mapping[str, Any]) -> List[str]:
    prefixes = host["prefixes"]
    if host["state"] != "ok":
        return [host["status"].upper(), host["host"], host["state"], "-", "-", "-", "-"]
    branch = (prefixes[0]["branch"] or "?") if prefixes else "-"
    packages = str(sum(p["package_count"] for p in prefixes)) if prefixes else "-"
    if not prefixes:
        vuln = "-"
    elif host["audit"] == "unknown" and not host["vulnerable_packages"]:
        vuln = "?"
    else:
        vuln = str(len(host["vulnerable_packages"]))
    drift = host["drift"]
    drift_cell = "-" if drift is None else str(drift_count(drift))
    return [host["status"].upper(), host["host"], _platform(host), branch, packages, vuln, drift_cell]


def drift_count(drift: Mapping[str, Any]) -> int:
    """How many packages differ from the desired set (or lock)."""
    return len(drift["missing"]) + len(drift["wrong_version"]) + len(drift["extra"]) + len(drift["automatic"])


def transaction_text(last: Optional[Mapping[str, Any]]) -> str:
    """`12 package ok, ended 2026-12-05T12:00:03Z`; the outcome in capitals when it is not ok."""
    if last is None:
        return "no transaction recorded"
    outcome = last["outcome"] if last["outcome"] == "ok" else last["outcome"].upper()
    when = ("ended %s" % last["end"]) if last["end"] else ("started %s" % (last["start"] or "at an unknown time"))
    return "%d %s %s, %s" % (last["id"], last["kind"], outcome, when)


def _host_table(hosts: Sequence[Mapping[str, Any]]) -> List[str]:
    lines = [_row([c[0] for c in _COLUMNS]), _row(["-" * c[1] for c in _COLUMNS])]
    host_width = _COLUMNS[1][1]
    for host in hosts:
        cells = _cells(host)
        if len(cells[1]) > host_width:
            lines.extend(_wrap(cells[1], indent=" " * 7, more=" " * 7))
            cells[1] = ""
        lines.append(_row(cells))
    return lines


def _prefix_lines(prefix: Mapping[str, Any]) -> List[str]:
    bits = [prefix["prefix"], "branch %s" % (prefix["branch"] or "unknown")]
    if prefix["pkg_install_version"]:
        bits.append("pkg_install %s" % prefix["pkg_install_version"])
    if prefix["pkgin_version"]:
        bits.append("pkgin %s" % prefix["pkgin_version"])
    bits.append(_plural(prefix["package_count"], "package"))
    bits.append("audit %s" % prefix["audit"])
    lines = _wrap(", ".join(bits), indent="  ")
    for vuln in prefix["vulnerabilities"] or ():
        lines.extend(_wrap("%s: %s vulnerability (%s)" % (vuln["pkgname"], vuln["type"], vuln["level"]), indent="    ",
                           more="      "))
        lines.extend(_wrap(vuln["url"], indent="      ", more="      "))
    return lines


def _details(host: Mapping[str, Any]) -> List[str]:
    lines = _wrap("%s  %s" % (host["host"], host["status"].upper()), indent="", more="  ")
    for reason in host["reasons"]:
        lines.extend(_wrap(reason, indent="  - ", more="    "))
    for prefix in host["prefixes"]:
        lines.extend(_prefix_lines(prefix))
    drift = host["drift"]
    if drift and host["prefixes"] and drift_count(drift):
        lines.extend(_wrap("drift in %s:" % (drift["prefix"] or "(no prefix)"), indent="  "))
        if drift["missing"]:
            lines.extend(_wrap("missing: " + ", ".join(drift["missing"]), indent="    ", more="      "))
        for wrong in drift["wrong_version"]:
            lines.extend(_wrap("wrong version: %s installed, wants %s" % (", ".join(wrong["installed"]),
                                                                          wrong["pattern"]),
                               indent="    ", more="      "))
        if drift["extra"]:
            lines.extend(_wrap("extra: " + ", ".join(drift["extra"]), indent="    ", more="      "))
        if drift["automatic"]:
            lines.extend(_wrap("automatic flag: " + ", ".join(
                "%s should be %s" % (f["pkgname"], "automatic" if f["automatic"] else "user-installed")
                for f in drift["automatic"]), indent="    ", more="      "))
    return lines


def _versions_line(label: str, versions: Sequence[Mapping[str, Any]]) -> List[str]:
    parts = ["%s (%s)" % (v["version"] or "none", _plural(len(v["hosts"]), "host")) for v in versions]
    return _wrap("%s: %s" % (label, ", ".join(parts)), indent="  ", more="      ")


def _section(title: str, body: List[str]) -> List[str]:
    return ["", title] + body if body else []


def render_text(report: Mapping[str, Any]) -> str:
    """The report as plain text, lines of at most 80 columns, ending with a newline."""
    summary = report["summary"]
    lines = _wrap("pkgsrc fleet report" + (", %s" % report["generated"] if report["generated"] else ""),
                  indent="")
    lines.extend(_wrap("%s: %d red, %d amber, %d green" % (
        _plural(summary["hosts"], "host"), summary["red"], summary["amber"], summary["green"]), indent=""))
    lines.extend(_wrap("%d unreachable, %d failed, %d without pkgsrc" % (
        summary["unreachable"], summary["failed"], summary["without_pkgsrc"]), indent=""))
    lines.extend(_wrap("%d vulnerable, %d with audit unknown, %d drifted from the desired set" % (
        summary["vulnerable"], summary["audit_unknown"], summary["drifted"]), indent=""))
    desired = report["desired"]
    if desired is not None and desired.get("lock") is not None:
        lock = desired["lock"]
        lines.extend(_wrap("desired in %s: the lock taken from %s at %s (%s)" % (
            desired["prefix"] or "the first prefix", lock["taken_from"] or "an unnamed host",
            lock["taken_at"] or "an unknown time", _plural(len(desired["packages"]), "package")), indent=""))
    elif desired is not None:
        wanted = ", ".join(p["pattern"] for p in desired["packages"]) or "(nothing)"
        lines.extend(_wrap("desired in %s: %s" % (desired["prefix"] or "the first prefix", wanted), indent=""))
    lines.extend(_section("HOSTS", _host_table(report["hosts"])))
    problems: List[str] = []
    for host in report["hosts"]:
        if host["status"] != "green":
            problems.extend(([""] if problems else []) + _details(host))
    lines.extend(_section("HOSTS NEEDING ATTENTION", problems))
    vulnerable: List[str] = []
    for entry in report["vulnerable_hosts"]:
        for vuln in entry["vulnerabilities"]:
            line = "%s %s: %s (%s, %s)" % (entry["host"], vuln["prefix"], vuln["pkgname"], vuln["type"],
                                           vuln["level"])
            vulnerable.extend(_wrap(line, indent="  ", more="      "))
    lines.extend(_section("VULNERABLE HOSTS (%d)" % len(report["vulnerable_hosts"]), vulnerable))
    lines.extend(_section("UNREACHABLE OR FAILED (%d)" % len(report["unreachable_hosts"]), [
        line for entry in report["unreachable_hosts"]
        for line in _wrap("%s: %s" % (entry["host"], entry["error"] or entry["state"]), indent="  ", more="      ")]))
    lines.extend(_section("LAST TRANSACTIONS", [
        line for host in report["hosts"] for prefix in host["prefixes"]
        for line in _wrap("%s %s: %s" % (host["host"], prefix["prefix"], transaction_text(prefix["last_transaction"])),
                          indent="  ", more="      ")]))
    lines.extend(_section("TOOLS", [line for tool in report["tools"]
                                    for line in _versions_line(tool["tool"], tool["versions"])]))
    lines.extend(_section("BRANCHES", [line for branch in report["branches"]
                                       for line in _wrap("%s: %s" % (branch["branch"],
                                                                     _plural(len(branch["hosts"]), "host")))]))
    spread: Dict[str, Sequence[Mapping[str, Any]]] = {p["name"]: p["versions"] for p in report["packages"]
                                                      if len(p["versions"]) > 1}
    lines.extend(_section("PACKAGES AT MORE THAN ONE VERSION (%d)" % len(spread),
                          [line for name, versions in spread.items() for line in _versions_line(name, versions)]))
    return "\n".join(lines) + "\n"
