"""Benchmark: bootstrapping a 50 MB kit over loopback HTTP, verified, against the pasted snippet.

In one run, on the same served kit (a fixture kit with ~50 MB of incompressible files, signed
with a throw-away key):
  - pkgsrc_core.bootstrap: download (checksum computed while downloading), gpgv signature check,
    full listing and safety check, extraction into staging, move into place, configuration;
  - `curl -s URL | tar -xzf - -C DIR`: no verification at all.
Each into a fresh alternate root; median of N runs. Goal: at most 1.3x.
Results: benchmarks/results/bootstrap_kit.json.

    .venv/bin/python benchmarks/bootstrap_kit.py [--repeat N] [--size-mb 50]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(TOP), str(TOP / "plugins" / "module_utils")]

# pylint: disable=wrong-import-position
from pkgsrc_core.bootstrap import plan as bs  # noqa: E402
from pkgsrc_core.bootstrap.apply import bootstrap  # noqa: E402
from tests.fixtures.gpg import make_signer  # noqa: E402
from tests.fixtures.kits import kit_members  # noqa: E402
from tests.fixtures.layouts import LAYOUTS  # noqa: E402
from tests.fixtures.local import serve  # noqa: E402

BLOB = 256 * 1024


def big_kit(path: Path, size_mb: int) -> str:
    """A valid kit for /opt/pkg with size_mb of incompressible files; returns its sha256 checksum."""
    members = list(kit_members(LAYOUTS["sample"], [])[0])
    noise = os.urandom(BLOB * 2)
    with gzip.open(str(path), "wb", compresslevel=6) as raw, \
            tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = member.tarinfo()
            tar.addfile(info, io.BytesIO(member.data) if info.size else None)
        info = tarfile.TarInfo("./opt/pkg/share/big")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for index in range(size_mb * 1024 * 1024 // BLOB):
            info = tarfile.TarInfo("./opt/pkg/share/big/blob-%05d" % index)
            info.size, info.mode = BLOB, 0o644
            offset = (index * 7919) % BLOB
            tar.addfile(info, io.BytesIO(noise[offset:offset + BLOB]))
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def probe(home: Path) -> dict:
    return {"sysname": "Linux", "nodename": "bench", "release": "6.1.0", "version": "#1 SMP", "machine": "x86_64",
            "os_release": 'ID=rocky\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nNAME="Rocky Linux"\n',
            "exists": {"/run/systemd/system": True}, "euid": os.geteuid(), "home": str(home)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--out", default=str(TOP / "benchmarks" / "results" / "bootstrap_kit.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pkgsrc-bench-") as tmp_name:
        tmp = Path(tmp_name)
        www = tmp / "www"
        www.mkdir()
        kit = www / "bootstrap-bench.tar.gz"
        checksum = big_kit(kit, args.size_mb)
        signer = make_signer(tmp / "gpg")
        try:
            signer.sign(kit)
            shutil.copyfile(signer.public_key_asc, www / "key.asc")
            ours, curl_tar = [], []
            with serve(www) as (base, _server):
                url = base + "/" + kit.name
                for run in range(args.repeat):
                    root = tmp / ("ours-%d" % run)
                    root.mkdir()
                    req = bs.BootstrapRequest(kit_url=url, kit_checksum=checksum, kit_signature_url=url + ".asc",
                                              kit_key=base + "/key.asc", kit_fingerprint=signer.fingerprint,
                                              prefix="/opt/pkg", root=str(root), cache_dir=str(tmp / "cache"),
                                              manage_path=False, pkgin_update=False)
                    start = time.monotonic()
                    result = bootstrap(req, probe=probe(tmp))
                    ours.append(time.monotonic() - start)
                    if not result.changed or not (root / "opt/pkg/share/big").is_dir():
                        raise SystemExit("bootstrap did not install the kit: %r" % (result,))
                    shutil.rmtree(root)
                    plain = tmp / ("curl-%d" % run)
                    plain.mkdir()
                    start = time.monotonic()
                    subprocess.run(["sh", "-c", 'curl -s "$1" | tar -xzf - -C "$2"', "sh", url, str(plain)],
                                   check=True)
                    curl_tar.append(time.monotonic() - start)
                    shutil.rmtree(plain)
        finally:
            signer.close()
        size = kit.stat().st_size
    ours_m, base_m = statistics.median(ours), statistics.median(curl_tar)
    report = {
        "benchmark": "bootstrap_kit",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_commit": subprocess.run(["git", "-C", str(TOP), "rev-parse", "HEAD"], capture_output=True, text=True,
                                     check=False).stdout.strip(),
        "machine": {"cores": os.cpu_count(), "system": platform.system(), "release": platform.release()},
        "python": platform.python_version(),
        "kit_bytes": size, "repeat": args.repeat,
        "pkgsrc_deploy_seconds": [round(x, 3) for x in ours],
        "curl_tar_seconds": [round(x, 3) for x in curl_tar],
        "pkgsrc_deploy_median": round(ours_m, 3), "curl_tar_median": round(base_m, 3),
        "ratio": round(ours_m / base_m, 2), "goal_ratio_at_most": 1.3,
        "note": "ours verifies sha256 and a gpg signature, lists and checks every member, then decompresses "
                "again to extract into staging and moves into place; curl|tar verifies nothing",
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("kit_bytes", "pkgsrc_deploy_median", "curl_tar_median", "ratio")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
