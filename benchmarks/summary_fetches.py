"""Benchmark: how many times a host fetches each repository summary, per run, and who fetches it.

One testbed host, the real pkg_install 20170419 and pkgin 26.4.0 (the real kit, tests/realtools),
the demo's real-tools deployment (bootstrap the kit, install svc-demo: tests/integration/
summary_fetches.py), run twice: the first deployment, then the same run with nothing to change;
then svc-demo at state latest (nothing to change, but the plan needs the repository's list).
The testbed's HTTP server logs every request with its User-Agent, so each pkg_summary request is
put down to pkgin or to our core, with its outcome: full (200 with a body), not_modified (304) or
absent (404).

The repository is the real demo repository with its pkg_summary.xz grown to a real repository's
size (a few MB: tests/integration/summary_fetches.enlarge_summary), so that a request the client
hangs up on after the headers (pkgin's up-to-date check) can be told from a download.

The JSON keeps one block per label. `--label after` (the default) measures the collection as it
is; `--label before` runs the same with the catalogue of the last commit (`git show
HEAD:plugins/module_utils/pkgsrc_core/packages/catalogue.py`, in a temporary copy of the
collection) and the other files as they are, i.e. the code before issue 14's "fetch each
repository summary at most once per host per run". Running again replaces only its own block.

    sudo .venv/bin/python benchmarks/summary_fetches.py [--label after] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

TOP = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TOP)]

from tests.integration.summary_fetches import (  # noqa: E402  pylint: disable=wrong-import-position
    deploy_tasks,
    enlarge_summary,
    full_fetches,
    run_deploy,
    summary_requests,
)
from tests.realtools import PREFIX, real_kit_dir  # noqa: E402  pylint: disable=wrong-import-position
from tests.realtools.site import prepare  # noqa: E402  pylint: disable=wrong-import-position
from tests.testbed.collections_wheel import ensure_collections  # noqa: E402  pylint: disable=wrong-import-position
from tests.testbed.inventory import COLLECTIONS_PATH  # noqa: E402  pylint: disable=wrong-import-position
from tests.testbed.rootfs import build_root  # noqa: E402  pylint: disable=wrong-import-position
from tests.testbed.testbed import Testbed  # noqa: E402  pylint: disable=wrong-import-position

RUNS = ("first_deployment", "no_change", "latest_no_change")
CATALOGUE = "plugins/module_utils/pkgsrc_core/packages/catalogue.py"


def collection_at_head_catalogue(dest: Path) -> Path:
    """A collections path whose pkgsrc.deploy is this tree with the last commit's catalogue.py."""
    top = dest / "ansible_collections" / "pkgsrc" / "deploy"
    top.mkdir(parents=True)
    for name in ("galaxy.yml", "meta", "roles", "playbooks"):
        (top / name).symlink_to(TOP / name)
    shutil.copytree(TOP / "plugins", top / "plugins", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    old = subprocess.run(["git", "-C", str(TOP), "show", "HEAD:" + CATALOGUE], capture_output=True, check=True).stdout
    (top / CATALOGUE).write_bytes(old)
    return dest


def describe(requests: List[Dict[str, Any]]) -> Dict[str, Any]:
    """One run's summary requests: in order, then totals by requester and outcome."""
    rows = summary_requests(requests)
    totals: Dict[str, Dict[str, int]] = {}
    for row in rows:
        per = totals.setdefault(row["by"], {})
        per[row["outcome"]] = per.get(row["outcome"], 0) + 1
    full = full_fetches(requests)
    return {
        "requests": [{"path": r["path"], "by": r["by"], "status": r["status"], "outcome": r["outcome"],
                      "bytes": r.get("sent"), "if_modified_since": r.get("if_modified_since"),
                      "if_none_match": r.get("if_none_match")} for r in rows],
        "totals_by_requester": totals,
        "summary_requests": len(rows),
        "full_fetches": sum(full.values()),
        "max_full_fetches_of_one_summary": max(full.values(), default=0),
        "summary_bytes": sum(int(r.get("sent") or 0) for r in rows),
    }


def measure(workdir: Path, kit_dir: Path, collections: Optional[Path] = None) -> Dict[str, Any]:
    tb = Testbed(workdir / "testbed")
    out: Dict[str, Any] = {}
    env = {"ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (collections, COLLECTIONS_PATH)} if collections else None
    try:
        tb.up(1, names=["sumfetch"])
        site = prepare(tb.www_dir, tb.http_url, kit_dir)
        out["summary_bytes"] = enlarge_summary(tb.www_dir / "All")
        host = tb.hosts[0]
        tasks = deploy_tasks(site.bootstrap_options(), PREFIX)
        latest = [{"pkgsrc.deploy.package": {"name": ["svc-demo"], "prefix": PREFIX, "state": "latest"}}]
        plays = workdir / "plays"
        plays.mkdir()
        for name in RUNS:
            start = time.monotonic()
            if name == "latest_no_change":
                tasks = latest
            results, requests = run_deploy(tb, host, tasks, plays, env)
            failed = [r.get("msg") for r in results if r.get("failed")]
            if failed:
                raise RuntimeError("the %s run failed: %s" % (name, failed))
            out[name] = dict(describe(requests), seconds=round(time.monotonic() - start, 2),
                             changed=[bool(r.get("changed")) for r in results])
    finally:
        left = tb.down()
    if left:
        raise RuntimeError("teardown left: %s" % left)
    return out


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after", help="the block of the JSON file to write (before, after)")
    parser.add_argument("--out", default=str(TOP / "benchmarks" / "results" / "summary_fetches.json"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        print("summary_fetches: needs root on Linux (testbed hosts)", file=sys.stderr)
        return 2
    kit_dir = real_kit_dir()
    if kit_dir is None:
        print("summary_fetches: the real kit is needed (set PKGSRC_REAL_KIT)", file=sys.stderr)
        return 2
    ensure_collections(COLLECTIONS_PATH)
    build_root()
    with tempfile.TemporaryDirectory(prefix="summary-fetches-") as tmp:
        collections = collection_at_head_catalogue(Path(tmp) / "collections") if args.label == "before" else None
        result = measure(Path(tmp), kit_dir, collections)
    path = Path(args.out)
    data = json.loads(path.read_text()) if path.exists() else {}
    data["description"] = __doc__.split("\n\n", maxsplit=1)[0].replace("\n", " ")
    data["scenario"] = ("one testbed host, real pkgin 26.4.0 and pkg_install 20170419; Ansible: "
                        "pkgsrc.deploy.bootstrap (the real kit) then pkgsrc.deploy.package svc-demo, run twice, then "
                        "pkgsrc.deploy.package svc-demo state=latest; "
                        "the repository over HTTP with a real-sized pkg_summary.xz (no .zst)")
    commit = subprocess.run(["git", "-C", str(TOP), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=False).stdout.strip()
    data[args.label] = dict(result, measured=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            machine=platform.platform(), python=platform.python_version(),
                            commit=commit + (" (catalogue.py as committed)" if args.label == "before"
                                             else " plus the working tree"))
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    print(json.dumps({args.label: {r: {"full_fetches": result[r]["full_fetches"],
                                       "totals": result[r]["totals_by_requester"], "bytes": result[r]["summary_bytes"]}
                                   for r in RUNS}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
