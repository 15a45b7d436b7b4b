"""Benchmark: converging packages with pkgsrc.deploy.package vs community.general.pkgin.

Same machine, same prefix (a fixture kit with the stand-in pkgin/pkg_install tools, whose
invocation log counts the processes each run spawns), same repository over loopback HTTP, one
run. Measured:
  - 50 packages already installed: processes spawned and wall time of a converge, each module;
  - 20 packages to install: processes spawned (and wall time) with pkgsrc.deploy.package.
Wall times are of the whole ansible-playbook run, with an empty playbook's time given too, so
the module's own share can be read off. Results: benchmarks/results/packages_converge.json.

    .venv/bin/python benchmarks/packages_converge.py [--out FILE] [--repeat N]
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

from tests.fixtures.local import make_local_prefix, serve  # noqa: E402  pylint: disable=wrong-import-position
from tests.fixtures.packages import PackageSpec  # noqa: E402  pylint: disable=wrong-import-position
from tests.fixtures.repo import build_repo  # noqa: E402  pylint: disable=wrong-import-position
from tests.integration.adapters import ansible_env  # noqa: E402  pylint: disable=wrong-import-position
from tests.sim.launcher import read_log  # noqa: E402  pylint: disable=wrong-import-position

TOOLS = ("pkgin", "pkg_add", "pkg_delete", "pkg_admin", "pkg_info")


def specs(prefix: str, count: int, start: int = 0):
    """count small packages named bench-NNN-1.0, each depending on the one before in groups of 5."""
    out = []
    for i in range(start, start + count):
        deps = ("bench%03d>=1.0" % (i - 1),) if i % 5 and i > start else ()
        out.append(PackageSpec("bench%03d" % i, "1.0", comment="benchmark package %d" % i, prefix=prefix,
                               files={"share/bench/%03d.txt" % i: "package %d\n" % i}, depends=deps))
    return out


def playbook(path: Path, task):
    import yaml  # pylint: disable=import-outside-toplevel

    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [task] if task else []}]
    path.write_text(yaml.safe_dump(play))
    return path


def run_play(path: Path, env):
    start = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(path)],
                          capture_output=True, text=True, env=env, check=False, timeout=1800)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit("playbook %s failed:\n%s\n%s" % (path, proc.stdout[-4000:], proc.stderr[-2000:]))
    return elapsed, proc.stdout


def spawned(log: Path, before: int):
    calls = read_log(log, TOOLS)
    return calls[before:], len(calls)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(TOP / "benchmarks" / "results" / "packages_converge.json"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pkgsrc-bench-") as tmp_name:
        tmp = Path(tmp_name)
        prefix = tmp / "host" / "opt" / "pkg"
        build_repo(tmp / "repo", specs(str(prefix), 50) + specs(str(prefix), 20, start=50))
        with serve(tmp / "repo") as (url, _server):
            local = make_local_prefix(tmp / "host", [url + "/All"])
            env = ansible_env({"ANSIBLE_PYTHON_INTERPRETER": sys.executable,
                               # community.general.pkgin looks for pkgin on PATH (and /opt/local/bin)
                               "PATH": "%s:%s:%s" % (prefix / "bin", prefix / "sbin", os.environ["PATH"])})
            names50 = ["bench%03d" % i for i in range(50)]
            names20 = ["bench%03d" % i for i in range(50, 70)]
            ours50 = playbook(tmp / "ours50.yml", {"pkgsrc.deploy.package": {"name": names50, "prefix": str(prefix)}})
            cg50 = playbook(tmp / "cg50.yml", {"community.general.pkgin": {"name": names50}})
            ours20 = playbook(tmp / "ours20.yml", {"pkgsrc.deploy.package": {"name": names20, "prefix": str(prefix)}})
            empty = playbook(tmp / "empty.yml", None)

            run_play(ours50, env)  # install the 50 (not measured)
            results = {"empty_playbook_seconds": [], "ours": [], "community_general_pkgin": []}
            for _round in range(args.repeat):
                results["empty_playbook_seconds"].append(run_play(empty, env)[0])
                before = len(read_log(local.log, TOOLS))
                seconds, _out = run_play(ours50, env)
                calls, _n = spawned(local.log, before)
                results["ours"].append({"seconds": seconds, "processes": len(calls)})
                before = len(read_log(local.log, TOOLS))
                seconds, _out = run_play(cg50, env)
                calls, _n = spawned(local.log, before)
                results["community_general_pkgin"].append({"seconds": seconds, "processes": len(calls),
                                                           "argv_sample": [c["argv"] for c in calls[:4]]})
            before = len(read_log(local.log, TOOLS))
            seconds, _out = run_play(ours20, env)
            calls20, _n = spawned(local.log, before)

    empty_s = statistics.median(results["empty_playbook_seconds"])
    ours_s = statistics.median(r["seconds"] for r in results["ours"])
    cg_s = statistics.median(r["seconds"] for r in results["community_general_pkgin"])
    report = {
        "benchmark": "packages_converge",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_commit": subprocess.run(["git", "-C", str(TOP), "rev-parse", "HEAD"], capture_output=True,
                                     text=True, check=False).stdout.strip(),
        "machine": {"cores": os.cpu_count(), "system": platform.system(), "release": platform.release()},
        "python": platform.python_version(),
        "repeat": args.repeat,
        "converge_50_installed": {
            "pkgsrc.deploy.package": {"processes": results["ours"][-1]["processes"],
                                      "playbook_seconds_median": round(ours_s, 3),
                                      "module_seconds_median": round(max(ours_s - empty_s, 0.0), 3)},
            "community.general.pkgin": {"processes": results["community_general_pkgin"][-1]["processes"],
                                        "playbook_seconds_median": round(cg_s, 3),
                                        "module_seconds_median": round(max(cg_s - empty_s, 0.0), 3),
                                        "argv_sample": results["community_general_pkgin"][-1]["argv_sample"]},
            "empty_playbook_seconds_median": round(empty_s, 3),
            "module_time_ratio": round((cg_s - empty_s) / max(ours_s - empty_s, 1e-3), 1),
        },
        "install_20": {"pkgsrc.deploy.package": {"processes": len(calls20), "argv": [c["argv"] for c in calls20],
                                                 "playbook_seconds": round(seconds, 3)}},
        "goals": {"converged_processes": 0, "module_time_ratio_at_least": 10, "install_20_pkgin_calls": 1},
        "raw": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("converge_50_installed", "install_20")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
