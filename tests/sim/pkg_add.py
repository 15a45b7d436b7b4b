"""Stand-in for pkg_add(1) of pkg_install 20170419.

    pkg_add [-ADfIMnRUuVv] [-C config] [-K pkg_dbdir] [-P destdir] [-p prefix] [-m machine] pkg ...

A pkg is a file, a URL, or a name/pattern looked up in PKG_PATH (best version wins; the
directory of every pkg given as a path or URL is searched first for dependencies, as the
real tool does). Dependencies (@pkgdep) are installed first and marked automatic; +REQUIRED_BY
of each dependency is updated; files are extracted under the package's @cwd; +INSTALL runs
with PRE-INSTALL and POST-INSTALL; +DISPLAY is printed. -U/-u replace an installed version,
keeping its +REQUIRED_BY, +PRESERVE and +INSTALLED_INFO. Messages and exit codes follow the
real tool. Not done: the OS/architecture/pkgtools-version checks, licences, @owner/@group,
pkgdb.byfile.db, ftp://.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional

from pkgsrc_core.errors import PkgsrcError
from pkgsrc_core.versions import dewey_cmp, split_pkgname

from . import _pkgarchive, _pkgconf, _pkgfetch, _pkgvuln
from ._pkgdb import PkgDb, PlistEntry, format_cmd, parse_plist, plist_files, plist_values, safe_match
from .pkg_delete import Deleter

USAGE = ("usage: pkg_add [-AfhInRuUVv] [-C config] [-P destdir] [-K pkg_dbdir]\n"
         "               [-m machine] [-p prefix] [-s verification-type] [-W viewbase] [-w view]\n"
         "               [[ftp|http]://[user[:password]@]host[:port]][/path/]pkg-name ...\n")


@dataclass
class Options:
    """pkg_add's switches."""

    automatic: bool = False
    force: bool = False
    force_depends: bool = False
    force_depending: bool = False
    no_install: bool = False
    fake: bool = False
    replace: bool = False
    replace_same: bool = False
    verbose: bool = False
    destdir: str = ""
    prefix: str = ""


@dataclass
class _Task:
    pkg: _pkgarchive.Package
    pkgname: str
    plist: List[PlistEntry]
    meta: Dict[str, str]
    prefix: str
    logdir: str = ""
    other_version: str = ""
    same_version: bool = False
    dependencies: List[str] = field(default_factory=list)


