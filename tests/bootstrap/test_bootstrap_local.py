"""End-to-end bootstrap of locally built kits (tests/fixtures) into a temporary root, served over
HTTP on 127.0.0.1 and checked with a real GPG signature: every published layout, idempotence,
check mode, removal, every hostile kit refused with nothing written under the root, and a run
killed with SIGKILL in the middle of extraction that the next run finishes cleanly."""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pkgsrc_core.bootstrap import plan as bs

from pkgsrc_core.bootstrap.apply import bootstrap
from pkgsrc_core.errors import PkgsrcError
from tests.fixtures._tar import Member
from tests.fixtures.gpg import make_signer
from tests.fixtures.kits import LAYOUTS, build_hostile_kits, build_kit, kit_members

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/gpg") and not os.path.exists("/bin/gpg"),
                                reason="the gpg program is not installed")

PROBES = {
    "sample": {"sysname": "Linux", "release": "6.1.0-47-amd64", "version": "#1 SMP", "machine": "x86_64",
               "os_release": 'ID=debian\nVERSION_ID="12"\n', "exists": {"/run/systemd/system": True}},
    "el": {"sysname": "Linux", "release": "3.10.0-693.el7.x86_64", "version": "#1 SMP", "machine": "x86_64",
           "os_release": 'ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n',
           "exists": {"/run/systemd/system": True}},
    "macos": {"sysname": "Darwin", "release": "23.5.0", "version": "Darwin Kernel Version 23.5.0",
              "machine": "arm64", "sw_vers": "ProductName:\t\tmacOS\nProductVersion:\t\t14.5\n",
              "exists": {"/sbin/launchd": True}},
    "smartos": {"sysname": "SunOS", "release": "5.11", "version": "joyent_20241128T004404Z", "machine": "i86pc",
                "zonename": "09306c91-f497-43a5-bced-5f4c8d064ff2", "exists": {"/lib/svc/bin/svc.startd": True}},
    "tools": {"sysname": "SunOS", "release": "5.11", "version": "joyent_20241128T004404Z", "machine": "i86pc",
              "zonename": "global", "exists": {"/lib/svc/bin/svc.startd": True}},
}
CATALOGUE_NAMES = {"el": "el7-trunk-x86_64", "macos": "macos12.3-trunk-arm64", "smartos": "smartos-trunk-x86_64",
                   "tools": "smartos-trunk-tools"}


def probe_for(layout_name, home):
    probe = dict(PROBES[layout_name])
    probe.update(euid=0, home=str(home))
    return probe


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    key = make_signer(tmp_path_factory.mktemp("signer"))
    yield key
    key.close()


@pytest.fixture(scope="module")
def other_signer(tmp_path_factory):
    key = make_signer(tmp_path_factory.mktemp("other"), name="untrusted key")
    yield key
    key.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A directory served over HTTP on 127.0.0.1: (directory, base URL)."""
    directory = tmp_path_factory.mktemp("www")
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield directory, "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def snapshot(top):
    """Every path under top with its type, mode, size and content digest."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path):
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            out[os.path.relpath(path, top)] = (info.st_mode, info.st_size, digest)
    return out


def publish(kit, served, signer):
    """Copy a fixture kit, its .asc and the signer's public key into the served directory."""
    directory, base = served
    (directory / kit.name).write_bytes(kit.path.read_bytes())
    if kit.signature is not None:
        (directory / (kit.name + ".asc")).write_bytes(kit.signature.read_bytes())
    (directory / "pubkey.asc").write_bytes(signer.public_key_asc.read_bytes())
    return base + "/" + kit.name, base + "/pubkey.asc"


def catalogue_entry(name, url, key_url, kit, fingerprint):
    return {"name": name, "url": url, "checksum": "sha256:" + kit.sha256, "signature_url": url + ".asc",
            "key_url": key_url, "key_fingerprint": fingerprint}


