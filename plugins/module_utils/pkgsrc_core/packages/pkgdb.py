"""The installed packages, read straight from the package database (PKG_DBDIR), no process run.

PKG_DBDIR holds one directory per installed package, named PKGNAME, with the package's metadata
files: +CONTENTS (packing list), +COMMENT, +BUILD_INFO (KEY=value lines), +SIZE_PKG, +SIZE_ALL,
and when they apply +INSTALLED_INFO (`automatic=yes` for packages pulled in as dependencies) and
+REQUIRED_BY (one PKGNAME per line). Anything else at the top (pkgdb.byfile.db,
pkg-vulnerabilities, lock files, a directory without +CONTENTS) is not a package and is skipped.

Decisions, for the record:
- A PKG_DBDIR that does not exist is an empty database (pkgsrc not bootstrapped there yet); one
  that exists but cannot be read raises PkgdbError.
- Values of a KEY repeated in +BUILD_INFO (REQUIRES, PROVIDES, ...) are joined by "\\n", which is
  what `pkg_info -Q KEY` prints (pkg_install's var_get); `build_info_list(KEY)` splits them again.
- Only +COMMENT, +CONTENTS, +BUILD_INFO, +SIZE_PKG, +SIZE_ALL, +INSTALLED_INFO and +REQUIRED_BY are
  read; +CONTENTS is scanned for @pkgdep/@pkgcfl lines only. `read_contents` parses a package's
  whole packing list when its files are wanted.
- Files are UTF-8; a line that is not is read as ISO-8859-1 rather than refused.
"""
from __future__ import annotations

import errno
import os
import posixpath
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from functools import cmp_to_key
from types import MappingProxyType
from typing import Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Tuple, Union

from ..errors import PatternError, PkgdbError
from ..fsutil import decode_lenient
from ..versions import best_match, compile_pattern, dewey_cmp, split_pkgname

__all__ = ["InstalledPackage", "Pkgdb", "PlistFile", "PackingList", "read_pkgdb", "read_contents",
           "parse_contents", "parse_build_info"]


_text = decode_lenient


def _var_get(text: str, variable: str) -> Optional[str]:
    """The value of VARIABLE in KEY=value text, as pkg_install's var_get gives it.

    The name must match exactly; one space after "=" is skipped; a repeated variable gives its
    values joined by "\\n"; None when absent.
    """
    values = []
    prefix = variable + "="
    for line in text.split("\n"):
        if line.startswith(prefix):
            value = line[len(prefix):]
            values.append(value[1:] if value.startswith(" ") else value)
    return "\n".join(values) if values else None


def parse_build_info(text: str) -> Dict[str, str]:
    """+BUILD_INFO text -> {KEY: value}; a repeated KEY has its values joined by "\\n" (var_get)."""
    info: Dict[str, str] = {}
    for line in text.split("\n"):
        key, sep, value = line.partition("=")
        if not sep or not key:
            continue
        if value.startswith(" "):
            value = value[1:]
        info[key] = info[key] + "\n" + value if key in info else value
    return info


def _directive_args(text: str, directive: str) -> Tuple[str, ...]:
    """Arguments of every `@directive arg` line, found without splitting the text into lines."""
    marker = directive + " "
    found = []
    pos = text.find(marker)
    while pos >= 0:
        if pos == 0 or text[pos - 1] == "\n":
            end = text.find("\n", pos)
            found.append((text[pos + len(marker):] if end < 0 else text[pos + len(marker):end]).strip())
        pos = text.find(marker, pos + len(marker))
    return tuple(arg for arg in found if arg)


def _int_or_none(text: Optional[str]) -> Optional[int]:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


