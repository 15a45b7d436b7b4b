"""The package database as the pkg_install stand-ins read and write it.

One directory per package under PKG_DBDIR with the real file names (+CONTENTS, +COMMENT,
+DESC, +BUILD_INFO, +SIZE_PKG, +SIZE_ALL, +INSTALLED_INFO, +REQUIRED_BY, +INSTALL, ...).
pkgdb.byfile.db (a Berkeley DB in the real tools) is not kept: file ownership is computed
from the +CONTENTS files when needed.

Writers hold an exclusive flock(2) on <PKG_DBDIR>.sim.lock (beside the pkgdb, so that it
never shows up as an entry) for the whole run, so that concurrent stand-ins do not corrupt the
database; a process may take it again (re-entrant).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from pkgsrc_core.errors import PkgsrcError
from pkgsrc_core.packages.pkgdb import parse_contents
from pkgsrc_core.versions import best_match, pkg_match

LOCK_SUFFIX = ".sim.lock"

# Meta data files in the order pkg_install reads them from a package, with their modes.
META_FILES: Tuple[Tuple[str, int], ...] = (
    ("+CONTENTS", 0o644), ("+COMMENT", 0o444), ("+DESC", 0o444), ("+INSTALL", 0o555),
    ("+DEINSTALL", 0o555), ("+DISPLAY", 0o444), ("+MTREE_DIRS", 0o444), ("+BUILD_VERSION", 0o444),
    ("+BUILD_INFO", 0o444), ("+SIZE_PKG", 0o444), ("+SIZE_ALL", 0o444), ("+PRESERVE", 0o444),
    ("+REQUIRED_BY", 0o644), ("+INSTALLED_INFO", 0o644),
)
META_MODES = dict(META_FILES)
REQUIRED_META = ("+CONTENTS", "+COMMENT", "+DESC")

_DIRECTIVES = {
    "cwd": "cwd", "cd": "cwd", "src": "src", "exec": "exec", "unexec": "unexec", "mode": "mode",
    "chmod": "mode", "owner": "owner", "chown": "owner", "group": "group", "chgrp": "group",
    "comment": "comment", "ignore": "ignore", "name": "name", "dirrm": "dirrm", "display": "display",
    "pkgdep": "pkgdep", "pkgcfl": "pkgcfl", "blddep": "blddep", "option": "option", "pkgdir": "pkgdir",
}


@dataclass(frozen=True)
class PlistEntry:
    """One packing-list line: kind is "file" or a directive name ("cwd", "pkgdep", ...)."""

    kind: str
    arg: str


def parse_plist(text: str) -> List[PlistEntry]:
    """Packing-list entries of a +CONTENTS text."""
    entries: List[PlistEntry] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("@"):
            word, _unused, arg = line[1:].partition(" ")
            kind = _DIRECTIVES.get(word.strip())
            if kind is None:
                kind = "unknown:" + word.strip()
            entries.append(PlistEntry(kind, arg.strip()))
        else:
            entries.append(PlistEntry("file", line.rstrip()))
    return entries


def plist_values(entries: List[PlistEntry], kind: str) -> List[str]:
    """Arguments of every directive of one kind, in order."""
    return [e.arg for e in entries if e.kind == kind]


def plist_files(entries: List[PlistEntry]) -> List[Tuple[str, str, str]]:
    """(cwd, name, following @comment) of every file that is not @ignore'd."""
    result: List[Tuple[str, str, str]] = []
    cwd = ""
    ignore = False
    for i, entry in enumerate(entries):
        if entry.kind == "cwd":
            cwd = entry.arg
        elif entry.kind == "ignore":
            ignore = True
        elif entry.kind == "file":
            if ignore:
                ignore = False
                continue
            nxt = entries[i + 1] if i + 1 < len(entries) else None
            comment = nxt.arg if nxt is not None and nxt.kind == "comment" else ""
            result.append((cwd, entry.arg, comment))
    return result


