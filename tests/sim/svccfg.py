"""Stand-in for illumos svccfg(1M): import, validate, delete, export, -s FMRI setprop/listprop. Test code only.

`import FILE` validates the manifest against service_bundle.dtd.1 with `xmllint --dtdvalid`
when config["SMF_DTD"] names the DTD and xmllint is installed (config["XMLLINT"] or PATH),
as svccfg validates with libxml2: an invalid manifest prints libxml's messages and
"svccfg: Document is not valid." and exits 1, storing nothing. Without the DTD or xmllint
only well-formedness is checked. Import then stores the services (see _smf) and starts
instances the manifest enables.

`export FMRI` prints the manifest as imported (the real svccfg regenerates XML from the
repository, so its text differs in layout). `listprop` prints `pg  type` and
`pg/prop  type  value` lines; string values with spaces or quotes are double-quoted with
backslash escapes. `setprop pg/prop = [type:] value` changes a property (general/enabled on
an instance changes its persistent enable flag; the change takes effect at the next svcadm
action, as after `svcadm refresh`). Exit codes: 0 ok, 1 error, 2 usage.
"""
from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

from . import _smf

TYPES = ("count", "integer", "opaque", "host", "hostname", "net_address", "net_address_v4", "net_address_v6",
         "time", "astring", "ustring", "boolean", "fmri", "uri")
USAGE = """Usage: svccfg [-v] [-s FMRI] [command [args...]]
\timport [-V] file
\tvalidate file
\texport FMRI
\tdelete [-f] FMRI
\tlistprop [pattern]
\tsetprop pg/name = [type:] value
"""


def _err(text: str) -> None:
    sys.stderr.write("svccfg: %s\n" % text)


