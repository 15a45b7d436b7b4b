"""Streaming pkg_summary(5) parser: the package list a binary repository publishes.

A summary is a sequence of records separated by one empty line; a record is `VARIABLE=value`
lines, and a variable with several values repeats `VARIABLE=` on each line (DESCRIPTION, DEPENDS,
REQUIRES, ...). Repositories publish it as pkg_summary.{zst,xz,bz2,gz}; `iter_summary` reads any
of them (detected by magic bytes, not by name) or plain text, one record at a time, in constant
memory.

Speed: a repository has about 25,000 records (tens of MB). Each record is checked for
well-formedness and its PKGNAME is read when it is yielded; the other variables are parsed from
the record's text the first time one of them is asked for, and kept. A planner looking at a few
hundred records out of 25,000 parses only those.

Decisions, for the record:
- Every line of a record must hold `=` (VARIABLE=value); any other line is an
  error naming the file and line. Runs of several empty lines count as one separator, a missing
  final empty line is fine, CRLF line ends are read as LF.
- Text is UTF-8; a line that is not valid UTF-8 is read as ISO-8859-1 (old DESCRIPTIONs), so
  nothing is lost or replaced and no record is refused for its encoding.
- A variable that repeats and is not one of the list variables (DEPENDS, CONFLICTS, REQUIRES,
  PROVIDES, SUPERSEDES) has its values joined by "\\n", as pkg_info's var_get does; DESCRIPTION is
  the usual case.
- The same PKGNAME twice in one summary: the index keeps the first record.
"""
from __future__ import annotations

import bz2
import lzma
import os
import re
import zlib
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cmp_to_key
from types import MappingProxyType
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    Generator,
    Iterable,
    Iterator,
    List,
    Mapping,
    NoReturn,
    Optional,
    Tuple,
    Type,
    Union,
)

from ..errors import PatternError, SummaryError
from ..fsutil import decode_lenient
from ..versions import best_match, compile_pattern, dewey_cmp, split_pkgname

__all__ = ["SummaryRecord", "SummaryIndex", "iter_summary", "index_summary", "LIST_VARIABLES"]

#: Variables whose lines form a list (a tuple attribute each) rather than one text value.
LIST_VARIABLES = ("DEPENDS", "CONFLICTS", "REQUIRES", "PROVIDES", "SUPERSEDES")

_READ_SIZE = 512 * 1024          # compressed bytes read at a time
_OUT_SIZE = 2 * 1024 * 1024      # most decompressed bytes produced per call (bounds memory)
_ZSTD_IN = 64 * 1024             # compressed bytes given to zstandard at a time
_MAX_RECORD = 16 * 1024 * 1024   # a "record" this large without an empty line is not a summary
# A line that is not empty and holds no "=": found with one C-level scan per block of records.
_BAD_LINE = re.compile(r"\n[^=\n]+\n")
# Every byte but newline and "=", for bytes.translate(None, delete).
_NOT_NL_OR_EQ = bytes(b for b in range(256) if b not in (0x0A, 0x3D))
_HINT_FETCH = "download it again (pkgin -f update), or check the repository"

Source = Union[str, "os.PathLike[str]", IO[bytes]]
# A compressed format: a factory of decompressor objects, the errors they raise on bad data, and
# how many compressed bytes to give one call (0: any number, the output is bounded instead).
_Format = Tuple[Callable[[], Any], Tuple[Type[BaseException], ...], int]


# ---------------------------------------------------------------------------------------------
# Records

@dataclass(frozen=True)
class _Parsed:
    """The variables of one record, parsed from its text (internal)."""

    fields: Mapping[str, str]
    lists: Mapping[str, Tuple[str, ...]]


