"""Stand-in for pkg_info(1) of pkg_install 20170419.

    pkg_info [-BbcDdFfhIikLmNnpqRrSsVvX] [-E pkg-name] [-e pkg-name] [-K pkg_dbdir]
             [-l prefix] [-Q variable] pkg-name ...
    pkg_info [-a | -u] [flags]

Without arguments it lists installed packages as "%-19s %s" (PKGNAME, COMMENT) in directory
order, like the real tool. A pkg-name is an installed PKGNAME, a base name, a pattern, a
package file or a URL. Output formats follow the real show.c (titles, blank lines, -q).
"""
from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional

from . import _pkgarchive, _pkgconf, _pkgfetch
from ._pkgdb import PkgDb, PlistEntry, is_pkgpattern, parse_plist, var_value

USAGE = ("usage: pkg_info [-BbcDdFfhIikLmNnpqRrSsVvX] [-E pkg-name] [-e pkg-name]\n"
         "                [-K pkg_dbdir] [-l prefix] [-Q variable] pkg-name ...\n"
         "       pkg_info [-a | -u] [flags]\n"
         "       pkg_info [-Q variable] pkg-name ...\n")

SUMMARY_BUILD_VARS = ("PKGPATH", "CATEGORIES", "PROVIDES", "REQUIRES", "PKG_OPTIONS", "OPSYS", "OS_VERSION",
                      "MACHINE_ARCH", "LICENSE", "HOMEPAGE", "PKGTOOLS_VERSION", "BUILD_DATE", "PREV_PKGPATH",
                      "SUPERSEDES")
SHOW_QUIET = {"file": "", "cwd": "@cwd ", "exec": "@exec ", "mode": "@chmod ", "owner": "@chown ",
              "group": "@chgrp ", "comment": "@comment ", "ignore": "@ignore", "name": "@name ",
              "unexec": "@unexec ", "src": "@src: ", "display": "@display ", "pkgdep": "@pkgdep ",
              "dirrm": "@dirrm ", "option": "@option ", "pkgcfl": "@pkgcfl ", "blddep": "@blddep ",
              "pkgdir": "@pkgdir "}
SHOW_VERBOSE = {"file": "\tFile: ", "cwd": "\tCWD to: ", "exec": "\tEXEC ''", "mode": "\tCHMOD to ",
                "owner": "\tCHOWN to ", "group": "\tCHGRP to ", "comment": "\tComment: ",
                "ignore": "Ignore next file:", "name": "\tPackage name: ", "unexec": "\tUNEXEC ''",
                "src": "\tSRC to: ", "display": "\tInstall message file: ", "pkgdep": "\tPackage depends on: ",
                "dirrm": "\tObsolete deinstall directory removal hint: ", "option": "\tPackage has option: ",
                "pkgcfl": "\tPackage conflicts with: ", "blddep": "\tPackage depends exactly on: ",
                "pkgdir": "\tManaged directory: "}


