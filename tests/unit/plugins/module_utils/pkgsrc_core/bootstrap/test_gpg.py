"""gpg.py with the real GnuPG programs (gpgv, and gpg): keys made at test time in throw-away homes;
the user's keyring is never read or written, no agent is started; status lines parsed from real
gpg output."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap import gpg
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError, VerificationError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.runner import SubprocessRunner

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None or shutil.which("gpgv") is None,
                                reason="the gpg and gpgv programs are not installed")


def _gpg(home, *args, **kwargs):
    proc = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--no-tty", "--quiet"] + list(args),
                          capture_output=True, check=False, timeout=60, env=dict(os.environ, LC_ALL="C"), **kwargs)
    if proc.returncode != 0:
        raise RuntimeError("gpg %s failed (%d): %s" % (" ".join(args), proc.returncode, proc.stderr))
    return proc


class _Key:
    def __init__(self, base, name):
        self.home = base / "home"
        self.home.mkdir(parents=True)
        os.chmod(self.home, 0o700)
        self.fingerprint = ""
        uid = "%s <%s@example.invalid>" % (name, name)
        # Key generation needs a gpg-agent; under a loaded parallel run it sometimes fails to come
        # up: stop it and try again. (Verification itself never needs an agent.)
        for attempt in range(4):
            try:
                _gpg(self.home, "--pinentry-mode", "loopback", "--passphrase", "", "--quick-generate-key", uid,
                     "ed25519", "sign", "never")
                break
            except RuntimeError:
                self.close()
                if attempt == 3:
                    raise
                time.sleep(0.5)
        self.close()  # no agent outlives an operation (teardown does not always run in xdist workers)
        listing = _gpg(self.home, "--with-colons", "--list-keys", uid, text=True).stdout
        self.fingerprint = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")][0]
        self.asc = base / "key.asc"
        self.asc.write_bytes(_gpg(self.home, "--armor", "--export", self.fingerprint).stdout)
        self.keyring = base / "keyring.gpg"
        self.keyring.write_bytes(_gpg(self.home, "--export", self.fingerprint).stdout)

    def sign(self, path):
        out = str(path) + ".asc"
        for attempt in range(4):
            try:
                _gpg(self.home, "--yes", "--pinentry-mode", "loopback", "--passphrase", "", "--armor",
                     "--detach-sign", "--output", out, str(path))
                self.close()
                return out
            except RuntimeError:
                self.close()
                if attempt == 3:
                    raise
                time.sleep(0.5)
        return out

    def close(self):
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"], capture_output=True, check=False)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    made = {}
    try:
        for name in ("publisher", "stranger"):
            made[name] = _Key(tmp_path_factory.mktemp(name), name)
        yield made
    finally:
        for key in made.values():
            key.close()


@pytest.fixture()
def signed(tmp_path, keys):
    data = tmp_path / "bootstrap-trunk-x86_64.tar.gz"
    data.write_bytes(os.urandom(4096))
    return data, keys["publisher"].sign(data)


@pytest.fixture()
def isolated_home(tmp_path, monkeypatch):
    """HOME and GNUPGHOME pointing at an empty directory: nothing may appear there."""
    home = tmp_path / "user-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GNUPGHOME", str(home / ".gnupg"))
    return home


def _homes_left(tmp_path):
    return [n for n in os.listdir(tmp_path) if n.startswith("pkgsrc-gnupg-")]


@pytest.mark.parametrize("program", ["gpgv", "gpg"])
def test_good_signature_with_armored_key(signed, keys, tmp_path, isolated_home, program):
    data, sig = signed
    check = gpg.verify_detached(SubprocessRunner(), str(data), sig, [str(keys["publisher"].asc)],
                                expected_fingerprint=keys["publisher"].fingerprint, gpg=program, tmpdir=str(tmp_path))
    assert check.primary_fingerprint == keys["publisher"].fingerprint
    assert os.listdir(isolated_home) == []
    assert _homes_left(tmp_path) == []


def test_no_agent_is_started_even_with_a_long_temporary_path(signed, keys, tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    data, sig = signed
    for program in ("gpgv", "gpg"):
        check = gpg.verify_detached(SubprocessRunner(), str(data), sig, [str(keys["publisher"].asc)],
                                    gpg=program, tmpdir=str(deep))
        assert check.fingerprint == keys["publisher"].fingerprint
    assert os.listdir(deep) == []


def test_several_keys_make_one_keyring(signed, keys, tmp_path):
    data, sig = signed
    check = gpg.verify_detached(SubprocessRunner(), str(data), sig,
                                [str(keys["stranger"].asc), str(keys["publisher"].keyring)], tmpdir=str(tmp_path))
    assert check.fingerprint == keys["publisher"].fingerprint


def test_dearmor_matches_the_binary_export(keys):
    assert gpg.dearmor(keys["publisher"].asc.read_text()) == keys["publisher"].keyring.read_bytes()


def test_dearmor_refuses_a_damaged_block(keys):
    text = keys["publisher"].asc.read_text()
    lines = text.splitlines()
    body = [i for i, line in enumerate(lines) if len(line) == 64][0]
    lines[body] = lines[body][:10] + ("A" if lines[body][10] != "A" else "B") + lines[body][11:]
    with pytest.raises(VerificationError) as err:
        gpg.dearmor("\n".join(lines) + "\n")
    assert "checksum" in str(err.value)


def test_good_signature_with_binary_keyring(signed, keys, tmp_path):
    data, sig = signed
    check = gpg.verify_detached(SubprocessRunner(), str(data), sig, [str(keys["publisher"].keyring)],
                                tmpdir=str(tmp_path))
    assert check.fingerprint == keys["publisher"].fingerprint


def test_short_key_id_matches_the_end_of_the_fingerprint(signed, keys):
    data, sig = signed
    fpr = keys["publisher"].fingerprint
    check = gpg.verify_detached(SubprocessRunner(), str(data), sig, [str(keys["publisher"].asc)],
                                expected_fingerprint="0x" + fpr[-16:])
    assert check.fingerprint == fpr


def test_wrong_expected_fingerprint(signed, keys):
    data, sig = signed
    with pytest.raises(VerificationError) as err:
        gpg.verify_detached(SubprocessRunner(), str(data), sig, [str(keys["publisher"].asc)],
                            expected_fingerprint=keys["stranger"].fingerprint)
    assert "not by the expected key" in str(err.value)


def test_tampered_data(signed, keys):
    data, sig = signed
    data.write_bytes(data.read_bytes() + b"\0")
    with pytest.raises(VerificationError) as err:
        gpg.verify_detached(SubprocessRunner(), str(data), sig, [str(keys["publisher"].asc)])
    assert "BAD signature" in str(err.value)


def test_signature_by_an_untrusted_key(tmp_path, keys):
    data = tmp_path / "kit.tgz"
    data.write_bytes(b"kit")
    sig = keys["stranger"].sign(data)
    with pytest.raises(VerificationError) as err:
        gpg.verify_detached(SubprocessRunner(), str(data), sig, [str(keys["publisher"].asc)])
    assert "not among the given keys" in str(err.value)


def test_garbage_signature(tmp_path, keys):
    data = tmp_path / "kit.tgz"
    data.write_bytes(b"kit")
    sig = tmp_path / "kit.tgz.asc"
    sig.write_text("<html>not a signature</html>\n")
    with pytest.raises(VerificationError):
        gpg.verify_detached(SubprocessRunner(), str(data), str(sig), [str(keys["publisher"].asc)])


def test_bad_key_file(signed, tmp_path):
    data, sig = signed
    bad = tmp_path / "bad.asc"
    bad.write_text("not a key\n")
    with pytest.raises(VerificationError) as err:
        gpg.verify_detached(SubprocessRunner(), str(data), sig, [str(bad)])
    assert "not an OpenPGP key" in str(err.value)
    with pytest.raises(VerificationError) as err:
        gpg.verify_detached(SubprocessRunner(), str(data), sig, [str(tmp_path / "missing.asc")])
    assert "cannot read key file" in str(err.value)


def test_no_keys():
    with pytest.raises(VerificationError) as err:
        gpg.verify_detached(SubprocessRunner(), "/x", "/x.asc", [])
    assert "kit_key" in str(err.value)


def test_gpg_missing(signed, keys):
    data, sig = signed
    with pytest.raises(VerificationError) as err:
        gpg.verify_detached(SubprocessRunner(), str(data), sig, [str(keys["publisher"].asc)],
                            gpg="/nonexistent/gpgv")
    assert "install GnuPG" in str(err.value)


def test_status_of_real_gpg_runs(signed, keys, tmp_path):
    data, sig = signed
    home = tmp_path / "h"
    home.mkdir()
    os.chmod(home, 0o700)
    keyring = str(keys["publisher"].keyring)
    argv = ["gpgv", "--homedir", str(home), "--status-fd", "1", "--keyring", keyring, sig, str(data)]
    good = subprocess.run(argv, capture_output=True, text=True, check=False, env=dict(os.environ, LC_ALL="C"))
    status = gpg.parse_status(good.stdout)
    fpr = keys["publisher"].fingerprint
    assert good.returncode == 0 and status.valid == ((fpr, fpr),)
    assert status.good_keyids and fpr.endswith(status.good_keyids[0])
    assert not status.bad_keyids and not status.errors
    data.write_bytes(b"changed")
    bad = subprocess.run(argv, capture_output=True, text=True, check=False, env=dict(os.environ, LC_ALL="C"))
    status = gpg.parse_status(bad.stdout)
    assert bad.returncode != 0 and status.bad_keyids and not status.valid
    assert os.listdir(home) == []  # gpgv writes nothing and starts no agent


def test_parse_status_ignores_other_lines():
    text = ("gpg: Signature made ...\n[GNUPG:] NEWSIG\n"
            "[GNUPG:] ERRSIG 6D94C02E1F32A9AD 1 10 00 1700000000 9 -\n[GNUPG:] NO_PUBKEY 6D94C02E1F32A9AD\n")
    status = gpg.parse_status(text)
    assert status.missing_keys == ("6D94C02E1F32A9AD",) and len(status.errors) == 1 and not status.valid


@pytest.mark.parametrize("text,want", [("ab cd 12", "ABCD12"), ("0xDEADBEEF", "DEADBEEF"), ("AA:BB", "AABB")])
def test_normalize_fingerprint(text, want):
    assert gpg.normalize_fingerprint(text) == want


def test_normalize_fingerprint_refuses():
    with pytest.raises(PkgsrcError):
        gpg.normalize_fingerprint("not-hex")
