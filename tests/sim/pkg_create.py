"""Stand-in for pkg_create(1) of pkg_install 20170419.

    pkg_create [-lOUVv] [-B build-info-file] [-b build-version-file] [-C cpkgs] [-D displayfile]
               [-F compression] [-I realprefix] [-i iscript] [-K pkg_dbdir] [-k dscript]
               [-n preserve-file] [-P dpkgs] [-p prefix] [-S size-all-file] [-s size-pkg-file]
               [-T buildpkgs] -c comment -d description -f packlist pkg-name

As create/perform.c, pl.c and build.c do it (checked against samples/repack-downgrade-files.md,
which re-packs an installed package from its pkgdb entry the pkg_tarup way):

- the packing list is -P/-T/-C's @pkgdep/@blddep/@pkgcfl, then -f's lines as they are (its
  `@comment MD5:` lines too); -p deletes the first @cwd and puts `@cwd PREFIX` on top; `@name`
  (the package file's name without its suffix) goes on top unless the list has one;
- every file gets its own `@comment MD5:` (regular files) or `@comment Symlink:` line right after
  it, read where the current @cwd says: a list that keeps the installed MD5 lines has each twice;
  a directory becomes @dirrm; -l rewrites a symlink whose absolute target lies in the @cwd as a
  relative one, on disk ("Full pathname symlink ..." on stderr);
- then `@cwd .` and an `@ignore` entry per metadata file (and `@display +DISPLAY`); with -I
  every @cwd is written as REALPREFIX;
- the tar (pax): +CONTENTS (0644), +COMMENT and +DESC (0444), then the metadata files given as
  options with their own modes, in build.c's order, then the files; -v says "Creating package
  <file without suffix>"; -U is ignored, as in the real one.

-c and -d take a file name, or literal text after a leading `-`. Differences kept on purpose:
+SIZE_PKG/+SIZE_ALL are made (the files' total) when -s/-S are not given; -T records its
patterns as they are (the real one records the best installed match). Not done: -F other than
gzip/none, -r, -u, -g, -O beyond printing the list.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import sys
import tarfile
import time
from typing import Dict, List, Mapping, Optional, Tuple

from . import _pkgconf
from ._pkgdb import PlistEntry, parse_plist

USAGE = ("usage: pkg_create [-lOUVv] [-B build-info-file] [-b build-version-file]\n"
         "                  [-C cpkgs] [-D displayfile] [-F compression] \n"
         "                  [-I realprefix] [-i iscript]\n"
         "                  [-K pkg_dbdir] [-k dscript]\n"
         "                  [-n preserve-file] [-P dpkgs] [-p prefix] [-r rscript]\n"
         "                  [-S size-all-file] [-s size-pkg-file]\n"
         "                  [-T buildpkgs] [-u owner] [-g group]\n"
         "                  -c comment -d description -f packlist\n"
         "                  pkg-name\n")

OPTIONS = "B:C:D:F:I:K:L:OP:S:T:UVb:c:d:f:g:i:k:ln:p:r:s:u:v"

# Metadata given by option: (option, file name), in build.c's order (archive and packing list).
META_OPTIONS: Tuple[Tuple[str, str], ...] = (
    ("-i", "+INSTALL"), ("-k", "+DEINSTALL"), ("-D", "+DISPLAY"), ("-b", "+BUILD_VERSION"),
    ("-B", "+BUILD_INFO"), ("-s", "+SIZE_PKG"), ("-S", "+SIZE_ALL"), ("-n", "+PRESERVE"),
)


class Meta:
    """One metadata file of the new package: its bytes, mode and mtime."""

    def __init__(self, name: str, data: bytes, mode: int, mtime: int) -> None:
        self.name = name
        self.data = data
        self.mode = mode
        self.mtime = mtime


def _text_arg(value: str) -> str:
    """-c/-d: literal text after `-`, otherwise the content of a file."""
    if value.startswith("-"):
        return value[1:]
    with open(value, encoding="utf-8", errors="surrogateescape") as handle:
        return handle.read()


def _load(name: str, path: str) -> Meta:
    """A metadata file given by option: its content, mode and mtime (load_memory_file)."""
    info = os.stat(path)
    with open(path, "rb") as handle:
        return Meta(name, handle.read(), stat.S_IMODE(info.st_mode), int(info.st_mtime))


def render(entry: PlistEntry, realprefix: Optional[str]) -> str:
    """One packing-list line as stringify_plist writes it."""
    if entry.kind == "file":
        return entry.arg
    if entry.kind == "ignore":
        return "@ignore"
    word = entry.kind[len("unknown:"):] if entry.kind.startswith("unknown:") else entry.kind
    arg = realprefix if entry.kind == "cwd" and realprefix else entry.arg
    if not arg and entry.kind in ("mode", "owner", "group"):
        return "@%s " % word  # back to the default: the real one writes the separator anyway
    return "@%s %s" % (word, arg) if arg else "@" + word


def _relative_link(name: str, cwd: str, err) -> None:  # type: ignore[no-untyped-def]
    """-l (pl.c CheckSymlink): an absolute target inside cwd becomes relative, on disk."""
    old = os.readlink(name)
    if not old.startswith(cwd + "/"):
        return
    depth = name[len(cwd) + 1:].count("/")
    new = "../" * depth + old[len(cwd) + 1:]
    err.write("Full pathname symlink `%s' is target of `%s' - adjusting to `%s'\n" % (old, name, new))
    os.unlink(name)
    os.symlink(new, name)


def check_list(entries: List[PlistEntry], home: str, relative_links: bool,
               rep: _pkgconf.Reporter) -> Tuple[List[PlistEntry], int]:
    """pl.c check_list: a checksum line after every file, directories as @dirrm; the files' size."""
    out: List[PlistEntry] = []
    cwd, srcdir = home, ""
    size = 0
    skip = False
    for entry in entries:
        out.append(entry)
        if skip:
            skip = False
            continue
        if entry.kind == "ignore":
            skip = True
        elif entry.kind == "cwd":
            cwd = entry.arg
        elif entry.kind == "src":
            srcdir = entry.arg
        elif entry.kind == "file":
            base = srcdir if (cwd == home and srcdir) else cwd
            name = base.rstrip("/") + "/" + entry.arg
            try:
                info = os.lstat(name)
            except OSError:
                rep.warn("can't stat `%s'" % name)
                continue
            if stat.S_ISDIR(info.st_mode):
                out[-1] = PlistEntry("dirrm", entry.arg)
            elif stat.S_ISLNK(info.st_mode):
                if relative_links:
                    _relative_link(name, cwd.rstrip("/"), rep.err)
                out.append(PlistEntry("comment", "Symlink:%s" % os.readlink(name)))
            elif stat.S_ISREG(info.st_mode):
                with open(name, "rb") as handle:
                    data = handle.read()
                size += len(data)
                out.append(PlistEntry("comment", "MD5:%s" % hashlib.md5(data).hexdigest()))  # noqa: S324
    return out, size