def safe_match(pattern: str, pkgname: str) -> bool:
    """pkg_match that treats a malformed pattern as no match."""
    try:
        return pkg_match(pattern, pkgname)
    except PkgsrcError:
        return False


def safe_best(pattern: str, pkgnames: List[str]) -> Optional[str]:
    """best_match that treats a malformed pattern as no match."""
    try:
        return best_match(pattern, pkgnames)
    except PkgsrcError:
        return None


def is_pkgpattern(text: str) -> bool:
    """ispkgpattern() of pkg_install: alternatives, relations or glob characters."""
    return any(c in text for c in "<>[]?*{")


def parse_vars(text: str) -> List[Tuple[str, str]]:
    """KEY=value lines (+BUILD_INFO, +INSTALLED_INFO) in file order."""
    result = []
    for line in text.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            result.append((key, value))
    return result


def var_value(text: str, name: str) -> Optional[str]:
    """Value of a variable in KEY=value text; several occurrences are joined by newlines."""
    values = [v for k, v in parse_vars(text) if k == name]
    return "\n".join(values) if values else None


def format_cmd(command: str, cwd: str, last_file: str) -> str:
    """format_cmd(): %F last file, %D directory, %B dirname of %D/%F, %f basename of %F."""
    full = os.path.join(cwd, last_file) if last_file else cwd
    values = {"F": last_file, "D": cwd, "B": os.path.dirname(full), "f": os.path.basename(last_file)}
    out = []
    i = 0
    while i < len(command):
        ch = command[i]
        if ch == "%" and i + 1 < len(command) and command[i + 1] in values:
            out.append(values[command[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_HELD: Dict[str, List[int]] = {}


class PkgDb:
    """A PKG_DBDIR."""

    def __init__(self, dbdir: str) -> None:
        self.dbdir = dbdir

    # --- reading ---------------------------------------------------------------------------
    def names(self) -> List[str]:
        """Installed packages in directory order (as pkg_install iterates them, unsorted)."""
        try:
            entries = os.listdir(self.dbdir)
        except OSError:
            return []
        return [n for n in entries if not n.startswith(".") and os.path.isdir(os.path.join(self.dbdir, n))]

    def path(self, pkg: str, fname: str = "") -> str:
        """Path of a package's directory or of one of its files."""
        return os.path.join(self.dbdir, pkg, fname) if fname else os.path.join(self.dbdir, pkg)

    def installed(self, pkg: str) -> bool:
        """True when pkg has a +CONTENTS."""
        return os.path.isfile(self.path(pkg, "+CONTENTS"))

    def read(self, pkg: str, fname: str) -> Optional[str]:
        """Text of a meta data file, or None."""
        try:
            with open(self.path(pkg, fname), encoding="utf-8", errors="surrogateescape") as handle:
                return handle.read()
        except OSError:
            return None

    def plist(self, pkg: str) -> List[PlistEntry]:
        """Parsed +CONTENTS of an installed package ([] if missing)."""
        return parse_plist(self.read(pkg, "+CONTENTS") or "")

    def comment(self, pkg: str) -> str:
        """First line of +COMMENT."""
        text = self.read(pkg, "+COMMENT") or ""
        return text.splitlines()[0] if text.strip() else ""

    def required_by(self, pkg: str) -> List[str]:
        """Lines of +REQUIRED_BY."""
        return [line for line in (self.read(pkg, "+REQUIRED_BY") or "").splitlines() if line.strip()]

    def build_var(self, pkg: str, name: str) -> Optional[str]:
        """A +BUILD_INFO variable."""
        return var_value(self.read(pkg, "+BUILD_INFO") or "", name)

    def is_automatic(self, pkg: str) -> bool:
        """True when +INSTALLED_INFO says automatic=yes (any case)."""
        value = var_value(self.read(pkg, "+INSTALLED_INFO") or "", "automatic")
        return value is not None and value.strip().lower() == "yes"

    def match(self, pattern: str) -> List[str]:
        """Installed packages matching a pattern, in directory order."""
        return [n for n in self.names() if safe_match(pattern, n)]

    def best(self, pattern: str) -> Optional[str]:
        """find_best_matching_installed_pkg()."""
        return safe_best(pattern, self.names())

    def by_basename(self, name: str) -> List[str]:
        """Installed packages whose base name is name (pattern name-[0-9]*)."""
        return self.match(name + "-[0-9]*")

    def file_owners(self, exclude: Tuple[str, ...] = ()) -> Dict[str, str]:
        """Absolute file path -> owning package, from every +CONTENTS (read with the core's parser)."""
        owners: Dict[str, str] = {}
        for pkg in self.names():
            if pkg in exclude:
                continue
            for item in parse_contents(self.read(pkg, "+CONTENTS") or "").files:
                owners[item.full_path] = pkg
        return owners

    # --- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive, re-entrant (per process) lock on the database."""
        os.makedirs(self.dbdir, exist_ok=True)
        key = os.path.realpath(self.dbdir)
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
            try:
                yield
            finally:
                held[1] -= 1
            return
        fd = os.open(os.path.normpath(self.dbdir) + LOCK_SUFFIX, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _HELD[key] = [fd, 1]
            try:
                yield
            finally:
                del _HELD[key]
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def write(self, pkg: str, fname: str, text: str, directory: str = "") -> None:
        """Replace one meta data file (unlink, then create with pkg_install's mode)."""
        base = directory or self.path(pkg)
        os.makedirs(base, exist_ok=True)
        target = os.path.join(base, fname)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, META_MODES.get(fname, 0o644))
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)

    def remove_file(self, pkg: str, fname: str) -> None:
        """Delete one meta data file if present."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(pkg, fname))

    def _rewrite_lines(self, pkg: str, fname: str, lines: List[str]) -> None:
        target = self.path(pkg, fname)
        if not lines:
            self.remove_file(pkg, fname)
            return
        tmp = target + ".tmp.%d" % os.getpid()
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
        os.chmod(tmp, META_MODES.get(fname, 0o644))
        os.replace(tmp, target)

    def add_required_by(self, pkg: str, dependant: str) -> None:
        """Append dependant to pkg's +REQUIRED_BY (once)."""
        lines = self.required_by(pkg)
        if dependant not in lines:
            lines.append(dependant)
            self._rewrite_lines(pkg, "+REQUIRED_BY", lines)

    def remove_required_by(self, pkg: str, dependant: str) -> None:
        """Drop dependant from pkg's +REQUIRED_BY. As pkg_delete's remove_pkg_from_required_by()
        (it rewrites the file without the line), an empty file stays behind: pkg_info -R then
        prints an empty "Required by:" block (transcripts-2); rebuild-tree removes it."""
        lines = self.required_by(pkg)
        if dependant in lines:
            rest = [line for line in lines if line != dependant]
            if rest:
                self._rewrite_lines(pkg, "+REQUIRED_BY", rest)
            else:
                self.write(pkg, "+REQUIRED_BY", "")

    def set_required_by(self, pkg: str, dependants: List[str]) -> None:
        """Write pkg's +REQUIRED_BY (rebuild-tree)."""
        self._rewrite_lines(pkg, "+REQUIRED_BY", dependants)

    def set_var(self, pkg: str, name: str, value: Optional[str]) -> None:
        """Set (or with None, remove) a variable in +INSTALLED_INFO."""
        pairs = [(k, v) for k, v in parse_vars(self.read(pkg, "+INSTALLED_INFO") or "") if k != name]
        if value is not None:
            pairs.append((name, value))
        self._rewrite_lines(pkg, "+INSTALLED_INFO", ["%s=%s" % kv for kv in pairs])

    def mark_automatic(self, pkg: str, automatic: bool) -> None:
        """mark_as_automatic_installed(): automatic=yes, or drop the variable."""
        self.set_var(pkg, "automatic", "yes" if automatic else None)
