"""The fleet report model: per-host facts and a desired package set in, one plain-data report out.

Pure functions. The input is, per host, what pkgsrc_core.facts.gather_facts returns (each prefix
carries `vulnerabilities`: a list of {pkgname, type, url[, level]} as `pkg_admin audit` reports
them; None or absent means no audit result), or a marker {"unreachable": true, "error": "..."} / {"failed": true,
"error": "..."} for a host that gave no facts. The output is a dict of plain data whose shape is
REPORT_SCHEMA in schema.py; the text and HTML renderers and render_json read only that.

Status per host, worst first:
- red: unreachable, facts failed, no pkgsrc prefix, a vulnerable package (level medium or worse,
  see audit.level_of), a desired package missing or at the wrong version;
- amber: only low-level vulnerabilities, vulnerabilities unknown (audit not run), packages
  installed that the desired set does not name, automatic flags other than a lock's, errors
  reading a prefix, a last transaction that was interrupted (or is still running) or failed;
- green: none of these.

The desired set may be a lock file (packages.lockfile): then every locked PKGNAME is wanted
exactly, every other installed package but the kit's is extra, and the automatic flags count.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cmp_to_key
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from ..errors import PatternError, ReportError
from ..packages.audit import LEVELS, level_of
from ..packages.kit import KIT_PACKAGE_NAMES
from ..packages.lockfile import Lock, compare, parse_lock
from ..versions import compile_pattern, dewey_cmp, is_pattern

REPORT_VERSION = 1
STATUSES = ("red", "amber", "green")
# Packages every bootstrap kit installs: never reported as "extra" unless the desired set says so.
BASE_PACKAGES: Tuple[str, ...] = KIT_PACKAGE_NAMES
# Outcomes of a last transaction that make a host amber ("running": going on, or killed and not
# looked at since; the next run records it as interrupted).
UNFINISHED = ("interrupted", "running")
_OUTCOMES = ("ok", "failed", "interrupted", "running")
# How many names a one-line reason lists before "and N more".
_REASON_NAMES = 5
_PLATFORM_KEYS = ("platform", "os_id", "os_name", "os_release", "arch", "init", "zonename")
_ANY_VERSION = ("", "*", "any", "latest")


@dataclass(frozen=True)
class DesiredPackage:
    """One entry of the desired set: a pkg_install pattern and, when it can be told, its package name."""

    pattern: str
    name: Optional[str]


@dataclass(frozen=True)
class DesiredSet:
    """What a host should hold: packages, the prefix to check (None: the host's first) and
    patterns of installed packages that are never "extra"."""

    packages: Tuple[DesiredPackage, ...]
    prefix: Optional[str] = None
    ignore_extra: Tuple[str, ...] = BASE_PACKAGES
    lock: Optional[Lock] = None  # when the desired set is a lock file


def pattern_name(pattern: str) -> Optional[str]:
    """The package name a pattern is about (`foo>=1.2` -> foo, `foo-1.*` -> foo, `foo` -> foo),
    or None when the pattern may match several names (`{a,b}-*`, `fo*`)."""
    if "{" in pattern:
        return None
    for pos, char in enumerate(pattern):
        if char in "<>":
            name = pattern[:pos]
            return name if name and not is_pattern(name) else None
    depth = 0
    split = -1
    for pos, char in enumerate(pattern):
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        elif char == "-" and depth == 0 and pos + 1 < len(pattern) and \
                (pattern[pos + 1].isdigit() or pattern[pos + 1] in "[*?"):
            split = pos
    name = pattern[:split] if split > 0 else pattern
    return None if is_pattern(name) else name


def desired_package(name: str, version: Any = None) -> DesiredPackage:
    """A desired entry from a name and a version constraint: None/''/'*'/'latest' (any version),
    '>=1.2' or '>=1.2<2' (relational), '=1.2' or '1.2' (exact) or '1.2*' (glob)."""
    name = str(name).strip()
    if not name or is_pattern(name):
        raise ReportError("desired package name %r is not a plain package name" % (name,),
                          "use {name: version-constraint}, e.g. {hello: '>=1.1'}, or a list of patterns")
    text = "" if version is None else str(version).strip().replace(" ", "")
    if text.lower() in _ANY_VERSION:
        pattern = name
    elif text[:1] in "<>":
        pattern = name + text
    else:
        pattern = "%s-%s" % (name, text.lstrip("="))
    _checked(pattern)
    return DesiredPackage(pattern=pattern, name=name)


def _checked(pattern: str) -> str:
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        raise ReportError("desired package %r is not a valid pattern (%s)" % (pattern, exc.message),
                          exc.hint or "fix the pattern in the desired set") from None
    return pattern


def _desired_packages(data: Any) -> Tuple[DesiredPackage, ...]:
    if isinstance(data, Mapping):
        return tuple(desired_package(name, version) for name, version in data.items())
    if isinstance(data, (list, tuple)):
        out: List[DesiredPackage] = []
        for entry in data:
            if isinstance(entry, Mapping):
                out.extend(desired_package(name, version) for name, version in entry.items())
            elif isinstance(entry, str) and entry.strip():
                pattern = _checked(entry.strip())
                out.append(DesiredPackage(pattern=pattern, name=pattern_name(pattern)))
            else:
                raise ReportError("desired package entry %r is neither a pattern nor {name: version}" % (entry,),
                                  "list patterns such as hello>=1.1, or map names to versions")
        return tuple(out)
    raise ReportError("the desired packages are a %s, not a list or a mapping" % type(data).__name__,
                      "give a list of patterns or a mapping {name: version-constraint}")


def parse_desired(data: Any, source: str = "the desired set") -> DesiredSet:
    """A DesiredSet from plain data: a list of patterns (`hello`, `foo-tool>=3`, `{a,b}-[0-9]*`),
    a mapping {name: version-constraint}, {"packages": either, "prefix": path,
    "ignore_extra": [patterns]}, or a lock ({"lock_version": 1, "packages": [...], ...})."""
    if isinstance(data, Mapping) and "lock_version" in data:
        lock = parse_lock(data, source)
        return DesiredSet(tuple(DesiredPackage(p.pkgname, p.name) for p in lock.packages), lock.prefix,
                          BASE_PACKAGES, lock)
    if isinstance(data, Mapping) and "packages" in data:
        unknown = sorted(set(data) - {"packages", "prefix", "ignore_extra"})
        if unknown:
            raise ReportError("unknown keys in the desired set: %s" % ", ".join(map(str, unknown)),
                              "the keys are packages, prefix and ignore_extra")
        prefix = data.get("prefix")
        ignore = data.get("ignore_extra")
        if ignore is None:
            ignore_extra = BASE_PACKAGES
        elif isinstance(ignore, (list, tuple)):
            ignore_extra = tuple(_checked(str(p).strip()) for p in ignore)
        else:
            raise ReportError("ignore_extra must be a list of patterns", "e.g. ignore_extra: [pkg_install, pkgin]")
        return DesiredSet(_desired_packages(data["packages"]), str(prefix) if prefix else None, ignore_extra)
    return DesiredSet(_desired_packages(data))


# --- per host ---------------------------------------------------------------------------------


def _names(items: Sequence[str]) -> str:
    if len(items) <= _REASON_NAMES:
        return ", ".join(items)
    return "%s and %d more" % (", ".join(items[:_REASON_NAMES]), len(items) - _REASON_NAMES)


def _text(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _platform(host: Any) -> Optional[Dict[str, Optional[str]]]:
    if not isinstance(host, Mapping):
        return None
    return {key: _text(host.get(key)) for key in _PLATFORM_KEYS}


def _vulnerabilities(raw: Any) -> Optional[List[Dict[str, str]]]:
    if raw is None:
        return None
    out = []
    for item in raw:
        vuln_type = str(item.get("type", ""))
        level = str(item.get("level") or level_of(vuln_type))
        out.append({"pkgname": str(item.get("pkgname", "")), "type": vuln_type, "url": str(item.get("url", "")),
                    "level": level if level in LEVELS else level_of(vuln_type)})
    out.sort(key=lambda v: (v["pkgname"], v["type"], v["url"]))
    return out


def _transaction(raw: Any) -> Optional[Dict[str, Any]]:
    if not isinstance(raw, Mapping) or raw.get("id") is None:
        return None
    outcome = str(raw.get("outcome") or "")
    try:
        number = int(raw["id"])
    except (TypeError, ValueError):
        return None
    return {"id": number, "kind": str(raw.get("kind") or ""), "start": _text(raw.get("start")),
            "end": _text(raw.get("end")), "outcome": outcome if outcome in _OUTCOMES else "running"}


def _prefix(raw: Mapping[str, Any]) -> Dict[str, Any]:
    packages = []
    for pkg in raw.get("packages") or ():
        version = str(pkg.get("version", ""))
        name = str(pkg.get("name", ""))
        packages.append({"name": name, "version": version,
                         "pkgname": str(pkg.get("pkgname") or "%s-%s" % (name, version)),
                         "automatic": bool(pkg.get("automatic", False))})
    packages.sort(key=lambda p: (p["name"], p["version"]))
    vulns = _vulnerabilities(raw.get("vulnerabilities"))
    audit = "unknown" if vulns is None else ("vulnerable" if vulns else "clean")
    return {
        "prefix": str(raw.get("prefix", "")),
        "pkg_dbdir": _text(raw.get("pkg_dbdir")),
        "branch": _text(raw.get("branch")),
        "repositories": [str(url) for url in raw.get("repositories") or ()],
        "pkg_install_version": _text(raw.get("pkg_install_version")),
        "pkgin_version": _text(raw.get("pkgin_version")),
        "package_count": len(packages),
        "packages": packages,
        "audit": audit,
        "vulnerabilities": vulns,
        # Facts from before lock files have no kit_packages: the names every kit installs, then.
        "kit_packages": sorted(str(n) for n in raw["kit_packages"]) if isinstance(raw.get("kit_packages"), list)
        else sorted({p["name"] for p in packages if p["name"] in BASE_PACKAGES}),
        "last_transaction": _transaction(raw.get("last_transaction")),
    }


class _Check:
    """A DesiredSet made ready for many hosts: patterns compiled once, bare ignore names in a set."""

    def __init__(self, desired: DesiredSet) -> None:
        self.desired = desired
        self.wants = [(want, compile_pattern(want.pattern)) for want in desired.packages]
        self.names = {want.name for want in desired.packages if want.name is not None}
        self.loose = [match for want, match in self.wants if want.name is None]
        self.ignore_names: Set[str] = set()
        self.ignore_matchers: List[Callable[[str], bool]] = []
        for pattern in desired.ignore_extra:
            if is_pattern(pattern) or pattern_name(pattern) != pattern:
                self.ignore_matchers.append(compile_pattern(pattern))
            else:
                self.ignore_names.add(pattern)

    def is_extra(self, pkg: Mapping[str, Any]) -> bool:
        """True when an installed package is neither wanted, a dependency, nor ignored."""
        if pkg["automatic"] or pkg["name"] in self.names or pkg["name"] in self.ignore_names:
            return False
        pkgname = pkg["pkgname"]
        return not any(match(pkgname) for match in self.ignore_matchers) and \
            not any(match(pkgname) for match in self.loose)

    def drift(self, prefixes: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
        """Missing, wrong-version and extra packages of the prefix the desired set is about."""
        wanted_prefix = self.desired.prefix
        if wanted_prefix is None:
            target = prefixes[0] if prefixes else None
        else:
            target = next((p for p in prefixes if p["prefix"] == wanted_prefix.rstrip("/")), None)
        packages = target["packages"] if target else []
        by_name: Dict[str, List[str]] = {}
        for pkg in packages:
            by_name.setdefault(pkg["name"], []).append(pkg["pkgname"])
        if self.desired.lock is not None:
            drift = compare(self.desired.lock, ((p["pkgname"], p["automatic"]) for p in packages),
                            keep=target["kit_packages"] if target else ())
            return {"prefix": target["prefix"] if target else wanted_prefix, "prefix_found": target is not None,
                    "missing": list(drift.missing),
                    "wrong_version": [{"pattern": locked, "installed": [have]} for locked, have in drift.wrong_version],
                    "extra": list(drift.extra),
                    "automatic": [{"pkgname": p, "automatic": a} for p, a in drift.automatic]}
        missing: List[str] = []
        wrong: List[Dict[str, Any]] = []
        for want, match in self.wants:
            present = by_name.get(want.name, []) if want.name is not None else \
                [pkg["pkgname"] for pkg in packages if match(pkg["pkgname"])]
            if not present:
                missing.append(want.pattern)
            elif not any(match(pkgname) for pkgname in present):
                wrong.append({"pattern": want.pattern, "installed": sorted(present)})
        extra = sorted(pkg["pkgname"] for pkg in packages if self.is_extra(pkg))
        return {"prefix": target["prefix"] if target else wanted_prefix, "prefix_found": target is not None,
                "missing": missing, "wrong_version": wrong, "extra": extra, "automatic": []}


def _unreached(name: str, state: str, error: str) -> Dict[str, Any]:
    reason = ("unreachable: %s" if state == "unreachable" else "facts not gathered: %s") % (error or "no detail")
    return {"host": name, "status": "red", "reasons": [reason], "state": state, "error": error,
            "platform": None, "bootstrapped": None, "facts_errors": [], "audit": "not-applicable",
            "vulnerable_packages": [], "prefixes": [], "drift": None}


def _audit_of(prefixes: Sequence[Dict[str, Any]]) -> str:
    states = {p["audit"] for p in prefixes}
    if not prefixes:
        return "not-applicable"
    for state in ("vulnerable", "unknown"):
        if state in states:
            return state
    return "clean"


def host_report(name: str, data: Mapping[str, Any], desired: Optional[DesiredSet] = None) -> Dict[str, Any]:
    """The report of one host from its facts, or from an unreachable/failed marker."""
    return _host_report(name, data, None if desired is None else _Check(desired))


def _host_report(name: str, data: Mapping[str, Any], check: Optional[_Check]) -> Dict[str, Any]:
    if data.get("unreachable"):
        return _unreached(name, "unreachable", str(data.get("error") or data.get("msg") or ""))
    if data.get("failed") or not isinstance(data.get("prefixes", []), list):
        return _unreached(name, "failed", str(data.get("error") or data.get("msg") or "malformed facts"))
    prefixes = [_prefix(raw) for raw in data.get("prefixes") or ()]
    facts_errors = [str(err) for err in data.get("errors") or ()]
    red: List[str] = []
    amber: List[str] = []
    if not prefixes:
        red.append("no pkgsrc prefix found")
    vulns = [v for p in prefixes for v in p["vulnerabilities"] or ()]
    vulnerable = sorted({v["pkgname"] for v in vulns})
    serious = sorted({v["pkgname"] for v in vulns if v["level"] != "low"})
    if serious:
        red.append("%d vulnerable package%s: %s" % (len(serious), "" if len(serious) == 1 else "s", _names(serious)))
    low = [name for name in vulnerable if name not in serious]
    if low:
        amber.append("low-level vulnerabilit%s: %s" % ("y" if len(low) == 1 else "ies", _names(low)))
    drift = None
    if check is not None:
        drift = check.drift(prefixes)
        if prefixes and not drift["prefix_found"]:
            red.append("prefix %s not found" % drift["prefix"])
        if drift["missing"]:
            red.append("missing: %s" % _names(drift["missing"]))
        if drift["wrong_version"]:
            red.append("wrong version: %s" % _names(
                ["%s (wants %s)" % (" ".join(w["installed"]), w["pattern"]) for w in drift["wrong_version"]]))
        if drift["extra"]:
            against = "lock" if check.desired.lock is not None else "desired set"
            amber.append("not in the %s: %s" % (against, _names(drift["extra"])))
        if drift["automatic"]:
            amber.append("automatic flag not as locked: %s" % _names(
                ["%s (%s)" % (f["pkgname"], "automatic" if f["automatic"] else "user-installed")
                 for f in drift["automatic"]]))
    for prefix in prefixes:
        last = prefix["last_transaction"]
        if last is not None and last["outcome"] != "ok":
            amber.append("last transaction %d in %s %s (started %s)" % (
                last["id"], prefix["prefix"], "is unfinished: running, or killed" if last["outcome"] == "running"
                else last["outcome"], last["start"] or "at an unknown time"))
    unknown = [p["prefix"] for p in prefixes if p["audit"] == "unknown"]
    if unknown:
        amber.append("vulnerabilities unknown (audit not run): %s" % _names(unknown))
    if facts_errors:
        amber.append("facts errors: %s" % "; ".join(facts_errors))
    status = "red" if red else ("amber" if amber else "green")
    return {"host": name, "status": status, "reasons": red + amber, "state": "ok", "error": None,
            "platform": _platform(data.get("host")), "bootstrapped": bool(prefixes),
            "facts_errors": facts_errors, "audit": _audit_of(prefixes), "vulnerable_packages": vulnerable,
            "prefixes": prefixes, "drift": drift}


# --- fleet ------------------------------------------------------------------------------------

_VERSION_ORDER = cmp_to_key(dewey_cmp)


def _rollup(pairs: Iterable[Tuple[str, Optional[str], str]], key: str) -> List[Dict[str, Any]]:
    """[(group, version, host)] -> [{key: group, versions: [{version, hosts}]}], sorted."""
    table: Dict[str, Dict[Optional[str], set]] = {}
    for group, version, host in pairs:
        table.setdefault(group, {}).setdefault(version, set()).add(host)
    out = []
    for group in sorted(table):
        versions = table[group]
        known = sorted((v for v in versions if v is not None), key=_VERSION_ORDER)
        ordered: List[Optional[str]] = list(known) + ([None] if None in versions else [])
        out.append({key: group, "versions": [{"version": v, "hosts": sorted(versions[v])} for v in ordered]})
    return out


def _summary(hosts: Sequence[Dict[str, Any]]) -> Dict[str, int]:
    count = {status: 0 for status in STATUSES}
    for host in hosts:
        count[host["status"]] += 1
    ok = [h for h in hosts if h["state"] == "ok"]
    return {
        "hosts": len(hosts),
        "red": count["red"], "amber": count["amber"], "green": count["green"],
        "unreachable": sum(1 for h in hosts if h["state"] == "unreachable"),
        "failed": sum(1 for h in hosts if h["state"] == "failed"),
        "without_pkgsrc": sum(1 for h in ok if not h["prefixes"]),
        "vulnerable": sum(1 for h in ok if h["vulnerable_packages"]),
        "audit_unknown": sum(1 for h in ok if h["audit"] == "unknown"),
        "drifted": sum(1 for h in ok if h["drift"] and (h["drift"]["missing"] or h["drift"]["wrong_version"]
                                                        or h["drift"]["extra"] or h["drift"]["automatic"]
                                                        or not h["drift"]["prefix_found"])),
        "interrupted": sum(1 for h in ok if any(p["last_transaction"] and p["last_transaction"]["outcome"] in UNFINISHED
                                                for p in h["prefixes"])),
    }


def build_report(hosts: Mapping[str, Mapping[str, Any]], desired: Optional[DesiredSet] = None,
                 generated: Optional[str] = None) -> Dict[str, Any]:
    """The fleet report from {host name: facts or unreachable/failed marker}.

    `generated` is the time stamp to print (the caller's clock: this function reads none).
    """
    check = None if desired is None else _Check(desired)
    reports = [_host_report(str(name), hosts[name], check) for name in sorted(hosts, key=str)]
    ok = [h for h in reports if h["state"] == "ok"]
    packages = ((pkg["name"], pkg["version"], h["host"]) for h in ok for p in h["prefixes"] for pkg in p["packages"])
    tools = ((tool, p[tool + "_version"], h["host"]) for h in ok for p in h["prefixes"]
             for tool in ("pkg_install", "pkgin"))
    branches: Dict[str, List[str]] = {}
    for host in ok:
        for prefix in host["prefixes"]:
            branches.setdefault(prefix["branch"] or "unknown", []).append(host["host"])
    return {
        "report_version": REPORT_VERSION,
        "generated": generated,
        "desired": None if desired is None else {
            "prefix": desired.prefix,
            "packages": [{"pattern": d.pattern, "name": d.name} for d in desired.packages],
            "ignore_extra": list(desired.ignore_extra),
            "lock": None if desired.lock is None else {"taken_at": desired.lock.taken_at,
                                                       "taken_from": desired.lock.taken_from},
        },
        "summary": _summary(reports),
        "hosts": reports,
        "packages": _rollup(packages, "name"),
        "tools": _rollup(tools, "tool"),
        "branches": [{"branch": b, "hosts": sorted(set(hs))} for b, hs in sorted(branches.items())],
        "vulnerable_hosts": [
            {"host": h["host"], "vulnerabilities": [dict(v, prefix=p["prefix"]) for p in h["prefixes"]
                                                    for v in p["vulnerabilities"] or ()]}
            for h in ok if h["vulnerable_packages"]],
        "unreachable_hosts": [{"host": h["host"], "state": h["state"], "error": h["error"]}
                              for h in reports if h["state"] != "ok"],
    }


def render_json(report: Mapping[str, Any]) -> str:
    """The report as JSON: keys sorted, two-space indent, a final newline (stable for diffs)."""
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def worst_status(report: Mapping[str, Any]) -> Optional[str]:
    """red, amber or green: the worst host status in the report (None when it has no hosts)."""
    statuses = {h["status"] for h in report["hosts"]}
    return next((s for s in STATUSES if s in statuses), None)