@pytest.mark.parametrize("layout_name", ["sample", "el", "macos", "smartos", "tools"])
def test_bootstrap_kit_into_root(tmp_path, served, signer, layout_name):
    layout = LAYOUTS[layout_name]
    kit = build_kit(tmp_path / "kits", layout, ["http://127.0.0.1:9/All"], signer=signer)
    url, key_url = publish(kit, served, signer)
    root = tmp_path / "root"
    root.mkdir()
    if layout_name == "sample":
        req = bs.BootstrapRequest(kit_url=url, kit_checksum="sha256:" + kit.sha256, kit_signature_url=url + ".asc",
                                  kit_key=key_url, kit_fingerprint=signer.fingerprint, prefix=layout.prefix,
                                  root=str(root), cache_dir=str(tmp_path / "cache"),
                                  repositories=("https://pkgsrc.example/All",))
    else:
        entry = catalogue_entry(CATALOGUE_NAMES[layout_name], url, key_url, kit, signer.fingerprint)
        req = bs.BootstrapRequest(catalogue=(entry,), root=str(root), cache_dir=str(tmp_path / "cache"),
                                  repositories=("https://pkgsrc.example/All",))
    probe = probe_for(layout_name, tmp_path / "home")

    checked = bootstrap(req, check_mode=True, probe=probe)
    assert checked.changed and snapshot(root) == {}

    result = bootstrap(req, probe=probe)
    assert result.changed
    assert any("signature of %s verified" % kit.name in m for m in result.messages)
    assert result.layout["pkg_dbdir"] == layout.pkg_dbdir
    for pkgname in kit.pkgnames:
        assert (root / layout.pkg_dbdir.lstrip("/") / pkgname / "+CONTENTS").is_file()
    prefix = root / layout.prefix.lstrip("/")
    assert (prefix / "etc/pkgsrc-deploy.json").is_file()
    assert (prefix / "etc/pkgin/repositories.conf").read_text().endswith("https://pkgsrc.example/All\n")
    if layout_name == "macos":
        assert (root / "etc/paths.d/10-pkgsrc").read_text() == "/opt/pkg/sbin\n/opt/pkg/bin\n"
        assert (root / "etc/manpaths.d/10-pkgsrc").read_text() == "/opt/pkg/share/man\n"
    leftovers = [p for p in snapshot(root) if ".pkgsrc-bootstrap-staging-" in p]
    assert leftovers == []
    assert not list((tmp_path / "cache").glob("*" + kit.name))  # the downloaded kit is dropped when done

    before = snapshot(root)
    again = bootstrap(req, probe=probe)
    assert again.changed is False and snapshot(root) == before
    assert again.existing["pkg_install"] and again.existing["pkgin"] and again.existing["bootstrapped_by_us"]

    removed = bootstrap(bs.BootstrapRequest(state="absent", root=str(root), catalogue=req.catalogue,
                                            prefix=req.prefix), probe=probe)
    assert removed.changed and not prefix.exists()
    assert not (root / "etc/paths.d/10-pkgsrc").exists()


def test_wrong_signer_refused(tmp_path, served, signer, other_signer):
    kit = build_kit(tmp_path / "kits", LAYOUTS["sample"], [], signer=other_signer)
    url = publish(kit, served, other_signer)[0]
    directory, base = served
    (directory / "trusted.asc").write_bytes(signer.public_key_asc.read_bytes())
    root = tmp_path / "root"
    root.mkdir()
    req = bs.BootstrapRequest(kit_url=url, kit_checksum="sha256:" + kit.sha256, kit_signature_url=url + ".asc",
                              kit_key=base + "/trusted.asc", prefix="/opt/pkg", root=str(root),
                              cache_dir=str(tmp_path / "cache"))
    with pytest.raises(PkgsrcError) as err:
        bootstrap(req, probe=probe_for("sample", tmp_path))
    assert "not among the given keys" in str(err.value)
    assert snapshot(root) == {}


EXPECTED = {"unsafe_member": "nothing was written", "corrupt_archive": "truncated or corrupt",
            "checksum": "does not match its checksum", "signature": "signature"}


def test_every_hostile_kit_is_refused_with_nothing_written(tmp_path, served, signer, other_signer):
    layout = LAYOUTS["sample"]
    kits = build_hostile_kits(tmp_path / "hostile", layout, signer, other_signer=other_signer)
    assert len(kits) >= 12
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "opt").mkdir()
    for kind, kit in sorted(kits.items()):
        url, key_url = publish(kit, served, signer)
        before = snapshot(root)
        req = bs.BootstrapRequest(kit_url=url, kit_checksum="sha256:" + kit.sha256, kit_signature_url=url + ".asc",
                                  kit_key=key_url, kit_fingerprint=signer.fingerprint, prefix=layout.prefix,
                                  root=str(root), cache_dir=str(tmp_path / "cache" / kind))
        with pytest.raises(PkgsrcError) as err:
            bootstrap(req, probe=probe_for("sample", tmp_path / "home"))
        message = str(err.value)
        assert EXPECTED[kit.hostile_reason] in message, (kind, message)
        if kit.hostile_member:
            shown = kit.hostile_member.lstrip("./").split("/")[-1]
            assert shown in message, (kind, message)
        assert snapshot(root) == before, "%s kit wrote under the root" % kind


