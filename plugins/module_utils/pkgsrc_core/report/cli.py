"""Command line of the fleet report: saved facts (Ansible or Salt JSON) in, text/JSON/HTML out.

    python -m pkgsrc_core.report.cli --input facts.json [--desired desired.yml]
        [--out-dir DIR] [--format text|json|html|all] [--fail-on red|amber|never]

With --out-dir it writes report.txt, report.json and/or report.html there (each replaced
atomically) and prints nothing; without it, it prints the one format asked for (text by default),
so a cron job mails the text report. Exit status: 0; 1 when a host is at or worse than --fail-on;
2 when the input cannot be read.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from typing import Dict, List, Mapping, Optional, Sequence

from ..errors import PkgsrcError
from ..fsutil import atomic_write
from .html import render_html
from .inputs import load_desired, load_hosts
from .model import build_report, render_json, worst_status
from .text import render_text

FILES = {"text": "report.txt", "json": "report.json", "html": "report.html"}
_RENDER = {"text": render_text, "json": render_json, "html": render_html}
_FAIL = {"red": ("red",), "amber": ("red", "amber"), "never": ()}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pkgsrc-report", description="Render the pkgsrc fleet report from saved host facts.")
    parser.add_argument("--input", "-i", action="append", required=True, metavar="FACTS",
                        help="JSON of host facts ({host: facts}, Ansible results, salt --out=json), or a "
                             "directory of per-host JSON files; may be given more than once")
    parser.add_argument("--desired", "-d", metavar="FILE",
                        help="desired package set: a JSON or YAML list of patterns or mapping name: version")
    parser.add_argument("--out-dir", "-o", metavar="DIR", help="write report.txt/.json/.html here")
    parser.add_argument("--format", "-f", choices=sorted(FILES) + ["all"],
                        help="what to write (default: all with --out-dir, text without)")
    parser.add_argument("--fail-on", choices=sorted(_FAIL), default="never",
                        help="exit 1 when a host is this status or worse (default: never)")
    parser.add_argument("--generated", metavar="TIMESTAMP",
                        help="time stamp to print instead of the current UTC time")
    return parser


def write_atomic(path: str, text: str) -> None:
    """Write text to path atomically (mode 0644)."""
    atomic_write(path, text, mode=0o644, make_parents=False)


def render(report: Mapping[str, object], formats: Sequence[str]) -> Dict[str, str]:
    """{format: rendered text} for the formats asked for."""
    return {fmt: _RENDER[fmt](report) for fmt in formats}


def exit_status(report: Mapping[str, object], fail_on: str) -> int:
    """1 when the worst host status is in the --fail-on set, else 0."""
    worst = worst_status(report)
    return 1 if worst is not None and worst in _FAIL[fail_on] else 0


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    fmt = args.format or ("all" if args.out_dir else "text")
    if fmt == "all" and not args.out_dir:
        sys.stderr.write("pkgsrc-report: --format all needs --out-dir (three files)\n")
        return 2
    formats = sorted(FILES) if fmt == "all" else [fmt]
    generated = args.generated or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        hosts: Dict[str, Dict[str, object]] = {}
        for path in args.input:
            hosts.update(load_hosts(path))
        desired = load_desired(args.desired) if args.desired else None
        report = build_report(hosts, desired, generated)
        outputs = render(report, formats)
        if args.out_dir:
            os.makedirs(args.out_dir, exist_ok=True)
            for name, text in outputs.items():
                write_atomic(os.path.join(args.out_dir, FILES[name]), text)
        else:
            sys.stdout.write(outputs[formats[0]])
    except PkgsrcError as exc:
        sys.stderr.write("pkgsrc-report: %s\n" % exc)
        return 2
    except OSError as exc:
        sys.stderr.write("pkgsrc-report: cannot write the report: %s\n" % exc)
        return 2
    return exit_status(report, args.fail_on)


if __name__ == "__main__":
    raise SystemExit(main())
