"""Stand-in for pkgin(1) 26.4.0.

    pkgin [-dfhnPpvVy] [-l limit] command [package ...]

Repositories come from $PKG_REPOS (space-separated) or <SYSCONFDIR>/pkgin/repositories.conf;
pins from <SYSCONFDIR>/pkgin/preferred.conf. The remote summaries are kept in
<VARBASE>/db/pkgin/ (see _pkginrepo); `update` refreshes them (install and upgrade quietly,
too), the other commands use the local copy. As in the real pkgin, only a new database, -f or
a repository REMOVED from the list forces a full reload ("cleaning database from URL
entries..."); a repository ADDED next to a loaded one is downloaded by the next update but its
packages do not go in until `pkgin -f update` (_pkginrepo.RemoteDb.insert_summary says why).
Packages are downloaded to <VARBASE>/db/pkgin/cache/ and installed through the pkg_add code
in-process (pkg_add -DU, -ADU for dependencies; removals as pkg_delete -f, then pkg_admin
rebuild-tree); pkg_install's messages go to <VARBASE>/db/pkgin/pkg_install-err.log. Being
in-process, those pkg_add runs are not in the launcher's invocation log. Output follows
pkgin 26.4.0 (see the real transcripts); -p selects "name;comment" lists.
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
import platform
import re
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, TextIO, Tuple

from pkgsrc_core.errors import PkgsrcError
from pkgsrc_core.packages.pkgdb import read_pkgdb
from pkgsrc_core.versions import dewey_cmp

from . import _pkgconf, _pkgfetch
from ._pkgarchive import PackageError, read_meta
from ._pkgdb import PkgDb, safe_best, safe_match, var_value
from ._pkginrepo import Remote, RemoteDb, RepoError
from .pkg_add import Installer, Options
from .pkg_admin import Admin
from .pkg_delete import Deleter
from .pkg_info import main as pkg_info_main

COMMANDS: Tuple[Tuple[str, str, str], ...] = (
    ("list", "ls", "List installed local packages"),
    ("avail", "av", "List all available remote packages"),
    ("search", "se", "Search for a remote package"),
    ("install", "in", "Install or upgrade packages"),
    ("update", "up", "Refresh local and remote package lists"),
    ("upgrade", "ug", "Upgrade all packages"),
    ("full-upgrade", "fug", "Upgrade all packages (deprecated)"),
    ("remove", "rm", "Remove packages and any dependent packages"),
    ("keep", "ke", "Mark packages that should not be autoremoved"),
    ("unkeep", "uk", "Mark packages that can be autoremoved"),
    ("export", "ex", "Display PKGPATH for all keep packages"),
    ("import", "im", "Import keep package list from file"),
    ("show-keep", "sk", "Display keep packages"),
    ("show-no-keep", "snk", "Display autoremovable packages"),
    ("autoremove", "ar", "Remove orphaned dependencies"),
    ("clean", "cl", "Remove downloaded package files"),
    ("show-deps", "sd", "List remote package direct dependencies"),
    ("show-full-deps", "sfd", "List remote package full dependencies"),
    ("show-rev-deps", "srd", "List local package reverse dependencies"),
    ("provides", "prov", "Show which shared libraries a package provides"),
    ("requires", "req", "Show which shared libraries a package requires"),
    ("show-category", "sc", "List all packages belonging to a category"),
    ("show-pkg-category", "spc", "Show categories a package belongs to"),
    ("show-all-categories", "sac", "List all known categories"),
    ("pkg-content", "pc", "Show remote package content"),
    ("pkg-descr", "pd", "Show remote package long-description"),
    ("pkg-build-defs", "pbd", "Show remote package build definitions"),
    ("stats", "st", "Show local and remote package statistics"),
)
LEGEND = ("\n=: package is installed and up-to-date\n<: package is installed but newer version is available\n"
          ">: installed package has a greater version than available package\n")


# pkgin.h: the hash tables whose slot order decides the order of many outputs.
REMOTE_PKG_HASH_SIZE = 4096
PKGS_HASH_SIZE = 256


def hash_slot(name: str, size: int) -> int:
    """pkg_hash_entry(): djb_hash(name) % size (a 64-bit size_t)."""
    value = 5381
    for byte in name.encode("utf-8", "surrogateescape"):
        value = (value * 33 + byte) & 0xFFFFFFFFFFFFFFFF
    return value % size


def version_check(first: str, second: str) -> int:
    """pkg_str.c version_check(): 1 when first's version is greater than second's, else 2."""
    if "-" not in first:
        return 2
    if "-" not in second:
        return 1
    return 1 if dewey_cmp(first.rsplit("-", 1)[1], second.rsplit("-", 1)[1]) > 0 else 2


def humanize(number: int) -> str:
    """humanize_number(buf, 6, n, "", HN_AUTOSCALE, HN_B | HN_NOSPACE | HN_DECIMAL)."""
    prefixes = ["B", "K", "M", "G", "T", "P", "E"]
    sign = -1 if number < 0 else 1
    value = abs(number) * 100
    baselen = 3 if sign < 0 else 2
    maximum = 100 * 10 ** (6 - baselen)
    scale = 0
    while value >= maximum - 50 and scale < 6:
        value //= 1024
        scale += 1
    if value < 995 and scale > 0:
        rounded = (value + 5) // 10
        return "%d.%d%s" % (sign * (rounded // 10), rounded % 10, prefixes[scale])
    return "%d%s" % (sign * ((value + 50) // 100), prefixes[scale])


@dataclass
class Local:
    """An installed package as pkgin sees it."""

    full: str
    comment: str
    keep: bool
    pkgpath: str
    build_date: str
    size_pkg: int
    depends: List[str]

    @property
    def name(self) -> str:
        """Base name."""
        return self.full.rsplit("-", 1)[0]


@dataclass
class Item:
    """One entry of an impact (install/upgrade plan)."""

    rpkg: Optional[Remote]
    lpkg: Optional[Local] = None
    action: str = "none"
    level: int = 0
    keep: bool = False
    patterns: List[str] = field(default_factory=list)

    @property
    def full(self) -> str:
        """Remote name when there is one, else the local one."""
        if self.rpkg is not None:
            return self.rpkg.full
        return self.lpkg.full if self.lpkg is not None else ""


class Pkgin:
    """One pkgin run."""

    def __init__(self, settings: _pkgconf.Settings, rep: _pkgconf.Reporter) -> None:
        self.settings = settings
        self.rep = rep
        self.db = PkgDb(settings.pkg_dbdir)
        self.dbdir = settings.pkgin_dbdir
        self.cache = os.path.join(self.dbdir, "cache")
        self.errlog = os.path.join(self.dbdir, "pkg_install-err.log")
        self.remote_db = RemoteDb(self.dbdir)
        self.force_fetch = False  # summary.c's force_fetch: -f, or a repository was removed
        self.next_pkgid = 1  # summary.c's `static int pkgid` of insert_remote_summary()
        self.yes = False
        self.no = False
        self.pflag = False
        self.package_version = False  # -P: show-deps/show-full-deps print PKGNAMEs, not patterns
        self.lslimit = ""
        self.download_only = False
        self.istty = sys.stdout.isatty()
        self._remote: Optional[List[Remote]] = None
        self.preferred = self._read_lines(os.path.join(settings.sysconfdir, "pkgin", "preferred.conf"))

    # --- configuration -----------------------------------------------------------------------
    @staticmethod
    def _read_lines(path: str) -> List[str]:
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return []
        return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]

    def repositories(self) -> List[str]:
        """PKG_REPOS, else repositories.conf; $arch and $osrelease are substituted."""
        env = os.environ.get("PKG_REPOS", "")
        repos = env.split() if env else self._read_lines(os.path.join(self.settings.sysconfdir, "pkgin",
                                                                      "repositories.conf"))
        machine = platform.machine()
        release = platform.release()
        return [r.replace("$arch", machine).replace("$osrelease", release) for r in repos]

    # --- remote database ---------------------------------------------------------------------
    def open_db(self, force: bool) -> bool:
        """What main.c does before any command: repo_record() then chk_repo_list().

        New repositories are recorded with mtime 0; recorded ones no longer configured are
        deleted ("cleaning database from URL entries...") and force a full reload. Only that,
        -f, or a new database (pkgindb_open()) make the refresh below happen: adding a
        repository does not. Returns need_upgrade || need_refresh.
        """
        with self.remote_db.lock():
            self.remote_db = RemoteDb(self.dbdir)
            need_upgrade = self.remote_db.created
            configured = self.repositories()
            self.remote_db.record_repos(configured)
            for url in self.remote_db.repos:
                if url not in configured:
                    self.rep.write("cleaning database from %s entries...\n" % url)
                    self.remote_db.forget_repo(url)
                    self.force_fetch = True
            self.force_fetch = self.force_fetch or force
            self.remote_db.save()
        return need_upgrade or self.force_fetch

    def update_remote(self, verbose: bool) -> bool:
        """update_db(REMOTE_SUMMARY, verbose); False (message printed) when a summary could not
        be fetched (the real pkgin exits there; what was done before stays done).

        update_localdb() prints its two lines only when it reloads, and it reloads only when
        forced: the quiet update_db(LOCAL_SUMMARY) at start-up has already absorbed any change
        of the pkgdb. Each repository whose stored mtime matches is "up-to-date"; any other is
        downloaded ("downloading FILE done." is printed even when not verbose) and loaded with
        the package numbers of this run, starting at 1 (see RemoteDb.insert_summary), after which
        its mtime is recorded whether or not its packages went in.
        """
        self.sync_local(verbose)
        with self.remote_db.lock():
            self.remote_db = RemoteDb(self.dbdir)
            self.remote_db.record_repos(self.repositories())
            try:
                for url in self.repositories():
                    if verbose:
                        self.rep.write("processing remote summary (%s)...\n" % url)
                    mtime = "" if self.force_fetch else self.remote_db.mtime(url)
                    try:
                        fresh = RemoteDb.fetch(url, mtime)
                    except RepoError as exc:
                        self.rep.warn(str(exc))
                        return False
                    if fresh is None:
                        if verbose:
                            self.rep.write("database for %s is up-to-date\n" % url)
                        continue
                    self.rep.write("downloading %s done.\n" % fresh.file)
                    self.remote_db.delete_packages(url)
                    self.next_pkgid = self.remote_db.insert_summary(url, fresh.records, self.next_pkgid)
                    self.remote_db.set_mtime(url, fresh.digest)
            finally:
                self.remote_db.save()
                self._remote = None
        return True

    def remote(self) -> List[Remote]:
        """Available packages (those without a valid FILE_SIZE are dropped, with a warning)."""
        if self._remote is None:
            result = []
            for pkg in self.remote_db.packages():
                if pkg.number("FILE_SIZE") <= 0:
                    self.rep.err.write("warning: remote package %s has an invalid or missing FILE_SIZE\n"
                                       % pkg.full)
                    continue
                result.append(pkg)
            self._remote = result
        return self._remote

    def remote_hashed(self) -> List[Remote]:
        """The remote packages in the order pkgin walks r_plisthead: init_remote_pkglist() reads
        REMOTE_PKGS_QUERY_ASC (ORDER BY REPOS.ROWID, FULLPKGNAME) and inserts each row at the head
        of its hash slot (djb hash of PKGNAME % 4096), so: slot by slot, and within a slot the
        rows in the reverse of the query's order. Searches, `-l` listings and the categories
        iterate this way, and find_preferred_pkg() keeps the LAST of equal versions it meets."""
        rank = {url: n for n, url in enumerate(self.remote_db.repos)}
        query = sorted(self.remote(), key=lambda r: (rank.get(r.repo, len(rank)), r.full.encode("utf-8",
                                                                                                "surrogateescape")))
        indexed = list(enumerate(query))
        indexed.sort(key=lambda item: (hash_slot(item[1].name, REMOTE_PKG_HASH_SIZE), -item[0]))
        return [rpkg for _n, rpkg in indexed]

    def unique_pkg(self, arg: str) -> Optional[Remote]:
        """unique_pkg(arg, REMOTE_PKG): rows whose FULLPKGNAME GLOBs arg* when arg ends in
        "-<digit>...", else whose PKGNAME is arg (no patterns); the greatest version, the first
        of the reversed rows on a tie."""
        exact = "-" in arg and arg.rsplit("-", 1)[1][:1].isdigit()
        rows = [r for r in self.remote() if (r.full.startswith(arg) if exact else r.name == arg)]
        best: Optional[Remote] = None
        for rpkg in reversed(rows):
            if best is None or dewey_cmp(rpkg.version, best.version) > 0:
                best = rpkg
        return best

    # --- local packages ------------------------------------------------------------------------
    def local(self) -> List[Local]:
        """Installed packages in pkgdb order (read with the core's read_pkgdb)."""
        try:
            pkgdb = read_pkgdb(self.db.dbdir)
        except PkgsrcError as exc:
            self.rep.warn(exc.message)
            return []
        keep = self.remote_db.state.get("local", {}).get("keep", {})
        return [Local(full=pkg.pkgname, comment=pkg.comment, keep=keep.get(pkg.pkgname, not pkg.automatic),
                      pkgpath=pkg.pkgpath,
                      build_date=pkg.build_info.get("BUILD_DATE", ""), size_pkg=pkg.size_pkg or 0,
                      depends=list(pkg.depends)) for pkg in pkgdb]

    def find_local(self, arg: str) -> Optional[Local]:
        """An installed package by PKGNAME, base name or pattern."""
        local = self.local()
        for pkg in local:
            if pkg.full == arg:
                return pkg
        for pkg in local:
            if pkg.name == arg:
                return pkg
        best = safe_best(arg, [p.full for p in local])
        return next((p for p in local if p.full == best), None)

    @staticmethod
    def local_status(rpkg: Remote, local: List[Local]) -> str:
        """pkg_is_installed(): "=" (same version string), ">" (installed newer), "<" (any other
        version: version_check() answers 2 for equal deweys too) or "" (not installed)."""
        for lpkg in local:
            if lpkg.name != rpkg.name:
                continue
            if lpkg.full.rsplit("-", 1)[-1] == rpkg.version:
                return "="
            return ">" if version_check(lpkg.full, rpkg.full) == 1 else "<"
        return ""

    # --- resolution ------------------------------------------------------------------------------
    def _pin_for(self, name: str) -> Optional[str]:
        for pin in self.preferred:
            base = re.split(r"[<>]", pin, maxsplit=1)[0]
            if any(c in base for c in "*?[{"):
                base = base.rsplit("-", 1)[0]
            if base == name:
                return pin
        return None

    def find_preferred(self, arg: str) -> Tuple[Optional[Remote], Optional[str]]:
        """find_preferred_pkg(): (best remote package for arg, preferred pin that excluded it).

        Every remote package matching arg, in r_plisthead order (remote_hashed), skipping those
        a preferred.conf pin excludes; a candidate replaces the best one unless the best one's
        version is greater (version_check() compares versions only, whatever the names): so of
        a glob's equal versions the last one walked wins (transcripts-2: 'bench-pkg0[45]-[0-9]*'
        selects bench-pkg05)."""
        best: Optional[Remote] = None
        result: Optional[str] = None
        for rpkg in self.remote_hashed():
            if not safe_match(arg, rpkg.full):
                continue
            result = self._pin_for(rpkg.name)
            if result is not None and not safe_match(result, rpkg.full):
                continue
            if best is None or version_check(best.full, rpkg.full) == 2:
                best = rpkg
        return best, (None if best is not None else result)

    def find_remote(self, name: str, pkgpath: str) -> Optional[Remote]:
        """find_remote_pkg(): best remote package of a base name (and PKGPATH when known)."""
        candidates = [r for r in self.remote() if r.name == name and (not pkgpath or r.get("PKGPATH") == pkgpath)]
        pin = self._pin_for(name)
        if pin is not None:
            candidates = [c for c in candidates if safe_match(pin, c.full)]
        best = safe_best("*", [c.full for c in candidates])
        return next((c for c in candidates if c.full == best), None)

    def remote_depends(self, rpkg: Remote, level: int, seen: Dict[str, Item]) -> None:
        """get_depends_recursive(DEPENDS_REMOTE): fill seen with (level, pattern) per remote package."""
        for pattern in rpkg.values("DEPENDS"):
            dep, _unused = self.find_preferred(pattern)
            if dep is None:
                continue
            item = seen.get(dep.full)
            if item is not None:
                if item.level < level:
                    item.level = level
                    self.remote_depends(dep, level + 1, seen)
                continue
            seen[dep.full] = Item(rpkg=dep, level=level, patterns=[pattern])
            self.remote_depends(dep, level + 1, seen)

    @staticmethod
    def calculate_action(lpkg: Local, rpkg: Remote, patterns: List[str]) -> str:
        """upgrade, refresh or none."""
        for pattern in patterns:
            if not safe_match(pattern, lpkg.full):
                return "upgrade"
        if lpkg.full != rpkg.full:
            return "upgrade"
        if lpkg.pkgpath == rpkg.get("PKGPATH") and lpkg.build_date != rpkg.get("BUILD_DATE"):
            return "refresh"
        return "none"

    def _add_remote(self, impact: Dict[str, Item], item: Item, local: List[Local]) -> str:
        assert_rpkg = item.rpkg
        if assert_rpkg is None:
            return "none"
        lpkg = next((p for p in local if p.name == assert_rpkg.name), None)
        if lpkg is None:
            item.action = "install"
        else:
            item.lpkg = lpkg
            item.action = self.calculate_action(lpkg, assert_rpkg, item.patterns)
        impact[assert_rpkg.full] = item
        return item.action

    def impact_install(self, args: List[str]) -> Tuple[List[Item], int]:
        """Plan for `install args`."""
        rc = 0
        local = self.local()
        impact: Dict[str, Item] = {}
        for arg in args:
            rpkg, pin = self.find_preferred(arg)
            if rpkg is None:
                if pin is None:
                    self.rep.err.write("%s is not available in the repository\n" % arg)
                else:
                    self.rep.err.write("No %s package available that satisfies preferred match %s\n" % (arg, pin))
                rc = 1
                continue
            if rpkg.full in impact:
                impact[rpkg.full].keep = True
                continue
            self._add_remote(impact, Item(rpkg=rpkg, keep=True), local)
            deps: Dict[str, Item] = {}
            self.remote_depends(rpkg, 1, deps)
            for full, dep in deps.items():
                if full in impact:
                    impact[full].level = max(impact[full].level, dep.level)
                    continue
                self._add_remote(impact, dep, local)
        self._recurse_upgrades([i for i in impact.values() if i.action == "upgrade"], impact, local)
        return [i for i in impact.values() if i.action != "none"], rc

    def _recurse_upgrades(self, upgrades: List[Item], impact: Dict[str, Item], local: List[Local]) -> None:
        while upgrades:
            item = upgrades.pop()
            if item.rpkg is not None:
                deps: Dict[str, Item] = {}
                self.remote_depends(item.rpkg, item.level + 1, deps)
                for full, dep in deps.items():
                    if full in impact:
                        continue
                    if self._add_remote(impact, dep, local) == "upgrade":
                        upgrades.append(dep)
            if item.lpkg is not None:
                for dependant in self.db.required_by(item.lpkg.full):
                    lpkg = next((p for p in local if p.full == dependant), None)
                    if lpkg is None or any(i.lpkg is lpkg for i in impact.values()):
                        continue
                    rpkg = self.find_remote(lpkg.name, lpkg.pkgpath)
                    if rpkg is None or rpkg.full in impact:
                        continue
                    new = Item(rpkg=rpkg, level=item.level - 1)
                    if self._add_remote(impact, new, local) == "upgrade":
                        upgrades.append(new)

    def impact_upgrade(self) -> List[Item]:
        """Plan for `upgrade`: every local package against its best remote version."""
        local = self.local()
        impact: Dict[str, Item] = {}
        by_local: Dict[str, Item] = {}
        for lpkg in local:
            item = Item(rpkg=None, lpkg=lpkg, keep=lpkg.keep)
            by_local[lpkg.full] = item
            rpkg = self.find_remote(lpkg.name, lpkg.pkgpath)
            if rpkg is None:
                continue
            item.rpkg = rpkg
            item.action = self.calculate_action(lpkg, rpkg, [])
            if item.action == "none":
                continue
            impact[rpkg.full] = item
            deps: Dict[str, Item] = {}
            self.remote_depends(rpkg, 1, deps)
            for full, dep in deps.items():
                if full in impact:
                    impact[full].level = max(impact[full].level, dep.level)
                elif not any(i.rpkg is not None and i.rpkg.full == full for i in by_local.values()
                             if i.action == "none"):
                    self._add_remote(impact, dep, local)
        result = [i for i in impact.values() if i.action != "none"]
        for item in list(result):
            if item.rpkg is None:
                continue
            for pattern in item.rpkg.values("SUPERSEDES"):
                for lpkg in local:
                    if safe_match(pattern, lpkg.full) and not any(i.lpkg is lpkg for i in result):
                        result.append(Item(rpkg=None, lpkg=lpkg, action="superseded"))
        return result

    # --- transactions --------------------------------------------------------------------------------
    def confirm(self, default_yes: bool) -> bool:
        """check_yesno()."""
        if self.yes:
            return True
        if self.no:
            return False
        self.rep.write("proceed ? [Y/n] " if default_yes else "proceed ? [y/N] ")
        answer = sys.stdin.readline()
        if not answer or answer.strip() == "":
            return default_yes
        return answer.strip()[0] in "yY"

    def action_list(self, names: List[str]) -> str:
        """Names one per line with -n, else wrapped in 80 columns with a 2-space indent."""
        text = ""
        for name in names:
            if not text:
                text = ("" if self.no else "  ") + name
            elif self.no:
                text += "\n" + name
            else:
                tail = text[text.rfind("\n"):] if "\n" in text else text
                text += ("\n  " if len(tail) + len(name) >= 80 else " ") + name
        return text

    def _open_log(self) -> Tuple[TextIO, int]:
        os.makedirs(self.dbdir, exist_ok=True)
        log = open(self.errlog, "a", encoding="utf-8")  # noqa: SIM115  # pylint: disable=consider-using-with
        return log, log.tell()

    def _log_tag(self, log: TextIO, text: str) -> None:
        self.rep.write(text)
        log.write("---%s: %s" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), text))
        log.flush()

    def _close_log(self, log: TextIO, start: int, extra_errors: int) -> None:
        log.close()
        warnings = 0
        errors = extra_errors
        with open(self.errlog, encoding="utf-8", errors="replace") as handle:
            handle.seek(start)
            for line in handle:
                if "Warning" in line:
                    warnings += 1
                if "addition failed" in line or "an't install" in line or "unable to verify signature" in line:
                    errors += 1
        self.rep.write("pkg_install warnings: %d, errors: %d\n" % (warnings, errors))
        if warnings or errors:
            self.rep.write("pkg_install error log can be found in %s\n" % self.errlog)

    def remove_packages(self, names: List[str]) -> None:
        """do_pkg_remove(): pkg_delete -f each, messages to the error log."""
        if not names:
            return
        log, start = self._open_log()
        errors = 0
        deleter = Deleter(self.settings, _pkgconf.Reporter("pkg_delete", self.rep.out, log), self.db, force=1)
        for i, name in enumerate(names, 1):
            self._log_tag(log, "[%d/%d] removing %s...\n" % (i, len(names), name))
            if deleter.run([name]) != 0:
                errors += 1
        self._close_log(log, start, errors)

    def rebuild_tree(self) -> None:
        """pkg_admin rebuild-tree >/dev/null, stderr to the error log."""
        with open(self.errlog, "a", encoding="utf-8") as log:
            Admin(self.settings, _pkgconf.Reporter("pkg_admin", log, log), quiet=True).rebuild_tree(quiet=True)

    def sync_local(self, verbose: bool) -> None:
        """update_localdb(): pkgin's copy of the installed packages (here: their keep flags) is
        re-read only when forced or when PKG_DBDIR's own mtime changed since the last read
        (pkg_db_mtime()), printing "reading/processing local summary..." when verbose. Marking
        a package automatic (pkg_admin set/unset, which writes inside the package's directory)
        leaves that mtime alone, so pkgin keeps the old flag until `pkgin -f update`.
        """
        try:
            mtime: Optional[int] = os.stat(self.db.dbdir).st_mtime_ns
        except OSError:
            mtime = None  # pkg_db_mtime(): "No pkgdb, just return up-to-date" (unless forced)
        if mtime is None and not self.force_fetch:
            return
        with self.remote_db.lock():
            self.remote_db = RemoteDb(self.dbdir)
            self._remote = None
            stored = self.remote_db.state.get("local", {})
            if stored.get("mtime_ns") == mtime and not self.force_fetch:
                return
            if verbose:
                self.rep.write("reading local summary...\n")
                self.rep.write("processing local summary...\n")
            try:
                pkgdb = read_pkgdb(self.db.dbdir)
            except PkgsrcError:
                pkgdb = ()
            self.remote_db.state["local"] = {"mtime_ns": mtime,
                                             "keep": {pkg.pkgname: not pkg.automatic for pkg in pkgdb}}
            self.remote_db.save()

    def _set_keep(self, full: str, keep: bool) -> None:
        """pkg_keep(): the LOCAL_PKG flag changes with the pkgdb's."""
        with self.remote_db.lock():
            self.remote_db = RemoteDb(self.dbdir)
            self._remote = None
            self.remote_db.state.setdefault("local", {}).setdefault("keep", {})[full] = keep
            self.remote_db.save()

    def _cached_ok(self, path: str, rpkg: Remote) -> bool:
        try:
            if os.path.getsize(path) != rpkg.number("FILE_SIZE"):
                return False
            with open(path, "rb") as handle:
                meta = read_meta(handle.read())
        except (OSError, PackageError):
            return False
        return (var_value(meta.get("+BUILD_INFO", ""), "BUILD_DATE") or "") == rpkg.get("BUILD_DATE")

    def download(self, items: List[Item]) -> int:
        """pkg_download(): fetch into the cache; failures are marked and counted."""
        rc = 0
        os.makedirs(self.cache, exist_ok=True)
        total = len(items)
        for i, item in enumerate(items, 1):
            assert_rpkg = item.rpkg
            if assert_rpkg is None:
                continue
            fname = assert_rpkg.full + ".tgz"
            target = os.path.join(self.cache, fname)
            url = _pkgfetch.join(assert_rpkg.repo, fname)
            if os.path.lexists(target):
                os.unlink(target)
            if url.startswith("file:///"):
                source = _pkgfetch.local_path(url)
                if not os.path.isfile(source):
                    self.rep.err.write("%s is not available in the repository\n" % assert_rpkg.full)
                    rc = 1
                    item.action = "failed"
                    if not self.confirm(False):
                        raise SystemExit(rc)
                    continue
                os.symlink(source, target)
            else:
                try:
                    data = _pkgfetch.fetch_bytes(url)
                except _pkgfetch.FetchError as exc:
                    # download_pkg(): fetchXGet() failed, before any "[i/n] downloading" (real
                    # transcripts-2 #143: "download error: URL Not Found" on stderr only)
                    self.rep.err.write("download error: %s %s\n" % (url, exc))
                    rc = 1
                    item.action = "failed"
                    if not self.confirm(False):
                        raise SystemExit(rc) from exc
                    continue
                self.rep.write("[%d/%d] downloading %s done.\n" % (i, total, fname))
                with open(target, "wb") as handle:
                    handle.write(data)
            if os.path.getsize(target) != assert_rpkg.number("FILE_SIZE"):
                os.unlink(target)
                self.rep.err.write("download error: %s size does not match pkg_summary\n" % assert_rpkg.full)
                rc = 1
                item.action = "failed"
                if not self.confirm(False):
                    raise SystemExit(rc)
        return rc

    @staticmethod
    def order_install(items: List[Item]) -> List[Item]:
        """order_install(): dependencies (higher level) first; within a level, the order of
        pkg_impact()'s hash table: slot by slot (djb hash of the name % 256), and within a slot
        the latest added first. items are in the order they went into the impact (transcripts-2:
        libsigc++ (slot 88) is installed before gtk2+ (slot 200))."""
        indexed = list(enumerate(items))
        indexed.sort(key=lambda item: (-item[1].level, hash_slot(item[1].full.rsplit("-", 1)[0], PKGS_HASH_SIZE),
                                       -item[0]))
        return [item for _n, item in indexed]

    def install_items(self, items: List[Item]) -> int:
        """do_pkg_install(): pkg_add -DU (or -ADU) each cached package in order."""
        rc = 0
        todo = [i for i in items if i.action in ("install", "upgrade", "refresh")]
        log, start = self._open_log()
        words = {"install": "installing", "upgrade": "upgrading", "refresh": "refreshing"}
        for n, item in enumerate(todo, 1):
            keep = item.keep or (item.lpkg is not None and item.lpkg.keep)
            options = Options(automatic=not keep, force_depending=True, replace=True, replace_same=True)  # -[A]DU
            installer = Installer(self.settings, _pkgconf.Reporter("pkg_add", self.rep.out, log), options)
            self._log_tag(log, "[%d/%d] %s %s...\n" % (n, len(todo), words[item.action], item.full))
            path = os.path.join(self.cache, item.full + ".tgz")
            if installer.add([path]):
                log.write("pkg_add: 1 package addition failed\n")
                rc = 1
        self._close_log(log, start, 0)
        return rc

    def transaction(self, impact: List[Item], rc: int) -> int:
        """pkgin_install() after the impact: summary, confirmation, downloads, installs."""
        installs = [i for i in impact if i.action in ("install", "upgrade", "refresh")]
        counts = {a: sum(1 for i in impact if i.action == a)
                  for a in ("install", "upgrade", "refresh", "remove", "superseded")}
        file_size = size_pkg = 0
        downloads = []
        for item in installs:
            assert_rpkg = item.rpkg
            if assert_rpkg is None:
                continue
            cached = os.path.join(self.cache, assert_rpkg.full + ".tgz")
            if not self._cached_ok(cached, assert_rpkg):
                downloads.append(item)
                if not assert_rpkg.repo.startswith("file:///"):
                    file_size += assert_rpkg.number("FILE_SIZE")
            if item.lpkg is not None and item.lpkg.size_pkg > 0:
                size_pkg += assert_rpkg.number("SIZE_PKG") - item.lpkg.size_pkg
            else:
                size_pkg += assert_rpkg.number("SIZE_PKG")
        if self.download_only and not downloads:
            self.rep.write("nothing to do.\n")
            return rc
        downloads.sort(key=lambda i: i.full)
        ordered = self.order_install(installs)
        self.rep.write("\n")
        if not self.download_only:
            for action, one, many in (("refresh", "1 package to refresh:", "%d packages to refresh:"),
                                      ("upgrade", "1 package to upgrade:", "%d packages to upgrade:"),
                                      ("install", "1 package to install:", "%d packages to install:"),
                                      ("remove", "1 package to remove:", "%d packages to remove:"),
                                      ("superseded", "1 package to remove (superseded):",
                                       "%d packages to remove (superseded):")):
                names = sorted(i.full for i in impact if i.action == action)
                if names:
                    title = one if len(names) == 1 else many % len(names)
                    self.rep.write("%s\n%s\n\n" % (title, self.action_list(names)))
            self.rep.write("%d to remove, %d to refresh, %d to upgrade, %d to install\n" % (
                counts["remove"] + counts["superseded"], counts["refresh"], counts["upgrade"], counts["install"]))
            if size_pkg >= 0:
                self.rep.write("%s to download, %s of additional disk space will be used\n"
                               % (humanize(file_size), humanize(size_pkg)))
            else:
                self.rep.write("%s to download, %s of disk space will be freed up\n"
                               % (humanize(file_size), humanize(-size_pkg)))
        else:
            names = [i.full for i in downloads]
            title = "1 package to download:" if len(names) == 1 else "%d packages to download:" % len(names)
            self.rep.write("%s\n%s\n\n" % (title, self.action_list(names)))
            self.rep.write("%s to download\n" % humanize(file_size))
        if not self.no:
            self.rep.write("\n")
        if not self.confirm(True):
            return rc
        with self.db.lock():
            if downloads and self.download(downloads):
                rc = 1
            if self.download_only:
                return rc
            if not any(i.action in ("install", "upgrade", "refresh") for i in ordered):
                return rc
            superseded = sorted(i.full for i in impact if i.action == "superseded")
            self.remove_packages(superseded)
            if self.install_items(ordered):
                rc = 1
            self.rebuild_tree()
        self.sync_local(verbose=True)
        return rc

    # --- commands ------------------------------------------------------------------------------------
    def _calculating(self) -> None:
        if not self.istty:
            self.rep.write("calculating dependencies...")

    def _calculated(self) -> None:
        self.rep.write("\rcalculating dependencies...done.\n" if self.istty else "done.\n")

    def cmd_install(self, args: List[str]) -> int:
        """install pkg ..."""
        if not self.remote():
            self.rep.print("empty available packages list")
            return 1
        self._calculating()
        impact, rc = self.impact_install(args)
        self._calculated()
        if not impact:
            self.rep.write("nothing to do.\n")
            return rc
        return self.transaction(impact, rc)

    def cmd_upgrade(self) -> int:
        """upgrade / full-upgrade."""
        if not self.local():
            self.rep.warn("empty local package list.")
            return 1
        self._calculating()
        impact = self.impact_upgrade()
        self._calculated()
        if not impact:
            self.rep.write("nothing to do.\n")
            return 0
        return self.transaction(impact, 0)

    def _order_remove(self, names: List[str]) -> List[str]:
        ordered: List[str] = []
        pending = sorted(set(names))
        while pending:
            ready = [n for n in pending if not any(d in pending for d in self.db.required_by(n))]
            if not ready:
                ready = pending[:1]
            for name in ready:
                pending.remove(name)
                ordered.append(name)
        return ordered

    def _reverse_deps(self, full: str, found: List[str]) -> None:
        for dependant in self.db.required_by(full):
            if dependant not in found and self.db.installed(dependant):
                found.append(dependant)
                self._reverse_deps(dependant, found)

    def cmd_remove(self, args: List[str]) -> int:
        """remove pkg ...: with every package that depends on them."""
        if not self.local():
            self.rep.warn("empty local package list.")
            return 1
        rc = 0
        names: List[str] = []
        for arg in args:
            lpkg = self.find_local(arg)
            if lpkg is None:
                self.rep.write("no such installed package %s\n" % arg)
                rc = 1
                continue
            self._reverse_deps(lpkg.full, names)
            if lpkg.full not in names:
                names.append(lpkg.full)
        ordered = self._order_remove(names)
        if not ordered:
            self.rep.write("no packages to delete\n")
            return rc
        self.rep.write("%d packages to delete: \n%s\n" % (len(ordered), self.action_list(ordered)))
        if not self.no:
            self.rep.write("\n")
        if self.confirm(True):
            with self.db.lock():
                self.remove_packages(ordered)
                self.rebuild_tree()
            self.sync_local(verbose=True)
        return rc

    def _local_closure(self, full: str, found: List[str], local: List[Local]) -> None:
        lpkg = next((p for p in local if p.full == full), None)
        if lpkg is None:
            return
        for pattern in lpkg.depends:
            best = safe_best(pattern, [p.full for p in local])
            if best is not None and best not in found:
                found.append(best)
                self._local_closure(best, found, local)

    def cmd_autoremove(self) -> int:
        """autoremove: automatic packages no keep package needs."""
        local = self.local()
        keep = [p for p in local if p.keep]
        nokeep = [p for p in local if not p.keep]
        if not keep:
            self.rep.warn("no packages have been marked as keepable")
            return 1
        if not nokeep:
            self.rep.write('all packages are marked as "keepable"\n.')
            return 0
        needed: List[str] = []
        for pkg in keep:
            self._local_closure(pkg.full, needed, local)
        removable = [p.full for p in nokeep if p.full not in needed
                     and not os.path.exists(self.db.path(p.full, "+PRESERVE"))]
        if not removable:
            self.rep.write("no orphan dependencies found.\n")
            return 0
        ordered = self._order_remove(removable)
        self.rep.write("%d packages to be autoremoved:\n%s\n" % (len(removable), self.action_list(sorted(removable))))
        if not self.no:
            self.rep.write("\n")
        if self.confirm(True):
            with self.db.lock():
                self.remove_packages(ordered)
            self.sync_local(verbose=True)
        return 0

    def cmd_keep(self, args: List[str], keep: bool) -> int:
        """keep / unkeep pkg ..."""
        rc = 0
        with self.db.lock():
            for arg in args:
                lpkg = self.find_local(arg)
                if lpkg is None:
                    self.rep.write("no such installed package %s\n" % arg)
                    rc = 1
                    continue
                if keep and not lpkg.keep:
                    self.rep.write("marking %s as non auto-removable\n" % lpkg.full)
                    self.db.mark_automatic(lpkg.full, False)
                    self._set_keep(lpkg.full, True)
                elif not keep and lpkg.keep:
                    self.rep.write("marking %s as auto-removable\n" % lpkg.full)
                    self.db.mark_automatic(lpkg.full, True)
                    self._set_keep(lpkg.full, False)
        return rc

    def _table(self, rows: List[Tuple[str, str]]) -> None:
        for name, comment in rows:
            if self.pflag:
                self.rep.write("%s;%s\n" % (name, comment))
            else:
                self.rep.write("%-20s %s\n" % (name, comment))

    def cmd_list(self) -> int:
        """list (with -l =, < or >: remote packages by installed status)."""
        local = self.local()
        if self.lslimit:
            if not local:
                self.rep.err.write("empty local package list.")
                return 0
            for rpkg in self.remote_hashed():
                status = self.local_status(rpkg, local)
                if status and status == self.lslimit:
                    label = rpkg.full
                    if self.pflag:
                        self.rep.write("%s;%s;%s\n" % (label, status, rpkg.get("COMMENT")))
                    else:
                        self.rep.write("%-20s %s\n" % ("%s %s" % (label, status), rpkg.get("COMMENT")))
            return 0
        if not local:
            self.rep.err.write("Requested list is empty.\n")
            return 0
        self._table(sorted((p.full, p.comment) for p in local))
        return 0

    def cmd_avail(self) -> int:
        """avail: every remote package."""
        remote = self.remote()
        if not remote:
            self.rep.err.write("Requested list is empty.\n")
            return 0
        self._table(sorted((r.full, r.get("COMMENT")) for r in remote))
        return 0

    def cmd_search(self, pattern: str) -> int:
        """search regex: remote packages by name or comment, with their installed status."""
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            self.rep.warn("regcomp: %s: %s" % (pattern, exc))
            return 1
        local = self.local()
        hits = [r for r in self.remote() if regex.search(r.name) or regex.search(r.full)
                or regex.search(r.get("COMMENT"))]
        hits.sort(key=functools.cmp_to_key(_name_then_newest))
        for rpkg in hits:
            status = self.local_status(rpkg, local)
            label = rpkg.full
            if self.pflag:
                self.rep.write("%s;%s;%s\n" % (label, status, rpkg.get("COMMENT")))
            else:
                self.rep.write("%-20s %s\n" % ("%s %s" % (label, status), rpkg.get("COMMENT")))
        if hits:
            self.rep.write(LEGEND)
            return 0
        self.rep.write("No results found for %s\n" % pattern)
        return 1

    def cmd_show_keep(self, keep: bool) -> int:
        """show-keep / show-no-keep."""
        rows = sorted((p.full, p.comment) for p in self.local() if p.keep == keep)
        if not rows:
            self.rep.print("empty non-autoremovable package list" if keep else "empty autoremovable package list")
            return 0
        for name, comment in rows:
            self.rep.write("%-20s %s\n" % (name, comment))
        return 0

    def cmd_export(self) -> int:
        """export: PKGPATH of every keep package, in pkgdb order."""
        keep = [p for p in self.local() if p.keep]
        if not keep:
            self.rep.warn("empty non-autoremovable package list")
            return 1
        for pkg in keep:
            self.rep.write(pkg.pkgpath + "\n")
        return 0

    def cmd_import(self, paths: List[str]) -> int:
        """import file ...: install the best package of every PKGPATH listed."""
        rc = 0
        for path in paths:
            try:
                pkgpaths = self._read_lines(path) if os.path.isfile(path) else None
            except OSError:
                pkgpaths = None
            if pkgpaths is None:
                self.rep.warn("Unable to open %s" % path)
                return 1
            if not pkgpaths:
                self.rep.warn("Empty import list.")
                return 1
            names = []
            for pkgpath in pkgpaths:
                candidates = [r for r in self.remote() if r.get("PKGPATH") == pkgpath]
                best = safe_best("*", [c.full for c in candidates])
                if best is None:
                    self.rep.err.write("%s is not available in the repository\n" % pkgpath)
                    rc = 1
                    continue
                names.append(best)
            if names:
                rc = self.cmd_install(names) or rc
        return rc

    def cmd_clean(self) -> int:
        """clean: empty the download cache."""
        if os.path.isdir(self.cache):
            for name in os.listdir(self.cache):
                path = os.path.join(self.cache, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
        return 0

    def _remote_arg(self, arg: str) -> Optional[Remote]:
        rpkg, _unused = self.find_preferred(arg)
        if rpkg is None:
            self.rep.err.write("%s is not available in the repository\n" % arg)
        return rpkg

    def cmd_show_deps(self, arg: str, full: bool) -> int:
        """show-deps / show-full-deps of unique_pkg(arg): the DEPENDS patterns, or with -P the
        packages they resolve to; show-deps prints nothing at all when there are none (or none
        resolves)."""
        if not self.remote():
            if full:
                self.rep.warn("empty available packages list")
            else:
                self.rep.print("empty available packages list")
            return 1
        rpkg = self.unique_pkg(arg)
        if rpkg is None:
            self.rep.err.write("%s is not available in the repository\n" % arg)
            return 1
        if not full:
            rows = []
            for pattern in rpkg.values("DEPENDS"):
                dep, _unused = self.find_preferred(pattern)
                if dep is not None and all(dep.full != seen.full for _p, seen in rows):
                    rows.append((pattern, dep))
            if rows:
                self.rep.write("direct dependencies for %s\n" % rpkg.full)
                for pattern, dep in rows:
                    self.rep.write("\t%s\n" % (dep.full if self.package_version else pattern))
            return 0
        deps: Dict[str, Item] = {}
        self.remote_depends(rpkg, 1, deps)
        self.rep.write("full dependency tree for %s\n" % rpkg.full)
        for item in sorted(deps.values(), key=lambda i: -i.level):
            self.rep.write("\t%s\n" % (item.full if self.package_version else item.patterns[0]))
        return 0

    def cmd_show_rev_deps(self, arg: str) -> int:
        """show-rev-deps: local packages needing arg, farthest first."""
        lpkg = self.find_local(arg)
        if lpkg is None:
            self.rep.write("no such installed package %s\n" % arg)
            return 1
        levels: Dict[str, int] = {}

        def walk(full: str, level: int) -> None:
            for dependant in self.db.required_by(full):
                if levels.get(dependant, 0) < level:
                    levels[dependant] = level
                    walk(dependant, level + 1)

        walk(lpkg.full, 1)
        self.rep.write("local reverse dependency tree for %s\n" % lpkg.full)
        for name in sorted(levels, key=lambda n: -levels[n]):
            self.rep.write("\t%s\n" % name)
        return 0

    def cmd_prov_req(self, arg: str, provides: bool) -> int:
        """provides / requires: shared libraries from the summary."""
        rpkg = self._remote_arg(arg)
        if rpkg is None:
            return 1
        word = "provided" if provides else "required"
        values = rpkg.values("PROVIDES" if provides else "REQUIRES")
        if not values:
            self.rep.write("No shared libraries %s by %s.\n" % (word, rpkg.full))
            return 0
        self.rep.write("Shared libraries %s by %s:\n" % (word, rpkg.full))
        for value in values:
            self.rep.write("\t%s\n" % value)
        return 0

    def cmd_pkg_info(self, arg: str, flag: str) -> int:
        """pkg-content / pkg-descr / pkg-build-defs, as show_pkg_info(): unique_pkg(arg) (else
        errx: "pkgin: NAME is not available in the repository" and the blank line errx adds to
        the message's own newline), then `pkg_info -FLAG REPO/PKGNAME.tgz` for EVERY configured
        repository, its output without blank lines; 1 when any pkg_info failed."""
        rpkg = self.unique_pkg(arg)
        if rpkg is None:
            self.rep.warn("%s is not available in the repository\n" % arg)
            return 1
        rc = 0
        config = {"PREFIX": self.settings.prefix, "PKG_DBDIR": self.settings.pkg_dbdir,
                  "SYSCONFDIR": self.settings.sysconfdir, "VARBASE": self.settings.varbase}
        for repo in self.repositories():
            out = io.StringIO()
            self.rep.out.flush()
            with contextlib.redirect_stdout(out):
                status = pkg_info_main(["-" + flag, "%s/%s.tgz" % (repo, rpkg.full)], config)
            self.rep.write("".join(line for line in out.getvalue().splitlines(True) if line != "\n"))
            if status != 0:
                rc = 1
        return rc

    def cmd_categories(self, command: str, arg: str) -> int:
        """show-category / show-pkg-category / show-all-categories."""
        remote = self.remote()
        if command == "show-category":
            # show_category(): r_plisthead order; the whole CATEGORIES value must equal arg
            for rpkg in self.remote_hashed():
                if rpkg.get("CATEGORIES") and rpkg.get("CATEGORIES") == arg:
                    self.rep.write("%-20s %s\n" % (rpkg.full, rpkg.get("COMMENT")))
            return 0
        if command == "show-pkg-category":
            # show_pkg_category(): r_plisthead order, the CATEGORIES value as it is
            hits = [r for r in self.remote_hashed() if r.name == arg]
            if not hits:
                self.rep.err.write("%s is not available in the repository\n" % arg)
                return 1
            for rpkg in hits:
                if rpkg.get("CATEGORIES"):
                    self.rep.write("%-12s - %s\n" % (rpkg.get("CATEGORIES"), rpkg.full))
            return 0
        categories = sorted({c for r in remote for c in r.get("CATEGORIES").split()})
        if not categories:
            self.rep.err.write("No categories found.\n")
        for category in categories:
            self.rep.write(category + "\n")
        return 0

    def cmd_stats(self) -> int:
        """stats."""
        local = self.local()
        remote = self.remote_db.packages()  # COUNT(PKG_ID), SUM(FILE_SIZE) FROM REMOTE_PKG
        self.rep.write("Local package database:\n\tInstalled packages: %d\n\tDisk space occupied: %s\n\n"
                       % (len(local), humanize(sum(p.size_pkg for p in local))))
        self.rep.write("Remote package database(s):\n\tNumber of repositories: %d\n\tPackages available: %d\n"
                       "\tTotal size of packages: %s\n" % (len(self.remote_db.repos), len(remote),
                                                           humanize(sum(r.number("FILE_SIZE") for r in remote))))
        return 0


def _name_then_newest(left: Remote, right: Remote) -> int:
    """search order: by name, then the highest version first."""
    if left.name != right.name:
        return -1 if left.name < right.name else 1
    return -dewey_cmp(left.version, right.version)


def usage(rep: _pkgconf.Reporter, status: int) -> int:
    """The usage text (stdout for -h, stderr otherwise)."""
    stream = rep.err if status else rep.out
    stream.write("Usage: pkgin [-cdfFhlnPtvVy] command [package ...]\n\nCommands and shortcuts:\n")
    for name, short, descr in COMMANDS:
        stream.write("%-19s (%-4s) - %s\n" % (name, short, descr))
    return status


def main(argv: List[str], config: Mapping[str, str]) -> int:
    """pkgin [flags] command [package ...]"""
    rep = _pkgconf.Reporter("pkgin")
    try:
        opts, args = _pkgconf.getopt(argv, "dhyfFPvVl:nc:t:p")
    except _pkgconf.GetoptError as exc:
        rep.warn(str(exc))
        return usage(rep, 1)
    settings = _pkgconf.load(config)
    app = Pkgin(settings, rep)
    force = False
    for flag, value in opts:
        if flag == "-v":
            rep.write("pkgin %s (using SQLite %s)\n" % (_pkgconf.PKGIN_VERSION, sqlite3.sqlite_version))
            return 0
        if flag == "-h":
            return usage(rep, 0)
        if flag == "-y":
            app.yes, app.no = True, False
        elif flag == "-n":
            app.yes, app.no = False, True
        elif flag == "-f":
            force = True
        elif flag == "-p":
            app.pflag = True
        elif flag == "-P":
            app.package_version = True
        elif flag == "-l":
            app.lslimit = value[:1]
        elif flag == "-d":
            app.download_only = True
    if not args:
        return usage(rep, 1)
    command = next((c[0] for c in COMMANDS if args[0] in (c[0], c[1])), None)
    if command is None:
        return usage(rep, 1)
    if not app.repositories():
        rep.warn("%s has no repositories or does not exist.\nNo PKG_REPOS variable to fallback to."
                 % os.path.join(settings.sysconfdir, "pkgin", "repositories.conf"))
        return 1
    app.sync_local(verbose=False)  # main.c: update_db(LOCAL_SUMMARY, 0) before anything else
    refreshed = app.open_db(force)
    if refreshed and not app.update_remote(verbose=True):
        return 1
    rest = args[1:]
    needs_arg = {"install": "specify at least one package to install", "remove": "specify at least one package "
                 "to remove", "keep": "specify at least one package to keep", "unkeep": "specify at least one "
                 "package to unkeep", "search": "missing search string", "import": "missing file name",
                 "show-deps": "missing package name", "show-full-deps": "missing package name",
                 "show-rev-deps": "missing package name", "provides": "missing package name",
                 "requires": "missing package name", "pkg-content": "missing package name",
                 "pkg-descr": "missing package name", "pkg-build-defs": "missing package name",
                 "show-category": "missing category", "show-pkg-category": "missing package name"}
    if command in needs_arg and not rest:
        rep.warn(needs_arg[command])
        return 1
    if command == "update":
        return 0 if refreshed or app.update_remote(verbose=True) else 1
    if command in ("install", "upgrade", "full-upgrade") and not refreshed:
        # "make sure the remote databases are up-to-date to avoid mismatches" (main.c): quiet,
        # but a summary that cannot be fetched ends the run.
        if not app.update_remote(verbose=False):
            return 1
    handlers = {
        "list": app.cmd_list, "avail": app.cmd_avail, "upgrade": app.cmd_upgrade, "full-upgrade": app.cmd_upgrade,
        "autoremove": app.cmd_autoremove, "export": app.cmd_export, "clean": app.cmd_clean, "stats": app.cmd_stats,
        "show-keep": lambda: app.cmd_show_keep(True), "show-no-keep": lambda: app.cmd_show_keep(False),
        "install": lambda: app.cmd_install(rest), "remove": lambda: app.cmd_remove(rest),
        "keep": lambda: app.cmd_keep(rest, True), "unkeep": lambda: app.cmd_keep(rest, False),
        "search": lambda: app.cmd_search(rest[0]), "import": lambda: app.cmd_import(rest),
        "show-deps": lambda: app.cmd_show_deps(rest[0], False), "show-full-deps": lambda: app.cmd_show_deps(rest[0],
                                                                                                            True),
        "show-rev-deps": lambda: app.cmd_show_rev_deps(rest[0]),
        "provides": lambda: app.cmd_prov_req(rest[0], True), "requires": lambda: app.cmd_prov_req(rest[0], False),
        "pkg-content": lambda: app.cmd_pkg_info(rest[0], "L"), "pkg-descr": lambda: app.cmd_pkg_info(rest[0], "d"),
        "pkg-build-defs": lambda: app.cmd_pkg_info(rest[0], "B"),
        "show-category": lambda: app.cmd_categories("show-category", rest[0]),
        "show-pkg-category": lambda: app.cmd_categories("show-pkg-category", rest[0]),
        "show-all-categories": lambda: app.cmd_categories("show-all-categories", ""),
    }
    try:
        return handlers[command]()
    except SystemExit as exc:
        return int(exc.code or 0)
