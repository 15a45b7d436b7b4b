"""Downloads over http, https and file URLs: checksummed while read, resumable, with progress.

fetch() writes into DEST.part and renames it to DEST once the whole body is there and matches
its checksum. An interrupted download leaves DEST.part; the next fetch() asks the server for
the rest (HTTP Range) and hashes the part already there first, so the checksum always covers the
whole file. A server that ignores Range gets a fresh download. A mismatching file is deleted.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import posixpath
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from ..errors import PkgsrcError, VerificationError
from ..fsutil import ensure_private_dir

ALGORITHMS = {"sha1": 40, "sha256": 64, "sha512": 128}
USER_AGENT = "pkgsrc-deploy/0.1"
Log = Optional[Callable[[str], None]]


@dataclass(frozen=True)
class Checksum:
    """An expected digest: algorithm (sha1, sha256, sha512) and lowercase hex."""

    algorithm: str
    hexdigest: str

    def __str__(self) -> str:
        return "%s:%s" % (self.algorithm, self.hexdigest)


def parse_checksum(text: str) -> Checksum:
    """'sha256:<hex>' (or sha1:, sha512:); bare hex is accepted and its algorithm told by length."""
    if isinstance(text, Checksum):
        return text
    raw = (text or "").strip()
    algorithm, sep, digest = raw.partition(":")
    if not sep:
        digest = raw
        algorithm = next((a for a, n in ALGORITHMS.items() if n == len(raw)), "")
    algorithm = algorithm.lower().replace("-", "")
    digest = digest.strip().lower()
    if algorithm not in ALGORITHMS:
        raise PkgsrcError("checksum %r names no supported algorithm" % text,
                          "write it as sha256:<hex>, sha512:<hex> or sha1:<hex>")
    if len(digest) != ALGORITHMS[algorithm] or not re.match(r"^[0-9a-f]+$", digest):
        raise PkgsrcError("checksum %r is not a %s digest (%d hex digits)" % (text, algorithm, ALGORITHMS[algorithm]),
                          "copy the digest exactly as published")
    return Checksum(algorithm, digest)


@dataclass(frozen=True)
class Fetched:
    """A verified file: where it is, its size and digests, and how it was obtained."""

    path: str
    size: int
    sha256: str
    digest: Optional[str]
    resumed_from: int = 0
    from_cache: bool = False


class _Hashers:
    def __init__(self, checksum: Optional[Checksum]) -> None:
        self.sha256 = hashlib.sha256()
        self.extra = hashlib.new(checksum.algorithm) if checksum and checksum.algorithm != "sha256" else None

    def update(self, data: bytes) -> None:
        self.sha256.update(data)
        if self.extra is not None:
            self.extra.update(data)

    def digest_for(self, checksum: Optional[Checksum]) -> Optional[str]:
        if checksum is None:
            return None
        if checksum.algorithm == "sha256" or self.extra is None:
            return self.sha256.hexdigest()
        return self.extra.hexdigest()


def hash_file(path: str, checksum: Optional[Checksum] = None, chunk: int = 1 << 20) -> _Hashers:
    """Digests of a file (sha256 and the checksum's algorithm)."""
    hashers = _Hashers(checksum)
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            hashers.update(block)
    return hashers


def _check(hashers: _Hashers, checksum: Optional[Checksum], what: str) -> Optional[str]:
    got = hashers.digest_for(checksum)
    if checksum is not None and got != checksum.hexdigest:
        raise VerificationError("%s does not match its checksum: expected %s, got %s:%s" % (
            what, checksum, checksum.algorithm, got),
            "the file is corrupt or not the one published; it was deleted, so a new run downloads it again")
    return got


class _NoDowngrade(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never from https to plain http."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if req.full_url.startswith("https:") and not newurl.startswith("https:"):
            raise PkgsrcError("%s redirects to %s, which is not https" % (req.full_url, newurl),
                              "refusing a downgrade from https; use the final https URL directly")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoDowngrade())


class _Progress:
    def __init__(self, log: Log, url: str, total: Optional[int], start: int) -> None:
        self.log, self.url, self.total, self.done = log, url, total, start
        self.next_pct = 10
        self.last_bytes = start
        self.started = time.monotonic()

    def add(self, count: int) -> None:
        self.done += count
        if self.log is None:
            return
        if self.total:
            pct = int(self.done * 100 / self.total)
            if pct >= self.next_pct and pct < 100:
                self.log("downloading %s: %d%% (%d of %d bytes)" % (self.url, pct, self.done, self.total))
                self.next_pct = (pct // 10 + 1) * 10
        elif self.done - self.last_bytes >= 8 << 20:
            self.log("downloading %s: %d bytes" % (self.url, self.done))
            self.last_bytes = self.done


def _file_path(url: str) -> str:
    parsed = urllib.parse.urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise PkgsrcError("file URL %s names a remote host" % url, "use file:///absolute/path")
    return urllib.request.url2pathname(parsed.path)


def _content_range_start(value: Optional[str]) -> Optional[int]:
    match = re.match(r"^\s*bytes\s+(\d+)-(\d+)?/(\d+|\*)\s*$", value or "")
    return int(match.group(1)) if match else None


def fetch(url: str, dest: str, checksum: Optional[str] = None, log: Log = None, timeout: float = 60.0,
          resume: bool = True, max_bytes: Optional[int] = None, chunk_size: int = 1 << 16) -> Fetched:
    """Fetch url to dest and verify it against checksum ('sha256:<hex>' etc.) while reading.

    file:// URLs (and plain absolute paths) are verified in place, not copied: the Fetched path
    is then the source file. dest already present with a matching checksum is reused.
    """
    expected = parse_checksum(checksum) if checksum else None
    if url.startswith("/"):
        url = "file://" + url
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme == "file":
        path = _file_path(url)
        if not os.path.isfile(path):
            raise PkgsrcError("%s does not exist or is not a file" % path, "check the kit path")
        hashers = hash_file(path, expected)
        digest = _check(hashers, expected, path)
        return Fetched(path, os.path.getsize(path), hashers.sha256.hexdigest(), digest, from_cache=True)
    if scheme not in ("http", "https"):
        raise PkgsrcError("unsupported URL scheme in %s" % url, "use an http, https or file URL")

    ensure_private_dir(posixpath.dirname(dest) or ".")
    if expected is not None and os.path.isfile(dest):
        hashers = hash_file(dest, expected)
        if hashers.digest_for(expected) == expected.hexdigest:
            if log:
                log("using %s already downloaded (%s)" % (dest, expected))
            return Fetched(dest, os.path.getsize(dest), hashers.sha256.hexdigest(), expected.hexdigest,
                           from_cache=True)
    part = dest + ".part"
    for attempt in range(2):
        try:
            return _fetch_http(url, dest, part, expected, log, timeout, resume and attempt == 0,
                               max_bytes, chunk_size)
        except _Restart:
            if os.path.exists(part):
                os.unlink(part)
            continue
    raise PkgsrcError("the server for %s keeps refusing the requested range" % url,
                      "delete %s and run again" % part)


class _Restart(Exception):
    """The partial download cannot be continued: start over."""


def _fetch_http(url: str, dest: str, part: str, expected: Optional[Checksum], log: Log, timeout: float,
                resume: bool, max_bytes: Optional[int], chunk_size: int) -> Fetched:
    have = os.path.getsize(part) if resume and os.path.isfile(part) else 0
    headers: Dict[str, str] = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = "bytes=%d-" % have
    request = urllib.request.Request(url, headers=headers)
    try:
        response = _opener().open(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:
            raise _Restart() from None
        raise PkgsrcError("download of %s failed: HTTP %d %s" % (url, err.code, err.reason),
                          "check the URL and that the server publishes this file") from None
    except urllib.error.URLError as err:
        raise PkgsrcError("cannot reach %s: %s" % (url, err.reason),
                          "check the network, a proxy (https_proxy) or the URL") from None
    except (socket.timeout, TimeoutError):
        raise PkgsrcError("connecting to %s timed out after %s s" % (url, timeout),
                          "check the network or raise the timeout") from None
    with response:
        status = response.getcode()
        start = 0
        if have and status == 206:
            start = _content_range_start(response.headers.get("Content-Range")) or 0
            if start != have:
                raise _Restart()
        elif have and log:
            log("server ignored the resume request for %s; downloading it again" % url)
        length = response.headers.get("Content-Length")
        remaining = int(length) if length and length.isdigit() else None
        total = start + remaining if remaining is not None else None
        if max_bytes is not None and total is not None and total > max_bytes:
            raise PkgsrcError("%s is %d bytes, more than the limit of %d" % (url, total, max_bytes),
                              "check the URL, or raise the size limit")
        hashers = _Hashers(expected)
        mode = "ab" if start else "wb"
        if start:
            with open(part, "rb") as old:
                while True:
                    block = old.read(1 << 20)
                    if not block:
                        break
                    hashers.update(block)
            if log:
                log("resuming %s at byte %d" % (url, start))
        elif log:
            log("downloading %s%s to %s" % (url, " (%d bytes)" % total if total else "", dest))
        progress = _Progress(log, url, total, start)
        received = start
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if start else os.O_TRUNC), 0o600)
        with os.fdopen(fd, mode) as out:
            try:
                while True:
                    block = response.read(chunk_size)
                    if not block:
                        break
                    out.write(block)
                    hashers.update(block)
                    received += len(block)
                    progress.add(len(block))
                    if max_bytes is not None and received > max_bytes:
                        raise PkgsrcError("%s is larger than the limit of %d bytes" % (url, max_bytes),
                                          "check the URL, or raise the size limit")
            except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError) as err:
                out.flush()
                raise PkgsrcError("download of %s was interrupted after %d%s bytes (%s)" % (
                    url, received, " of %d" % total if total else "", err.__class__.__name__),
                    "run again: the download resumes from %s" % part) from None
    if total is not None and received < total:
        raise PkgsrcError("download of %s stopped after %d of %d bytes" % (url, received, total),
                          "run again: the download resumes from %s" % part)
    try:
        digest = _check(hashers, expected, url)
    except VerificationError:
        os.unlink(part)
        raise
    os.replace(part, dest)
    if log:
        log("downloaded %s: %d bytes, sha256 %s" % (url, received, hashers.sha256.hexdigest()))
    return Fetched(dest, received, hashers.sha256.hexdigest(), digest, resumed_from=start)