def packed_files(entries: List[PlistEntry], home: str) -> List[Tuple[str, str]]:
    """(path on disk, name in the archive) of every file make_dist writes."""
    files: List[Tuple[str, str]] = []
    cwd = home
    skip = False
    for entry in entries:
        if skip:
            skip = False
        elif entry.kind == "ignore":
            skip = True
        elif entry.kind in ("cwd", "src"):
            cwd = entry.arg
        elif entry.kind == "file":
            files.append((os.path.join(cwd, entry.arg), entry.arg))
    return files


def write_package(path: str, meta: List[Meta], files: List[Tuple[str, str]], compression: str) -> None:
    """Write the tar: +CONTENTS and the metadata first, then the files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in meta:
            info = tarfile.TarInfo(item.name)
            info.size = len(item.data)
            info.mode = item.mode
            info.mtime = item.mtime
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(item.data))
        for full, name in files:
            info = tar.gettarinfo(full, arcname=name)
            info.uname = info.gname = "root"
            info.uid = info.gid = 0
            if info.isreg():
                with open(full, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    data = buf.getvalue()
    if compression == "gzip":
        data = gzip.compress(data, mtime=int(time.time()))
    with open(path, "wb") as handle:
        handle.write(data)


def _split(values: Dict[str, str], flag: str) -> List[str]:
    return values.get(flag, "").split()


def main(argv: List[str], config: Mapping[str, str]) -> int:  # noqa: C901 - one pass, as perform.c
    """pkg_create [options] pkg-name"""
    rep = _pkgconf.Reporter("pkg_create")
    try:
        opts, args = _pkgconf.getopt(argv, OPTIONS)
    except _pkgconf.GetoptError as exc:
        rep.warn(str(exc))
        rep.err.write(USAGE)
        return 1
    values: Dict[str, str] = {}
    for flag, value in opts:
        values[flag] = value
    if "-V" in values:
        rep.print(_pkgconf.PKGTOOLS_VERSION)
        return 0
    if not args:
        rep.warn("missing package name")
        rep.err.write(USAGE)
        return 1
    if len(args) > 1:
        rep.warn("only one package name allowed")
        rep.err.write(USAGE)
        return 1
    for flag, what in (("-c", "package comment string is missing (-c comment)"),
                       ("-d", "package description string is missing (-d desc)"),
                       ("-f", "package contents list is missing (-f [-]file)")):
        if flag not in values:
            rep.warn("required " + what)
            return 2
    target = args[0]
    pkg = target.rsplit(".", 1)[0] if "." in os.path.basename(target) else target
    suffix = target.rsplit(".", 1)[1] if "." in os.path.basename(target) else "tgz"
    compression = values.get("-F") or ("gzip" if suffix in ("tgz", "gz") else "none")
    if compression not in ("gzip", "none"):
        rep.warn("unsupported compression %s (the stand-in writes gzip or none)" % compression)
        return 2
    verbose = "-v" in values and "-O" not in values
    if verbose:
        rep.print("Creating package %s" % pkg)
        rep.out.flush()
    realprefix = values.get("-I") or None
    home = os.getcwd()
    try:
        comment = _text_arg(values["-c"])
        desc = _text_arg(values["-d"])
        if values["-f"] == "-":
            plist_text = sys.stdin.read()
        else:
            with open(values["-f"], encoding="utf-8", errors="surrogateescape") as handle:
                plist_text = handle.read()
    except OSError as exc:
        rep.warn("unable to open '%s' for reading" % exc.filename)
        return 2
    entries: List[PlistEntry] = []
    for flag, kind, label in (("-P", "pkgdep", "depends"), ("-T", "blddep", "build depends"),
                              ("-C", "pkgcfl", "conflicts")):
        names = _split(values, flag)
        entries += [PlistEntry(kind, n) for n in names]
        if names and verbose:
            rep.print("Registering %s: %s." % (label, " ".join(names)))
    entries += parse_plist(plist_text)
    if values.get("-p"):
        cwds = [i for i, e in enumerate(entries) if e.kind == "cwd"]
        if cwds:
            del entries[cwds[0]]
        entries.insert(0, PlistEntry("cwd", values["-p"]))
    if not any(e.kind == "name" for e in entries):
        entries.insert(0, PlistEntry("name", os.path.basename(pkg)))
    entries, size = check_list(entries, home, "-l" in values, rep)
    if "-O" in values:
        rep.write("".join(render(e, realprefix) + "\n" for e in entries))
        return 0
    try:
        given = [_load(name, values[flag]) for flag, name in META_OPTIONS if flag in values]
    except OSError as exc:
        rep.warn("can't stat '%s'" % exc.filename)
        return 2
    now = int(time.time())
    present = {m.name for m in given}
    for name in ("+SIZE_PKG", "+SIZE_ALL"):  # made when not given (see the docstring)
        if name not in present:
            given.append(Meta(name, b"%d\n" % size, 0o644, now))
    order = [name for _flag, name in META_OPTIONS]
    given.sort(key=lambda m: order.index(m.name))
    meta = [Meta("+COMMENT", comment.encode("utf-8", "surrogateescape"), 0o444, now),
            Meta("+DESC", desc.encode("utf-8", "surrogateescape"), 0o444, now)] + given
    entries.append(PlistEntry("cwd", "."))
    for item in meta:
        entries += [PlistEntry("ignore", ""), PlistEntry("file", item.name)]
        if item.name == "+DISPLAY":
            entries.append(PlistEntry("display", "+DISPLAY"))
    contents = "".join(render(e, realprefix) + "\n" for e in entries)
    files = packed_files(entries, home)
    for full, _name in files:
        if not os.path.lexists(full):
            rep.warn("lstat failed for file %s: %s" % (_name, os.strerror(2)))
            return 2
    try:
        write_package(target, [Meta("+CONTENTS", contents.encode("utf-8", "surrogateescape"), 0o644, now)] + meta,
                      files, compression)
    except OSError as exc:
        rep.warn("cannot create archive: %s" % exc.strerror)
        return 2
    return 0