def _parse_text(text: str) -> _Parsed:
    """Split a record's lines into variables; the lines were checked when the record was read."""
    scalars: Dict[str, str] = {}
    repeated: Dict[str, List[str]] = {}
    for line in text.split("\n"):
        key, _sep, value = line.partition("=")
        if key in scalars:
            values = repeated.get(key)
            if values is None:
                repeated[key] = [scalars[key], value]
            else:
                values.append(value)
        else:
            scalars[key] = value
    lists: Dict[str, Tuple[str, ...]] = {}
    for key in LIST_VARIABLES:
        if key in scalars:
            values = repeated.pop(key, None)
            lists[key] = tuple(values) if values is not None else (scalars[key],)
            del scalars[key]
    for key, values in repeated.items():
        scalars[key] = "\n".join(values)
    return _Parsed(MappingProxyType(scalars), MappingProxyType(lists))


def _int_or_none(text: Optional[str]) -> Optional[int]:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


@dataclass(frozen=True)
class SummaryRecord:
    """One package of a pkg_summary: its PKGNAME and every variable of its record.

    `text` is the record exactly as in the file (its lines joined by "\\n"). `fields` maps each
    variable to its value, except the list variables (DEPENDS, CONFLICTS, REQUIRES, PROVIDES,
    SUPERSEDES), which are the tuples `depends`, `conflicts`, ... (empty when absent). A variable
    over several lines (DESCRIPTION) has its lines joined by "\\n". Unknown variables are kept.
    """

    pkgname: str
    name: str
    version: str
    text: str = field(repr=False)

    def __getstate__(self) -> Dict[str, Any]:
        # the parsed cache (read-only mappings) is not pickled; it is rebuilt on demand
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def _parsed(self) -> _Parsed:
        parsed: Optional[_Parsed] = self.__dict__.get("_cache")
        if parsed is None:
            parsed = _parse_text(self.text)
            object.__setattr__(self, "_cache", parsed)
        return parsed

    @property
    def fields(self) -> Mapping[str, str]:
        """VARIABLE -> value for every variable but the list ones (read-only)."""
        return self._parsed().fields

    @property
    def depends(self) -> Tuple[str, ...]:
        """Dependency patterns (DEPENDS), e.g. ("libfoo>=2.0",)."""
        return self._parsed().lists.get("DEPENDS", ())

    @property
    def conflicts(self) -> Tuple[str, ...]:
        """Patterns of packages this one conflicts with (CONFLICTS)."""
        return self._parsed().lists.get("CONFLICTS", ())

    @property
    def requires(self) -> Tuple[str, ...]:
        """Shared libraries the package needs (REQUIRES)."""
        return self._parsed().lists.get("REQUIRES", ())

    @property
    def provides(self) -> Tuple[str, ...]:
        """Shared libraries the package installs (PROVIDES)."""
        return self._parsed().lists.get("PROVIDES", ())

    @property
    def supersedes(self) -> Tuple[str, ...]:
        """Patterns of packages this one replaces (SUPERSEDES)."""
        return self._parsed().lists.get("SUPERSEDES", ())

    def get(self, variable: str, default: Optional[str] = None) -> Optional[str]:
        """The value of any variable as text (list variables joined by "\\n"), or default."""
        parsed = self._parsed()
        if variable in parsed.lists:
            return "\n".join(parsed.lists[variable])
        return parsed.fields.get(variable, default)

    @property
    def comment(self) -> str:
        """The one-line COMMENT ("" if missing)."""
        return self.fields.get("COMMENT", "")

    @property
    def description(self) -> str:
        """DESCRIPTION, its lines joined by "\\n" ("" if missing)."""
        return self.fields.get("DESCRIPTION", "")

    @property
    def pkgpath(self) -> str:
        """PKGPATH, the package's place in the pkgsrc tree, e.g. devel/bmake ("" if missing)."""
        return self.fields.get("PKGPATH", "")

    @property
    def file_name(self) -> str:
        """The package file's name in the repository: FILE_NAME, by default PKGNAME.tgz."""
        return self.fields.get("FILE_NAME") or self.pkgname + ".tgz"

    @property
    def file_size(self) -> Optional[int]:
        """FILE_SIZE in bytes, or None when missing or not a number."""
        return _int_or_none(self.fields.get("FILE_SIZE"))

    @property
    def size_pkg(self) -> Optional[int]:
        """SIZE_PKG (installed size in bytes), or None when missing or not a number."""
        return _int_or_none(self.fields.get("SIZE_PKG"))