class Info:
    """One pkg_info run."""

    def __init__(self, settings: _pkgconf.Settings, reporter: _pkgconf.Reporter, db: PkgDb) -> None:
        self.settings = settings
        self.rep = reporter
        self.db = db
        self.flags: set = set()
        self.quiet = False
        self.prefix_text = ""
        self.bi_var = ""
        self.pending: List[str] = []

    # --- output helpers --------------------------------------------------------------------
    def show_file(self, text: str, title: str) -> None:
        """show_file(): title, the text (newline-terminated), a separator line."""
        if not self.quiet:
            self.rep.write(self.prefix_text + title)
        self.rep.write(text if text.endswith("\n") else text + "\n")
        self.rep.write("\n")

    def show_plist(self, title: str, plist: List[PlistEntry], kind: Optional[str]) -> None:
        """show_plist(): every entry (kind None) or those of one kind."""
        if not self.quiet:
            self.rep.write(self.prefix_text + title)
        ignore = False
        for entry in plist:
            if kind is not None and entry.kind != kind:
                continue
            table = SHOW_QUIET if self.quiet else SHOW_VERBOSE
            label = table.get(entry.kind, "@%s " % entry.kind.split(":")[-1])
            if entry.kind == "ignore":
                self.rep.write(label + "\n")
                ignore = True
                continue
            suffix = ""
            if entry.kind == "file" and ignore:
                suffix = "" if self.quiet else " (ignored)"
                ignore = False
            self.rep.write(label + entry.arg + suffix + "\n")

    def show_files(self, plist: List[PlistEntry]) -> None:
        """show_files(): absolute names of the package's files."""
        if not self.quiet:
            self.rep.write(self.prefix_text + "Files:\n")
        directory = "."
        ignore = False
        for entry in plist:
            if entry.kind == "cwd":
                directory = entry.arg
            elif entry.kind == "ignore":
                ignore = True
            elif entry.kind == "file":
                if not ignore:
                    sep = "" if directory == "/" else "/"
                    self.rep.write("%s%s%s\n" % (directory, sep, entry.arg))
                ignore = False

    def show_depends(self, title: str, plist: List[PlistEntry], kind: str) -> None:
        """show_depends()/show_bld_depends()."""
        values = [e.arg for e in plist if e.kind == kind]
        if not values:
            return
        if not self.quiet:
            self.rep.write(self.prefix_text + title)
        for value in values:
            self.rep.write(value + "\n")
        self.rep.write("\n")

    def show_summary(self, meta: Dict[str, str], plist: List[PlistEntry], binpkg: str) -> None:
        """show_summary(): one pkg_summary(5) record."""
        for entry in plist:
            if entry.kind == "name":
                self.rep.write("PKGNAME=%s\n" % entry.arg)
            elif entry.kind == "pkgdep":
                self.rep.write("DEPENDS=%s\n" % entry.arg)
            elif entry.kind == "pkgcfl":
                self.rep.write("CONFLICTS=%s\n" % entry.arg)
        _print_as_var(self.rep, "COMMENT", meta.get("+COMMENT", ""))
        if "+SIZE_PKG" in meta:
            _print_as_var(self.rep, "SIZE_PKG", meta["+SIZE_PKG"])
        if "+BUILD_INFO" in meta:
            for line in meta["+BUILD_INFO"].splitlines():
                if "=" in line and line.split("=", 1)[0] in SUMMARY_BUILD_VARS:
                    self.rep.write(line + "\n")
        else:
            self.rep.warn("Build information missing")
        if binpkg and os.path.isfile(binpkg):
            self.rep.write("FILE_NAME=%s\n" % os.path.basename(binpkg))
            self.rep.write("FILE_SIZE=%d\n" % os.path.getsize(binpkg))
        _print_as_var(self.rep, "DESCRIPTION", meta.get("+DESC", ""))
        self.rep.write("\n")

    # --- per package -----------------------------------------------------------------------
    def _meta_installed(self, pkg: str) -> Dict[str, str]:
        meta = {}
        for fname in os.listdir(self.db.path(pkg)):
            if fname.startswith("+"):
                text = self.db.read(pkg, fname)
                if text is not None:
                    meta[fname] = text
        return meta

    def full_required_by(self, pkg: str, seen: List[str], depth: int = 0) -> None:
        """build_full_reqby(): every package that needs pkg, deepest first."""
        if depth > 1000:
            raise SystemExit("pkg_info: Cycle in the dependency tree, bailing out")
        for dependant in self.db.required_by(pkg):
            if dependant in seen:
                continue
            if self.db.installed(dependant):
                self.full_required_by(dependant, seen, depth + 1)
            if dependant not in seen:
                seen.insert(0, dependant)

    def pkg_do(self, pkg: str) -> int:
        """Show one package; 0 on success."""
        binpkg = ""
        installed = False
        if _pkgfetch.is_url(pkg) or os.path.isfile(pkg):
            try:
                package = _pkgarchive.load(pkg)
            except (_pkgfetch.FetchError, _pkgarchive.PackageError):
                self.rep.warn("can't find package `%s', skipped" % pkg)
                return 1
            meta = package.meta
            if not _pkgfetch.is_url(pkg):
                binpkg = pkg
        else:
            if not os.path.isdir(self.db.path(pkg)):
                found = self.db.by_basename(pkg)
                if not found:
                    self.rep.warn("can't find package `%s'" % pkg)
                    return 1
                self.pending.extend(found)
                return 0
            meta = self._meta_installed(pkg)
            installed = True
        if "index" in self.flags:
            title = "%-19s " % pkg
            if not self.quiet:
                self.rep.write(self.prefix_text + title)
            comment = meta.get("+COMMENT", "")
            self.rep.write(comment if comment.endswith("\n") else comment + "\n")
            return 0
        if "bi_var" in self.flags:
            source = "+BUILD_INFO"
            if not any(c.isupper() for c in self.bi_var):
                source = "+INSTALLED_INFO"
            if source in meta:
                value = var_value(meta[source], self.bi_var)
                if value is not None:
                    self.rep.write(value + "\n")
            elif source == "+BUILD_INFO":
                self.rep.warn("Build information missing")
            return 0
        plist = parse_plist(meta.get("+CONTENTS", ""))
        summary = "summary" in self.flags
        if not self.quiet and not summary:
            self.rep.write("%sInformation for %s:\n\n" % (self.prefix_text, pkg))
            if "+PRESERVE" in meta:
                self.rep.write("*** PACKAGE MAY NOT BE DELETED ***\n")
        if summary:
            self.show_summary(meta, plist, binpkg)
        if "comment" in self.flags:
            self.show_file(meta.get("+COMMENT", ""), "Comment:\n")
        if "depends" in self.flags:
            self.show_depends("Requires:\n", plist, "pkgdep")
        if "bld_depends" in self.flags:
            self.show_depends("Built using:\n", plist, "blddep")
        if "reqby" in self.flags and "+REQUIRED_BY" in meta:
            self.show_file(meta["+REQUIRED_BY"], "Required by:\n")
        if "full_reqby" in self.flags and installed:
            seen: List[str] = []
            self.full_required_by(pkg, seen)
            if not self.quiet:
                self.rep.write(self.prefix_text + "Full required by list:\n")
            for name in seen:
                self.rep.write(name + "\n")
            if not self.quiet:
                self.rep.write("\n")
        if "desc" in self.flags:
            self.show_file(meta.get("+DESC", ""), "Description:\n")
        if "display" in self.flags and "+DISPLAY" in meta:
            self.show_file(meta["+DISPLAY"], "Install notice:\n")
        if "plist" in self.flags:
            self.show_plist("Packing list:\n", plist, None)
        if "install" in self.flags and "+INSTALL" in meta:
            self.show_file(meta["+INSTALL"], "Install script:\n")
        if "deinstall" in self.flags and "+DEINSTALL" in meta:
            self.show_file(meta["+DEINSTALL"], "De-Install script:\n")
        if "mtree" in self.flags and "+MTREE_DIRS" in meta:
            self.show_file(meta["+MTREE_DIRS"], "mtree file:\n")
        if "prefix" in self.flags:
            self.show_plist("Prefix(s):\n", plist, "cwd")
        if "files" in self.flags:
            self.show_files(plist)
        if "build_version" in self.flags and "+BUILD_VERSION" in meta:
            self.show_file(meta["+BUILD_VERSION"], "Build version:\n")
        if "build_info" in self.flags:
            if "+BUILD_INFO" in meta:
                self.show_file(meta["+BUILD_INFO"], "Build information:\n")
            if "+INSTALLED_INFO" in meta:
                self.show_file(meta["+INSTALLED_INFO"], "Installed information:\n")
        if "pkg_size" in self.flags and "+SIZE_PKG" in meta:
            self.show_file(meta["+SIZE_PKG"], "Size of this package in bytes: ")
        if "all_size" in self.flags and "+SIZE_ALL" in meta:
            self.show_file(meta["+SIZE_ALL"], "Size in bytes including required pkgs: ")
        if not self.quiet and not summary:
            if "+PRESERVE" in meta:
                self.rep.write("*** PACKAGE MAY NOT BE DELETED ***\n\n")
            self.rep.write(self.prefix_text + "\n")
        return 0

    def check_for_pkg(self, pattern: str) -> int:
        """-e: print every installed match; 0 if any."""
        found = self.db.match(pattern)
        if not found and not is_pkgpattern(pattern):
            found = self.db.match(pattern + "-[0-9]*")
        if not self.quiet:
            for name in found:
                self.rep.write(name + "\n")
        return 0 if found else 1

    def check_for_best(self, pattern: str) -> int:
        """-E: print the best installed match; 0 if any."""
        best = self.db.best(pattern)
        if best is None and not is_pkgpattern(pattern):
            best = self.db.best(pattern + "-[0-9]*")
        if best is None:
            return 1
        if not self.quiet:
            self.rep.write(best + "\n")
        return 0


