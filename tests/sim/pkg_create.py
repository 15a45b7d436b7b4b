"""Stand-in for pkg_create(1) of pkg_install 20170419 (enough to build test packages).

    pkg_create [-lOU] [-B build-info-file] [-b build-version-file] [-C cpkgs] [-c comment]
               [-D displayfile] [-d description] [-F compression] [-f packlist] [-I realprefix]
               [-i iscript] [-K pkg_dbdir] [-k dscript] [-n preserve-file] [-P dpkgs] [-p prefix]
               [-S size-all-file] [-s size-pkg-file] [-T buildpkgs] package-file

-c and -d take a file name, or literal text after a leading `-`. Files of the packing list are
read from -p PREFIX; the package records -I REALPREFIX (default: -p) as its @cwd. The result
is a gzip'd pax tar with the metadata first (+CONTENTS first of all), files with
`@comment MD5:` / `@comment Symlink:` after them and `@ignore` entries for the metadata, as
real packages have. Not done: -F other than gzip/none, -l symlink rewriting, -t, -X, -E.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import time
from typing import Dict, List, Mapping

from . import _pkgconf
from ._pkgdb import META_FILES, parse_plist

USAGE = ("usage: pkg_create [-ElORUVv] [-B build-info-file] [-b build-version-file]\n"
         "                  [-C cpkgs] [-D displayfile] [-F compression] [-I realprefix]\n"
         "                  [-i iscript] [-K pkg_dbdir] [-k dscript] [-n preserve-file]\n"
         "                  [-P dpkgs] [-p prefix] [-S size-all-file] [-s size-pkg-file]\n"
         "                  [-T buildpkgs] -c comment -d description -f packlist\n"
         "                  package-file\n")


def _text_arg(value: str) -> str:
    """-c/-d: literal text after `-`, otherwise the content of a file."""
    if value.startswith("-"):
        return value[1:] + "\n"
    with open(value, encoding="utf-8") as handle:
        return handle.read()


def build_contents(plist_text: str, pkgname: str, prefix: str, src_prefix: str, meta_names: List[str],
                   depends: List[str], build_depends: List[str], conflicts: List[str]) -> "tuple[str, int]":
    """The +CONTENTS of a new package and the total size of its files."""
    entries = parse_plist(plist_text)
    lines = ["@name %s" % pkgname, "@cwd %s" % prefix]
    lines += ["@pkgcfl %s" % c for c in conflicts]
    lines += ["@pkgdep %s" % d for d in depends]
    lines += ["@blddep %s" % b for b in build_depends]
    size = 0
    ignore = False
    for entry in entries:
        if entry.kind in ("name", "cwd"):
            continue
        if entry.kind == "comment" and entry.arg.startswith(("MD5:", "Symlink:")):
            continue
        if entry.kind == "ignore":
            ignore = True
            lines.append("@ignore")
            continue
        if entry.kind != "file":
            lines.append("@%s %s" % (entry.kind, entry.arg) if entry.arg else "@" + entry.kind)
            continue
        lines.append(entry.arg)
        if ignore:
            ignore = False
            continue
        path = os.path.join(src_prefix, entry.arg)
        if os.path.islink(path):
            lines.append("@comment Symlink:%s" % os.readlink(path))
        else:
            with open(path, "rb") as handle:
                data = handle.read()
            size += len(data)
            lines.append("@comment MD5:%s" % hashlib.md5(data).hexdigest())  # noqa: S324 - packing-list format
    lines.append("@cwd %s" % prefix)
    for name in meta_names:
        lines += ["@ignore", name]
        if name == "+DISPLAY":
            lines.append("@display +DISPLAY")
    return "\n".join(lines) + "\n", size


def write_package(path: str, meta: Dict[str, str], files: List[str], src_prefix: str, compress: bool = True) -> None:
    """Write the tar: metadata in pkg_install's order, then the files."""
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, _unused in META_FILES:
            if name not in meta:
                continue
            data = meta[name].encode("utf-8", "surrogateescape")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o444 if name in ("+COMMENT", "+DESC") else (0o555 if name in ("+INSTALL", "+DEINSTALL")
                                                                     else 0o644)
            info.mtime = now
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
        for name in files:
            full = os.path.join(src_prefix, name)
            info = tar.gettarinfo(full, arcname=name)
            info.uname = info.gname = "root"
            info.uid = info.gid = 0
            if info.isreg():
                with open(full, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    data = buf.getvalue()
    if compress:
        data = gzip.compress(data, mtime=now)
    with open(path, "wb") as handle:
        handle.write(data)


def main(argv: List[str], config: Mapping[str, str]) -> int:
    """pkg_create [options] package-file"""
    rep = _pkgconf.Reporter("pkg_create")
    try:
        opts, args = _pkgconf.getopt(argv, "B:b:C:c:D:d:EF:f:hI:i:K:k:lL:n:OP:p:RrS:s:T:t:UVvX:")
    except _pkgconf.GetoptError as exc:
        rep.warn(str(exc))
        rep.err.write(USAGE)
        return 2
    values: Dict[str, str] = {}
    for flag, value in opts:
        values[flag] = value
    if "-V" in values:
        rep.print(_pkgconf.PKGTOOLS_VERSION)
        return 0
    if len(args) != 1 or "-f" not in values or ("-O" not in values and ("-c" not in values or "-d" not in values)):
        rep.err.write(USAGE)
        return 2
    target = args[0]
    pkgname = os.path.basename(target)
    for suffix in (".tgz", ".tbz", ".tar"):
        if pkgname.endswith(suffix):
            pkgname = pkgname[:-len(suffix)]
    src_prefix = values.get("-p", "") or config.get("PREFIX", "/")
    prefix = values.get("-I", "") or src_prefix
    try:
        with open(values["-f"], encoding="utf-8") as handle:
            plist_text = handle.read()
        meta: Dict[str, str] = {}
        if "-O" not in values:
            meta["+COMMENT"] = _text_arg(values["-c"])
            meta["+DESC"] = _text_arg(values["-d"])
        for flag, name in (("-i", "+INSTALL"), ("-k", "+DEINSTALL"), ("-D", "+DISPLAY"), ("-b", "+BUILD_VERSION"),
                           ("-B", "+BUILD_INFO"), ("-s", "+SIZE_PKG"), ("-S", "+SIZE_ALL"), ("-n", "+PRESERVE")):
            if flag in values:
                with open(values[flag], encoding="utf-8") as handle:
                    meta[name] = handle.read()
    except OSError as exc:
        rep.warn("can't read %s: %s" % (exc.filename, exc.strerror))
        return 2
    named = [e.arg for e in parse_plist(plist_text) if e.kind == "name"]
    if named:
        pkgname = named[0]
    meta_names = [name for name, _unused in META_FILES if name in meta or name in ("+SIZE_PKG", "+SIZE_ALL")]
    meta_names = [n for n in meta_names if n != "+CONTENTS"]
    try:
        contents, size = build_contents(plist_text, pkgname, prefix, src_prefix, meta_names,
                                        values.get("-P", "").split(), values.get("-T", "").split(),
                                        values.get("-C", "").split())
    except OSError as exc:
        rep.warn("can't read %s: %s" % (exc.filename, exc.strerror))
        return 2
    if "-O" in values:
        rep.write(contents)
        return 0
    meta.setdefault("+SIZE_PKG", "%d\n" % size)
    meta.setdefault("+SIZE_ALL", meta["+SIZE_PKG"])
    meta["+CONTENTS"] = contents
    files = []
    ignore = False
    for entry in parse_plist(contents):
        if entry.kind == "ignore":
            ignore = True
        elif entry.kind == "file":
            if not ignore:
                files.append(entry.arg)
            ignore = False
    try:
        write_package(target, meta, files, src_prefix, compress=values.get("-F", "gzip") != "none")
    except OSError as exc:
        rep.warn("can't create %s: %s" % (target, exc.strerror))
        return 2
    return 0
