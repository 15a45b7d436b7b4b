"""pkg-vulnerabilities files: decompression, #CHECKSUM verification, entries, audit lines.

The file is stored as fetched (usually gzip'd) in <PKGVULNDIR>/pkg-vulnerabilities. The hash
covers the text up to #CHECKSUM minus empty lines, `Hash:`, `# $NetBSD` and `#CHECKSUM` lines.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from dataclasses import dataclass
from typing import List, Optional

from ._pkgarchive import gpg_verify
from ._pkgdb import safe_match

PGP_START = "-----BEGIN PGP SIGNED MESSAGE-----\n"
PGP_END = "-----BEGIN PGP SIGNATURE-----\n"


class VulnError(Exception):
    """The vulnerabilities file is unusable; str() is pkg_admin's message."""


@dataclass(frozen=True)
class Vulnerability:
    """One line: pattern, type of exploit, advisory URL."""

    pattern: str
    kind: str
    url: str


def decompress(data: bytes) -> bytes:
    """Raw bytes of a gzip, bzip2, xz or plain file."""
    try:
        if data[:2] == b"\x1f\x8b":
            return gzip.decompress(data)
        if data[:3] == b"BZh":
            return bz2.decompress(data)
        if data[:6] == b"\xfd7zXZ\x00":
            return lzma.decompress(data)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise VulnError("Cannot read pkg_vulnerabilities: %s" % exc) from exc
    return data


def _verify_hash(text: str, hash_line: str) -> None:
    words = hash_line.split()
    if len(words) < 2:
        raise VulnError("Invalid #CHECKSUM")
    algorithm, expected = words[0], words[1]
    if algorithm not in ("SHA512", "SHA1"):
        return
    body = text[len(PGP_START):] if text.startswith(PGP_START) else text
    in_pgp = text.startswith(PGP_START)
    digest = hashlib.new(algorithm.lower())
    for line in body.splitlines(keepends=True):
        if in_pgp and line == PGP_END:
            break
        if line == "\n" or line.startswith(("Hash:", "# $NetBSD", "#CHECKSUM")):
            continue
        digest.update(line.encode("utf-8", "surrogateescape"))
    if digest.hexdigest() != expected:
        raise VulnError("%s hash doesn't match" % algorithm)


def parse(data: bytes, check_signature: bool = False, keyring: str = "", gpg: str = "gpg") -> List[Vulnerability]:
    """Entries of a (possibly compressed) pkg-vulnerabilities file, after verifying it."""
    raw = decompress(data)
    if b"\0" in raw:
        raise VulnError("Invalid input (NUL character found)")
    text = raw.decode("utf-8", "surrogateescape")
    if check_signature and not gpg_verify(raw, b"", keyring, gpg):
        raise VulnError("Unable to verify signature")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        raise VulnError("Missing newline in pkg-vulnerabilities")
    in_pgp = bool(lines) and lines[0] == PGP_START
    start = 1 if in_pgp else 0
    fmt_seen = False
    entries: List[Vulnerability] = []
    for line in lines[start:]:
        if in_pgp and line == PGP_END:
            break
        body = line.rstrip("\n")
        if not body or body.startswith(("Hash:", "# $NetBSD")):
            continue
        if not fmt_seen:
            if body.startswith("#") and (len(body) == 1 or body[1].isspace()):
                continue
            if not body.startswith("#FORMAT"):
                raise VulnError("Input header is malformed")
            if body[7:].strip() != "1.1.0":
                raise VulnError("Input #FORMAT")
            fmt_seen = True
            continue
        if body.startswith("#CHECKSUM"):
            _verify_hash(text, body[len("#CHECKSUM"):].strip())
            continue
        if body.startswith("#"):
            continue
        words = body.split()
        if len(words) < 2:
            raise VulnError("Input error: missing classification")
        if len(words) < 3:
            raise VulnError("Input error: missing URL")
        entries.append(Vulnerability(words[0], words[1], words[2]))
    if not fmt_seen:
        raise VulnError("Missing #CHECKSUM or content")
    return entries


def audit(entries: List[Vulnerability], pkgname: str, kind: Optional[str] = None,
          check_eol: bool = False, ignore_urls: Optional[List[str]] = None) -> List[str]:
    """Lines pkg_admin prints for one installed package (empty when it is not vulnerable)."""
    lines = []
    for vuln in entries:
        if ignore_urls and vuln.url in ignore_urls:
            continue
        if kind is not None and vuln.kind != kind:
            continue
        if not safe_match(vuln.pattern, pkgname):
            continue
        if vuln.kind == "eol":
            if check_eol:
                lines.append("Package %s has reached end-of-life (eol), see %s" % (pkgname, vuln.url))
            continue
        lines.append("Package %s has a %s vulnerability, see %s" % (pkgname, vuln.kind, vuln.url))
    return lines
