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
the archive are ignored. It decompresses the file again and copies each file member's bytes from
the offset the scan found; the headers are not parsed a second time. The sha256 of the whole file
must be the one the scan computed, otherwise the staging directory is refused (nothing placed), so
the file cannot change between the check and the write.

Both passes decompress in a background thread (zlib, bz2, lzma and hashlib release the GIL), so
decompression overlaps parsing in the scan and writing in the extraction.
"""
from __future__ import annotations

import bz2
import hashlib
import os
import posixpath
import queue
import stat
import tarfile
import threading
import zlib
from dataclasses import dataclass
from typing import (
    Any,
    BinaryIO,
    Callable,
    Dict,
    Generator,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from ..errors import PkgsrcError, UnsafeArchiveError
from ..fsutil import is_within
from .download import hash_file

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
    offset: int = 0  # where a file's data starts in the decompressed archive


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


_STREAM_ERRORS = (OSError, EOFError, zlib.error) + ((lzma.LZMAError,) if lzma is not None else ())


class _Inflater:
    """The decompressed bytes of an open file, in blocks, hashing the file's own bytes (sha256).

    gzip, bzip2 and xz files may hold several streams one after another; a gzip file may end in
    zero padding, a bzip2 or xz file in data that is not a stream (as Python's own readers
    accept). A file that ends inside a stream raises EOFError (a truncated kit). At most `block`
    bytes come out of one call, so a small compressed bomb cannot fill memory.
    """

    def __init__(self, handle: BinaryIO, compression: str, block: int = 1 << 20) -> None:
        self.handle = handle
        self.compression = compression
        self.block = block
        self.hasher = hashlib.sha256()

    def _engine(self) -> Any:
        if self.compression == "gz":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.compression == "bz2":
            return bz2.BZ2Decompressor()
        if lzma is None:
            raise PkgsrcError("this Python has no lzma module, so it cannot read an xz kit",
                              "use a gzip kit or a Python built with lzma")
        return lzma.LZMADecompressor()

    def _read(self) -> bytes:
        data = self.handle.read(self.block)
        self.hasher.update(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        if not self.compression:
            return iter(self._read, b"")
        return self._inflate()

    def _inflate(self) -> Iterator[bytes]:
        gz = self.compression == "gz"
        engine, later = self._engine(), False
        feed = self._read()
        while True:
            try:
                out = engine.decompress(feed, self.block)
            except _STREAM_ERRORS:
                if gz or not later:
                    raise
                while self._read():  # trailing data that is not a stream: hashed, not read
                    pass
                return
            later = False
            if out:
                yield out
            if engine.eof:
                feed = engine.unused_data
                while True:
                    if gz:
                        feed = feed.lstrip(b"\0")
                    if feed:
                        break
                    feed = self._read()
                    if not feed:
                        return
                engine, later = self._engine(), True
                continue
            feed = engine.unconsumed_tail if gz else b""
            if feed or not (gz or engine.needs_input):
                continue  # more output from the input already given
            feed = self._read()
            if not feed and not out:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")


_Item = TypeVar("_Item")


def _ahead(items: Iterable[_Item], depth: int = 4) -> Generator[_Item, None, None]:
    """Iterate items in a background thread, up to depth of them ahead of the consumer.

    The producer's exceptions are raised in the consumer; closing this generator stops and
    joins the thread, so the file it reads may be closed afterwards.
    """
    slots: "queue.Queue[Tuple[int, Any]]" = queue.Queue(depth)
    stop = threading.Event()

    def put(kind: int, value: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put((kind, value), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(0, item):
                    return
        except BaseException as exc:  # noqa: B036 - raised again in the consumer  # pylint: disable=broad-except
            put(2, exc)
            return
        put(1, None)

    thread = threading.Thread(target=produce, name="pkgsrc-inflate", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == 0:
                yield value
            elif kind == 1:
                return
            else:
                raise value
    finally:
        stop.set()
        thread.join()


class _TooLarge(Exception):
    """More decompressed bytes than the limit."""


class _ReadFailed(Exception):
    """The archive could not be read: corrupt, truncated, or not where the scan left it."""


class _Bytes:
    """Forward-only reading over blocks: read, skip, seek forward, tell; remembers the last read.

    Skipping drops blocks without copying them; views() hands out slices of the blocks as they
    are, for writing them straight into files.
    """

    def __init__(self, blocks: Iterator[bytes], limit: Optional[int] = None) -> None:
        self.blocks = blocks
        self.limit = limit
        self.produced = 0
        self.view = memoryview(b"")
        self.at = 0
        self.pos = 0
        self.last_pos = -1
        self.last_data = b""

    def _available(self) -> int:
        while self.at >= len(self.view):
            try:
                block = next(self.blocks, None)
            except _STREAM_ERRORS as err:
                raise _ReadFailed("%s (%s)" % (err.__class__.__name__, err)) from None
            if block is None:
                return 0
            self.produced += len(block)
            if self.limit is not None and self.produced > self.limit:
                raise _TooLarge()
            self.view, self.at = memoryview(block), 0
        return len(self.view) - self.at

    def views(self, count: int) -> Iterator[memoryview]:
        """Up to count bytes as slices of the blocks (fewer only at the end of the stream)."""
        while count > 0:
            size = min(count, self._available())
            if not size:
                return
            piece = self.view[self.at:self.at + size]
            self.at += size
            self.pos += size
            count -= size
            yield piece

    def read(self, size: int = -1) -> bytes:
        data = b"".join(self.views(size if size >= 0 else 1 << 62))
        self.last_pos, self.last_data = self.pos - len(data), data
        return data

    def skip(self, count: int) -> int:
        """Drop up to count bytes; returns how many there were."""
        return sum(len(piece) for piece in self.views(count))

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self.pos
        elif whence != 0:
            raise OSError("cannot seek from the end of a compressed stream")
        if pos < self.pos:
            raise OSError("cannot seek backwards in a compressed stream")
        self.skip(pos - self.pos)
        return self.pos

    def tell(self) -> int:
        return self.pos


# What tarfile and _Bytes can raise over a bad stream (decompression errors arrive as _ReadFailed).
_CORRUPT = (EOFError, OSError, tarfile.TarError, ValueError)


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
    inflater = _Inflater(handle, compression)
    blocks = _ahead(inflater)
    stream = _Bytes(blocks, limit=max_bytes)
    try:
        try:
            with tarfile.open(fileobj=stream, mode="r:") as tar:  # type: ignore[call-overload]
                infos = tar.getmembers()
                end = tar.offset
            if stream.last_pos == end and len(stream.last_data) >= _BLOCK:
                marker = stream.last_data[:_BLOCK]
            elif stream.tell() <= end:
                stream.seek(end)
                marker = stream.read(_BLOCK)
            else:
                marker = b""
            while stream.skip(1 << 30):
                pass
            expanded = stream.tell()
        finally:
            blocks.close()
    except _TooLarge:
        raise _refuse(path, ["it expands to more than %d bytes" % max_bytes], "too large") from None
    except UnsafeArchiveError:
        raise
    except _ReadFailed as err:
        raise _refuse(path, [str(err)], "truncated or corrupt") from None
    except _CORRUPT as err:
        raise _refuse(path, ["%s (%s)" % (err.__class__.__name__, err)], "truncated or corrupt") from None
    problems = ["member %r runs past the end of the archive" % info.name
                for info in infos if info.isreg() and info.offset_data + info.size > expanded]
    if problems:
        raise _refuse(path, problems, "truncated or corrupt")
    if len(marker) < _BLOCK or marker.strip(b"\0"):
        raise _refuse(path, ["it has no end-of-archive marker after its last member"], "truncated or corrupt")
    if sum(info.size for info in infos if info.isreg()) > max_bytes:
        raise _refuse(path, ["it expands to more than %d bytes" % max_bytes], "too large")
    return compression, inflater.hasher.hexdigest(), infos, expanded


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
                        int(info.mtime), ancestor, info.offset_data if kind == "file" else 0)
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


def extract_archive(listing: Listing, dest: str, owner: Optional[Tuple[int, int]] = None, log: Log = None) -> int:
    """Write the scanned members into the empty directory dest; returns the number of files.

    Ancestor directories (e.g. opt/, var/db/) get mode 0755; every other member keeps its own
    permission bits; the owner is `owner` (uid, gid) when given, else the running user. If the
    archive is no longer the one scanned, UnsafeArchiveError: dest then holds only scanned paths
    (with whatever bytes were read) and must be discarded, as the bootstrap does.
    """
    if os.listdir(dest):
        raise PkgsrcError("staging directory %s is not empty" % dest, "remove it and run again")
    written = 0
    dirs: List[Member] = []
    with open(listing.path, "rb") as handle:
        inflater = _Inflater(handle, listing.compression)
        blocks = _ahead(inflater)
        stream = _Bytes(blocks)
        try:
            try:
                for member in listing.members:
                    target = dest + member.path
                    _mkdir_chain(dest, posixpath.dirname(member.path))
                    if member.kind == "dir":
                        _mkdir_chain(dest, member.path)
                        dirs.append(member)
                        continue
                    if member.kind == "file":
                        stream.skip(member.offset - stream.tell())
                        if stream.tell() != member.offset:
                            raise _ReadFailed("member %s is not where the scan found it" % member.path)
                        _write_file(target, stream.views(member.size), member, owner)
                        written += 1
                    elif member.kind == "symlink":
                        os.symlink(member.linkname, target)
                        if owner is not None:
                            os.lchown(target, owner[0], owner[1])
                    else:
                        os.link(dest + member.linkname, target, follow_symlinks=False)
                        written += 1
                    _set_mtime(target, member.mtime)
                while stream.skip(1 << 30):
                    pass
            finally:
                blocks.close()
        except _ReadFailed as err:
            if hash_file(listing.path).sha256.hexdigest() != listing.sha256:
                raise _changed(listing) from None
            raise UnsafeArchiveError("archive %s could not be read while extracting: %s" % (listing.path, err),
                                     "run again; if it persists, download the kit again") from None
    if inflater.hasher.hexdigest() != listing.sha256:
        raise _changed(listing)
    created = []
    for dirpath, dirnames, _files in os.walk(dest):
        for name in dirnames:
            created.append(os.path.join(dirpath, name))
    explicit = {dest + m.path: m for m in dirs}
    for host_dir in sorted(created, key=lambda p: p.count("/"), reverse=True):
        listed = explicit.get(host_dir)
        mode = 0o755 if listed is None or listed.ancestor else listed.mode
        if owner is not None:
            os.lchown(host_dir, owner[0], owner[1])
        os.chmod(host_dir, mode)
        if listed is not None:
            _set_mtime(host_dir, listed.mtime)
    if log:
        log("extracted %d files of %s into %s" % (written, listing.path, dest))
    return written


def _changed(listing: Listing) -> UnsafeArchiveError:
    return UnsafeArchiveError("archive %s changed after it was checked" % listing.path,
                              "run again; nothing was placed")


def _write_file(target: str, data: Iterable[memoryview], member: Member, owner: Optional[Tuple[int, int]]) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as out:
        remaining = member.size
        for piece in data:
            out.write(piece)
            remaining -= len(piece)
        if remaining != 0:
            raise _ReadFailed("member %s is shorter than its header says" % member.path)
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
