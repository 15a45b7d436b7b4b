"""Stand-in for illumos svcadm(1M): enable, disable, restart, refresh, clear. Test code only.

Exit codes as svcadm: 0 ok, 1 fatal (unknown instance, clear of a healthy one), 2 usage,
3 (with -s) the instance cannot reach the state (maintenance, disabled by another entity),
4 (with -s) its dependencies are unsatisfied. Messages are svcadm's own wording. State
changes happen synchronously; see _smf for the model and the transitional display.
"""
from __future__ import annotations

import sys
from typing import Dict, List, Mapping, Sequence, Tuple

from . import _smf

USAGE = """Usage: svcadm [-v] [cmd [args ... ]]

\tsvcadm enable [-rst] <service> ...\t- enable and online service(s)
\tsvcadm disable [-st] <service> ...\t- disable and offline service(s)
\tsvcadm restart <service> ...\t\t- restart specified service(s)
\tsvcadm refresh <service> ...\t\t- re-read service configuration
\tsvcadm clear <service> ...\t\t- clear maintenance state
"""


class Usage(Exception):
    """Bad arguments: print usage, exit 2."""


def _options(args: Sequence[str], allowed: str) -> Tuple[Dict[str, bool], List[str]]:
    flags = {c: False for c in allowed}
    rest = list(args)
    while rest and rest[0].startswith("-") and rest[0] != "-":
        word = rest.pop(0)
        if word == "--":
            break
        for char in word[1:]:
            if char not in allowed:
                raise Usage()
            flags[char] = True
    if not rest:
        raise Usage()
    return flags, rest


def _warn(text: str) -> None:
    sys.stderr.write("svcadm: %s\n" % text)


def _instances(repo: dict, patterns: Sequence[str]) -> Tuple[List[Tuple[str, str]], int]:
    found: List[Tuple[str, str]] = []
    rc = 0
    for pattern in patterns:
        matches = _smf.resolve(repo, pattern)
        if not matches:
            _warn("Pattern '%s' doesn't match any instances" % pattern)
            rc = 1
        found += matches
    return found, rc


def _dependency_services(repo: dict, svc: str, inst: str, seen: set) -> List[Tuple[str, str]]:
    out = []
    for _name, _grouping, fmris in _smf.dependencies(repo, svc, inst):
        for fmri in fmris:
            for pair in _smf.resolve(repo, fmri) if _smf.split_fmri(fmri)[0] in repo["services"] else []:
                if pair not in seen:
                    seen.add(pair)
                    out.append(pair)
                    out += _dependency_services(repo, pair[0], pair[1], seen)
    return out


def _enable(repo: dict, args: Sequence[str], config: Mapping[str, str]) -> int:
    flags, patterns = _options(args, "rst")
    targets, rc = _instances(repo, patterns)
    if flags["r"]:
        seen = set(targets)
        for svc, inst in list(targets):
            targets += _dependency_services(repo, svc, inst, seen)
    before = {}
    for svc, inst in targets:
        entry = repo["services"][svc]["instances"][inst]
        before[(svc, inst)] = entry["state"]
        if flags["t"]:
            entry["temp"] = True
        else:
            entry["enabled"] = True
            entry["temp"] = None
        if entry["state"] == "disabled":
            _smf.log(config, _smf.inst_fmri(svc, inst), "Enabled.")
    _smf.settle(repo, config)
    for svc, inst in targets:
        entry = repo["services"][svc]["instances"][inst]
        fmri = _smf.inst_fmri(svc, inst)
        if not flags["s"]:
            if before[(svc, inst)] not in _smf.RUNNING and entry["state"] != before[(svc, inst)]:
                _smf.show(entry, "offline", entry["state"], config)
            continue
        state = entry["state"]
        if state in _smf.RUNNING:
            continue
        if state == "maintenance":
            _warn('Instance "%s" is in maintenance state.' % fmri)
            rc = 3
        elif state == "disabled":
            _warn('Instance "%s" has been disabled by another entity.' % fmri)
            rc = 3
        else:
            _warn('Instance "%s" has unsatisfied dependencies.' % fmri)
            rc = rc or 4
    return rc