class Installer:
    """pkg_add's work, usable in-process (pkgin calls it rather than spawning pkg_add)."""

    def __init__(self, settings: _pkgconf.Settings, reporter: _pkgconf.Reporter, options: Options) -> None:
        self.settings = settings
        self.rep = reporter
        self.opts = options
        self.db = PkgDb(self._dbdir())
        self.pkg_path: List[str] = list(settings.pkg_path)

    def _dbdir(self) -> str:
        dbdir = self.settings.pkg_dbdir
        if self.opts.destdir:
            return os.path.join(self.opts.destdir, dbdir.lstrip("/"))
        return dbdir

    # --- locating packages -------------------------------------------------------------
    def prepend_path(self, arg: str) -> None:
        """path_prepend_from_pkgname(): search the directory of a given package first."""
        if "/" not in arg:
            return
        directory = arg.rsplit("/", 1)[0] or "/"
        if not _pkgfetch.is_url(directory):
            directory = os.path.abspath(directory)
        if directory not in self.pkg_path:
            self.pkg_path.insert(0, directory)

    def _order(self, pattern: str, candidate: str, best: Optional[str]) -> bool:
        """pkg_order(): True when candidate is a better match than best."""
        if not safe_match(pattern, candidate):
            return False
        if best is None:
            return True
        try:
            cmp = dewey_cmp(split_pkgname(candidate)[1], split_pkgname(best)[1])
        except PkgsrcError:
            return False
        return cmp > 0 or (cmp == 0 and candidate < best)

    def _find_best(self, directory: str, pattern: str, best: List[Optional[str]]) -> None:
        """find_best_package(): list directory, keep the best match in best[0] (name), best[1] (url)."""
        i = 0
        while i < len(pattern) and (pattern[i].isalnum() or pattern[i] == "-"):
            i += 1
        url_pattern = pattern[:i] + "*"
        try:
            names = _pkgfetch.list_dir(directory, url_pattern)
        except _pkgfetch.FetchError as exc:
            shown = _pkgfetch.with_slash(directory if _pkgfetch.is_url(directory) else "file://" + directory)
            self.rep.warn("Can't process %s%s: %s" % (shown, url_pattern, exc))
            return
        for name in names:
            if not name.endswith((".tgz", ".tbz")):
                continue
            stem = name[:-4]
            if self._order(pattern, stem, best[0]):
                best[0] = stem
                best[1] = _pkgfetch.join(directory, name)

    def find_archive(self, pkgpath: str) -> Optional[_pkgarchive.Package]:
        """find_archive(): open pkgpath, or the best match for it in its directory / PKG_PATH."""
        keyring = self.settings.get("GPG_KEYRING_VERIFY")
        gpg = self.settings.get("GPG") or "gpg"
        best: List[Optional[str]] = [None, None]
        if _pkgfetch.is_url(pkgpath) or "/" in pkgpath or os.path.isfile(pkgpath):
            full = pkgpath if _pkgfetch.is_url(pkgpath) else os.path.abspath(pkgpath)
            try:
                return _pkgarchive.load(full, keyring, gpg)
            except (_pkgfetch.FetchError, _pkgarchive.PackageError):
                pass
            directory, _unused, pattern = full.rpartition("/")
            self._find_best(directory or "/", pattern, best)
        else:
            for directory in self.pkg_path:
                self._find_best(directory, pkgpath, best)
        if best[1] is None:
            return None
        try:
            return _pkgarchive.load(best[1], keyring, gpg)
        except (_pkgfetch.FetchError, _pkgarchive.PackageError):
            return None

    # --- checks ----------------------------------------------------------------------------
    def _check_signature(self, task: _Task) -> bool:
        mode = self.settings.get("VERIFIED_INSTALLATION").lower() or "never"
        invalid = not (task.pkg.signed and task.pkg.signature_valid)
        if mode == "never":
            return True
        if mode == "always":
            if invalid:
                self.rep.warn("No valid signature found, rejected")
            return not invalid
        if mode == "trusted" and not invalid:
            return True
        if mode in ("trusted", "interactive"):
            if mode == "trusted":
                self.rep.err.write("No valid signature found for %s.\n" % task.pkgname)
                self.rep.err.write("Do you want to proceed with the installation [y/n]?\n")
            else:
                self.rep.err.write("Do you want to proceed with the installation of %s [y/n]?\n" % task.pkgname)
            answer = _read_answer()
            if not answer.startswith(("y", "Y", "t", "T", "1")):
                self.rep.err.write("Cancelling installation\n")
                return False
            return True
        self.rep.warn("Unknown value of configuration variable VERIFIED_INSTALLATION")
        return False

    def _check_vulnerable(self, task: _Task) -> bool:
        mode = self.settings.get("CHECK_VULNERABILITIES").lower() or "never"
        if mode == "never":
            return True
        path = os.path.join(self.settings.pkgvulndir, "pkg-vulnerabilities")
        try:
            with open(path, "rb") as handle:
                entries = _pkgvuln.parse(handle.read())
        except (OSError, _pkgvuln.VulnError):
            return mode != "always"
        lines = _pkgvuln.audit(entries, task.pkgname)
        for line in lines:
            self.rep.err.write(line + "\n")
        if not lines:
            return True
        if mode == "always":
            return False
        self.rep.err.write("Do you want to proceed with the installation of %s [y/n]?\n" % task.pkgname)
        if not _read_answer().startswith(("y", "Y", "t", "T", "1")):
            self.rep.err.write("Cancelling installation\n")
            return False
        return True

    def _check_other_installed(self, task: _Task) -> bool:
        if task.same_version:
            task.other_version = task.pkgname
            return True
        base = task.pkgname.rsplit("-", 1)[0]
        other = self.db.best(base)
        if other is None:
            return True
        task.other_version = other
        if not self.opts.replace:
            self.rep.warn("A different version of %s is already installed: %s" % (task.pkgname, other))
            return False
        status = True
        for dependant in self.db.required_by(other):
            if not self.db.installed(dependant):
                self.rep.warn("Can't open +CONTENTS of depending package %s" % dependant)
                return False
            for pattern in plist_values(self.db.plist(dependant), "pkgdep"):
                if not safe_match(pattern, other):
                    continue
                if not safe_match(pattern, task.pkgname) and not self.opts.force_depending:
                    self.rep.warn("Dependency of %s fulfilled by %s, but not by %s"
                                  % (dependant, other, task.pkgname))
                    status = False
                break
        return status

    def _check_conflicts(self, task: _Task) -> bool:
        status = True
        for pattern in plist_values(task.plist, "pkgcfl"):
            for installed in self.db.match(pattern):
                if installed == task.other_version:
                    continue
                self.rep.warn("Package `%s' conflicts with `%s', and `%s' is installed."
                              % (task.pkgname, pattern, installed))
                status = False
        for installed in self.db.names():
            if installed == task.other_version:
                continue
            for pattern in plist_values(self.db.plist(installed), "pkgcfl"):
                if safe_match(pattern, task.pkgname):
                    self.rep.warn("Installed package `%s' conflicts with `%s' when trying to install `%s'."
                                  % (installed, pattern, task.pkgname))
                    status = False
        if not status:
            return False
        owners = self.db.file_owners(exclude=(task.other_version,) if task.other_version else ())
        for cwd, name, _unused in plist_files(task.plist):
            owner = owners.get(os.path.join(cwd, name))
            if owner is not None:
                self.rep.warn("Conflicting PLIST with %s: %s" % (owner, name))
                if not self.opts.force:
                    return False
        return True

    def _check_dependencies(self, task: _Task) -> bool:
        for pattern in plist_values(task.plist, "pkgdep"):
            if self.db.best(pattern) is not None:
                continue
            if self.opts.fake:
                if not self.opts.force:
                    self.rep.warn("Missing dependency %s\n" % pattern)
                    return False
                self.rep.warn("Missing dependency %s, continuing" % pattern)
                continue
            if self.pkg_do(pattern, mark_automatic=True):
                if not self.opts.force_depends:
                    self.rep.warn("Can't install dependency %s" % pattern)
                    return False
                self.rep.warn("Can't install dependency %s, continuing" % pattern)
            if self.db.best(pattern) is None:
                if not self.opts.force_depends:
                    self.rep.warn("Just installed dependency %s disappeared" % pattern)
                    return False
                self.rep.warn("Missing dependency %s ignored" % pattern)
        for pattern in plist_values(task.plist, "pkgdep"):
            found = self.db.best(pattern)
            if found is None:
                if self.opts.fake or self.opts.force_depends:
                    continue
                self.rep.warn("Expected dependency %s still missing" % pattern)
                return False
            if found not in task.dependencies:
                task.dependencies.append(found)
        return True

    # --- doing -----------------------------------------------------------------------------
    def _write_meta(self, task: _Task, directory: str) -> None:
        for fname, text in task.meta.items():
            self.db.write(task.pkgname, fname, text, directory=directory)

    def _script_env(self, task: _Task) -> Dict[str, str]:
        env = dict(os.environ)
        env["PKG_PREFIX"] = task.prefix
        env["PKG_METADATA_DIR"] = task.logdir
        env["PKG_REFCOUNT_DBDIR"] = self.settings.refcount_dbdir
        if self.opts.destdir:
            env["PKG_DESTDIR"] = self.opts.destdir
        return env

    def _run_install_script(self, task: _Task, stage: str) -> bool:
        if "+INSTALL" not in task.meta or self.opts.no_install:
            return True
        if self.opts.verbose:
            self.rep.print("Running install with %s for %s." % (stage, task.pkgname))
        if self.opts.fake:
            return True
        script = os.path.join(task.logdir, "+INSTALL")
        self.rep.out.flush()
        try:
            result = subprocess.run([script, task.pkgname, stage], cwd=task.logdir, env=self._script_env(task),
                                    stdout=self.rep.out, stderr=self.rep.err, check=False)
        except OSError:
            self.rep.warn("exec of install script failed")
            return False
        if result.returncode != 0:
            self.rep.warn("install script returned error status")
            return False
        return True

    def _target_root(self, cwd: str) -> str:
        return os.path.join(self.opts.destdir, cwd.lstrip("/")) if self.opts.destdir else cwd

    def _extract(self, task: _Task) -> bool:
        if self.opts.fake:
            return True
        try:
            tar, members = task.pkg.members()
        except (tarfile.TarError, OSError) as exc:
            self.rep.warn("Failed to read from archive for %s: %s" % (task.pkgname, exc))
            return False
        with tar:
            cwd = task.prefix
            mode: Optional[str] = None
            last_file = ""
            ignore = False
            seen = set()
            for entry in task.plist:
                if entry.kind == "cwd":
                    cwd = entry.arg
                elif entry.kind == "mode":
                    mode = entry.arg or None
                elif entry.kind == "ignore":
                    ignore = True
                elif entry.kind == "pkgdir":
                    os.makedirs(os.path.join(self._target_root(cwd), entry.arg), exist_ok=True)
                elif entry.kind == "exec":
                    self._exec(entry.arg, cwd, last_file)
                elif entry.kind == "file":
                    if ignore:
                        ignore = False
                        continue
                    last_file = entry.arg
                    member = members.get(entry.arg)
                    if member is None:
                        self.rep.warn("PLIST entry not in package (%s)" % entry.arg)
                        return False
                    if not self._write_member(tar, member, self._target_root(cwd), entry.arg, mode):
                        return False
                    seen.add(entry.arg)
                    if self.opts.verbose:
                        self.rep.print(entry.arg)
            extra = [name for name in members if name not in seen]
            if extra:
                self.rep.warn("Package contains entries not in PLIST: %s" % extra[0])
                return False
        return True

    def _write_member(self, tar: tarfile.TarFile, member: tarfile.TarInfo, root: str, name: str,
                      mode: Optional[str]) -> bool:
        parts = name.split("/")
        if name.startswith("/") or ".." in parts:
            self.rep.warn("Failed to write %s: path escapes the prefix" % name)
            return False
        target = os.path.join(root, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            else:
                os.unlink(target)
        try:
            if member.issym():
                os.symlink(member.linkname, target)
                return True
            if member.islnk():
                linked = tar.getmember(member.linkname)
                handle = tar.extractfile(linked)
            else:
                handle = tar.extractfile(member)
            data = handle.read() if handle is not None else b""
            with open(target, "wb") as out:
                out.write(data)
            perm = member.mode & 0o7777
            if mode and mode.isdigit():
                perm = int(mode, 8)
            if os.geteuid() != 0:
                perm &= 0o777
            os.chmod(target, perm)
            os.utime(target, (member.mtime, member.mtime))
        except (OSError, tarfile.TarError) as exc:
            self.rep.warn("Failed to write %s for %s: %s" % (name, member.name, exc))
            return False
        return True

    def _exec(self, command: str, cwd: str, last_file: str) -> None:
        cmd = format_cmd(command, cwd, last_file)
        self.rep.print("Executing '%s'" % cmd)
        if self.opts.fake:
            return
        self.rep.out.flush()
        result = subprocess.run(["/bin/sh", "-c", cmd], stdout=self.rep.out, stderr=self.rep.err, check=False)
        if result.returncode != 0:
            self.rep.warn("command '%s' failed" % cmd)

    def _nuke_pkgdb(self, directory: str) -> None:
        if not self.opts.fake and directory and os.path.isdir(directory):
            shutil.rmtree(directory, ignore_errors=True)

    def _nuke_files(self, task: _Task) -> None:
        for cwd, name, _unused in plist_files(task.plist):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self._target_root(cwd), name))

    def _start_replacing(self, task: _Task, newdir: str) -> bool:
        """Move the old version's +REQUIRED_BY etc. to the new entry, then delete it."""
        old = task.other_version
        names = ["+REQUIRED_BY", "+PRESERVE"]
        if "+INSTALLED_INFO" not in task.meta:
            names.append("+INSTALLED_INFO")
        for fname in names:
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.db.path(old, fname), os.path.join(newdir, fname))
        if self.opts.verbose or self.opts.fake:
            self.rep.print("%s/pkg_delete -K %s -p %s%s '%s'" % (
                os.path.join(self.settings.prefix, "sbin"), self.db.dbdir, task.prefix,
                (" -P " + self.opts.destdir) if self.opts.destdir else "", old))
        if self.opts.fake:
            return True
        deleter = Deleter(self.settings, self.rep.child("pkg_delete"), self.db, destdir=self.opts.destdir,
                          prefix=task.prefix)
        if deleter.remove_pkg(old):
            self.rep.warn("command failed: %s/pkg_delete -K %s -p %s %s"
                          % (os.path.join(self.settings.prefix, "sbin"), self.db.dbdir, task.prefix, old))
            return False
        return True

    def pkg_do(self, pkgpath: str, mark_automatic: bool) -> int:
        """Install one package; 0 on success, 1 on failure (messages already printed)."""
        pkg = self.find_archive(pkgpath)
        if pkg is None:
            self.rep.warn("no pkg found for '%s', sorry." % pkgpath)
            return 1
        plist = parse_plist(pkg.meta["+CONTENTS"])
        names = plist_values(plist, "name")
        if not names:
            self.rep.warn("Invalid PLIST: missing @name")
            return 1
        pkgname = names[0]
        if pkg.signed and pkg.hash_pkgname and pkg.hash_pkgname != pkgname:
            self.rep.warn("Signature and PLIST differ on package name")
            return 1
        cwds = plist_values(plist, "cwd")
        if not cwds:
            self.rep.warn("Invalid PLIST: missing @cwd")
            return 1
        meta = dict(pkg.meta)
        prefix = cwds[0]
        if self.opts.prefix and self.opts.prefix != prefix:
            prefix = self.opts.prefix
            meta["+CONTENTS"] = _replace_first_cwd(meta["+CONTENTS"], prefix)
            plist = parse_plist(meta["+CONTENTS"])
        task = _Task(pkg=pkg, pkgname=pkgname, plist=plist, meta=meta, prefix=prefix)
        if not self._check_signature(task):
            return 1
        build_info = meta.get("+BUILD_INFO", "")
        keys = {line.split("=", 1)[0] for line in build_info.splitlines() if "=" in line}
        if not {"OPSYS", "OS_VERSION", "MACHINE_ARCH"} <= keys:
            self.rep.warn("Not all required build information are present.")
            return 1
        if not self._check_vulnerable(task):
            return 1
        if "+MTREE_DIRS" in meta:
            self.rep.warn("mtree specification in pkg `%s' ignored" % pkgname)
        task.logdir = self.db.path(pkgname)
        if self.db.installed(pkgname):
            if self.opts.replace_same:
                task.same_version = True
            else:
                if not self.opts.automatic and self.db.is_automatic(pkgname):
                    if not self.opts.fake:
                        self.db.mark_automatic(pkgname, False)
                    self.rep.warn("package `%s' was already installed as dependency, now marked as "
                                  "installed manually" % pkgname)
                else:
                    self.rep.warn("package `%s' already recorded as installed" % pkgname)
                return 0
        if not self._check_other_installed(task) or not self._check_conflicts(task):
            return 1
        workdir = task.logdir
        if task.other_version:
            if task.same_version:
                workdir = task.logdir + ".xxxxxx"
                if os.path.exists(workdir):
                    self.rep.warn("package `%s' already has a temporary update directory `%s', remove it manually"
                                  % (pkgname, workdir))
                    return 1
            if not self.opts.fake:
                self._write_meta(task, workdir)
            if not self._start_replacing(task, workdir):
                self._nuke_pkgdb(workdir)
                return 1
            if workdir != task.logdir and not self.opts.fake:
                os.replace(workdir, task.logdir)
            if not self._check_dependencies(task):
                self._nuke_pkgdb(task.logdir)
                return 1
        else:
            if not self._check_dependencies(task):
                return 1
            if not self.opts.fake:
                self._write_meta(task, workdir)
        if not self._run_install_script(task, "PRE-INSTALL"):
            self._nuke_pkgdb(task.logdir)
            return 1
        try:
            extracted = self._extract(task)
        except (EOFError, zlib.error, tarfile.TarError) as exc:  # a truncated archive
            self.rep.warn("Failed to read from archive for %s: %s" % (pkgname, exc))
            extracted = False
        if not extracted:
            if task.other_version:
                self.rep.warn("Updating of %s to %s failed." % (task.other_version, pkgname))
                self.rep.warn("Remember to run pkg_admin rebuild-tree after fixing this.")
            self._nuke_files(task)
            self._nuke_pkgdb(task.logdir)
            return 1
        if not self._run_install_script(task, "POST-INSTALL"):
            self._nuke_pkgdb(task.logdir)
            return 1
        if self.opts.fake:
            return 0
        if mark_automatic:
            self.db.mark_automatic(pkgname, True)
        for dep in task.dependencies:
            self.db.add_required_by(dep, pkgname)
        if self.opts.verbose:
            self.rep.print("Package %s registered in %s" % (pkgname, task.logdir))
        if "+DISPLAY" in meta:
            self.rep.write(meta["+DISPLAY"])
        return 0

    def add(self, args: List[str]) -> int:
        """pkg_perform(): install every argument; the number of failures."""
        for arg in args:
            self.prepend_path(arg)
        errors = 0
        with self.db.lock():
            for arg in args:
                if self.pkg_do(arg, self.opts.automatic):
                    errors += 1
        return errors


