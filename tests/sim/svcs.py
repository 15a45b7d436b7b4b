"""Stand-in for illumos svcs(1): listings, -o columns, -H, -x, -L, -l. Test code only.

`svcs -H -o state,nstate,fmri FMRI` prints e.g. `online  -  svc:/pkgsrc/foo:default`; a
trailing '*' on the state marks a transition (see _smf: shown for SMF_TRANSITION_CALLS
listings after an asynchronous svcadm action). An FMRI that matches nothing: "svcs: Pattern
'...' doesn't match any instances" on stderr, exit 1. `-L` prints the instance's log path,
`-x` an explanation in the shape of the real one (state, reason, log). Without operands all
instances are listed.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from . import _smf

COLUMNS = ("state", "nstate", "fmri", "stime", "svc", "inst", "desc")


def _usage() -> int:
    sys.stderr.write("Usage: svcs [-aHLvx] [-o col[,col]...] [FMRI | pattern]...\n")
    return 2


def _current(entry: Dict[str, Any], consume: bool) -> Tuple[str, str]:
    display = entry.get("display") or []
    if display:
        state, nstate = display[0]
        if consume:
            entry["display"] = display[1:]
        return state, nstate
    return entry["state"], entry.get("next", "-")


def _desc(repo: Dict[str, Any], svc: str) -> str:
    pgs = repo["services"][svc].get("pgs", {})
    return _smf.prop_value(pgs, "tm_common_name/C", "")


def _cell(col: str, repo: Dict[str, Any], svc: str, inst: str, state: Tuple[str, str]) -> str:
    entry = repo["services"][svc]["instances"][inst]
    if col == "state":
        return state[0]
    if col == "nstate":
        return state[1]
    if col == "fmri":
        return _smf.inst_fmri(svc, inst)
    if col == "stime":
        return time.strftime("%H:%M:%S", time.localtime(entry.get("since", 0)))
    if col == "svc":
        return "svc:/" + svc
    if col == "inst":
        return inst
    return _desc(repo, svc) or "-"


def _explain(repo: Dict[str, Any], svc: str, inst: str, config: Mapping[str, str]) -> List[str]:
    entry = repo["services"][svc]["instances"][inst]
    fmri = _smf.inst_fmri(svc, inst)
    since = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(entry.get("since", 0)))
    lines = ["%s (%s)" % (fmri, _desc(repo, svc) or svc), " State: %s since %s" % (entry["state"], since)]
    if entry["state"] == "maintenance":
        lines += ["Reason: %s" % (entry.get("reason") or "Maintenance requested."),
                  "   See: http://illumos.org/msg/SMF-8000-KS",
                  "   See: %s" % _smf.log_path(config, fmri),
                  "Impact: This service is not running."]
    elif entry["state"] == "offline":
        lines += ["Reason: Service is waiting for dependencies: %s." % ", ".join(_smf.unsatisfied(repo, svc, inst)),
                  "   See: %s" % _smf.log_path(config, fmri),
                  "Impact: This service is not running."]
    elif entry["state"] == "disabled":
        lines += ["Reason: Disabled by an administrator.",
                  "   See: %s" % _smf.log_path(config, fmri),
                  "Impact: This service is not running."]
    lines.append("")
    return lines


def _long(repo: Dict[str, Any], svc: str, inst: str, config: Mapping[str, str]) -> List[str]:
    entry = repo["services"][svc]["instances"][inst]
    fmri = _smf.inst_fmri(svc, inst)
    enabled = "true" if _smf.effective_enabled(entry) else "false"
    if entry.get("temp") is not None:
        enabled += " (temporary)"
    lines = ["fmri         %s" % fmri, "name         %s" % (_desc(repo, svc) or svc),
             "enabled      %s" % enabled, "state        %s" % entry["state"],
             "next_state   %s" % ("none" if entry.get("next", "-") == "-" else entry["next"]),
             "logfile      %s" % _smf.log_path(config, fmri), "restarter    %s" % _smf.RESTARTER]
    if entry.get("pid"):
        lines.append("process      %d" % entry["pid"])
    for name, grouping, fmris in _smf.dependencies(repo, svc, inst):
        lines.append("dependency   %s/none %s (%s)" % (grouping, " ".join(fmris), name))
    lines.append("")
    return lines


def main(argv: Sequence[str], config: Mapping[str, str]) -> int:
    """svcs [-aHLlvx] [-o cols] [pattern...]."""
    args = list(argv)
    header = True
    cols = ["state", "stime", "fmri"]
    mode = "list"
    patterns: List[str] = []
    while args:
        word = args.pop(0)
        if word == "-o":
            if not args:
                return _usage()
            cols = args.pop(0).split(",")
            if any(c not in COLUMNS for c in cols):
                sys.stderr.write("svcs: Unrecognized column \"%s\".\n" % next(c for c in cols if c not in COLUMNS))
                return 2
        elif word.startswith("-") and len(word) > 1:
            for char in word[1:]:
                if char == "H":
                    header = False
                elif char == "x":
                    mode = "explain"
                elif char == "L":
                    mode = "log"
                elif char == "l":
                    mode = "long"
                elif char in "av":
                    pass
                else:
                    return _usage()
        else:
            patterns.append(word)
    rc = 0
    out: List[str] = []
    with _smf.repository(config) as repo:
        targets: List[Tuple[str, str]] = []
        if patterns:
            for pattern in patterns:
                matches = _smf.resolve(repo, pattern)
                if not matches:
                    sys.stderr.write("svcs: Pattern '%s' doesn't match any instances\n" % pattern)
                    rc = 1
                targets += matches
        else:
            targets = [(s, i) for s in sorted(repo["services"]) for i in sorted(repo["services"][s]["instances"])]
        if mode == "log":
            out = [_smf.log_path(config, _smf.inst_fmri(s, i)) for s, i in targets]
        elif mode == "explain":
            for svc, inst in targets:
                out += _explain(repo, svc, inst, config)
        elif mode == "long":
            for svc, inst in targets:
                out += _long(repo, svc, inst, config)
        else:
            rows = []
            for svc, inst in targets:
                state = _current(repo["services"][svc]["instances"][inst], consume=True)
                rows.append([_cell(c, repo, svc, inst, state) for c in cols])
            if header and rows:
                rows.insert(0, [c.upper() for c in cols])
            widths = [max(len(r[i]) for r in rows) for i in range(len(cols))] if rows else []
            for row in rows:
                out.append(" ".join(cell.ljust(widths[i]) if i < len(cols) - 1 else cell
                                    for i, cell in enumerate(row)))
    if out:
        sys.stdout.write("\n".join(out) + "\n")
    return rc