def _validate(path: str, config: Mapping[str, str]) -> Optional[str]:
    """None when the file is acceptable, else the text to print before failing."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        return "svccfg: couldn't open \"%s\": %s\n" % (path, exc.strerror)
    try:
        _smf.parse_manifest(text)
    except _smf.SmfFail as exc:
        return "svccfg: %s\n" % exc.message
    dtd = config.get("SMF_DTD", "")
    xmllint = config.get("XMLLINT") or shutil.which("xmllint")
    if not dtd or not xmllint or not os.path.isfile(dtd):
        return None
    proc = subprocess.run([xmllint, "--noout", "--nonet", "--dtdvalid", dtd, path], capture_output=True,
                          text=True, check=False)
    if proc.returncode == 0:
        return None
    messages = [line for line in proc.stderr.splitlines()
                if "failed to load external entity" not in line and not line.startswith("<!DOCTYPE")
                and line.strip() != "^"]
    return "\n".join(messages) + "\nsvccfg: Document is not valid.\n"


def _import(args: List[str], config: Mapping[str, str]) -> int:
    if args and args[0] == "-V":
        args = args[1:]
    if len(args) != 1:
        sys.stderr.write(USAGE)
        return 2
    path = args[0]
    problem = _validate(path, config)
    if problem:
        sys.stderr.write(problem)
        return 1
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    with _smf.repository(config) as repo:
        _smf.import_services(repo, text, os.path.abspath(path), config)
    return 0


def _quote(value: str) -> str:
    if value and not re.search(r'[\s"\\]', value):
        return value
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def _listprop(repo: Dict[str, Any], svc: str, inst: Optional[str], args: List[str]) -> int:
    pattern = args[0] if args else "*"
    pgs = _smf.effective_pgs(repo, svc, inst) if inst else repo["services"][svc].get("pgs", {})
    rows = []
    for pg_name in sorted(pgs):
        pg = pgs[pg_name]
        if fnmatch.fnmatchcase(pg_name, pattern):
            rows.append((pg_name, pg["type"], ""))
        for prop_name in sorted(pg["props"]):
            full = "%s/%s" % (pg_name, prop_name)
            if fnmatch.fnmatchcase(full, pattern) or fnmatch.fnmatchcase(pg_name, pattern):
                ptype, values = pg["props"][prop_name]
                rows.append((full, ptype, " ".join(_quote(v) if ptype in ("astring", "ustring") else v
                                                   for v in values)))
    width = max([len(r[0]) for r in rows] + [28]) + 2
    for name, ptype, value in rows:
        line = name.ljust(width) + (ptype.ljust(9) + value if "/" in name else ptype)
        sys.stdout.write(line.rstrip() + "\n")
    return 0


def _setprop(repo: Dict[str, Any], svc: str, inst: Optional[str], args: List[str]) -> int:
    text = " ".join(args)
    match = re.match(r"^\s*([^\s=]+)\s*=\s*(?:([a-z_0-9]+):\s*)?(.*)$", text, re.S)
    if not match or "/" not in match.group(1):
        sys.stderr.write(USAGE)
        return 2
    pg_name, _unused, prop = match.group(1).partition("/")
    ptype, raw = match.group(2), match.group(3).strip()
    try:
        if raw.startswith("(") and raw.endswith(")"):
            values = shlex.split(raw[1:-1])
        else:
            values = shlex.split(raw) if raw else [""]
            if len(values) != 1:
                _err("Syntax error: a single value is expected (use ( ... ) for a list).")
                return 1
    except ValueError as exc:
        _err("Syntax error: %s" % exc)
        return 1
    entry = repo["services"][svc]
    holder = entry["instances"][inst] if inst else entry
    pgs = holder.setdefault("pgs", {})
    known = _smf.effective_pgs(repo, svc, inst) if inst else entry.get("pgs", {})
    if pg_name not in known:
        _err('No such property group "%s".' % pg_name)
        return 1
    existing = known[pg_name]["props"].get(prop)
    if ptype is None:
        if existing is None:
            _err("Type required for new properties.")
            return 1
        ptype = existing[0]
    if ptype not in TYPES:
        _err('Unknown type "%s".' % ptype)
        return 1
    if inst and pg_name == "general" and prop == "enabled":
        entry["instances"][inst]["enabled"] = values[0] in ("true", "1")
        return 0
    group = pgs.setdefault(pg_name, {"type": known[pg_name]["type"], "props": {}})
    group["props"][prop] = [ptype, values]
    return 0


def _delete(args: List[str], config: Mapping[str, str]) -> int:
    force = False
    if args and args[0] == "-f":
        force = True
        args = args[1:]
    if len(args) != 1:
        sys.stderr.write(USAGE)
        return 2
    with _smf.repository(config) as repo:
        svc, inst = _smf.resolve_service(repo, args[0])
        entry = repo["services"][svc]
        names = [inst] if inst else list(entry["instances"])
        for name in names:
            state = entry["instances"][name]["state"]
            if state in _smf.RUNNING and not force:
                _err('Instance "%s" is %s; disable it first or use delete -f.' % (_smf.inst_fmri(svc, name), state))
                return 1
        for name in names:
            _smf.kill_group(entry["instances"][name].get("pid"), 1.0)
            del entry["instances"][name]
        if inst is None:
            del repo["services"][svc]
        _smf.settle(repo, config)
    return 0


def main(argv: Sequence[str], config: Mapping[str, str]) -> int:
    """svccfg [-s FMRI] import|validate|export|delete|listprop|setprop ..."""
    args = list(argv)
    if args and args[0] == "-v":
        args.pop(0)
    selected: Optional[str] = None
    if len(args) >= 2 and args[0] == "-s":
        selected = args[1]
        args = args[2:]
    if not args:
        sys.stderr.write(USAGE)
        return 2
    command, rest = args[0], args[1:]
    try:
        if selected is None:
            if command == "import":
                return _import(rest, config)
            if command == "validate":
                problem = _validate(rest[0], config) if len(rest) == 1 else "usage"
                if problem == "usage":
                    sys.stderr.write(USAGE)
                    return 2
                if problem:
                    sys.stderr.write(problem)
                    return 1
                return 0
            if command == "delete":
                return _delete(rest, config)
            if command == "export":
                if len(rest) != 1:
                    sys.stderr.write(USAGE)
                    return 2
                with _smf.repository(config) as repo:
                    svc, _inst = _smf.resolve_service(repo, rest[0])
                    sys.stdout.write(repo["services"][svc].get("manifest", ""))
                return 0
            sys.stderr.write(USAGE)
            return 2
        with _smf.repository(config) as repo:
            svc, inst = _smf.resolve_service(repo, selected)
            if command == "listprop":
                return _listprop(repo, svc, inst, rest)
            if command == "setprop":
                return _setprop(repo, svc, inst, rest)
        sys.stderr.write(USAGE)
        return 2
    except _smf.SmfFail as exc:
        _err(exc.message)
        return exc.rc
