"""Stand-in for pkg_admin(1) of pkg_install 20170419.

    pkg_admin [-qVv] [-C config] [-d lsdir] [-K pkg_dbdir] [-s sfx] command [args ...]

Commands: check [pkg ...], rebuild, rebuild-tree, set var=value pkg ..., unset var pkg ...,
pmatch pattern pkg, lsall / lsbest dir/pattern, fetch-pkg-vulnerabilities [-su],
check-pkg-vulnerabilities [-s] file, audit / audit-pkg / audit-batch [-eis] [-t type],
config-var name, dump. `rebuild` only counts (pkgdb.byfile.db is not kept by the stand-ins).
"""
from __future__ import annotations

import hashlib
import os
import time
from typing import Dict, List, Mapping, Optional

from pkgsrc_core.packages.pkgdb import parse_contents

from . import _pkgconf, _pkgfetch, _pkgvuln
from ._pkgdb import PkgDb, is_pkgpattern, plist_files, plist_values, safe_best, safe_match

USAGE = ("usage: pkg_admin [-bqSVv] [-C config] [-d lsdir] [-K pkg_dbdir] [-s sfx] command [args ...]\n"
         "Where 'commands' and 'args' are:\n"
         " rebuild                     - rebuild pkgdb from +CONTENTS files\n"
         " rebuild-tree                - rebuild +REQUIRED_BY files from forward deps\n"
         " check [pkg ...]             - check md5 checksum of installed files\n"
         " add pkg ...                 - add pkg files to database\n"
         " delete pkg ...              - delete file entries for pkg in database\n"
         " set variable=value pkg ...  - set installation variable for package\n"
         " unset variable pkg ...      - unset installation variable for package\n"
         " lsall /path/to/pkgpattern   - list all pkgs matching the pattern\n"
         " lsbest /path/to/pkgpattern  - list pkgs matching the pattern best\n"
         " dump                        - dump database\n"
         " pmatch pattern pkg          - returns true if pkg matches pattern, otherwise false\n"
         " fetch-pkg-vulnerabilities [-s] - fetch new vulnerability file\n"
         " check-pkg-vulnerabilities [-s] <file> - check syntax and checksums of the vulnerability file\n"
         " audit [-eis] [-t type] ...       - check installed packages for vulnerabilities\n"
         " audit-pkg [-eis] [-t type] ...   - check listed packages for vulnerabilities\n"
         " audit-batch [-eis] [-t type] ... - check packages in listed files for vulnerabilities\n"
         " config-var name            - print current value of the configuration variable\n")


