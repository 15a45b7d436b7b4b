"""Benchmark: parse a repository-sized pkg_summary.gz with pkgsrc_core.packages.summary, against zcat.

Run:  .venv/bin/python benchmarks/summary_parse.py [--records 25000] [--runs 5]
                                                  [--out benchmarks/results/summary_parse.json]

It writes a seeded, deterministic pkg_summary.gz of N records (every mandatory field, DESCRIPTION
of 3-15 lines, 0-15 DEPENDS, REQUIRES, some CONFLICTS/PROVIDES/SUPERSEDES, realistic sizes), then
measures, each as the median of --runs runs:
  - zcat:   wall time of `zcat FILE >/dev/null` (a real process, as a shell would run it);
  - parse:  iter_summary() over every record, in a fresh child Python;
  - touch:  the same, also reading every field of every record (what a consumer pays);
  - index:  iter_summary() plus SummaryIndex() over all records;
the peak RSS of each child (its own ru_maxrss, and the RSS it had before parsing), and the ratio
parse/zcat. Goals: ratio <= 2.0, streaming peak < 150 MB. Results go to a JSON file.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent

_WORDS = (
    "the a of and to in is for with that on as by this from an be are it or library tool program "
    "support which provides written implementation fast small portable simple server client data "
    "file files network protocol interface python perl ruby module modules package packages based "
    "using can used allows version command line graphical toolkit system also includes features new "
    "high level format formats parser parsing image audio video text editor database driver bindings "
    "between other many such its into more than has not all these most well designed easy make build "
    "framework extension extensions compatible standard open source free software GNU X11 Unix C C++ "
    "Java Rust Go multi-threaded secure encryption compression archive utilities development headers "
    "documentation examples plugin plugins engine runtime virtual machine scripting language kernel "
    "memory performance scalable distributed cache proxy web HTTP TLS SSL mail DNS time date calendar"
).split()
_CATEGORIES = ("devel", "net", "www", "textproc", "lang", "graphics", "audio", "multimedia", "security",
               "databases", "sysutils", "math", "misc", "x11", "archivers", "converters", "mail", "fonts",
               "games", "editors", "shells", "time", "print", "wm", "emulators", "geography", "biology")
_LICENSES = ("mit", "modified-bsd", "2-clause-bsd", "gnu-gpl-v2", "gnu-gpl-v3", "gnu-lgpl-v2.1",
             "apache-2.0", "isc", "zlib", "artistic OR gnu-gpl-v1", "mpl-2.0", "original-bsd")
_SYSLIBS = ("/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6",
            "/lib/x86_64-linux-gnu/libpthread.so.0", "/lib/x86_64-linux-gnu/libdl.so.2",
            "/lib/x86_64-linux-gnu/libgcc_s.so.1", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/lib/x86_64-linux-gnu/librt.so.1")
_OPTIONS = ("inet6", "openssl", "x11", "gtk3", "doc", "pulseaudio", "alsa", "ldap", "kerberos", "pgsql",
            "mysql", "sqlite", "python", "perl", "tcl", "debug", "threads", "nls", "unicode", "zstd")


def _version(rng: random.Random) -> str:
    parts = [str(rng.randint(0, 30))] + [str(rng.randint(0, 20)) for _i in range(rng.randint(0, 3))]
    ver = ".".join(parts)
    roll = rng.random()
    if roll < 0.05:
        ver += "rc%d" % rng.randint(1, 4)
    elif roll < 0.1:
        ver += rng.choice("abcdef")
    if rng.random() < 0.35:
        ver += "nb%d" % rng.randint(1, 12)
    return ver


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(_WORDS) for _i in range(rng.randint(lo, hi)))


def _names(rng: random.Random, count: int) -> List[str]:
    """Distinct package names; about 4% have a second version in the repository (like php, python)."""
    seen = set()
    names: List[str] = []
    prefixes = ("", "", "", "py311-", "py312-", "p5-", "ruby32-", "php82-", "lib", "x")
    while len(names) < count:
        stem = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _i in range(rng.randint(3, 10)))
        if rng.random() < 0.15:
            stem += "-" + rng.choice(("utils", "tools", "devel", "server", "client", "gtk", "doc"))
        name = rng.choice(prefixes) + stem
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def generate(path: Path, records: int, seed: int = 20261121) -> Dict[str, int]:
    """Write a pkg_summary.gz of `records` records to `path`; return sizes (bytes) and the record count."""
    rng = random.Random(seed)
    distinct = int(records * 0.96)
    names = _names(rng, distinct)
    pkgs = [(name, _version(rng)) for name in names]
    while len(pkgs) < records:
        name = rng.choice(names)
        pkgs.append((name, _version(rng)))
    rng.shuffle(pkgs)
    pkgnames = ["%s-%s" % p for p in pkgs]
    plain = 0
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as out:
            for idx, (name, version) in enumerate(pkgs):
                cat = rng.choice(_CATEGORIES)
                lines = []
                if rng.random() < 0.08:
                    lines += ["CONFLICTS=%s-[0-9]*" % rng.choice(names) for _i in range(rng.randint(1, 3))]
                lines.append("PKGNAME=%s-%s" % (name, version))
                for dep in rng.sample(pkgs, rng.randint(0, 15)):
                    form = rng.random()
                    if form < 0.6:
                        lines.append("DEPENDS=%s>=%s" % (dep[0], dep[1].split("nb")[0]))
                    elif form < 0.9:
                        lines.append("DEPENDS=%s-[0-9]*" % dep[0])
                    else:
                        lines.append("DEPENDS={%s,%s}>=%s" % (dep[0], dep[0] + "-nox11", dep[1]))
                size_pkg = int(rng.lognormvariate(13, 1.6))
                lines += [
                    "COMMENT=%s" % _sentence(rng, 3, 10).capitalize(),
                    "SIZE_PKG=%d" % size_pkg,
                    "BUILD_DATE=2026-%02d-%02d %02d:%02d:%02d +0000" % (
                        rng.randint(1, 11), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
                        rng.randint(0, 59)),
                    "CATEGORIES=%s" % " ".join([cat] + rng.sample(_CATEGORIES, rng.randint(0, 2))),
                    "HOMEPAGE=https://www.%s.org/%s/" % (name, rng.choice(("", "download", "project"))),
                    "LICENSE=%s" % rng.choice(_LICENSES),
                    "MACHINE_ARCH=x86_64",
                    "OPSYS=Linux",
                    "OS_VERSION=6.18.44",
                    "PKGPATH=%s/%s" % (cat, name),
                    "PKGTOOLS_VERSION=20091115",
                ]
                if rng.random() < 0.3:
                    lines.append("PKG_OPTIONS=%s" % " ".join(sorted(rng.sample(_OPTIONS, rng.randint(1, 6)))))
                if rng.random() < 0.05:
                    lines.append("PREV_PKGPATH=%s/%s" % (rng.choice(_CATEGORIES), name))
                reqs = list(rng.sample(_SYSLIBS, rng.randint(1, 4)))
                reqs += ["/usr/pkg/lib/lib%s.so.%d" % (rng.choice(names), rng.randint(0, 9))
                         for _i in range(rng.randint(0, 12))]
                lines += ["REQUIRES=%s" % r for r in reqs]
                if name.startswith("lib") or rng.random() < 0.1:
                    lines += ["PROVIDES=/usr/pkg/lib/%s.so.%d" % (name, n) for n in range(rng.randint(1, 4))]
                if rng.random() < 0.01:
                    lines.append("SUPERSEDES=%s-[0-9]*" % rng.choice(names))
                lines.append("FILE_NAME=%s.tgz" % pkgnames[idx])
                lines.append("FILE_SIZE=%d" % int(size_pkg * rng.uniform(0.25, 0.6)))
                desc = [_sentence(rng, 6, 13) for _i in range(rng.randint(3, 15) - 2)]
                if len(desc) > 3:
                    desc[rng.randint(1, len(desc) - 2)] = ""
                desc += ["Homepage:", "https://www.%s.org/" % name]
                lines += ["DESCRIPTION=%s" % d for d in desc]
                data = ("\n".join(lines) + "\n\n").encode("utf-8")
                plain += len(data)
                out.write(data)
    return {"records": records, "uncompressed_bytes": plain, "compressed_bytes": path.stat().st_size}


# ---------------------------------------------------------------------------------------------
# The child: one measured run in a fresh interpreter, reporting JSON on stdout.

def _vm_rss_kb() -> Optional[int]:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _child(mode: str, path: str) -> int:
    sys.path.insert(0, str(REPO / "plugins" / "module_utils"))
    from pkgsrc_core.packages.summary import SummaryIndex, iter_summary

    before = _vm_rss_kb()
    cpu_start = time.process_time()
    start = time.perf_counter()
    count = 0
    touched = 0
    if mode == "parse":
        for _record in iter_summary(path):
            count += 1
    elif mode == "touch":
        for record in iter_summary(path):
            count += 1
            touched += len(record.fields) + len(record.depends) + len(record.requires) + len(record.provides)
            touched += len(record.conflicts) + len(record.description) + len(record.comment)
    elif mode == "index":
        index = SummaryIndex(iter_summary(path))
        count = len(index)
    else:
        raise SystemExit("unknown mode %s" % mode)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    json.dump({"seconds": elapsed, "cpu_seconds": cpu, "records": count,
               "touched": touched, "rss_before_kb": before, "peak_rss_kb": peak_kb}, sys.stdout)
    return 0


# ---------------------------------------------------------------------------------------------
# The parent.

def _zcat_once(path: Path) -> Dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(["zcat", str(path)], stdout=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": wall, "cpu_seconds": cpu}


def _child_once(mode: str, path: Path) -> Dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], stdout=subprocess.PIPE,
                          check=True)
    wall = time.perf_counter() - start
    result: Dict[str, Any] = json.loads(proc.stdout)
    result["process_wall_seconds"] = wall
    return result


def _summarise(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {
        "median_seconds": round(statistics.median(r["seconds"] for r in runs), 4),
        "min_seconds": round(min(r["seconds"] for r in runs), 4),
        "median_cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 4),
        "median_process_wall_seconds": round(statistics.median(r["process_wall_seconds"] for r in runs), 4),
        "records": runs[0]["records"],
        "rss_before_parse_mb": round(runs[0]["rss_before_kb"] / 1024.0, 1) if runs[0]["rss_before_kb"] else None,
        "peak_rss_mb": round(max(r["peak_rss_kb"] for r in runs) / 1024.0, 1),
    }


def _git_commit() -> Optional[str]:
    try:
        proc = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=False, text=True)
    except OSError:
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(records: int, runs: int, out: Path, workdir: Optional[Path]) -> Dict[str, Any]:
    """Generate the summary, measure, write the JSON to `out` and return it."""
    if shutil.which("zcat") is None:
        raise SystemExit("zcat is not installed: apt-get install gzip")
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="summary-bench-")
        workdir = Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / ("pkg_summary-%d.gz" % records)
    try:
        start = time.perf_counter()
        sizes = generate(path, records)
        gen_seconds = time.perf_counter() - start
        _zcat_once(path)  # warm the page cache
        # Rounds interleave every measurement, so a busy machine slows all of them alike.
        zcat: List[Dict[str, float]] = []
        raw: Dict[str, List[Dict[str, Any]]] = {"parse": [], "touch": [], "index": []}
        for _i in range(runs):
            zcat.append(_zcat_once(path))
            for mode, runs_of_mode in raw.items():
                runs_of_mode.append(_child_once(mode, path))
        results = {mode: _summarise(runs_of_mode) for mode, runs_of_mode in raw.items()}
        load = os.getloadavg() if hasattr(os, "getloadavg") else None
    finally:
        if tmp is not None:
            tmp.cleanup()
    zcat_median = statistics.median(z["seconds"] for z in zcat)
    report: Dict[str, Any] = {
        "benchmark": "summary_parse",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_commit": _git_commit(),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "system": platform.system(),
                    "release": platform.release(), "machine": platform.machine()},
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "input": dict(sizes, generation_seconds=round(gen_seconds, 2), seed=20261121),
        "runs": runs,
        "load_average_after": [round(x, 2) for x in load] if load else None,
        "zcat": {"median_seconds": round(zcat_median, 4), "min_seconds": round(min(z["seconds"] for z in zcat), 4),
                 "median_cpu_seconds": round(statistics.median(z["cpu_seconds"] for z in zcat), 4)},
        "parse": results["parse"],
        "parse_and_touch_every_field": results["touch"],
        "parse_and_index": results["index"],
        "ratio_parse_to_zcat": round(results["parse"]["median_seconds"] / zcat_median, 2),
        "ratio_touch_to_zcat": round(results["touch"]["median_seconds"] / zcat_median, 2),
        "ratio_index_to_zcat": round(results["index"]["median_seconds"] / zcat_median, 2),
        "ratio_parse_min_to_zcat_min": round(results["parse"]["min_seconds"] / min(z["seconds"] for z in zcat), 2),
        # zcat and the parse of one round run back to back, under much the same load
        "ratio_parse_to_zcat_median_of_rounds": round(statistics.median(
            p["seconds"] / z["seconds"] for p, z in zip(raw["parse"], zcat)), 2),
        "rounds_wall_seconds": [{"zcat": round(z["seconds"], 3), "parse": round(p["seconds"], 3),
                                 "touch": round(t["seconds"], 3), "index": round(i["seconds"], 3)}
                                for z, p, t, i in zip(zcat, raw["parse"], raw["touch"], raw["index"])],
        "ratio_parse_cpu_to_zcat_cpu": round(results["parse"]["median_cpu_seconds"]
                                             / statistics.median(z["cpu_seconds"] for z in zcat), 2),
        "goals": {"ratio_parse_to_zcat_max": 2.0, "streaming_peak_rss_mb_max": 150},
    }
    report["goals"]["met"] = (report["ratio_parse_to_zcat"] <= 2.0 and results["parse"]["peak_rss_mb"] < 150)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=25000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "summary_parse.json")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the generated pkg_summary.gz here (default: a temporary directory)")
    parser.add_argument("--generate-only", type=Path, default=None, metavar="FILE",
                        help="only write the pkg_summary.gz to FILE")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child[0], args.child[1])
    if args.generate_only:
        print(json.dumps(generate(args.generate_only, args.records)))
        return 0
    report = run(args.records, max(3, args.runs), args.out, args.workdir)
    print(json.dumps({k: report[k] for k in ("input", "zcat", "parse", "parse_and_touch_every_field",
                                             "parse_and_index", "ratio_parse_to_zcat", "ratio_touch_to_zcat",
                                             "ratio_index_to_zcat", "ratio_parse_min_to_zcat_min",
                                             "ratio_parse_to_zcat_median_of_rounds", "ratio_parse_cpu_to_zcat_cpu",
                                             "load_average_after",
                                             "goals")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
