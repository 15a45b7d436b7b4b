"""Safe reading and extraction of kit tarballs (gzip, bzip2, xz or plain; told by magic bytes).

Kits are extracted at / (their members are ./opt/pkg/...), so Python's tarfile filters, which
only keep members inside a destination directory, are not enough: every member must lie inside
the kit's own paths. scan_archive() reads the whole archive before anything is written:

1. the whole compressed stream is decompressed once: a truncated or corrupt file (bad CRC, short
   stream, missing end-of-archive blocks, a member whose data runs past the end) is refused;
2. every member is checked: names relative, no '..', inside the allowed roots (or exactly an
   allowed file), only files, directories, symlinks and hardlinks (no devices, fifos), symlink
   targets resolved from the member's directory inside the allowed roots, hardlinks to earlier
   regular-file members, no member below a symlink or a file member, no duplicates, no setuid or
   setgid bits outside the prefix, and a bound on the expanded size.

extract_archive() then writes the members it was given, and nothing else, into an empty staging
directory: files with O_EXCL|O_NOFOLLOW, explicit modes, owner when asked; the owners recorded in
the archive are ignored. It reads the same open file and checks that the bytes are the ones
scanned, so the file cannot change between the check and the write.
"""
from __future__ import annotations

import bz2
import hashlib
import io
import os
import posixpath
import stat
import tarfile
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Dict, IO, List, Optional, Sequence, Tuple

from .errors import PkgsrcError, UnsafeArchiveError
from .fsutil import is_within

try:  # lzma is optional in some Python builds
    import lzma
except ImportError:  # pragma: no cover - depends on the Python build
    lzma = None  # type: ignore[assignment]

DEFAULT_MAX_BYTES = 8 << 30
_BLOCK = 512
Log = Optional[Callable[[str], None]]


@dataclass(frozen=True)
class AllowedPaths:
    """Where an archive may write (logical absolute paths) and where setid bits are tolerated."""

    roots: Tuple[str, ...]
    files: Tuple[str, ...] = ()
    setid_roots: Tuple[str, ...] = ()
    absolute_links: bool = True

    def contains(self, path: str) -> bool:
        """True when path is inside a root or is an allowed file."""
        return path in self.files or any(is_within(path, r) for r in self.roots)

    def is_ancestor(self, path: str) -> bool:
        """True when path is a directory above a root or an allowed file (e.g. /opt, /var/db)."""
        targets = self.roots + self.files
        return any(t != path and is_within(t, path) for t in targets)

    def describe(self) -> str:
        """For messages."""
        return ", ".join(self.roots + self.files)


@dataclass(frozen=True)
class Member:
    """A checked archive member."""

    path: str
    kind: str
    mode: int
    size: int
    linkname: str = ""
    mtime: int = 0
    ancestor: bool = False


@dataclass(frozen=True)
class Listing:
    """A scanned archive: its members in archive order and what they add up to."""

    path: str
    compression: str
    sha256: str
    members: Tuple[Member, ...]
    expanded_size: int
    roots_used: Tuple[str, ...]

    @property
    def files(self) -> int:
        """Number of regular files and hardlinks."""
        return sum(1 for m in self.members if m.kind in ("file", "hardlink"))


def detect_compression(head: bytes) -> str:
    """'gz', 'bz2', 'xz' or '' (plain tar) from the first bytes of a file."""
    if head[:2] == b"\x1f\x8b":
        return "gz"
    if head[:3] == b"BZh":
        return "bz2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return ""


