"""The JSON schema of the fleet report (report_version 1) and a small validator for it.

REPORT_SCHEMA is JSON Schema (draft 2020-12) and is published as docs/report.schema.json. The
schema is stable: within a report_version, keys are only ever added, never renamed, removed or
retyped. `validate` checks the subset of JSON Schema this schema uses (type, enum, properties,
required, additionalProperties, items, minimum, $ref to $defs), so the core needs no library.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

_STR = {"type": "string"}
_STR_OR_NULL = {"type": ["string", "null"]}
_COUNT = {"type": "integer", "minimum": 0}
_NAMES = {"type": "array", "items": _STR}
_STATUS = {"enum": ["red", "amber", "green"]}
_PLATFORM_KEYS = ("platform", "os_id", "os_name", "os_release", "arch", "init", "zonename")


def _object(properties: Mapping[str, Any], description: str = "") -> Dict[str, Any]:
    out: Dict[str, Any] = {"type": "object", "properties": dict(properties), "required": sorted(properties),
                           "additionalProperties": False}
    if description:
        out["description"] = description
    return out


def _versions(key: str, description: str) -> Dict[str, Any]:
    return {"type": "array", "description": description, "items": _object({
        key: _STR,
        "versions": {"type": "array", "description": "Oldest first (pkgsrc dewey order); null = not installed.",
                     "items": _object({"version": _STR_OR_NULL, "hosts": _NAMES})},
    })}


_VULNERABILITY = _object({
    "pkgname": {"type": "string", "description": "The vulnerable installed package, e.g. hello-1.0."},
    "type": {"type": "string", "description": "Kind of vulnerability as pkg_admin audit names it."},
    "url": {"type": "string", "description": "The advisory."},
    "level": {"enum": ["low", "medium", "high", "critical"],
              "description": "Severity taken from the type (pkgsrc_core.packages.audit.level_of); low alone is amber."},
}, "One `pkg_admin audit` line: Package PKGNAME has a TYPE vulnerability, see URL.")

_PACKAGE = _object({
    "name": _STR, "version": _STR, "pkgname": _STR,
    "automatic": {"type": "boolean", "description": "Installed as a dependency."},
})

_PREFIX = _object({
    "prefix": _STR,
    "pkg_dbdir": _STR_OR_NULL,
    "branch": {"type": ["string", "null"], "description": "YYYYQn, trunk, or null when the repositories do not say."},
    "repositories": _NAMES,
    "pkg_install_version": _STR_OR_NULL,
    "pkgin_version": _STR_OR_NULL,
    "package_count": _COUNT,
    "packages": {"type": "array", "items": {"$ref": "#/$defs/package"}},
    "audit": {"enum": ["clean", "vulnerable", "unknown"],
              "description": "unknown: no audit result was given for this prefix."},
    "vulnerabilities": {"type": ["array", "null"], "items": {"$ref": "#/$defs/vulnerability"},
                        "description": "null when the audit was not run."},
    "kit_packages": {"type": "array", "items": _STR,
                     "description": "Names of the bootstrap kit's packages, which exact sets and locks keep."},
    "last_transaction": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/transaction"}],
                         "description": "The newest record of the prefix's history; null when it has none."},
}, "One pkgsrc prefix on a host.")

_TRANSACTION = _object({
    "id": _COUNT,
    "kind": {"type": "string", "description": "package, bootstrap, repository or rollback."},
    "start": _STR_OR_NULL,
    "end": {"type": ["string", "null"], "description": "null while running, or when the run was killed."},
    "outcome": {"enum": ["ok", "failed", "interrupted", "running"],
                "description": "interrupted: killed, found by the next run; running: going on, or killed and "
                               "not looked at since. Both make the host amber, and so does failed."},
}, "A transaction record of the prefix's history (UTC times, ISO 8601).")

_DRIFT = _object({
    "prefix": {"type": ["string", "null"], "description": "The prefix compared with the desired set."},
    "prefix_found": {"type": "boolean"},
    "missing": {"type": "array", "items": _STR, "description": "Desired patterns nothing installed matches."},
    "wrong_version": {"type": "array", "items": _object({"pattern": _STR, "installed": _NAMES})},
    "extra": {"type": "array", "items": _STR,
              "description": "Installed, not automatic, not desired and not in ignore_extra; against a lock: "
                             "installed, not locked and not one of the kit's packages."},
    "automatic": {"type": "array", "items": _object({"pkgname": _STR, "automatic": {"type": "boolean"}}),
                  "description": "Against a lock: packages at the locked version whose automatic flag is not the "
                                 "lock's (automatic: what the lock says); empty otherwise."},
}, "Difference between the desired set and one prefix; null when no desired set was given.")

_HOST = _object({
    "host": _STR,
    "status": _STATUS,
    "reasons": {"type": "array", "items": _STR, "description": "Why the status: red reasons first, then amber."},
    "state": {"enum": ["ok", "unreachable", "failed"],
              "description": "failed: the host answered but gave no facts."},
    "error": _STR_OR_NULL,
    "platform": {"type": ["object", "null"],
                 "properties": {k: _STR_OR_NULL for k in _PLATFORM_KEYS},
                 "required": list(_PLATFORM_KEYS),
                 "additionalProperties": False},
    "bootstrapped": {"type": ["boolean", "null"], "description": "null when unknown (no facts)."},
    "facts_errors": _NAMES,
    "audit": {"enum": ["clean", "vulnerable", "unknown", "not-applicable"]},
    "vulnerable_packages": _NAMES,
    "prefixes": {"type": "array", "items": {"$ref": "#/$defs/prefix"}},
    "drift": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/drift"}]},
}, "One host.")

REPORT_SCHEMA: Dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pkgsrc.deploy fleet report",
    "description": "Written by pkgsrc_core.report.render_json. Stable within a report_version: keys are only "
                   "ever added. Hosts are sorted by name, packages by name, versions oldest first.",
    "type": "object",
    "properties": {
        "report_version": {"const": 1},
        "generated": {"type": ["string", "null"], "description": "ISO 8601 time stamp (UTC) of the run."},
        "desired": {"anyOf": [{"type": "null"}, _object({
            "prefix": _STR_OR_NULL,
            "packages": {"type": "array", "items": _object({"pattern": _STR, "name": _STR_OR_NULL})},
            "ignore_extra": _NAMES,
            "lock": {"anyOf": [{"type": "null"}, _object({"taken_at": _STR_OR_NULL, "taken_from": _STR_OR_NULL})],
                     "description": "When the desired set is a lock file: where and when it was taken."},
        })]},
        "summary": _object({k: _COUNT for k in (
            "hosts", "red", "amber", "green", "unreachable", "failed", "without_pkgsrc", "vulnerable",
            "audit_unknown", "drifted", "interrupted")}, "Host counts."),
        "hosts": {"type": "array", "items": {"$ref": "#/$defs/host"}},
        "packages": _versions("name", "Hosts per package version, across all prefixes."),
        "tools": _versions("tool", "Hosts per pkg_install and pkgin version."),
        "branches": {"type": "array", "items": _object({"branch": _STR, "hosts": _NAMES})},
        "vulnerable_hosts": {"type": "array", "items": _object({
            "host": _STR,
            "vulnerabilities": {"type": "array", "items": _object(dict(_VULNERABILITY["properties"], prefix=_STR))},
        })},
        "unreachable_hosts": {"type": "array", "items": _object({
            "host": _STR, "state": {"enum": ["unreachable", "failed"]}, "error": _STR_OR_NULL})},
    },
    "required": ["report_version", "generated", "desired", "summary", "hosts", "packages", "tools", "branches",
                 "vulnerable_hosts", "unreachable_hosts"],
    "additionalProperties": False,
    "$defs": {"host": _HOST, "prefix": _PREFIX, "package": _PACKAGE, "vulnerability": _VULNERABILITY,
              "drift": _DRIFT, "transaction": _TRANSACTION},
}

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _check(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], where: str, out: List[str]) -> None:
    if "$ref" in schema:
        _check(value, _resolve(schema["$ref"], root), root, where, out)
        return
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            trial: List[str] = []
            _check(value, option, root, where, trial)
            if not trial:
                return
        out.append("%s: matches none of the allowed forms" % where)
        return
    if "const" in schema and value != schema["const"]:
        out.append("%s: must be %r" % (where, schema["const"]))
    if "enum" in schema and value not in schema["enum"]:
        out.append("%s: %r is not one of %s" % (where, value, ", ".join(map(str, schema["enum"]))))
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_TYPES[kind](value) for kind in kinds):
            out.append("%s: %s is not %s" % (where, type(value).__name__, " or ".join(kinds)))
            return
    if "minimum" in schema and isinstance(value, int) and value < schema["minimum"]:
        out.append("%s: %d is below %d" % (where, value, schema["minimum"]))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                out.append("%s: %s is missing" % (where, key))
        for key, item in value.items():
            if key in props:
                _check(item, props[key], root, "%s.%s" % (where, key), out)
            elif schema.get("additionalProperties") is False:
                out.append("%s: unexpected key %s" % (where, key))
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], root, "%s[%d]" % (where, index), out)


def validate(document: Any, schema: Optional[Mapping[str, Any]] = None) -> List[str]:
    """Every place where document breaks the schema (default REPORT_SCHEMA), as "path: problem"
    lines; empty when the document is valid."""
    root = REPORT_SCHEMA if schema is None else schema
    problems: List[str] = []
    _check(document, root, root, "$", problems)
    return problems
