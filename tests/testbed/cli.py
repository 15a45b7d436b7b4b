"""Command line: bring a testbed up and leave it running, tear it down, or build the cached root.

    python -m tests.testbed up --hosts N --dir DIR [--serve DIR] [--names a,b]
    python -m tests.testbed down --dir DIR      (idempotent; also cleans a half-failed up)
    python -m tests.testbed down --all [--dir DIR]   (every pdtb- run on this machine, crashed ones too)
    python -m tests.testbed leftovers --dir DIR
    python -m tests.testbed build-root [--force]
    python -m tests.testbed collections [--dest DIR]

``up`` prints JSON: hosts (name, ip, leader pid), inventory and roster paths, the HTTP URL.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import rootfs
from .collections_wheel import ensure_collections
from .inventory import COLLECTIONS_PATH
from .testbed import Testbed, down_all


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.testbed", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="boot N hosts and leave them running; print JSON")
    up.add_argument("--hosts", type=int, default=2, help="number of hosts (default 2)")
    up.add_argument("--names", help="comma-separated host names (default host1..hostN)")
    up.add_argument("--dir", required=True, help="work folder for this run (state, keys, inventories, logs)")
    up.add_argument("--serve", help="folder to publish over HTTP (default DIR/www)")
    down = sub.add_parser("down", help="stop and remove a testbed (idempotent)")
    down.add_argument("--dir", help="work folder of the run")
    down.add_argument("--all", action="store_true", help="also clean every other pdtb- run on this machine")
    left = sub.add_parser("leftovers", help="list what of a run still exists")
    left.add_argument("--dir", required=True)
    build = sub.add_parser("build-root", help="build (or find) the cached host root; print its path and build time")
    build.add_argument("--force", action="store_true", help="rebuild even if cached")
    coll = sub.add_parser("collections", help="unpack community.docker and community.general from the ansible wheel")
    coll.add_argument("--dest", default=str(COLLECTIONS_PATH))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the testbed command line; return the exit status."""
    args = _parser().parse_args(argv)
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        print("testbed: needs root on Linux", file=sys.stderr)
        return 2
    if args.command == "up":
        names = args.names.split(",") if args.names else None
        tb = Testbed(args.dir, serve=args.serve)
        ensure_collections(COLLECTIONS_PATH)
        tb.up(args.hosts, names=names)
        print(json.dumps(tb.describe(), indent=2))
        return 0
    if args.command == "down":
        if not args.dir and not args.all:
            print("testbed down: give --dir DIR, or --all", file=sys.stderr)
            return 2
        left: list[str] = []
        if args.dir:
            workdir = Path(args.dir)
            tb = Testbed.load(workdir) if (workdir / "testbed.json").exists() else None
            if tb is not None:
                left += tb.down()
        if args.all:
            left += down_all()
        for line in left:
            print(f"left behind: {line}", file=sys.stderr)
        return 1 if left else 0
    if args.command == "leftovers":
        left = Testbed.load(args.dir).leftovers() if (Path(args.dir) / "testbed.json").exists() else []
        print(json.dumps(left, indent=2))
        return 1 if left else 0
    if args.command == "build-root":
        path, seconds = rootfs.build_root(force=args.force)
        print(json.dumps({"root": str(path), "build_seconds": seconds, "info": rootfs.root_info(path)}, indent=2))
        return 0
    if args.command == "collections":
        print(json.dumps(ensure_collections(Path(args.dest))))
        return 0
    return 2