class _HashingReader(io.RawIOBase):
    """Read-through wrapper that hashes everything read from the underlying file."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self.raw = raw
        self.hasher = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.hasher.update(data)
        return n

    def drain(self) -> str:
        """Hash the rest of the file and return the hex digest of everything."""
        while True:
            data = self.raw.read(1 << 20)
            if not data:
                break
            self.hasher.update(data)
        return self.hasher.hexdigest()


class _Gunzip(io.RawIOBase):
    """gzip decompression in large blocks (gzip.GzipFile reads in small ones, 3-4x slower here).

    Concatenated members are read one after another; each member's CRC and length are checked
    by zlib, and a stream that ends inside a member raises EOFError (a truncated kit).
    """

    def __init__(self, fileobj: IO[bytes], block: int = 1 << 20) -> None:
        super().__init__()
        self.fileobj = fileobj
        self.block = block
        self.zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.pending = b""
        self.done = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self.pending and not self.done:
            data = self.zlib.unconsumed_tail or self.fileobj.read(self.block)
            if not data:
                if not self.zlib.eof:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
                self.done = True
                return
            if self.zlib.eof:  # the next member of a multi-member gzip file
                if not data.strip(b"\0"):
                    continue
                self.zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            self.pending = self.zlib.decompress(data, self.block * 4)
            if self.zlib.eof and self.zlib.unused_data:
                rest = self.zlib.unused_data
                self.zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self.pending += self.zlib.decompress(rest, self.block * 4) if rest.strip(b"\0") else b""

    def readinto(self, buffer: Any) -> int:
        self._fill()
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _decompressor(compression: str, fileobj: IO[bytes]) -> IO[bytes]:
    if compression == "gz":
        return io.BufferedReader(_Gunzip(fileobj), buffer_size=1 << 20)
    if compression == "bz2":
        return bz2.BZ2File(fileobj, mode="rb")
    if compression == "xz":
        if lzma is None:
            raise PkgsrcError("this Python has no lzma module, so it cannot read an xz kit",
                              "use a gzip kit or a Python built with lzma")
        return lzma.LZMAFile(fileobj, mode="rb")
    return fileobj


_CORRUPT = (EOFError, OSError, zlib.error, tarfile.TarError, ValueError) + (
    (lzma.LZMAError,) if lzma is not None else ())


def _refuse(path: str, problems: Sequence[str], what: str = "unsafe") -> UnsafeArchiveError:
    shown = list(problems[:12])
    more = len(problems) - len(shown)
    detail = "; ".join(shown) + ("; and %d more" % more if more > 0 else "")
    return UnsafeArchiveError("archive %s is %s, nothing was written: %s" % (path, what, detail),
                              "check where this kit came from; a kit may only write inside its own paths")


def _normalize_name(raw: str) -> Tuple[Optional[str], Optional[str]]:
    """(logical path, problem) of a member name."""
    if not raw:
        return None, "a member has an empty name"
    if any(ord(c) < 32 or c == "\x7f" for c in raw):
        return None, "member %r has control characters in its name" % raw
    if raw.startswith("/"):
        return None, "member %r has an absolute name" % raw
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None, "member %r contains '..'" % raw
    return "/" + "/".join(parts), None


class _Recorder:
    """Forward-only read/seek/tell over a decompressed stream; remembers the last block read.

    Seeking forward reads and discards (decompressors of non-seekable files cannot seek), so
    every byte of the stream passes through here exactly once.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.pos = 0
        self.last_pos = -1
        self.last_data = b""

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.last_pos, self.last_data = self.pos, data
        self.pos += len(data)
        return data

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self.pos
        elif whence != 0:
            raise OSError("cannot seek from the end of a compressed stream")
        if pos < self.pos:
            raise OSError("cannot seek backwards in a compressed stream")
        while self.pos < pos:
            block = self.stream.read(min(1 << 20, pos - self.pos))
            if not block:
                break
            self.pos += len(block)
        return self.pos

    def tell(self) -> int:
        return self.pos


def _sha256_of(handle: BinaryIO) -> str:
    hasher = hashlib.sha256()
    while True:
        block = handle.read(1 << 20)
        if not block:
            return hasher.hexdigest()
        hasher.update(block)


def scan_archive(path: str, allowed: AllowedPaths, max_bytes: int = DEFAULT_MAX_BYTES) -> Listing:
    """List and check every member before anything is written; UnsafeArchiveError on any problem."""
    with open(path, "rb") as handle:
        return _scan(handle, path, allowed, max_bytes)