# ---------------------------------------------------------------------------------------------
# Reading: bytes from any of the formats, then blocks of whole records

def _source_name(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


def _zstd() -> Any:
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard


def _format(head: bytes, source: str) -> Optional[_Format]:
    """From the first bytes: (decompressor factory, its error types), or None for plain text."""
    if head.startswith(b"\x1f\x8b"):
        return (lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)), (zlib.error,), 0
    if head.startswith(b"BZh"):
        return bz2.BZ2Decompressor, (OSError, EOFError, ValueError), 0
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMADecompressor, (lzma.LZMAError, EOFError), 0
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        zstandard = _zstd()
        if zstandard is None:
            raise SummaryError("is compressed with zstd, and the Python module zstandard is not installed",
                               source, 0, "install python zstandard (pip install zstandard), or use the "
                               "repository's pkg_summary.xz or pkg_summary.gz")
        # zstandard takes no output bound: small inputs keep each output small
        return (lambda: zstandard.ZstdDecompressor().decompressobj()), (zstandard.ZstdError,), _ZSTD_IN
    return None


def _unpack(decomp: Any, data: bytes) -> Iterator[bytes]:
    """Feed data to a decompressor, yielding its output in bounded pieces."""
    if isinstance(decomp, _ZLIB_TYPE):
        while True:
            out = decomp.decompress(data, _OUT_SIZE)
            if out:
                yield out
            data = decomp.unconsumed_tail
            if not data and len(out) < _OUT_SIZE:
                return
    elif isinstance(decomp, (bz2.BZ2Decompressor, lzma.LZMADecompressor)):
        out = decomp.decompress(data, _OUT_SIZE)
        while True:
            if out:
                yield out
            if decomp.eof or decomp.needs_input:
                return
            out = decomp.decompress(b"", _OUT_SIZE)
    else:  # zstandard
        out = decomp.decompress(data)
        if out:
            yield out


_ZLIB_TYPE = type(zlib.decompressobj())


def _read(stream: IO[bytes], source: str) -> bytes:
    try:
        data = stream.read(_READ_SIZE)
    except OSError as exc:
        raise SummaryError("cannot be read (%s)" % (exc.strerror or exc), source, 0, _HINT_FETCH) from exc
    if not isinstance(data, bytes):
        raise SummaryError("was opened in text mode", source, 0, "open the file in binary mode ('rb')")
    return data


def _chunks(stream: IO[bytes], source: str) -> Generator[bytes, None, None]:
    """Raw file -> decompressed bytes, whatever the format (several members/streams allowed)."""
    data = _read(stream, source)
    while 0 < len(data) < 8:  # a stream may give short reads: get enough for the magic bytes
        more = _read(stream, source)
        if not more:
            break
        data += more
    fmt = _format(data[:8], source)
    if fmt is None:
        while data:
            yield data
            data = _read(stream, source)
        return
    yield from _decompressed(stream, source, data, fmt)


def _decompressed(stream: IO[bytes], source: str, data: bytes,
                  fmt: _Format) -> Iterator[bytes]:
    factory, errors, in_limit = fmt
    kind = os.path.basename(source) if source != "<stream>" else "the compressed summary"
    decomp = factory()
    while data:
        if decomp.eof:
            if not data.strip(b"\x00"):   # zero padding after the last stream
                data = _read(stream, source)
                continue
            decomp = factory()             # another member or stream (concatenation is allowed)
        if in_limit:
            data, rest = data[:in_limit], data[in_limit:]
        else:
            rest = b""
        try:
            yield from _unpack(decomp, data)
        except errors as exc:
            raise SummaryError("%s is corrupt (%s)" % (kind, exc), source, 0, _HINT_FETCH) from exc
        data = (decomp.unused_data + rest) if decomp.eof else rest
        if not data:
            data = _read(stream, source)
    if not decomp.eof:
        raise SummaryError("%s is truncated: the compressed data ends before its end marker" % kind,
                           source, 0, _HINT_FETCH)


