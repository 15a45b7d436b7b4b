"""Stand-in for pkg_delete(1) of pkg_install 20170419.

    pkg_delete [-ADFfkNnORrVv] [-K pkg_dbdir] [-P destdir] [-p prefix] pkg-name ...

Arguments are PKGNAMEs, base names or patterns. A package still listed in another's
+REQUIRED_BY is refused unless -r (its dependants go first) or -f; +PRESERVE packages need
-ff. Files of +CONTENTS are removed (changed files only with -f), then empty directories up to
the @cwd, the package's name is taken out of its dependencies' +REQUIRED_BY, +DEINSTALL runs
with DEINSTALL and POST-DEINSTALL, and the pkgdb entry goes.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from typing import List, Mapping, Optional

from . import _pkgconf
from ._pkgdb import PkgDb, format_cmd, is_pkgpattern, plist_values

USAGE = "usage: pkg_delete [-ADFfkNnORrVv] [-K pkg_dbdir] [-P destdir] [-p prefix] pkg-name ...\n"


class Deleter:
    """pkg_delete's work, usable in-process by pkg_add -U and pkgin."""

    def __init__(self, settings: _pkgconf.Settings, reporter: _pkgconf.Reporter, db: PkgDb, *,
                 destdir: str = "", prefix: str = "", force: int = 0, verbose: bool = False,
                 fake: bool = False, unregister_only: bool = False, no_deinstall: bool = False) -> None:
        self.settings = settings
        self.rep = reporter
        self.db = db
        self.destdir = destdir
        self.prefix = prefix
        self.force = force
        self.verbose = verbose
        self.fake = fake
        self.unregister_only = unregister_only
        self.no_deinstall = no_deinstall
        self._plist_prefix = prefix

    # --- selecting -------------------------------------------------------------------------
    def add_by_pattern(self, pattern: str, pkgs: List[str]) -> bool:
        """Every installed package matching a pattern."""
        found = self.db.match(pattern)
        if not found:
            self.rep.warn("No package matching `%s' found" % pattern)
            return False
        pkgs.extend(found)
        return True

    def add_by_pkgname(self, arg: str, pkgs: List[str]) -> bool:
        """An installed PKGNAME (or pkgdb path), else every package with that base name."""
        pkg = arg
        if pkg.startswith("/"):
            base = self.db.dbdir.rstrip("/") + "/"
            if not pkg.startswith(base):
                self.rep.warn("Absolute path is not relative to package database, skipping: %s" % arg)
                return False
            pkg = pkg[len(base):]
        pkg = pkg.rstrip("/")
        if "/" in pkg:
            self.rep.warn("`%s' is not a package name, skipping" % arg)
            return False
        if self.db.installed(pkg):
            pkgs.append(pkg)
            return True
        found = self.db.by_basename(pkg)
        if not found:
            self.rep.warn("No matching package for basename `%s' of `%s'" % (pkg, arg))
            return False
        pkgs.extend(found)
        return True

    def add_by_filename(self, filename: str, pkgs: List[str]) -> bool:
        """The package owning a file."""
        owner = self.db.file_owners().get(os.path.abspath(filename))
        if owner is None:
            self.rep.warn("No matching package for file `%s' in pkgdb" % filename)
            return False
        pkgs.append(owner)
        return True

    def sort_and_recurse(self, pkgs: List[str], recursive: bool) -> Optional[List[str]]:
        """Order pkgs so dependants come first; with recursive add them. None when refused."""
        pending: List[str] = []
        for pkg in pkgs:
            if pkg not in pending:
                pending.append(pkg)
        ordered: List[str] = []
        progress = True
        while pending and progress:
            progress = False
            for pkg in list(pending):
                missing = [d for d in self.db.required_by(pkg) if d not in ordered]
                if recursive:
                    new = [d for d in missing if d not in pending]
                    if new:
                        pending[0:0] = new
                        progress = True
                        continue
                if missing:
                    continue
                pending.remove(pkg)
                ordered.append(pkg)
                progress = True
        if not pending:
            return ordered
        for pkg in pending:
            self.rep.err.write("Package `%s' is still required by other packages:\n" % pkg)
            for dependant in self.db.required_by(pkg):
                if dependant not in ordered:
                    self.rep.err.write("\t%s\n" % dependant)
            if self.force:
                ordered.append(pkg)
        return ordered if self.force else None

    def find_new_leaves(self, ordered: List[str], automatic_only: bool) -> None:
        """-A/-R: add packages all of whose dependants are being removed."""
        progress = True
        while progress:
            progress = False
            for pkg in self.db.names():
                if pkg in ordered or os.path.exists(self.db.path(pkg, "+PRESERVE")):
                    continue
                if automatic_only and not self.db.is_automatic(pkg):
                    continue
                required = self.db.required_by(pkg)
                if required and all(r in ordered for r in required):
                    ordered.append(pkg)
                    progress = True

    def check_preserve(self, ordered: List[str], keep_preserve: bool) -> bool:
        """False when a +PRESERVE package would be deleted without enough -f."""
        found = False
        for pkg in list(ordered):
            if not os.path.exists(self.db.path(pkg, "+PRESERVE")):
                continue
            if keep_preserve:
                ordered.remove(pkg)
                continue
            if not found:
                self.rep.warn("The following packages are marked as not for deletion:")
            found = True
            self.rep.err.write("\t%s\n" % pkg)
        if not found:
            return True
        if self.force == 0 or (not self.unregister_only and self.force == 1):
            return False
        self.rep.err.write("...but will delete them anyway\n")
        return True

    # --- removing --------------------------------------------------------------------------
    def _root(self, cwd: str) -> str:
        return os.path.join(self.destdir, cwd.lstrip("/")) if self.destdir else cwd

    def _run_deinstall(self, pkg: str, post: bool) -> bool:
        script = self.db.path(pkg, "+DEINSTALL")
        if not os.path.isfile(script):
            return True
        target, text = ("POST-DEINSTALL", "post-deinstall") if post else ("DEINSTALL", "deinstall")
        if self.fake:
            self.rep.print("Would execute %s script with argument %s now" % (text, target))
            return True
        with contextlib.suppress(OSError):
            os.chmod(script, 0o555)
        env = dict(os.environ)
        env["PKG_PREFIX"] = self._plist_prefix
        env["PKG_METADATA_DIR"] = self.db.path(pkg)
        env["PKG_REFCOUNT_DBDIR"] = self.settings.refcount_dbdir
        self.rep.out.flush()
        try:
            result = subprocess.run([script, pkg, target], cwd=self.db.path(pkg), env=env,
                                    stdout=self.rep.out, stderr=self.rep.err, check=False)
        except OSError:
            result = None
        if result is None or result.returncode != 0:
            self.rep.warn("%s script returned error status" % text)
            return False
        return True

    def _delete_files(self, pkg: str) -> bool:
        entries = self.db.plist(pkg)
        ok = True
        cwd = self.prefix or self._plist_prefix
        first_cwd = True
        ignore = False
        for i, entry in enumerate(entries):
            if entry.kind == "cwd":
                if first_cwd and self.prefix:
                    cwd = self.prefix
                else:
                    cwd = entry.arg
                first_cwd = False
                continue
            if entry.kind == "ignore":
                ignore = True
                continue
            if entry.kind == "dirrm":
                if not self.fake and not self.unregister_only:
                    with contextlib.suppress(OSError):
                        os.rmdir(os.path.join(self._root(cwd), entry.arg))
                continue
            if entry.kind == "unexec":
                self._unexec(entry.arg, cwd, entries, i)
                continue
            if entry.kind != "file":
                continue
            if ignore:
                ignore = False
                continue
            path = os.path.join(self._root(cwd), entry.arg)
            nxt = entries[i + 1] if i + 1 < len(entries) else None
            if os.path.isdir(path) and not os.path.islink(path):
                self.rep.warn("attempting to delete directory `%s' as a file\n"
                              "this packing list is incorrect - ignoring delete request" % path)
                continue
            if nxt is not None and nxt.kind == "comment" and nxt.arg.startswith("MD5:") and os.path.isfile(path) \
                    and not os.path.islink(path):
                with open(path, "rb") as handle:
                    digest = hashlib.md5(handle.read()).hexdigest()  # noqa: S324 - pkg_install's checksum
                if digest != nxt.arg[4:]:
                    self.rep.print("original MD5 checksum failed, %s: %s"
                                   % ("deleting anyway" if self.force else "not deleting", path))
                    if not self.force:
                        ok = False
                        continue
            if self.verbose and not self.unregister_only:
                self.rep.print("Delete file %s" % path)
            if self.fake or self.unregister_only:
                continue
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                self.rep.warn("unable to completely remove file '%s': %s" % (path, exc.strerror))
                ok = False
                continue
            self._remove_empty_dirs(os.path.dirname(path), self._root(cwd))
        return ok

    @staticmethod
    def _remove_empty_dirs(directory: str, stop: str) -> None:
        stop = os.path.normpath(stop)
        current = os.path.normpath(directory)
        while current.startswith(stop + os.sep) and current != stop:
            try:
                os.rmdir(current)
            except OSError:
                return
            current = os.path.dirname(current)

    def _unexec(self, command: str, cwd: str, entries: list, index: int) -> None:
        last = ""
        for entry in entries[:index]:
            if entry.kind == "file":
                last = entry.arg
        cmd = format_cmd(command, cwd, last)
        if self.verbose:
            self.rep.print("Execute `%s'" % cmd)
        if self.fake or self.unregister_only:
            return
        self.rep.out.flush()
        result = subprocess.run(["/bin/sh", "-c", cmd], stdout=self.rep.out, stderr=self.rep.err, check=False)
        if result.returncode != 0:
            self.rep.warn("unexec command `%s' failed" % cmd)

    def remove_pkg(self, pkg: str) -> int:
        """Delete one installed package; 0 on success."""
        if not self.db.installed(pkg):
            self.rep.warn("package `%s' is not installed, `%s' missing" % (pkg, self.db.path(pkg, "+CONTENTS")))
            return 1
        entries = self.db.plist(pkg)
        cwds = plist_values(entries, "cwd")
        if not cwds and not self.prefix:
            self.rep.warn("Package `%s' doesn't have a prefix" % pkg)
            return 1
        self._plist_prefix = self.prefix or cwds[0]
        if not self.no_deinstall and not self.unregister_only:
            if not self._run_deinstall(pkg, post=False) and not self.force:
                return 1
        if self.fake:
            self.rep.print("Attempting to delete package `%s'" % pkg)
        elif not self._delete_files(pkg):
            self.rep.warn("couldn't entirely delete package `%s'" % pkg)
        for pattern in plist_values(entries, "pkgdep"):
            if self.verbose:
                self.rep.print("Attempting to remove dependency on package `%s'" % pattern)
            if self.fake:
                continue
            for dep in self.db.match(pattern):
                self.db.remove_required_by(dep, pkg)
        late_error = 0
        if not self.no_deinstall and not self.unregister_only:
            late_error = 0 if self._run_deinstall(pkg, post=True) else 1
        if self.fake:
            return 0
        shutil.rmtree(self.db.path(pkg), ignore_errors=True)
        if os.path.exists(self.db.path(pkg)):
            self.rep.warn("Couldn't remove package directory in `%s'" % self.db.path(pkg))
            return 1
        return late_error

    def run(self, args: List[str], *, recursive: bool = False, by_filename: bool = False,
            new_leaves: bool = False, automatic_leaves: bool = False, keep_preserve: bool = False) -> int:
        """The whole of pkg_delete: select, order, check, remove. The exit code."""
        with self.db.lock():
            pkgs: List[str] = []
            has_error = False
            for arg in args:
                if by_filename:
                    ok = self.add_by_filename(arg, pkgs)
                elif is_pkgpattern(arg):
                    ok = self.add_by_pattern(arg, pkgs)
                else:
                    ok = self.add_by_pkgname(arg, pkgs)
                has_error = has_error or not ok
            if has_error and not self.force:
                return 1
            ordered = self.sort_and_recurse(pkgs, recursive)
            if ordered is None:
                return 1
            if new_leaves or automatic_leaves:
                self.find_new_leaves(ordered, automatic_only=automatic_leaves and not new_leaves)
            if not self.check_preserve(ordered, keep_preserve):
                return 1
            bad = 0
            for pkg in ordered:
                if self.remove_pkg(pkg):
                    bad += 1
                    if not self.force:
                        break
            if self.force and bad and self.verbose:
                self.rep.warn("Removal of %d packages failed" % bad)
            return 1 if bad else 0


