"""Detached OpenPGP signature checks with the real GnuPG programs, in a throw-away home.

The user's own keyring is never read or written, and no gpg-agent is started: the given keys
(armored key files are de-armored here, binary keyrings used as they are) go into one keyring
file in a temporary home (mode 0700), and `gpgv --status-fd 1 --keyring FILE SIG DATA` (or,
when the program given is gpg, `gpg --no-autostart --no-default-keyring --keyring FILE --verify`)
runs through the Runner. A check passes only on a VALIDSIG status line with no BADSIG/ERRSIG and,
when an expected fingerprint is given, when VALIDSIG names it (as signing key or primary key).
"""
from __future__ import annotations

import base64
import os
import posixpath
import shutil
import tempfile
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ..errors import PkgsrcError, VerificationError
from ..runner import Runner

GPG_STATUS_PREFIX = "[GNUPG:] "


@dataclass(frozen=True)
class GpgStatus:
    """What gpg's status lines say about one verification."""

    valid: Tuple[Tuple[str, str], ...]
    good_keyids: Tuple[str, ...]
    bad_keyids: Tuple[str, ...]
    errors: Tuple[str, ...]
    missing_keys: Tuple[str, ...]
    expired_or_revoked: Tuple[str, ...]
    lines: Tuple[str, ...]


def normalize_fingerprint(text: str) -> str:
    """Upper-case hex without spaces or a 0x prefix."""
    value = (text or "").replace(" ", "").replace(":", "").upper()
    if value.startswith("0X"):
        value = value[2:]
    if not value or any(c not in "0123456789ABCDEF" for c in value):
        raise PkgsrcError("%r is not a key fingerprint" % text, "give the key's hex fingerprint (40 digits)")
    return value


def parse_status(text: str) -> GpgStatus:
    """Parse `--status-fd` output (pure)."""
    valid: List[Tuple[str, str]] = []
    good: List[str] = []
    bad: List[str] = []
    errors: List[str] = []
    missing: List[str] = []
    expired: List[str] = []
    lines: List[str] = []
    for raw in text.splitlines():
        if not raw.startswith(GPG_STATUS_PREFIX):
            continue
        line = raw[len(GPG_STATUS_PREFIX):]
        lines.append(line)
        words = line.split()
        if not words:
            continue
        keyword, args = words[0], words[1:]
        if keyword == "VALIDSIG" and args:
            primary = args[9] if len(args) > 9 else args[0]
            valid.append((args[0].upper(), primary.upper()))
        elif keyword == "GOODSIG" and args:
            good.append(args[0].upper())
        elif keyword == "BADSIG" and args:
            bad.append(args[0].upper())
        elif keyword == "ERRSIG" and args:
            errors.append(line)
        elif keyword == "NO_PUBKEY" and args:
            missing.append(args[0].upper())
        elif keyword in ("EXPSIG", "EXPKEYSIG", "REVKEYSIG", "KEYREVOKED") and args:
            expired.append(line)
    return GpgStatus(tuple(valid), tuple(good), tuple(bad), tuple(errors), tuple(missing), tuple(expired),
                     tuple(lines))


def fingerprint_matches(expected: str, status: GpgStatus) -> bool:
    """True when a VALIDSIG names expected as signing or primary key.

    A full fingerprint must match exactly; a 16- or 8-digit key id matches the end of either
    fingerprint (weaker: pin full fingerprints where you can).
    """
    want = normalize_fingerprint(expected)
    for signing, primary in status.valid:
        for have in (signing, primary):
            if len(want) >= 32 and have == want:
                return True
            if len(want) in (8, 16) and have.endswith(want):
                return True
    return False


@dataclass(frozen=True)
class SignatureCheck:
    """A passed check: the signing key's fingerprint and its primary key's."""

    fingerprint: str
    primary_fingerprint: str


def _gpg_failed(program: str, what: str, stdout: str, stderr: str) -> VerificationError:
    detail = (stderr or stdout).strip().splitlines()
    return VerificationError("%s failed: %s" % (what, detail[-1] if detail else "no output from %s" % program),
                             "check the key file and the signature URL")


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _bit in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def dearmor(text: str) -> bytes:
    """The binary packets of every ASCII-armored block in text (RFC 4880 section 6), CRC checked."""
    out = b""
    lines = text.splitlines()
    index = 0
    found = False
    while index < len(lines):
        if not lines[index].startswith("-----BEGIN PGP "):
            index += 1
            continue
        found = True
        index += 1
        while index < len(lines) and lines[index].strip() and ":" in lines[index]:
            index += 1  # armor headers (Version: ..., Comment: ...)
        body = []
        crc = None
        while index < len(lines) and not lines[index].startswith("-----END PGP "):
            line = lines[index].strip()
            if line.startswith("=") and len(line) == 5:
                crc = line[1:]
            elif line:
                body.append(line)
            index += 1
        try:
            data = base64.b64decode("".join(body), validate=True)
        except ValueError:
            raise VerificationError("the armored key block is not valid base64",
                                    "give the key file as published (ASCII armor or binary)") from None
        if crc is not None and base64.b64decode(crc) != _crc24(data).to_bytes(3, "big"):
            raise VerificationError("the armored key block fails its checksum", "the key file is damaged")
        out += data
        index += 1
    if not found:
        raise VerificationError("no ASCII-armored block in the key file", "give an armored (.asc) or binary key")
    return out