def _read_members(handle: BinaryIO, path: str, max_bytes: int) -> Tuple[str, str, List[tarfile.TarInfo], int]:
    """One pass over the whole file: (compression, sha256, members, expanded length).

    Refuses a truncated or corrupt stream, data running past the end, garbage where the
    end-of-archive marker should be, and more than max_bytes of expanded data.
    """
    compression = detect_compression(handle.read(6))
    handle.seek(0)
    reader: Optional[_HashingReader] = None
    digest = ""
    if compression:
        reader = _HashingReader(handle)
        stream = _decompressor(compression, io.BufferedReader(reader, buffer_size=1 << 20))
    else:
        digest = _sha256_of(handle)
        handle.seek(0)
        stream = handle
    recorder = _Recorder(stream)
    try:
        with tarfile.open(fileobj=recorder, mode="r:") as tar:  # type: ignore[call-overload]
            infos = tar.getmembers()
            end = tar.offset
        if recorder.last_pos == end and len(recorder.last_data) >= _BLOCK:
            marker = recorder.last_data[:_BLOCK]
        elif recorder.tell() <= end:
            recorder.seek(end)
            marker = recorder.read(_BLOCK)
        else:
            marker = b""
        expanded = recorder.tell()
        while True:
            block = stream.read(1 << 20)
            if not block:
                break
            expanded += len(block)
            if expanded > max_bytes:
                raise _refuse(path, ["it expands to more than %d bytes" % max_bytes], "too large")
    except UnsafeArchiveError:
        raise
    except _CORRUPT as err:
        raise _refuse(path, ["%s (%s)" % (err.__class__.__name__, err)], "truncated or corrupt") from None
    if reader is not None:
        digest = reader.drain()
    problems = ["member %r runs past the end of the archive" % info.name
                for info in infos if info.isreg() and info.offset_data + info.size > expanded]
    if problems:
        raise _refuse(path, problems, "truncated or corrupt")
    if len(marker) < _BLOCK or marker.strip(b"\0"):
        raise _refuse(path, ["it has no end-of-archive marker after its last member"], "truncated or corrupt")
    if sum(info.size for info in infos if info.isreg()) > max_bytes:
        raise _refuse(path, ["it expands to more than %d bytes" % max_bytes], "too large")
    return compression, digest, infos, expanded