def _big_kit(path, count=1500, size=64 * 1024):
    """A valid kit (the sample layout) with many incompressible files, written with gzip -1."""
    members = kit_members(LAYOUTS["sample"], [])[0]
    members = list(members) + [Member("./opt/pkg/share/big/", b"", 0o755, tarfile.DIRTYPE)]
    plain = path.with_suffix(".tar")
    noise = os.urandom(size + 4096)
    with tarfile.open(str(plain), mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = member.tarinfo()
            tar.addfile(info, io.BytesIO(member.data) if info.size else None)
        for index in range(count):
            info = tarfile.TarInfo("./opt/pkg/share/big/blob-%05d" % index)
            info.size, info.mode = size, 0o644
            offset = index % 4096
            tar.addfile(info, io.BytesIO(noise[offset:offset + size]))
    with open(plain, "rb") as src, gzip.open(str(path), "wb", compresslevel=1) as out:
        shutil.copyfileobj(src, out, 1 << 20)
    plain.unlink()
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


RUNNER = """
import json, sys
sys.path.insert(0, {core!r})
from pkgsrc_core.bootstrap import plan as bs
from pkgsrc_core.bootstrap.apply import bootstrap
req = bs.BootstrapRequest(kit_url={url!r}, kit_checksum={checksum!r}, prefix="/opt/pkg", root={root!r},
                          cache_dir={cache!r}, manage_path=False)
result = bootstrap(req, probe=json.loads({probe!r}))
print(json.dumps({{"changed": result.changed, "actions": list(result.actions)}}))
"""


@pytest.mark.slow
def test_kill_during_extraction_then_rerun_converges(tmp_path):
    import json  # pylint: disable=import-outside-toplevel

    kit = tmp_path / "big-kit.tar.gz"
    checksum = _big_kit(kit)
    root = tmp_path / "root"
    (root / "opt").mkdir(parents=True)
    probe = probe_for("sample", tmp_path / "home")
    code = RUNNER.format(core=str(REPO_ROOT / "plugins" / "module_utils"), url="file://%s" % kit, checksum=checksum,
                         root=str(root), cache=str(tmp_path / "cache"), probe=json.dumps(probe))
    proc = subprocess.Popen([sys.executable, "-c", code])
    killed_in = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        for entry in os.scandir(root / "opt"):
            if entry.name.startswith(".pkgsrc-bootstrap-staging-"):
                big = Path(entry.path) / "opt/pkg/share/big"
                if big.is_dir() and len(os.listdir(big)) >= 50:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed_in = entry.path
                    break
        if killed_in:
            break
        time.sleep(0.005)
    proc.wait(timeout=60)
    assert killed_in is not None, "the run finished before it could be killed mid-extraction (rc %s)" % proc.returncode
    assert proc.returncode == -signal.SIGKILL
    # Killed mid-extraction: the staging directory is left, and no half prefix.
    assert os.path.isdir(killed_in)
    assert not (root / "opt/pkg").exists()

    req = bs.BootstrapRequest(kit_url="file://%s" % kit, kit_checksum=checksum, prefix="/opt/pkg", root=str(root),
                              cache_dir=str(tmp_path / "cache"), manage_path=False)
    plan_result = bootstrap(req, check_mode=True, probe=probe)
    assert plan_result.actions[0].startswith("remove staging left by an interrupted run")
    result = bootstrap(req, probe=probe)
    assert result.changed
    assert any(a.startswith("removed stale staging directory") for a in result.actions)
    assert not [e for e in os.listdir(root / "opt") if e.startswith(".pkgsrc-bootstrap-staging-")]
    blobs = sorted(os.listdir(root / "opt/pkg/share/big"))
    assert len(blobs) == 1500 and all(os.path.getsize(root / "opt/pkg/share/big" / b) == 64 * 1024 for b in blobs)
    assert (root / "opt/pkg/etc/pkgsrc-deploy.json").is_file()
    assert bootstrap(req, probe=probe).changed is False


@pytest.mark.slow
def test_two_bootstraps_of_one_prefix_at_once(tmp_path):
    """The second waits for the first (it must not take the first's staging for a stale one and
    remove it), then finds the prefix there: one changed, one not, one complete prefix."""
    import json  # pylint: disable=import-outside-toplevel

    kit = tmp_path / "big-kit.tar.gz"
    checksum = _big_kit(kit, count=600)
    root = tmp_path / "root"
    (root / "opt").mkdir(parents=True)
    code = RUNNER.format(core=str(REPO_ROOT / "plugins" / "module_utils"), url="file://%s" % kit, checksum=checksum,
                         root=str(root), cache=str(tmp_path / "cache"),
                         probe=json.dumps(probe_for("sample", tmp_path / "home")))
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _n in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    results = sorted((json.loads(out) for out, _err in outputs), key=lambda r: r["changed"])
    assert [r["changed"] for r in results] == [False, True]
    assert not any(a.startswith("removed stale staging") for r in results for a in r["actions"])
    assert not [e for e in os.listdir(root / "opt") if e.startswith(".pkgsrc-bootstrap-staging-")]
    assert len(os.listdir(root / "opt/pkg/share/big")) == 600
    locks = [e for e in os.listdir(tmp_path / "cache") if e.endswith(".lock")]
    assert len(locks) == 1 and "opt-pkg" in locks[0]
