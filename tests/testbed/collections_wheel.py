"""Puts community.docker and community.general into a collections path, from the PyPI ``ansible`` wheel.

Galaxy is unreachable here; PyPI is not. The ``ansible`` package (the big one, not ansible-core) is a
wheel that carries every community collection, so we download it once into a cache outside the
repository and unzip only the collections the tests need (community.docker for its ``nsenter``
connection plugin, community.general for comparisons).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ANSIBLE_VERSION = "12.3.0"
WHEEL_CACHE = Path("/var/cache/pkgsrc-deploy/ansible-wheel")
WANTED = ("community/docker", "community/general")


def _wheel_path(cache: Path, version: str) -> Path | None:
    found = sorted(cache.glob(f"ansible-{version}-*.whl"))
    return found[0] if found else None


def download_wheel(cache: Path = WHEEL_CACHE, version: str = ANSIBLE_VERSION) -> Path:
    """Return the cached ``ansible`` wheel, downloading it from PyPI with pip when it is missing."""
    have = _wheel_path(cache, version)
    if have is not None:
        return have
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                "--no-deps", "--only-binary=:all:", "--dest", tmp, f"ansible=={version}"]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"pip download of ansible=={version} failed (rc {proc.returncode}): "
                               f"{proc.stderr.strip()[-2000:]}; check that PyPI is reachable")
        wheels = list(Path(tmp).glob(f"ansible-{version}-*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"pip download left {wheels!r} in {tmp}; expected one ansible wheel")
        target = cache / wheels[0].name
        os.replace(wheels[0], target)
    return target


def _installed(dest: Path, version: str) -> bool:
    stamp = dest / "ansible_collections" / "community" / f".from-ansible-{version}"
    return stamp.is_file() and all((dest / "ansible_collections" / w / "MANIFEST.json").is_file() for w in WANTED)


def ensure_collections(dest: Path, version: str = ANSIBLE_VERSION, cache: Path = WHEEL_CACHE) -> dict[str, float]:
    """Make ``dest/ansible_collections/community/{docker,general}`` exist; return timings in seconds.

    Idempotent: a stamp file records which ``ansible`` release the folders came from. Each collection
    is unpacked into a temporary folder beside its target and renamed into place, so an interrupted
    run never leaves half a collection behind.
    """
    timings = {"download_s": 0.0, "unzip_s": 0.0}
    dest = Path(dest)
    if _installed(dest, version):
        return timings
    start = time.monotonic()
    wheel = download_wheel(cache, version)
    timings["download_s"] = round(time.monotonic() - start, 3)
    start = time.monotonic()
    community = dest / "ansible_collections" / "community"
    community.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        for wanted in WANTED:
            prefix = f"ansible_collections/{wanted}/"
            members = [n for n in names if n.startswith(prefix)]
            if not members:
                raise RuntimeError(f"{wheel.name} has no {prefix}; pick an ansible release that ships it")
            target = dest / "ansible_collections" / wanted
            with tempfile.TemporaryDirectory(dir=community, prefix=".unzip-") as tmp:
                for member in members:
                    zf.extract(member, tmp)
                staged = Path(tmp) / "ansible_collections" / wanted
                if target.exists():
                    shutil.rmtree(target)
                os.replace(staged, target)
    (community / f".from-ansible-{version}").write_text(wheel.name + "\n", encoding="utf-8")
    timings["unzip_s"] = round(time.monotonic() - start, 3)
    return timings