@dataclass(frozen=True)
class InstalledPackage:
    """One installed package, from its directory in PKG_DBDIR.

    `depends` are the @pkgdep patterns of +CONTENTS, `conflicts` its @pkgcfl patterns,
    `required_by` the PKGNAMEs in +REQUIRED_BY, `automatic` whether +INSTALLED_INFO says
    automatic=yes (pulled in as a dependency), `build_info` the +BUILD_INFO variables.
    """

    pkgname: str
    name: str
    version: str
    comment: str
    automatic: bool
    depends: Tuple[str, ...]
    conflicts: Tuple[str, ...]
    required_by: Tuple[str, ...]
    build_info: Mapping[str, str]
    size_pkg: Optional[int]
    size_all: Optional[int]
    preserve: bool
    path: str = field(compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.build_info, MappingProxyType):
            object.__setattr__(self, "build_info", MappingProxyType(dict(self.build_info)))

    def __hash__(self) -> int:
        return hash(self.pkgname)

    def __reduce__(self) -> Any:
        # build_info is a read-only mapping, which cannot be pickled: hand over a dict instead
        values = tuple(dict(self.build_info) if f.name == "build_info" else getattr(self, f.name)
                       for f in dataclass_fields(self))
        return (type(self), values)

    @property
    def pkgpath(self) -> str:
        """PKGPATH from +BUILD_INFO, e.g. pkgtools/pkgin ("" when missing)."""
        return self.build_info.get("PKGPATH", "")

    def build_info_list(self, key: str) -> Tuple[str, ...]:
        """A +BUILD_INFO variable's values as a tuple (REQUIRES, PROVIDES, ...)."""
        value = self.build_info.get(key)
        return tuple(value.split("\n")) if value is not None else ()


class Pkgdb:
    """The installed packages of one PKG_DBDIR: by PKGNAME, by name, and by pattern.

    `packages` keeps directory order, which is the order `pkg_info` lists them in.
    """

    def __init__(self, dbdir: str, packages: Mapping[str, InstalledPackage], exists: bool = True) -> None:
        self.dbdir = dbdir
        self.exists = exists
        self.packages: Mapping[str, InstalledPackage] = MappingProxyType(dict(packages))
        by_name: Dict[str, List[InstalledPackage]] = {}
        for pkg in self.packages.values():
            by_name.setdefault(pkg.name, []).append(pkg)
        self._by_name = by_name

    def __len__(self) -> int:
        return len(self.packages)

    def __iter__(self) -> Iterator[InstalledPackage]:
        return iter(self.packages.values())

    def __contains__(self, pkgname: object) -> bool:
        return pkgname in self.packages

    def __repr__(self) -> str:
        return "Pkgdb(%r, %d packages)" % (self.dbdir, len(self.packages))

    def get(self, name_or_pkgname: str) -> Optional[InstalledPackage]:
        """The package of that PKGNAME, or of that name (its highest version if several), or None."""
        pkg = self.packages.get(name_or_pkgname)
        if pkg is not None:
            return pkg
        group = self._by_name.get(name_or_pkgname)
        if not group:
            return None
        return max(group, key=_by_version)

    def names(self) -> List[str]:
        """The installed package names (without versions), sorted."""
        return sorted(self._by_name)

    def find(self, pattern: str) -> List[InstalledPackage]:
        """Installed packages matching a pkg_install pattern, in directory order (`pkg_info -e`)."""
        matches = compile_pattern(pattern)
        return [pkg for pkg in self.packages.values() if matches(pkg.pkgname)]

    def best(self, pattern: str) -> Optional[InstalledPackage]:
        """The best installed match of a pattern, highest version (`pkg_info -E`), or None."""
        pkgname = best_match(pattern, self.packages)
        return None if pkgname is None else self.packages[pkgname]

    def automatic(self) -> List[InstalledPackage]:
        """Packages installed as dependencies (what `pkgin show-no-keep` lists)."""
        return [pkg for pkg in self.packages.values() if pkg.automatic]

    def user_installed(self) -> List[InstalledPackage]:
        """Packages installed on purpose (`pkg_info -u`, `pkgin show-keep`)."""
        return [pkg for pkg in self.packages.values() if not pkg.automatic]


