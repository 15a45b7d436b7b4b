"""Vulnerability audit: pkg_admin's fetch-pkg-vulnerabilities and audit, as structured data.

`audit()` runs the real tools (they verify the list's signature and honour the prefix's
pkg_install.conf); `offline_audit()` matches the already-fetched pkg-vulnerabilities file
against the package database without running anything, for facts and reports.
"""
from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ..errors import CommandError, PkgsrcError
from ..fsutil import read_text
from ..layout import Layout, parse_conf_vars
from ..runner import Runner
from ..versions import compile_pattern
from .pkgdb import read_pkgdb
from .tools import tool_path

_LINE = re.compile(r"^Package (\S+) has an? (\S+) vulnerability, see (\S+)\s*$")

# Levels, lowest first, and the vulnerability types (pkg-vulnerabilities' second column) that
# reach each; a type not listed is "medium". Words are matched as substrings of the type.
LEVELS = ("low", "medium", "high", "critical")
_LEVEL_WORDS = (
    ("critical", ("remote-code-execution", "arbitrary-code-execution", "remote-root", "remote-command-execution",
                  "command-injection", "code-injection")),
    ("high", ("privilege-escalation", "buffer-overflow", "heap-overflow", "memory-corruption", "sql-injection",
              "remote-file", "use-after-free", "authentication-bypass", "arbitrary-file")),
    ("low", ("information-leak", "information-disclosure", "weak-", "timing", "spoofing", "cross-site-request")),
)


@dataclass(frozen=True)
class Vulnerability:
    """One installed package with one known vulnerability."""

    pkgname: str
    type: str
    url: str

    @property
    def level(self) -> str:
        return level_of(self.type)

    def as_dict(self) -> Dict[str, str]:
        return {"pkgname": self.pkgname, "type": self.type, "url": self.url, "level": self.level}


def level_of(vuln_type: str) -> str:
    """The severity level a vulnerability type is taken to have (see LEVELS)."""
    low = vuln_type.lower()
    for level, words in _LEVEL_WORDS:
        if any(w in low for w in words):
            return level
    return "medium"


def parse_audit_output(text: str) -> List[Vulnerability]:
    """The lines of `pkg_admin audit` ("Package NAME has a TYPE vulnerability, see URL")."""
    out = []
    for line in text.splitlines():
        found = _LINE.match(line.strip())
        if found:
            out.append(Vulnerability(found.group(1), found.group(2), found.group(3)))
    return out


def vulnerabilities_file(layout: Layout) -> str:
    """Where pkg_admin keeps pkg-vulnerabilities: PKGVULNDIR, by default PKG_DBDIR."""
    conf = parse_conf_vars(read_text(layout.host(os.path.join(layout.sysconfdir, "pkg_install.conf"))) or "")
    directory = conf.get("PKGVULNDIR") or layout.pkg_dbdir
    return layout.host(os.path.join(directory, "pkg-vulnerabilities"))


def parse_vulnerability_list(data: bytes) -> List[Tuple[str, str, str]]:
    """(pattern, type, url) entries of a pkg-vulnerabilities file (plain or gzip'd)."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise PkgsrcError("the pkg-vulnerabilities file is corrupt: %s" % exc,
                              "fetch it again (audit with refresh)") from None
    entries = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) >= 3:
            entries.append((parts[0], parts[1], parts[2]))
    return entries


def match_vulnerabilities(entries: Iterable[Tuple[str, str, str]], pkgnames: Sequence[str]) -> List[Vulnerability]:
    """Installed PKGNAMEs matched against the list's patterns (what `pkg_admin audit` reports)."""
    out = []
    for pattern, vuln_type, url in entries:
        try:
            matches = compile_pattern(pattern)
        except PkgsrcError:
            continue
        for pkgname in pkgnames:
            if matches(pkgname):
                out.append(Vulnerability(pkgname, vuln_type, url))
    return sorted(set(out), key=lambda v: (v.pkgname, v.type, v.url))


def offline_audit(layout: Layout) -> Optional[List[Vulnerability]]:
    """Audit from the fetched list, running nothing; None when no list has been fetched."""
    path = vulnerabilities_file(layout)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PkgsrcError("cannot read %s: %s" % (path, exc.strerror)) from None
    pkgnames = [p.pkgname for p in read_pkgdb(layout.host(layout.pkg_dbdir))]
    return match_vulnerabilities(parse_vulnerability_list(data), pkgnames)


@dataclass(frozen=True)
class AuditResult:
    """Vulnerable packages found; `failed` when one reaches the fail_on level."""

    vulnerabilities: Tuple[Vulnerability, ...]
    refreshed: bool
    failed: bool
    fail_on: str
    commands: Tuple[Tuple[str, ...], ...]

    def as_dict(self) -> Dict[str, object]:
        return {"vulnerabilities": [v.as_dict() for v in self.vulnerabilities],
                "vulnerable_packages": sorted({v.pkgname for v in self.vulnerabilities}),
                "refreshed": self.refreshed, "failed": self.failed, "fail_on": self.fail_on,
                "commands": [list(c) for c in self.commands]}

    def message(self) -> str:
        if not self.vulnerabilities:
            return "no installed package has a known vulnerability"
        worst = max((v.level for v in self.vulnerabilities), key=LEVELS.index)
        return "%d vulnerable package(s), worst level %s: %s" % (
            len({v.pkgname for v in self.vulnerabilities}), worst,
            ", ".join(sorted({v.pkgname for v in self.vulnerabilities})))


def audit(layout: Layout, runner: Runner, refresh: bool = False, fail_on: str = "never",
          check_mode: bool = False) -> AuditResult:
    """Fetch the vulnerability list (refresh, not in check mode) and run `pkg_admin audit`."""
    if fail_on not in LEVELS + ("never",):
        raise PkgsrcError("fail_on %r is not a level" % (fail_on,), "use one of: never, %s" % ", ".join(LEVELS))
    pkg_admin = tool_path(layout, "pkg_admin")
    dbdir = ("-K", layout.host(layout.pkg_dbdir))
    commands: List[Tuple[str, ...]] = []
    refreshed = False
    if refresh and not check_mode:
        argv = (pkg_admin,) + dbdir + ("fetch-pkg-vulnerabilities",)
        runner.run(argv).check("the vulnerability list could not be fetched; check PKGVULNURL in pkg_install.conf "
                               "and that the host can reach it")
        commands.append(argv)
        refreshed = True
    if not os.path.exists(vulnerabilities_file(layout)):
        raise PkgsrcError("no vulnerability list has been fetched for %s" % layout.prefix,
                          "run the audit with refresh (pkg_admin fetch-pkg-vulnerabilities)")
    argv = (pkg_admin,) + dbdir + ("audit",)
    result = runner.run(argv)
    commands.append(argv)
    if result.rc not in (0, 1):
        raise CommandError(argv, result.rc, result.stdout, result.stderr, "pkg_admin audit failed")
    vulns = tuple(parse_audit_output(result.stdout))
    failed = fail_on != "never" and any(LEVELS.index(v.level) >= LEVELS.index(fail_on) for v in vulns)
    return AuditResult(vulns, refreshed, failed, fail_on, tuple(commands))