def _scan(handle: BinaryIO, path: str, allowed: AllowedPaths, max_bytes: int) -> Listing:
    compression, sha256, infos, _expanded = _read_members(handle, path, max_bytes)
    problems: List[str] = []
    members: List[Member] = []
    seen: Dict[str, Member] = {}
    refused_links = set()
    roots_used = set()
    for info in infos:
        logical, problem = _normalize_name(info.name)
        if problem:
            problems.append(problem)
            continue
        logical_path = logical or "/"
        kind = ("file" if info.isreg() else "dir" if info.isdir() else "symlink" if info.issym()
                else "hardlink" if info.islnk() else "")
        if not kind:
            what = ("a device node" if info.ischr() or info.isblk() else "a fifo" if info.isfifo()
                    else "of an unsupported type")
            problems.append("member %r is %s" % (info.name, what))
            continue
        inside = allowed.contains(logical_path)
        ancestor = not inside and (logical_path == "/" or allowed.is_ancestor(logical_path))
        if not inside and not (ancestor and kind == "dir"):
            problems.append("member %r is outside the kit's paths (%s)" % (info.name, allowed.describe()))
            continue
        mode = stat.S_IMODE(info.mode)
        if mode & (stat.S_ISUID | stat.S_ISGID) and kind != "symlink" and not any(
                is_within(logical_path, r) for r in allowed.setid_roots):
            problems.append("member %r is setuid/setgid outside the prefix" % info.name)
            continue
        linkname = ""
        if kind == "symlink":
            target = info.linkname
            if not target or "\0" in target:
                problems.append("symlink %r has an empty target" % info.name)
                continue
            if target.startswith("/") and not allowed.absolute_links:
                problems.append("symlink %r has an absolute target (%s)" % (info.name, target))
                continue
            if not target.startswith("/") and _climbs_above_root(posixpath.dirname(logical_path), target):
                problems.append("symlink %r climbs above the root (%s)" % (info.name, target))
                continue
            resolved = posixpath.normpath(target if target.startswith("/")
                                          else posixpath.join(posixpath.dirname(logical_path), target))
            if not allowed.contains(resolved):
                problems.append("symlink %r points outside the kit's paths (%s -> %s)" % (
                    info.name, target, resolved))
                refused_links.add(logical_path)
                continue
            linkname = target
        elif kind == "hardlink":
            target_path, target_problem = _normalize_name(info.linkname)
            if target_problem or target_path is None:
                problems.append("hardlink %r: %s" % (info.name, target_problem))
                continue
            earlier = seen.get(target_path)
            if earlier is None or earlier.kind != "file":
                problems.append("hardlink %r does not point to an earlier file of the archive (%s)" % (
                    info.name, info.linkname))
                continue
            linkname = target_path
        previous = seen.get(logical_path)
        if previous is not None and not (previous.kind == "dir" and kind == "dir"):
            problems.append("member %r appears twice" % info.name)
            continue
        if logical_path == "/":
            continue
        member = Member(logical_path, kind, mode, info.size if kind == "file" else 0, linkname,
                        int(info.mtime), ancestor)
        seen[logical_path] = member
        if previous is None:
            members.append(member)
        else:
            members[members.index(previous)] = member
        for root in allowed.roots + allowed.files:
            if is_within(logical_path, root):
                roots_used.add(root)
    for member in members:
        parent = posixpath.dirname(member.path)
        while parent != "/":
            above = seen.get(parent)
            if parent in refused_links:
                problems.append("member %r lies below the refused symlink %r" % (
                    member.path.lstrip("/"), parent.lstrip("/")))
                break
            if above is not None and above.kind != "dir":
                problems.append("member %r lies below %s %r" % (member.path.lstrip("/"), "a symlink"
                                if above.kind == "symlink" else "a file", parent.lstrip("/")))
                break
            parent = posixpath.dirname(parent)
    if problems:
        raise _refuse(path, problems)
    if not members:
        raise _refuse(path, ["it has no members inside the kit's paths"], "empty")
    expanded_size = sum(m.size for m in members)
    return Listing(path, compression, sha256, tuple(members), expanded_size, tuple(sorted(roots_used)))


def _same_member(info: tarfile.TarInfo, member: Member) -> bool:
    kind = ("file" if info.isreg() else "dir" if info.isdir() else "symlink" if info.issym()
            else "hardlink" if info.islnk() else "")
    if kind != member.kind or stat.S_IMODE(info.mode) != member.mode:
        return False
    if kind == "file":
        return info.size == member.size
    if kind == "symlink":
        return info.linkname == member.linkname
    if kind == "hardlink":
        return _normalize_name(info.linkname)[0] == member.linkname
    return True