def _is_keybox(data: bytes) -> bool:
    return data[8:12] == b"KBXf"


def keyring_args(keys: Sequence[str], home: str) -> List[str]:
    """--keyring arguments for the key files: armored and binary keys merged into home/keys.gpg."""
    packets = b""
    args: List[str] = []
    for key in keys:
        try:
            with open(key, "rb") as handle:
                data = handle.read()
        except OSError as err:
            raise VerificationError("cannot read key file %s: %s" % (key, err.strerror),
                                    "check kit_key / kit_keyring") from None
        if b"-----BEGIN PGP" in data[:4096]:
            packets += dearmor(data.decode("ascii", "replace"))
        elif _is_keybox(data):
            args += ["--keyring", os.path.abspath(key)]
        elif data[:1] and data[0] & 0x80:
            packets += data
        else:
            raise VerificationError("%s is not an OpenPGP key (armored or binary)" % key,
                                    "give the publisher's key file")
    if packets:
        path = posixpath.join(home, "keys.gpg")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(packets)
        args = ["--keyring", path] + args
    return args


def verify_argv(program: str, home: str, keyring: Sequence[str], signature_path: str, data_path: str) -> List[str]:
    """The verification command for gpgv (default) or gpg (told by the program's name)."""
    if posixpath.basename(program).startswith("gpgv"):
        return [program, "--homedir", home, "--status-fd", "1"] + list(keyring) + [signature_path, data_path]
    return ([program, "--batch", "--no-tty", "--homedir", home, "--no-autostart", "--no-default-keyring",
             "--trust-model", "always", "--status-fd", "1"] + list(keyring) + ["--verify", signature_path, data_path])


def verify_detached(runner: Runner, data_path: str, signature_path: str, keys: Sequence[str] = (),
                    expected_fingerprint: Optional[str] = None, gpg: str = "gpgv",
                    tmpdir: Optional[str] = None) -> SignatureCheck:
    """Check signature_path over data_path with only the given key files/keyrings trusted."""
    if not keys:
        raise VerificationError("no key to check the signature of %s with" % data_path,
                                "give the signing key (kit_key) or a keyring (kit_keyring)")
    home = tempfile.mkdtemp(prefix="pkgsrc-gnupg-", dir=tmpdir)
    os.chmod(home, 0o700)
    env = {"GNUPGHOME": home, "LC_ALL": "C"}
    try:
        argv = verify_argv(gpg, home, keyring_args(keys, home), signature_path, data_path)
        try:
            result = runner.run(argv, env=env)
        except PkgsrcError as err:
            raise VerificationError("cannot run %s to check the kit signature: %s" % (gpg, err.message),
                                    "install GnuPG (gpgv), or set verify=false to skip signature checks "
                                    "(not recommended)") from None
        status = parse_status(result.stdout)
        if status.bad_keyids:
            raise VerificationError("BAD signature on %s (key %s)" % (data_path, ", ".join(status.bad_keyids)),
                                    "the file was altered or the signature is for another file; do not use it")
        if status.missing_keys:
            raise VerificationError("%s is signed by key %s, which is not among the given keys" % (
                data_path, ", ".join(status.missing_keys)), "give the publisher's key for this kit")
        if result.rc != 0 or not status.valid or status.errors:
            raise _gpg_failed(gpg, "signature check of %s" % data_path, result.stdout, result.stderr)
        if status.expired_or_revoked:
            raise VerificationError("the key that signed %s is expired or revoked (%s)" % (
                data_path, status.expired_or_revoked[0]), "get the publisher's current key and kit")
        if expected_fingerprint and not fingerprint_matches(expected_fingerprint, status):
            raise VerificationError("%s is signed by %s, not by the expected key %s" % (
                data_path, status.valid[0][1], normalize_fingerprint(expected_fingerprint)),
                "check that the key file is the publisher's; pin its full fingerprint")
        return SignatureCheck(status.valid[0][0], status.valid[0][1])
    finally:
        shutil.rmtree(home, ignore_errors=True)
