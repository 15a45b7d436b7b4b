"""Binary packages as pkg_install reads them: gzip'd tar with the +meta files first.

A signed package is an ar(1) archive of +PKG_HASH, +PKG_GPG_SIGNATURE and the inner .tgz;
the hash blocks are checked here and the signature with gpg(1) when a keyring is given.
"""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from . import _pkgfetch
from ._pkgdb import META_MODES, REQUIRED_META

AR_MAGIC = b"!<arch>\n"


class PackageError(Exception):
    """The data is not a usable binary package."""


@dataclass
class Package:
    """A binary package read into memory."""

    source: str
    tgz: bytes
    meta: Dict[str, str] = field(default_factory=dict)
    file_size: int = 0
    local_file: str = ""
    signed: bool = False
    signature_valid: bool = False
    hash_pkgname: str = ""

    def members(self) -> Tuple[tarfile.TarFile, Dict[str, tarfile.TarInfo]]:
        """The open tar and its non-meta members by name."""
        tar = tarfile.open(fileobj=io.BytesIO(self.tgz), mode="r:*")  # pylint: disable=consider-using-with
        members: Dict[str, tarfile.TarInfo] = {}
        for member in tar.getmembers():
            name = member.name[2:] if member.name.startswith("./") else member.name
            if name in META_MODES or member.isdir():
                continue
            members[name] = member
        return tar, members


def ar_members(data: bytes) -> List[Tuple[str, bytes]]:
    """Members (name, data) of an ar(1) archive: BSD long names (#1/N, as pkg_install's
    libarchive writes them), GNU long names (//, /N) and short names."""
    if not data.startswith(AR_MAGIC):
        raise PackageError("not an ar archive")
    pos = len(AR_MAGIC)
    members = []
    long_names = b""
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        raw_name = header[:16].decode("ascii", "replace").rstrip()
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as exc:
            raise PackageError("corrupt ar header") from exc
        pos += 60
        body = data[pos:pos + size]
        pos += size + (size % 2)
        if raw_name.startswith("#1/"):
            length = int(raw_name[3:])
            name, body = body[:length].rstrip(b"\0").decode("utf-8", "replace"), body[length:]
        elif raw_name == "//":
            long_names = body
            continue
        elif raw_name.startswith("/") and raw_name[1:].isdigit():
            start = int(raw_name[1:])
            name = long_names[start:].split(b"/\n", 1)[0].decode("utf-8", "replace")
        elif raw_name == "/":
            continue
        else:
            name = raw_name.rstrip("/")
        members.append((name, body))
    return members


def parse_hash_file(text: str) -> Dict[str, object]:
    """The fields and block hashes of a +PKG_HASH."""
    fields: Dict[str, object] = {}
    lines = text.splitlines()
    if not lines or lines[0] != "pkgsrc signature":
        raise PackageError("invalid +PKG_HASH")
    hashes: List[str] = []
    for line in lines[1:]:
        if line == "end pkgsrc signature":
            break
        if ": " in line:
            key, value = line.split(": ", 1)
            fields[key] = value
        elif line.strip():
            hashes.append(line.strip())
    fields["hashes"] = hashes
    return fields


def check_hash(hash_text: str, tgz: bytes) -> str:
    """Verify the block hashes of the inner package; return the pkgname it names."""
    fields = parse_hash_file(hash_text)
    algorithm = str(fields.get("algorithm", "SHA512")).lower()
    block = int(str(fields.get("block size", "65536")))
    size = int(str(fields.get("file size", "-1")))
    if size != len(tgz) or algorithm not in ("sha512", "sha256", "sha1"):
        raise PackageError("invalid +PKG_HASH")
    expected = fields["hashes"]
    actual = [hashlib.new(algorithm, tgz[i:i + block]).hexdigest() for i in range(0, len(tgz), block)]
    if actual != expected:
        raise PackageError("hash mismatch")
    return str(fields.get("pkgname", ""))


def gpg_verify(content: bytes, signature: bytes, keyring: str, gpg: str = "gpg") -> bool:
    """True when gpg accepts the signature with keyring.

    With a signature, it is a detached signature of content; without one, content is a
    clear-signed message.
    """
    if not keyring:
        return False
    with tempfile.TemporaryDirectory(prefix="sim-gpg.") as home:
        argv = [gpg, "--homedir", home, "--batch", "--no-tty", "--no-default-keyring",
                "--keyring", os.path.abspath(keyring), "--verify"]
        if signature:
            sig = os.path.join(home, "sig")
            with open(sig, "wb") as handle:
                handle.write(signature)
            argv.append(sig)
        argv.append("-")
        try:
            result = subprocess.run(argv, input=content, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
    return result.returncode == 0


def read_meta(tgz: bytes) -> Dict[str, str]:
    """The +files at the start of a package tar (stops at the first other member)."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(tgz), mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise PackageError("Unrecognized archive format") from exc
    meta: Dict[str, str] = {}
    with tar:
        for member in tar:
            name = member.name[2:] if member.name.startswith("./") else member.name
            if name not in META_MODES:
                break
            handle = tar.extractfile(member)
            meta[name] = handle.read().decode("utf-8", "surrogateescape") if handle else ""
    missing = [m for m in REQUIRED_META if m not in meta]
    if missing:
        raise PackageError("package meta data missing: %s" % ", ".join(missing))
    return meta


def load(source: str, keyring: str = "", gpg: str = "gpg") -> Package:
    """Read a package from a path or URL. Raises FetchError or PackageError."""
    local = ""
    if _pkgfetch.is_url(source) and not source.startswith("file://"):
        data = _pkgfetch.fetch_bytes(source)
    else:
        local = _pkgfetch.local_path(source)
        if not os.path.isfile(local):
            raise _pkgfetch.FetchError(os.strerror(2))
        with open(local, "rb") as handle:
            data = handle.read()
    pkg = Package(source=source, tgz=data, file_size=len(data), local_file=local)
    if data.startswith(AR_MAGIC):
        members = dict(ar_members(data))
        inner = [name for name in members if not name.startswith("+")]
        if not inner or "+PKG_HASH" not in members:
            raise PackageError("signed package without content")
        pkg.tgz = members[inner[0]]
        pkg.signed = True
        hash_text = members["+PKG_HASH"].decode("utf-8", "replace")
        try:
            pkg.hash_pkgname = check_hash(hash_text, pkg.tgz)
            signature = members.get("+PKG_GPG_SIGNATURE", b"")
            pkg.signature_valid = bool(signature) and gpg_verify(members["+PKG_HASH"], signature, keyring, gpg)
        except PackageError:
            pkg.signature_valid = False
    pkg.meta = read_meta(pkg.tgz)
    return pkg
