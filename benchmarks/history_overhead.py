"""Benchmark: what transactions cost.

1. A converge that changes nothing (50 packages installed, asked for again), through the core,
   with an empty history and with a full one (200 records): wall time per converge, and whether
   anything under VARBASE was written (it must not be).
2. An upgrade of 20 packages (bench-1.0 -> bench-1.1) with and without saving the installed
   versions first. Saving spawns one pkg_create per package. Here pkg_create is the stand-in (a
   Python process, ~270 ms of start-up each, measured below as `standin_startup_s`); the real
   pkg_create is a small C program (the real kit's pkg_info costs ~4.5 ms a process), so the
   figure that matters is `save_cost_without_standin_startup_s`: the saving run's extra time
   minus 20 stand-in start-ups (the packing itself: reading the pkgdb, checking MD5s, writing
   the archive, hashing it).

Same machine, local prefix with the stand-in tools, repository over loopback HTTP.
Results: benchmarks/results/history_overhead.json.

    .venv/bin/python benchmarks/history_overhead.py [--out FILE] [--repeat N]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TOP), str(TOP / "plugins" / "module_utils")]

from pkgsrc_core.history import records  # noqa: E402  pylint: disable=wrong-import-position
from pkgsrc_core.packages.converge import converge_packages  # noqa: E402  pylint: disable=wrong-import-position
from pkgsrc_core.packages.journal import HistoryOptions  # noqa: E402  pylint: disable=wrong-import-position
from pkgsrc_core.packages.plan import PackageRequest  # noqa: E402  pylint: disable=wrong-import-position
from pkgsrc_core.prefixes import layout_for_prefix  # noqa: E402  pylint: disable=wrong-import-position
from pkgsrc_core.runner import SubprocessRunner  # noqa: E402  pylint: disable=wrong-import-position
from tests.fixtures.local import make_local_prefix, serve, tree_hash  # noqa: E402  pylint: disable=wrong-import-position
from tests.fixtures.packages import PackageSpec  # noqa: E402  pylint: disable=wrong-import-position
from tests.fixtures.repo import build_repo  # noqa: E402  pylint: disable=wrong-import-position


def specs(prefix, count, version):
    return [PackageSpec("bench%03d" % i, version, comment="benchmark package %d" % i, prefix=prefix,
                        files={"share/bench/%03d.txt" % i: "package %d version %s\n" % (i, version)})
            for i in range(count)]


def converge(layout, names, options, state="present"):
    return converge_packages(PackageRequest(tuple(names), state), layout, SubprocessRunner(timeout=600),
                             history=options)


def fill_history(layout, count):
    actor = records.Actor("cli", "bench")
    pairs = [("bench%03d-1.0" % i, False) for i in range(50)]
    for _unused in range(count):
        records.begin(layout, "package", actor, {"names": ["x"]}, pairs, keep=count).finish("ok", pairs, [])


def noop_times(layout, names, repeat):
    times = []
    for _unused in range(repeat):
        start = time.perf_counter()
        result = converge(layout, names, HistoryOptions.for_tool("cli"))
        times.append(time.perf_counter() - start)
        assert not result.changed
    return times


def standin_startup(prefix):
    times = []
    for _unused in range(5):
        start = time.perf_counter()
        subprocess.run([str(prefix / "sbin" / "pkg_create"), "-V"], capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(TOP / "benchmarks" / "results" / "history_overhead.json"))
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    results = {"machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                           "cpus": os.cpu_count()}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = tmp / "host"
        prefix = str(root / "opt" / "pkg")
        build_repo(tmp / "repo", specs(prefix, 50, "1.0") + specs(prefix, 20, "1.1"))
        with serve(tmp / "repo") as (url, _server):
            local = make_local_prefix(root, [url + "/All"])
            layout = layout_for_prefix(prefix)
            names = ["bench%03d-1.0" % i for i in range(50)]
            converge(layout, names, HistoryOptions.for_tool("cli"))
            history = Path(records.history_dir(layout))
            for path in history.iterdir():
                path.unlink()
            varbase = str(local.root / "opt" / "pkg" / "var")

            before = tree_hash(varbase)
            empty = noop_times(layout, names, args.repeat)
            wrote = tree_hash(varbase) != before
            fill_history(layout, 200)
            full_before = tree_hash(varbase)
            full = noop_times(layout, names, args.repeat)
            wrote = wrote or tree_hash(varbase) != full_before
            pairs = [("bench%03d-1.0" % i, False) for i in range(50)]
            recover = []
            for _unused in range(args.repeat * 10):
                start = time.perf_counter()
                records.recover(layout, pairs)
                recover.append(time.perf_counter() - start)
            results["noop_converge_50_installed"] = {
                "recover_with_200_records_median_ms": round(statistics.median(recover) * 1000, 3),
                "repeat": args.repeat,
                "empty_history_median_ms": round(statistics.median(empty) * 1000, 2),
                "history_200_records_median_ms": round(statistics.median(full) * 1000, 2),
                "added_by_history_ms": round((statistics.median(full) - statistics.median(empty)) * 1000, 2),
                "wrote_anything": wrote,
                "records": len(list(history.iterdir())),
            }

            upgrade = ["bench%03d" % i for i in range(20)]
            timings = {}
            for label, save in (("without_saving", False), ("with_saving", True)):
                converge(layout, ["bench%03d-1.0" % i for i in range(20)], HistoryOptions.for_tool("cli", save=False))
                start = time.perf_counter()
                result = converge(layout, upgrade, HistoryOptions.for_tool("cli", save=save), state="latest")
                timings[label] = time.perf_counter() - start
                assert len(result.history["saved"]) == (20 if save else 0), result.history
            startup = standin_startup(local.prefix)
            extra = timings["with_saving"] - timings["without_saving"]
            results["upgrade_20_packages"] = {
                "without_saving_s": round(timings["without_saving"], 3),
                "with_saving_s": round(timings["with_saving"], 3),
                "pkg_create_processes": 20,
                "standin_startup_s": round(startup, 3),
                "save_cost_s": round(extra, 3),
                "save_cost_without_standin_startup_s": round(extra - 20 * startup, 3),
            }
    Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