def main(argv: List[str], config: Mapping[str, str]) -> int:
    """pkg_delete [options] pkg-name ..."""
    rep = _pkgconf.Reporter("pkg_delete")
    try:
        opts, args = _pkgconf.getopt(argv, "ADFfK:kNnOP:p:RrVv")
    except _pkgconf.GetoptError as exc:
        rep.warn(str(exc))
        rep.err.write(USAGE)
        return 1
    flags = {flag for flag, _unused in opts}
    values = dict(opts)
    if "-V" in flags:
        rep.print(_pkgconf.PKGTOOLS_VERSION)
        return 0
    if not args:
        rep.warn("Missing filename(s)" if "-F" in flags else "Missing package name(s)")
        rep.err.write(USAGE)
        return 1
    settings = _pkgconf.load(config, dbdir=values.get("-K") or None)
    dbdir = settings.pkg_dbdir
    destdir = values.get("-P", "")
    if destdir:
        dbdir = os.path.join(destdir, dbdir.lstrip("/"))
    deleter = Deleter(settings, rep, PkgDb(dbdir), destdir=destdir, prefix=values.get("-p", ""),
                      force=sum(1 for flag, _unused in opts if flag == "-f"), verbose="-v" in flags,
                      fake="-n" in flags, unregister_only="-N" in flags, no_deinstall="-D" in flags)
    return deleter.run(args, recursive="-r" in flags, by_filename="-F" in flags, new_leaves="-R" in flags,
                       automatic_leaves="-A" in flags, keep_preserve="-k" in flags)