def _disable(repo: dict, args: Sequence[str], config: Mapping[str, str]) -> int:
    flags, patterns = _options(args, "st")
    targets, rc = _instances(repo, patterns)
    before = {}
    for svc, inst in targets:
        entry = repo["services"][svc]["instances"][inst]
        before[(svc, inst)] = entry["state"]
        if flags["t"]:
            entry["temp"] = False
        else:
            entry["enabled"] = False
            entry["temp"] = None
        if entry["state"] == "maintenance":
            _smf.kill_group(entry.get("pid"), 1.0)
            entry["pid"] = None
            _smf.set_state(entry, "disabled")
            _smf.log(config, _smf.inst_fmri(svc, inst), "Disabled.")
    _smf.settle(repo, config)
    for svc, inst in targets:
        entry = repo["services"][svc]["instances"][inst]
        if not flags["s"]:
            if before[(svc, inst)] in _smf.RUNNING:
                _smf.show(entry, "online", entry["state"], config)
        elif entry["state"] == "maintenance":
            _warn('Instance "%s" is in maintenance state.' % _smf.inst_fmri(svc, inst))
            rc = 3
    return rc


def _restart(repo: dict, args: Sequence[str], config: Mapping[str, str]) -> int:
    if not args or args[0].startswith("-"):
        raise Usage()
    targets, rc = _instances(repo, args)
    for svc, inst in targets:
        entry = repo["services"][svc]["instances"][inst]
        if entry["state"] not in _smf.RUNNING:
            continue
        _smf.stop_instance(repo, svc, inst, config, "offline")
        _smf.start_instance(repo, svc, inst, config)
        _smf.show(entry, "online", entry["state"], config)
    _smf.settle(repo, config)
    return rc


def _refresh(repo: dict, args: Sequence[str], config: Mapping[str, str]) -> int:
    if not args or args[0].startswith("-"):
        raise Usage()
    targets, rc = _instances(repo, args)
    for svc, inst in targets:
        entry = repo["services"][svc]["instances"][inst]
        was = entry["state"]
        _smf.refresh_instance(repo, svc, inst, config)
        if was in _smf.RUNNING:
            _smf.show(entry, "online", entry["state"], config)
    _smf.settle(repo, config)
    return rc


def _clear(repo: dict, args: Sequence[str], config: Mapping[str, str]) -> int:
    if not args or args[0].startswith("-"):
        raise Usage()
    targets, rc = _instances(repo, args)
    for svc, inst in targets:
        entry = repo["services"][svc]["instances"][inst]
        fmri = _smf.inst_fmri(svc, inst)
        if entry["state"] == "maintenance":
            _smf.log(config, fmri, "Leaving maintenance because clear requested.")
            _smf.set_state(entry, "offline" if _smf.effective_enabled(entry) else "disabled")
            _smf.settle(repo, config)
            _smf.show(entry, "offline", entry["state"], config)
        elif entry["state"] == "degraded":
            _smf.set_state(entry, "online")
        else:
            _warn('Instance "%s" is not in a maintenance or degraded state.' % fmri)
            rc = 1
    return rc


COMMANDS = {"enable": _enable, "disable": _disable, "restart": _restart, "refresh": _refresh, "clear": _clear}


def main(argv: Sequence[str], config: Mapping[str, str]) -> int:
    """svcadm [-v] enable|disable|restart|refresh|clear ..."""
    args = list(argv)
    if args and args[0] == "-v":
        args.pop(0)
    if not args or args[0] not in COMMANDS:
        sys.stderr.write(USAGE)
        return 2
    try:
        with _smf.repository(config) as repo:
            return COMMANDS[args[0]](repo, args[1:], config)
    except Usage:
        sys.stderr.write(USAGE)
        return 2
    except _smf.SmfFail as exc:
        _warn(exc.message)
        return exc.rc
