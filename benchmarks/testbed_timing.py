"""Benchmark: how long the testbed takes to build, boot, reach and tear down (root, Linux only).

Run:  .venv/bin/python benchmarks/testbed_timing.py [--cold] [--runs 3] [--sizes 2,8]
                                                     [--out benchmarks/results/testbed_timing.json]

Measures:
  - root build: with --cold, builds a root from scratch in a scratch cache folder (debootstrap +
    customisation, about 75 s; the shared cache is left alone); otherwise reports the build time
    recorded in the cached root's stamp;
  - collections: unpacking community.docker and community.general from the cached ansible wheel
    into an empty folder (and the wheel download, when it was not cached);
  - up / down for each size in --sizes (median, min, max of --runs runs), each checked to leave
    nothing behind;
  - on a 2-host testbed: ansible ping over ssh and over community.docker.nsenter, salt-ssh
    test.ping (first run ships the thin; second run reuses it), salt-call --local test.ping inside
    a host (controller's Salt bind-mounted), and one command through nsenter.
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
from typing import Any, Callable, Dict, List

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.testbed import rootfs  # noqa: E402
from tests.testbed.collections_wheel import WHEEL_CACHE, ensure_collections  # noqa: E402
from tests.testbed.inventory import COLLECTIONS_PATH  # noqa: E402
from tests.testbed.testbed import Testbed  # noqa: E402

VENV_BIN = REPO / ".venv" / "bin"


def _timed(fn: Callable[[], Any]) -> float:
    start = time.monotonic()
    fn()
    return round(time.monotonic() - start, 3)


def _repeat(fn: Callable[[], Any], times: int) -> List[float]:
    return [_timed(fn) for _run_number in range(times)]


def _stats(values: List[float]) -> Dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": min(values), "max": max(values),
            "runs": len(values)}


def _run(argv: List[str], env: Dict[str, str]) -> None:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def measure_up_down(size: int, runs: int, workbase: Path) -> Dict[str, Any]:
    """Bring ``size`` hosts up and down ``runs`` times."""
    ups: List[float] = []
    downs: List[float] = []
    for i in range(runs):
        tb = Testbed(workbase / f"up{size}-{i}")
        start = time.monotonic()
        try:
            tb.up(size)
            ups.append(round(time.monotonic() - start, 3))
        finally:
            start = time.monotonic()
            left = tb.down()
            downs.append(round(time.monotonic() - start, 3))
        if left:
            raise RuntimeError(f"teardown of {size} hosts left: {left}")
    return {"hosts": size, "up_s": _stats(ups), "down_s": _stats(downs)}


def measure_access(workbase: Path) -> Dict[str, Any]:
    """Connection timings on a 2-host testbed."""
    tb = Testbed(workbase / "access")
    out: Dict[str, Any] = {}
    try:
        tb.up(2)
        env = dict(os.environ)
        env.update({"PATH": f"{VENV_BIN}:{env.get('PATH', '')}", "ANSIBLE_CONFIG": tb.files["inventory"]["config"],
                    "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH), "ANSIBLE_DEPRECATION_WARNINGS": "False"})
        ansible = [str(VENV_BIN / "ansible"), "all", "-m", "ansible.builtin.ping", "-i"]
        for kind in ("ssh", "nsenter"):
            argv = ansible + [tb.files["inventory"][kind]]
            out[f"ansible_ping_{kind}_2_hosts_s"] = _repeat(lambda a=argv: _run(a, env), 3)
        salt_ssh = [str(VENV_BIN / "salt-ssh"), "-c", tb.files["salt"]["config_dir"], "*", "test.ping"]
        out["salt_ssh_ping_2_hosts_first_s"] = _timed(lambda: _run(salt_ssh, env))
        out["salt_ssh_ping_2_hosts_warm_s"] = _repeat(lambda: _run(salt_ssh, env), 3)
        host = tb.hosts[0]
        out["salt_call_local_ping_in_host_s"] = _repeat(lambda: tb.salt_call(host, ["test.ping"]), 3)
        out["nsenter_true_s"] = _repeat(lambda: host.run(["true"]), 5)
    finally:
        left = tb.down()
    if left:
        raise RuntimeError(f"teardown left: {left}")
    return out


def main(argv: List[str] | None = None) -> int:
    """Measure and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="rebuild the cached root and time it")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="2,8")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "testbed_timing.json"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        print("testbed_timing: needs root on Linux", file=sys.stderr)
        return 2

    result: Dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if args.cold:
        # A cold build into a scratch cache: the shared root may be in use by running testbeds.
        with tempfile.TemporaryDirectory(prefix="pdtb-cold-root-", dir="/var/tmp") as scratch:
            cold_path, seconds = rootfs.build_root(cache_dir=Path(scratch))
            result["root_build_s"] = {"seconds": seconds, "measured_now": True,
                                      "packages": len(rootfs.root_info(cold_path)["packages"])}  # type: ignore[arg-type]
    path, built_now = rootfs.build_root()
    if not args.cold:
        info = rootfs.root_info(path)
        result["root_build_s"] = {"seconds": info.get("build_seconds"), "measured_now": built_now > 0,
                                  "built": info.get("built")}
    result["root_size_mb"] = round(int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True,
                                                      check=True).stdout.split()[0]) / 1e6, 1)
    with tempfile.TemporaryDirectory(prefix="pdtb-bench-") as tmp:
        wheel_cached = any(WHEEL_CACHE.glob("ansible-*.whl"))
        result["collections"] = {"wheel_was_cached": wheel_cached,
                                 **ensure_collections(Path(tmp) / "collections")}
        ensure_collections(COLLECTIONS_PATH)
        workbase = Path(tmp)
        result["up_down"] = [measure_up_down(int(n), args.runs, workbase) for n in args.sizes.split(",")]
        result["access"] = measure_access(workbase)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