def _read_answer() -> str:
    return sys.stdin.readline().strip()


def _replace_first_cwd(contents: str, prefix: str) -> str:
    lines = contents.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("@cwd ") or line.startswith("@cd "):
            lines[i] = "@cwd " + prefix
            break
    return "\n".join(lines) + "\n"


def parse_options(argv: List[str]) -> "tuple[Options, str, str, List[str]]":
    """(Options, config file, pkg_dbdir, operands); raises GetoptError."""
    opts, args = _pkgconf.getopt(argv, "AC:DfIK:LMm:nP:p:RSs:UuVvW:w:")
    options = Options()
    conf = dbdir = ""
    for flag, value in opts:
        if flag == "-A":
            options.automatic = True
        elif flag == "-C":
            conf = value
        elif flag == "-D":
            options.force_depending = True
        elif flag == "-f":
            options.force = options.force_depends = options.force_depending = True
        elif flag == "-I":
            options.no_install = True
        elif flag == "-K":
            dbdir = value
        elif flag == "-n":
            options.fake = True
            options.verbose = True
        elif flag == "-P":
            options.destdir = value
        elif flag == "-p":
            options.prefix = value
        elif flag == "-U":
            options.replace = options.replace_same = True
        elif flag == "-u":
            options.replace = True
        elif flag == "-v":
            options.verbose = True
    return options, conf, dbdir, args


def main(argv: List[str], config: Mapping[str, str]) -> int:
    """pkg_add [options] pkg ..."""
    rep = _pkgconf.Reporter("pkg_add")
    if "-V" in argv:
        rep.print(_pkgconf.PKGTOOLS_VERSION)
        return 0
    try:
        options, conf, dbdir, args = parse_options(argv)
    except _pkgconf.GetoptError as exc:
        rep.warn(str(exc))
        rep.err.write(USAGE)
        return 1
    if not args:
        rep.warn("missing package name(s)")
        rep.err.write(USAGE)
        return 1
    settings = _pkgconf.load(config, conf_file=conf or None, dbdir=dbdir or None)
    installer = Installer(settings, rep, options)
    errors = installer.add(args)
    if errors:
        rep.warn("%d package addition%s failed" % (errors, "" if errors == 1 else "s"))
        return 1
    return 0