def _compare_versions(left: InstalledPackage, right: InstalledPackage) -> int:
    return dewey_cmp(left.version, right.version)


_by_version = cmp_to_key(_compare_versions)

_WANTED = ("+COMMENT", "+BUILD_INFO", "+SIZE_PKG", "+SIZE_ALL", "+INSTALLED_INFO", "+REQUIRED_BY")


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return _text(handle.read())
    except OSError as exc:
        raise PkgdbError("cannot read %s (%s)" % (path, exc.strerror or exc),
                         _access_hint(exc)) from exc


def _access_hint(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "run as the user that owns the package database (root for a system prefix)"
    return "check PKG_DBDIR; `pkg_admin check` reports a damaged package database"


def _read_package(path: str, pkgname: str, name: str, version: str, present: FrozenSet[str]) -> InstalledPackage:
    texts = {meta: _read(os.path.join(path, meta)) for meta in _WANTED if meta in present}
    contents = _read(os.path.join(path, "+CONTENTS"))
    comment_lines = texts.get("+COMMENT", "").strip("\n").split("\n")
    automatic = _var_get(texts.get("+INSTALLED_INFO", ""), "automatic")
    required_by = tuple(line.strip() for line in texts.get("+REQUIRED_BY", "").split("\n") if line.strip())
    return InstalledPackage(
        pkgname=pkgname, name=name, version=version,
        comment=comment_lines[0].strip(),
        automatic=automatic is not None and automatic.lower() == "yes",
        depends=_directive_args(contents, "@pkgdep"),
        conflicts=_directive_args(contents, "@pkgcfl"),
        required_by=required_by,
        build_info=parse_build_info(texts.get("+BUILD_INFO", "")),
        size_pkg=_int_or_none(texts.get("+SIZE_PKG")),
        size_all=_int_or_none(texts.get("+SIZE_ALL")),
        preserve="+PRESERVE" in present,
        path=path,
    )


def read_pkgdb(dbdir: Union[str, "os.PathLike[str]"]) -> Pkgdb:
    """Read every installed package of a PKG_DBDIR.

    A directory that does not exist gives an empty Pkgdb (with exists False). Raises PkgdbError
    when the directory or a package's metadata cannot be read.
    """
    top = os.fspath(dbdir)
    found: Dict[str, InstalledPackage] = {}
    try:
        entries = list(os.scandir(top))
    except FileNotFoundError:
        return Pkgdb(top, {}, exists=False)
    except NotADirectoryError as exc:
        raise PkgdbError("PKG_DBDIR %s is not a directory" % top,
                         "point PKG_DBDIR at the package database directory (e.g. /opt/local/pkg)") from exc
    except OSError as exc:
        raise PkgdbError("cannot read the package database %s (%s)" % (top, exc.strerror or exc),
                         _access_hint(exc)) from exc
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if not entry.is_dir():
                continue
            present = frozenset(os.listdir(entry.path))
        except OSError as exc:
            raise PkgdbError("cannot read %s (%s)" % (entry.path, exc.strerror or exc),
                             _access_hint(exc)) from exc
        if "+CONTENTS" not in present:
            continue
        try:
            name, version = split_pkgname(entry.name)
        except PatternError:
            continue  # not named PKGNAME: not something pkg_install made
        found[entry.name] = _read_package(entry.path, entry.name, name, version, present)
    return Pkgdb(top, found)


# ---------------------------------------------------------------------------------------------
# Packing lists (+CONTENTS)

@dataclass(frozen=True)
class PlistFile:
    """A file of a packing list, with the @cwd, @mode, @owner and @group in effect for it."""

    path: str
    cwd: str
    md5: Optional[str] = None
    symlink: Optional[str] = None
    mode: Optional[str] = None
    owner: Optional[str] = None
    group: Optional[str] = None

    @property
    def full_path(self) -> str:
        """The installed path: @cwd joined with the listed path."""
        return posixpath.join(self.cwd, self.path) if self.cwd else self.path


@dataclass(frozen=True)
class PackingList:
    """A parsed +CONTENTS.

    `files` are the entries that get installed; `ignored` those after @ignore (the package's own
    +COMMENT, +DESC, ... in a package file). `comments` are free @comment lines (MD5: and
    Symlink: comments are attributes of the file before them). Unknown directives are kept in
    `other` as (directive, argument) pairs.
    """

    name: Optional[str]
    cwd: Optional[str]
    files: Tuple[PlistFile, ...]
    ignored: Tuple[str, ...]
    pkgdeps: Tuple[str, ...]
    blddeps: Tuple[str, ...]
    conflicts: Tuple[str, ...]
    comments: Tuple[str, ...]
    exec: Tuple[str, ...]
    unexec: Tuple[str, ...]
    dirrm: Tuple[str, ...]
    options: Tuple[str, ...]
    display: Optional[str]
    other: Tuple[Tuple[str, str], ...]


_LISTS = {"pkgdep": "pkgdeps", "blddep": "blddeps", "pkgcfl": "conflicts", "exec": "exec",
          "unexec": "unexec", "dirrm": "dirrm", "option": "options"}


def parse_contents(text: str) -> PackingList:
    """Parse packing-list text (+CONTENTS) as pkg_install reads it."""
    lists: Dict[str, List[str]] = {key: [] for key in _LISTS.values()}
    files: List[PlistFile] = []
    ignored: List[str] = []
    comments: List[str] = []
    other: List[Tuple[str, str]] = []
    name: Optional[str] = None
    first_cwd: Optional[str] = None
    display: Optional[str] = None
    cwd = ""
    attrs: Dict[str, Optional[str]] = {"mode": None, "owner": None, "group": None}
    ignore_next = False
    last_was_file = False
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if not line.startswith("@"):
            if ignore_next:
                ignored.append(line)
                ignore_next = False
                last_was_file = False
            else:
                files.append(PlistFile(line, cwd, mode=attrs["mode"], owner=attrs["owner"], group=attrs["group"]))
                last_was_file = True
            continue
        words = line[1:].split(None, 1)
        directive = words[0] if words else ""
        arg = words[1].strip() if len(words) > 1 else ""
        if directive == "comment":
            kind, sep, value = arg.partition(":")
            if sep and last_was_file and kind in ("MD5", "Symlink"):
                key = "md5" if kind == "MD5" else "symlink"
                files[-1] = replace(files[-1], **{key: value})
            else:
                comments.append(arg)
            continue
        last_was_file = False
        if directive in ("cwd", "cd"):
            cwd = arg
            if first_cwd is None:
                first_cwd = arg
        elif directive == "name":
            name = arg
        elif directive in ("ignore", "ignore_inst"):
            ignore_next = True
        elif directive in attrs:
            attrs[directive] = arg or None
        elif directive == "display":
            display = arg
        elif directive in _LISTS:
            lists[_LISTS[directive]].append(arg)
        else:
            other.append((directive, arg))
    return PackingList(
        name=name, cwd=first_cwd, files=tuple(files), ignored=tuple(ignored),
        pkgdeps=tuple(lists["pkgdeps"]), blddeps=tuple(lists["blddeps"]), conflicts=tuple(lists["conflicts"]),
        comments=tuple(comments), exec=tuple(lists["exec"]), unexec=tuple(lists["unexec"]),
        dirrm=tuple(lists["dirrm"]), options=tuple(lists["options"]), display=display, other=tuple(other),
    )


def read_contents(dbdir: Union[str, "os.PathLike[str]"], pkgname: str) -> PackingList:
    """Parse the +CONTENTS of one installed package. Raises PkgdbError if it cannot be read."""
    return parse_contents(_read(os.path.join(os.fspath(dbdir), pkgname, "+CONTENTS")))