def _climbs_above_root(directory: str, target: str) -> bool:
    """True when a relative link target has more '..' than directory has levels at some point."""
    depth = len([p for p in directory.split("/") if p])
    for part in target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _mkdir_chain(dest: str, logical_dir: str) -> str:
    """Create dest+logical_dir component by component, refusing symlinks; return the host path."""
    current = dest
    for part in [p for p in logical_dir.split("/") if p]:
        current = os.path.join(current, part)
        try:
            os.mkdir(current, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(current)
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafeArchiveError("staging path %s is not a directory" % current,
                                     "remove the staging directory and run again")
    return current


def extract_archive(listing: Listing, dest: str, owner: Optional[Tuple[int, int]] = None,
                    log: Log = None, chunk: int = 1 << 20) -> int:
    """Write the scanned members into the empty directory dest; returns the number of files.

    Ancestor directories (e.g. opt/, var/db/) get mode 0755; every other member keeps its own
    permission bits; the owner is `owner` (uid, gid) when given, else the running user.
    """
    if os.listdir(dest):
        raise PkgsrcError("staging directory %s is not empty" % dest, "remove it and run again")
    by_path = {m.path: m for m in listing.members}
    written = 0
    dirs: List[Member] = []
    with open(listing.path, "rb") as handle:
        reader = _HashingReader(handle)
        buffered = io.BufferedReader(reader, buffer_size=1 << 20)
        try:
            stream = _decompressor(listing.compression, buffered)
            with tarfile.open(fileobj=stream, mode="r|", bufsize=1 << 20) as tar:
                for info in tar:
                    logical = _normalize_name(info.name)[0]
                    member = by_path.get(logical or "/")
                    if member is None:
                        if logical in ("/", None):
                            continue
                        raise UnsafeArchiveError("archive %s changed after it was checked (member %s)" % (
                            listing.path, info.name), "run again")
                    if not _same_member(info, member):
                        raise UnsafeArchiveError("archive %s changed after it was checked (member %s)" % (
                            listing.path, info.name), "run again")
                    target = dest + member.path
                    _mkdir_chain(dest, posixpath.dirname(member.path))
                    if member.kind == "dir":
                        _mkdir_chain(dest, member.path)
                        dirs.append(member)
                        continue
                    if member.kind == "file":
                        source = tar.extractfile(info)
                        if source is None:
                            raise UnsafeArchiveError("cannot read member %s of %s" % (info.name, listing.path))
                        _write_file(target, source, member, owner, chunk)
                        written += 1
                    elif member.kind == "symlink":
                        os.symlink(member.linkname, target)
                        if owner is not None:
                            os.lchown(target, owner[0], owner[1])
                    elif member.kind == "hardlink":
                        os.link(dest + member.linkname, target, follow_symlinks=False)
                        written += 1
                    _set_mtime(target, member.mtime)
            digest = reader.drain()
        except _CORRUPT as err:
            raise UnsafeArchiveError("archive %s could not be read while extracting: %s" % (listing.path, err),
                                     "run again; if it persists, download the kit again") from None
    if digest != listing.sha256:
        raise UnsafeArchiveError("archive %s changed after it was checked" % listing.path,
                                 "run again; nothing was placed")
    created = []
    for dirpath, dirnames, _files in os.walk(dest):
        for name in dirnames:
            created.append(os.path.join(dirpath, name))
    explicit = {dest + m.path: m for m in dirs}
    for host_dir in sorted(created, key=lambda p: p.count("/"), reverse=True):
        member = explicit.get(host_dir)
        mode = 0o755 if member is None or member.ancestor else member.mode
        if owner is not None:
            os.lchown(host_dir, owner[0], owner[1])
        os.chmod(host_dir, mode)
        if member is not None:
            _set_mtime(host_dir, member.mtime)
    if log:
        log("extracted %d files of %s into %s" % (written, listing.path, dest))
    return written


def _write_file(target: str, source: IO[bytes], member: Member, owner: Optional[Tuple[int, int]],
                chunk: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as out:
        remaining = member.size
        while True:
            block = source.read(chunk)
            if not block:
                break
            out.write(block)
            remaining -= len(block)
        if remaining != 0:
            raise UnsafeArchiveError("member %s is shorter than its header says" % member.path)
        out.flush()
        if owner is not None:
            os.fchown(out.fileno(), owner[0], owner[1])
        os.fchmod(out.fileno(), member.mode)


def _set_mtime(path: str, mtime: int) -> None:
    try:
        if os.utime in os.supports_follow_symlinks:
            os.utime(path, (mtime, mtime), follow_symlinks=False)
        elif not os.path.islink(path):
            os.utime(path, (mtime, mtime))
    except OSError:
        pass