_decode = decode_lenient


def _blocks(stream: IO[bytes], source: str) -> Generator[Tuple[str, int, int], None, None]:
    """Decompressed bytes -> blocks of whole records: (text, its first line's number, lines
    without "=" in it). The last count comes from a byte-level pass that keeps only newlines
    and "=" signs: it lets _records check every line without looking at each one in Python."""
    tail = b""
    line = 1
    chunks = _chunks(stream, source)
    try:
        for piece in chunks:
            if b"\x00" in piece:
                raise SummaryError("holds binary data (NUL bytes): this is not a pkg_summary file", source,
                                   line + tail.count(b"\n") + piece.count(b"\n", 0, piece.index(b"\x00")),
                                   "point at pkg_summary.{gz,bz2,xz,zst} or the plain text summary")
            data = tail + piece if tail else piece
            if line == 1 and data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
                data = data[3:]
            if b"\r" in data:
                data = data.replace(b"\r\n", b"\n")
            cut = data.rfind(b"\n\n")
            if cut < 0:
                if len(data) > _MAX_RECORD:
                    raise SummaryError("has no empty line in %d MB: this is not a pkg_summary file"
                                       % (_MAX_RECORD // (1024 * 1024)), source, line,
                                       "point at pkg_summary.{gz,bz2,xz,zst} or the plain text summary")
                tail = data
                continue
            tail = data[cut + 2:]
            text, newlines, no_eq = _block(data[:cut])
            yield text, line, no_eq
            line += newlines + 2
    finally:
        chunks.close()
    if tail.strip(b"\n"):
        text, _newlines, no_eq = _block(tail.rstrip(b"\n"))
        yield text, line, no_eq


def _block(block: bytes) -> Tuple[str, int, int]:
    """(decoded text, its newlines, its lines without "=")."""
    skeleton = block.translate(None, _NOT_NL_OR_EQ)
    newlines = skeleton.count(b"\n")
    no_eq = newlines + 1 - skeleton.count(b"=\n") - skeleton.endswith(b"=")
    return _decode(block), newlines, no_eq


def _check_lines(text: str, line: int, source: str) -> None:
    """Find the line of a block that is neither empty nor VARIABLE=value, and raise for it."""
    first_end = text.find("\n")
    candidates = [0] if "=" not in (text if first_end < 0 else text[:first_end]) else []
    bad = _BAD_LINE.search(text)
    if bad is not None:
        candidates.append(bad.start() + 1)
    last = text.rfind("\n") + 1
    if last and "=" not in text[last:]:
        candidates.append(last)
    for pos in sorted(candidates):
        end = text.find("\n", pos)
        bad_text = text[pos:] if end < 0 else text[pos:end]
        if bad_text:
            shown = bad_text if len(bad_text) <= 60 else bad_text[:57] + "..."
            raise SummaryError("line %r is not VARIABLE=value" % (shown,), source,
                               line + text.count("\n", 0, pos), _HINT_FETCH)


def _record_line(text: str, parts: List[str], index: int, line: int) -> int:
    """The line number where parts[index] starts (used on error paths only)."""
    offset = 0
    for part in parts[:index]:
        offset += len(part) + 2
    return line + text.count("\n", 0, offset) + (len(parts[index]) - len(parts[index].lstrip("\n")))


def _records(text: str, line: int, no_eq: int, source: str) -> List[SummaryRecord]:
    """The records of one block of text (whole records), checked."""
    parts = text.split("\n\n")
    if no_eq != len(parts) - 1:
        # Lines without "=" are at least the len(parts) - 1 separators; more means extra empty
        # lines (fine) or a line that is not VARIABLE=value (an error): look line by line.
        _check_lines(text, line, source)
    out: List[SummaryRecord] = []
    append = out.append
    record = SummaryRecord
    new = object.__new__
    for index, part in enumerate(parts):
        if part.startswith("PKGNAME="):
            start = 8
        else:
            if not part or part[0] == "\n":  # more than one empty line between records
                part = part.lstrip("\n")
                if not part:
                    continue
            start = 8 if part.startswith("PKGNAME=") else part.find("\nPKGNAME=") + 9
            if start == 8 and not part.startswith("PKGNAME="):
                raise SummaryError("record has no PKGNAME line", source, _record_line(text, parts, index, line),
                                   "every record needs PKGNAME=name-version; " + _HINT_FETCH)
        end = part.find("\n", start)
        pkgname = part[start:] if end < 0 else part[start:end]
        # split_pkgname's rule, inlined for speed; split_pkgname itself words the error
        name, _sep, version = pkgname.rpartition("-")
        if not name or not version:
            hint = "give PKGNAME as name-version, e.g. foo-1.2nb1"
            try:
                split_pkgname(pkgname)
            except PatternError as exc:
                hint = exc.hint or hint
            where = _record_line(text, parts, index, line) + part.count("\n", 0, start)
            raise SummaryError("PKGNAME %r has no version" % (pkgname,), source, where, hint)
        rec = new(record)
        rec.__dict__.update(pkgname=pkgname, name=name, version=version, text=part)  # = record(...), faster
        append(rec)
    expected = text.count("\nPKGNAME=") + (1 if text.startswith("PKGNAME=") else 0)
    if expected != len(out):
        _raise_double_pkgname(text, parts, line, source)
    return out


def _raise_double_pkgname(text: str, parts: List[str], line: int, source: str) -> NoReturn:
    for index, part in enumerate(parts):
        body = "\n" + part.lstrip("\n")
        first = body.find("\nPKGNAME=")
        second = body.find("\nPKGNAME=", first + 1)
        if second >= 0:
            where = _record_line(text, parts, index, line) + body.count("\n", 0, second)
            raise SummaryError("a second PKGNAME in one record: the empty line between two records is missing",
                               source, where, _HINT_FETCH)
    raise SummaryError("records and PKGNAME lines do not pair up", source, line, _HINT_FETCH)


def iter_summary(source: Source) -> Iterator[SummaryRecord]:
    """Yield the records of a pkg_summary file, in file order, one at a time.

    `source` is a path (str or os.PathLike) or a binary file object; gzip, bzip2, xz and zstd
    (zstd with the optional `zstandard` module) are recognised by their magic bytes, anything else
    is read as plain text. Raises SummaryError, naming the file and line, on a malformed record, a
    truncated or corrupt compressed file, or a file that cannot be read.
    """
    name = _source_name(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            stream: IO[bytes] = open(source, "rb")
        except OSError as exc:
            raise SummaryError("cannot be read (%s)" % (exc.strerror or exc), name, 0,
                               "check the path and its permissions, or run pkgin update") from exc
    else:
        stream = source
    blocks = _blocks(stream, name)
    try:
        for text, line, no_eq in blocks:
            yield from _records(text, line, no_eq, name)
    finally:
        blocks.close()
        if stream is not source:
            stream.close()


# ---------------------------------------------------------------------------------------------
# The index

_PATTERN_CHARS = "{}<>*?[]\\"


def _literal_prefix(pattern: str) -> str:
    for i, ch in enumerate(pattern):
        if ch in _PATTERN_CHARS:
            return pattern[:i]
    return pattern


def _literal_prefixes(pattern: str) -> List[str]:
    """Literal texts one of which starts every PKGNAME the pattern can match.

    Alternatives are expanded ({a,b}-[0-9]* gives "a-" and "b-"); "" means any PKGNAME.
    """
    prefix = _literal_prefix(pattern)
    at = len(prefix)
    if at == len(pattern) or pattern[at] != "{":
        return [prefix]
    depth = 0
    starts = [at + 1]
    for i in range(at, len(pattern)):
        ch = pattern[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                rest = pattern[i + 1:]
                bounds = zip(starts, [j - 1 for j in starts[1:]] + [i])
                out: List[str] = []
                for begin, end in bounds:
                    out.extend(_literal_prefixes(prefix + pattern[begin:end] + rest))
                    if len(out) > 64:
                        return [prefix]
                return out
        elif ch == "," and depth == 1:
            starts.append(i + 1)
    return [prefix]  # unbalanced: compile_pattern refuses it anyway


class SummaryIndex:
    """Records of a summary by PKGNAME and by name, and lookups by pkg_install pattern.

    `versions(name)` lists a name's records from the lowest version to the highest (dewey order);
    `find(pattern)` every record whose PKGNAME matches, `best(pattern)` the one pkg_add would pick
    (highest version). A PKGNAME listed twice keeps its first record; `duplicates` counts the others.
    """

    def __init__(self, records: Iterable[SummaryRecord]) -> None:
        by_pkgname: Dict[str, SummaryRecord] = {}
        by_name: Dict[str, List[SummaryRecord]] = {}
        duplicates = 0
        for rec in records:
            if rec.pkgname in by_pkgname:
                duplicates += 1
                continue
            by_pkgname[rec.pkgname] = rec
            group = by_name.get(rec.name)
            if group is None:
                by_name[rec.name] = [rec]
            else:
                group.append(rec)
        self._by_pkgname = by_pkgname
        self._by_name: Dict[str, Tuple[SummaryRecord, ...]] = {}
        for name, group in by_name.items():
            if len(group) > 1:
                group.sort(key=_record_order)
            self._by_name[name] = tuple(group)
        self._sorted: List[str] = sorted(by_pkgname)
        self.duplicates = duplicates

    def __len__(self) -> int:
        return len(self._by_pkgname)

    def __iter__(self) -> Iterator[SummaryRecord]:
        return iter(self._by_pkgname.values())

    def __contains__(self, pkgname: object) -> bool:
        return pkgname in self._by_pkgname

    def get(self, pkgname: str) -> Optional[SummaryRecord]:
        """The record of an exact PKGNAME, or None."""
        return self._by_pkgname.get(pkgname)

    def names(self) -> List[str]:
        """Every package name (without version), sorted."""
        return sorted(self._by_name)

    def versions(self, name: str) -> Tuple[SummaryRecord, ...]:
        """The records of one package name, lowest version first (empty if unknown)."""
        return self._by_name.get(name, ())

    def _candidates(self, pattern: str) -> List[str]:
        """PKGNAMEs that may match: those starting with one of the pattern's literal prefixes."""
        names = self._sorted
        found: Dict[str, None] = {}
        for prefix in _literal_prefixes(pattern):
            if not prefix:
                return names
            start = bisect_left(names, prefix)
            found.update(dict.fromkeys(names[start:bisect_left(names, prefix + "\U0010ffff", start)]))
        return list(found)

    def find(self, pattern: str) -> List[SummaryRecord]:
        """Every record whose PKGNAME matches the pattern, by name then lowest version first.

        Raises PatternError on a malformed pattern.
        """
        matches = compile_pattern(pattern)
        found = [self._by_pkgname[p] for p in self._candidates(pattern) if matches(p)]
        found.sort(key=lambda rec: (rec.name, _record_order(rec)))
        return found

    def best(self, pattern: str) -> Optional[SummaryRecord]:
        """The record pkg_add would choose for the pattern (highest version), or None."""
        pkgname = best_match(pattern, self._candidates(pattern))
        return None if pkgname is None else self._by_pkgname[pkgname]


def _compare_versions(left: SummaryRecord, right: SummaryRecord) -> int:
    return dewey_cmp(left.version, right.version)


_record_order = cmp_to_key(_compare_versions)


def index_summary(source: Source) -> SummaryIndex:
    """Read a whole pkg_summary (see iter_summary) into a SummaryIndex."""
    return SummaryIndex(iter_summary(source))