class Admin:
    """One pkg_admin run."""

    def __init__(self, settings: _pkgconf.Settings, reporter: _pkgconf.Reporter, quiet: bool = False,
                 verbose: int = 0) -> None:
        self.settings = settings
        self.rep = reporter
        self.db = PkgDb(settings.pkg_dbdir)
        self.quiet = quiet
        self.verbose = verbose

    # --- check -----------------------------------------------------------------------------
    def check1pkg(self, pkg: str) -> int:
        """Verify one package's files (MD5 and symlink targets); the number of files found."""
        count = 0
        plist = parse_contents(self.db.read(pkg, "+CONTENTS") or "")
        for item in plist.files:
            path = item.full_path
            if os.path.exists(path):
                if item.md5 is not None and os.path.isfile(path) and not os.path.islink(path):
                    with open(path, "rb") as handle:
                        digest = hashlib.md5(handle.read()).hexdigest()  # noqa: S324 - the packing list's checksum
                    if digest != item.md5:
                        self.rep.print("%s fails MD5 checksum" % path)
                elif item.symlink is not None and os.path.islink(path):
                    target = os.readlink(path)
                    if target != item.symlink:
                        self.rep.print("symlink (%s) is not same as recorded value, Symlink:%s: Symlink:%s"
                                       % (path, target, item.symlink))
                count += 1
            elif os.path.islink(path):
                self.rep.warn("%s: Symlink `%s' exists and is in +CONTENTS but target does not exist!" % (pkg, path))
            else:
                self.rep.warn("%s: File `%s' is in +CONTENTS but not on filesystem!" % (pkg, path))
        return count

    def check(self, args: List[str]) -> int:
        """check [pkg ...]: dots per package, then totals."""
        pkgs: List[str] = []
        if not args:
            pkgs = self.db.names()
        for arg in args:
            if is_pkgpattern(arg):
                found = self.db.match(arg)
                if not found:
                    self.rep.warn("No matching pkg for %s." % arg)
                pkgs.extend(found)
            elif self.db.installed(arg):
                pkgs.append(arg)
            else:
                found = self.db.by_basename(arg)
                if not found:
                    self.rep.warn("cannot find package %s" % arg)
                pkgs.extend(found)
        files = 0
        for pkg in pkgs:
            files += self.check1pkg(pkg)
            if not self.quiet:
                self.rep.write(".")
        self.rep.write("\n")
        self.rep.print("Checked %d file%s from %d package%s." % (files, "" if files == 1 else "s",
                                                                 len(pkgs), "" if len(pkgs) == 1 else "s"))
        if not self.quiet:
            self.rep.print("Done.")
        return 0

    # --- database maintenance ----------------------------------------------------------------
    def rebuild(self) -> int:
        """rebuild: count files and directories (the stand-ins keep no pkgdb.byfile.db)."""
        files = dirs = 0
        pkgs = self.db.names()
        for pkg in pkgs:
            entries = self.db.plist(pkg)
            files += len(plist_files(entries))
            dirs += len(plist_values(entries, "pkgdir"))
        if not self.quiet:
            self.rep.print("Stored %d file%s and %d explicit director%s from %d package%s in %s." % (
                files, "" if files == 1 else "s", dirs, "y" if dirs == 1 else "ies", len(pkgs),
                "" if len(pkgs) == 1 else "s", os.path.join(self.db.dbdir, "pkgdb.byfile.db")))
            self.rep.print("Done.")
        return 0

    def rebuild_tree(self, quiet: bool = False) -> int:
        """rebuild-tree: recompute every +REQUIRED_BY from the @pkgdep lines."""
        with self.db.lock():
            names = self.db.names()
            required: Dict[str, List[str]] = {pkg: [] for pkg in names}
            for pkg in names:
                for pattern in plist_values(self.db.plist(pkg), "pkgdep"):
                    best = safe_best(pattern, names)
                    if best is None:
                        self.rep.warn("%s: Unresolvable dependency %s" % (pkg, pattern))
                        continue
                    if pkg not in required[best]:
                        required[best].append(pkg)
            for pkg in names:
                self.db.set_required_by(pkg, required[pkg])
        if not quiet and not self.quiet:
            self.rep.print("Done.")
        return 0

    def set_unset(self, args: List[str], unset: bool) -> int:
        """set var=value pkg ... / unset var pkg ..."""
        if len(args) < 2:
            self.rep.err.write(USAGE)
            return 1
        if unset:
            variable, value = args[0], None
        else:
            if "=" not in args[0]:
                self.rep.err.write(USAGE)
                return 1
            variable, value = args[0].split("=", 1)
            if variable == "automatic" and value.lower() not in ("yes", "no"):
                self.rep.warn("unknown value `%s' for automatic" % value)
                return 1
        if any(c.isupper() for c in variable):
            self.rep.warn("variable name must not contain uppercase letters")
            return 1
        status = 0
        with self.db.lock():
            for arg in args[1:]:
                if is_pkgpattern(arg):
                    pkgs = self.db.match(arg)
                elif self.db.installed(arg):
                    pkgs = [arg]
                else:
                    pkgs = self.db.by_basename(arg)
                if not pkgs:
                    # set_unset_variable(): a pattern matching nothing is "no matching pkg"; a
                    # name is retried as NAME-[0-9]*, then "cannot find package NAME"
                    if is_pkgpattern(arg):
                        self.rep.warn("no matching pkg for `%s'" % arg)
                    else:
                        self.rep.warn("cannot find package %s" % arg)
                    status = 1
                for pkg in pkgs:
                    self.db.set_var(pkg, variable, value)
        return status

    # --- listing -----------------------------------------------------------------------------
    def ls(self, args: List[str], best: bool, lsdir: str, suffix: str) -> int:
        """lsall / lsbest: package files in a directory matching a pattern."""
        for arg in args:
            directory = lsdir or (os.path.dirname(arg) or ".")
            pattern = arg if lsdir else os.path.basename(arg)
            try:
                entries = sorted(os.listdir(directory))
            except OSError:
                entries = []
            stems = {}
            for entry in entries:
                for sfx in ([suffix] if suffix else [".tgz", ".tbz"]):
                    if entry.endswith(sfx):
                        stems[entry[:-len(sfx)]] = entry
            if best:
                found = safe_best(pattern, list(stems))
                if found is not None:
                    self.rep.print(os.path.join(directory, stems[found]))
            else:
                for stem, entry in stems.items():
                    if safe_match(pattern, stem):
                        self.rep.print(os.path.join(directory, entry))
        return 0

    # --- vulnerabilities -----------------------------------------------------------------------
    @property
    def vuln_file(self) -> str:
        """<PKGVULNDIR>/pkg-vulnerabilities."""
        return os.path.join(self.settings.pkgvulndir, "pkg-vulnerabilities")

    def parse_vulns(self, data: bytes, check_signature: bool) -> Optional[List[_pkgvuln.Vulnerability]]:
        try:
            return _pkgvuln.parse(data, check_signature, self.settings.get("GPG_KEYRING_PKGVULN"),
                                  self.settings.get("GPG") or "gpg")
        except _pkgvuln.VulnError as exc:
            self.rep.warn(str(exc))
            return None

    def fetch_vulnerabilities(self, args: List[str]) -> int:
        """fetch-pkg-vulnerabilities [-su]: download PKGVULNURL into PKGVULNDIR."""
        check_signature = "-s" in args
        url = self.settings.get("PKGVULNURL")
        try:
            data = _pkgfetch.fetch_bytes(url)
        except _pkgfetch.FetchError as exc:
            self.rep.warn("Could not retrieve pkg-vulnerabilities: %s" % exc)
            return 1
        if self.parse_vulns(data, check_signature) is None:
            return 1
        os.makedirs(self.settings.pkgvulndir, exist_ok=True)
        tmp = self.vuln_file + ".%d" % os.getpid()
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.vuln_file)
        return 0

    def _read_vulns(self, check_signature: bool) -> Optional[List[_pkgvuln.Vulnerability]]:
        if self.verbose >= 1:
            try:
                age = time.time() - os.stat(self.vuln_file).st_mtime
            except OSError:
                self.rep.warn("pkg-vulnerabilities not found, run fetch-pkg-vulnerabilities first")
                return None
            if age < 0:
                self.rep.warn("pkg-vulnerabilities is from the future")
            elif age > 86400 * 7:
                self.rep.warn("pkg-vulnerabilities is out of date (%d days old)" % (age // 86400))
        try:
            with open(self.vuln_file, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            self.rep.warn("Cannot open %s: %s" % (self.vuln_file, exc.strerror))
            return None
        return self.parse_vulns(data, check_signature)

    def audit(self, command: str, args: List[str]) -> int:
        """audit / audit-pkg / audit-batch."""
        try:
            opts, operands = _pkgconf.getopt(args, "eist:v")
        except _pkgconf.GetoptError as exc:
            self.rep.warn(str(exc))
            return 1
        flags = dict(opts)
        self.verbose += sum(1 for flag, _unused in opts if flag == "-v")
        entries = self._read_vulns("-s" in flags)
        if entries is None:
            return 1
        check_eol = "-e" in flags or self.settings.get("CHECK_END_OF_LIFE").lower() == "yes"
        ignore = self.settings.get("IGNORE_URL").split()
        if command == "audit":
            pkgs: List[str] = []
            if not operands:
                pkgs = self.db.names()
            for arg in operands:
                pkgs.extend(self.db.match(arg) if is_pkgpattern(arg) else
                            ([arg] if self.db.installed(arg) else self.db.by_basename(arg)))
        elif command == "audit-pkg":
            pkgs = list(operands)
        else:
            pkgs = []
            for path in operands:
                try:
                    with open(path, encoding="utf-8") as handle:
                        pkgs.extend(line.strip() for line in handle if line.strip())
                except OSError as exc:
                    self.rep.warn("cannot open %s: %s" % (path, exc.strerror))
                    return 1
        vulnerable = False
        for pkg in pkgs:
            for line in _pkgvuln.audit(entries, pkg, flags.get("-t"), check_eol, ignore):
                self.rep.print(line)
                vulnerable = True
        return 1 if vulnerable else 0

    def config_var(self, name: str) -> int:
        """config-var NAME: the effective value of a known variable (nothing otherwise)."""
        if name not in _pkgconf.KNOWN_VARIABLES:
            return 0
        value = self.settings.get(name)
        if name == "PKGVULNDIR":
            value = self.settings.pkgvulndir
        elif name == "PKG_REFCOUNT_DBDIR":
            value = self.settings.refcount_dbdir
        if value:
            self.rep.print(value)
        return 0

    def dump(self) -> int:
        """dump: every file with its package."""
        for path, pkg in self.db.file_owners().items():
            self.rep.print("file: %s pkg: %s" % (path, pkg))
        return 0


def main(argv: List[str], config: Mapping[str, str]) -> int:
    """pkg_admin [options] command [args ...]"""
    rep = _pkgconf.Reporter("pkg_admin")
    try:
        opts, args = _pkgconf.getopt(argv, "bC:d:K:qSs:Vv")
    except _pkgconf.GetoptError as exc:
        rep.warn(str(exc))
        rep.err.write(USAGE)
        return 1
    values = dict(opts)
    if "-V" in values:
        rep.print(_pkgconf.PKGTOOLS_VERSION)
        return 0
    if not args:
        rep.err.write(USAGE)
        return 1
    settings = _pkgconf.load(config, conf_file=values.get("-C") or None, dbdir=values.get("-K") or None)
    admin = Admin(settings, rep, quiet="-q" in values, verbose=sum(1 for f, _unused in opts if f == "-v"))
    command, rest = args[0], args[1:]
    if command == "pmatch":
        if len(rest) != 2:
            rep.err.write(USAGE)
            return 1
        return 0 if safe_match(rest[0], rest[1]) else 1
    if command == "check":
        return admin.check(rest)
    if command == "rebuild":
        return admin.rebuild()
    if command == "rebuild-tree":
        return admin.rebuild_tree()
    if command in ("set", "unset"):
        return admin.set_unset(rest, unset=command == "unset")
    if command in ("lsall", "lsbest"):
        return admin.ls(rest, command == "lsbest", values.get("-d", ""), values.get("-s", ""))
    if command == "fetch-pkg-vulnerabilities":
        return admin.fetch_vulnerabilities(rest)
    if command == "check-pkg-vulnerabilities":
        files = [a for a in rest if not a.startswith("-")]
        if len(files) != 1:
            rep.err.write(USAGE)
            return 1
        try:
            with open(files[0], "rb") as handle:
                data = handle.read()
        except OSError as exc:
            rep.warn("Cannot open %s: %s" % (files[0], exc.strerror))
            return 1
        return 0 if admin.parse_vulns(data, "-s" in rest) is not None else 1
    if command in ("audit", "audit-pkg", "audit-batch"):
        return admin.audit(command, rest)
    if command == "config-var":
        if len(rest) != 1:
            rep.err.write(USAGE)
            return 1
        return admin.config_var(rest[0])
    if command == "dump":
        return admin.dump()
    rep.err.write(USAGE)
    return 1