_FLAG_NAMES = {"-B": "build_info", "-b": "build_version", "-c": "comment", "-D": "display", "-d": "desc",
               "-f": "plist", "-I": "index", "-i": "install", "-k": "deinstall", "-L": "files", "-m": "mtree",
               "-N": "bld_depends", "-n": "depends", "-p": "prefix", "-R": "reqby", "-r": "full_reqby",
               "-s": "pkg_size", "-S": "all_size", "-X": "summary"}


def _print_as_var(rep: _pkgconf.Reporter, name: str, text: str) -> None:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    for line in lines:
        rep.write("%s=%s\n" % (name, line))


def main(argv: List[str], config: Mapping[str, str]) -> int:
    """pkg_info [flags] [pkg-name ...]"""
    rep = _pkgconf.Reporter("pkg_info")
    try:
        opts, args = _pkgconf.getopt(argv, "aBbcDde:E:fFhIiK:kLl:mNnpQ:qrRsSuvVX")
    except _pkgconf.GetoptError as exc:
        rep.warn(str(exc))
        rep.err.write(USAGE)
        return 1
    which = "list"
    check = ""
    best = False
    dbdir = ""
    file2pkg = False
    flags: set = set()
    quiet = False
    prefix_text = ""
    bi_var = ""
    for flag, value in opts:
        if flag == "-a":
            which = "all"
        elif flag == "-u":
            which = "user"
        elif flag == "-e":
            check, best = value, False
        elif flag == "-E":
            check, best = value, True
        elif flag == "-F":
            file2pkg = True
        elif flag == "-K":
            dbdir = value
        elif flag == "-l":
            prefix_text = value
        elif flag == "-q":
            quiet = True
        elif flag == "-Q":
            flags.add("bi_var")
            bi_var = value
        elif flag == "-v":
            flags |= {"comment", "desc", "plist", "install", "deinstall", "reqby", "display", "mtree"}
        elif flag == "-V":
            rep.print(_pkgconf.PKGTOOLS_VERSION)
            return 0
        elif flag == "-h":
            rep.err.write(USAGE)
            return 1
        elif flag in _FLAG_NAMES:
            flags.add(_FLAG_NAMES[flag])
    settings = _pkgconf.load(config, dbdir=dbdir or None)
    info = Info(settings, rep, PkgDb(settings.pkg_dbdir))
    info.quiet = quiet
    info.prefix_text = prefix_text
    info.bi_var = bi_var
    if not args and not flags and not check:
        # main.c: no argument or relevant flag: assume -I, and -a unless -u (or -a) was given
        flags = {"index"}
        if which == "list":
            which = "all"
    if check and file2pkg:
        owner = info.db.file_owners().get(os.path.abspath(check))
        if owner is None:
            return 1
        check = owner
    if check:
        return info.check_for_best(check) if best else info.check_for_pkg(check)
    if not flags:
        flags = {"comment", "desc", "reqby"}
    info.flags = flags
    errors = 0
    if which != "list":
        for pkg in info.db.names():
            if which == "all" or not info.db.is_automatic(pkg):
                errors += info.pkg_do(pkg)
        return 1 if errors else 0
    names: List[str] = []
    owners = info.db.file_owners() if file2pkg else {}
    for arg in args:
        if file2pkg:
            owner = owners.get(os.path.abspath(arg))
            if owner is None:
                rep.warn("No matching pkg for %s." % arg)
                return 1
            names.append(owner)
        elif is_pkgpattern(arg) and not (_pkgfetch.is_url(arg) or os.path.isfile(arg)):
            found = info.db.match(arg)
            if not found:
                rep.warn("No matching pkg for %s." % arg)
                return 1
            names.extend(found)
        else:
            base = settings.pkg_dbdir.rstrip("/") + "/"
            names.append(arg[len(base):] if arg.startswith(base) else arg)
    if not names:
        rep.warn("missing package name(s)")
        rep.err.write(USAGE)
        return 1
    while names:
        errors += info.pkg_do(names.pop(0))
        names.extend(info.pending)
        info.pending = []
    return 1 if errors else 0
