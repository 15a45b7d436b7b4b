"""pkgin's remote package database, kept as JSON in <PKGIN_DBDIR>/pkgin-sim.json (and mirrored,
as far as other programs read it, in an SQLite <PKGIN_DBDIR>/pkgin.db: see RemoteDb._save_sqlite).

Shaped like the real pkgin.db (pkgin.sql), because pkgin's behaviour follows from it:
REPOS (url, "mtime" in ROWID order), REMOTE_PKG rows with an integer PKG_ID (the primary
key) and a unique FULLPKGNAME, and the DEPENDS/CONFLICTS/PROVIDES/REQUIRES/SUPERSEDES
tables as (pkg_id, value) rows. As in summary.c insert_remote_summary(), a run numbers the
packages it loads from 1 (a `static int pkgid`), the dependent rows are written whatever
happens to the package row, and a package row that collides with a stored PKG_ID or
FULLPKGNAME is skipped without a word; the repository's "mtime" is recorded all the same.
That is why a repository ADDED next to a loaded one is downloaded but loaded only by
`pkgin -f update` (see pkgin.py and samples/pkgin-added-repository.md).

`fetch` asks for <repo>/pkg_summary.{zst,xz,bz2,gz} in that order, as pkgin 26.4 does (summary.c
sumexts; a .zst found where the `zstandard` module is missing cannot be read here and the next
format is taken). Like pkgin's sum_open() it sends a plain GET (pkgin sends no If-Modified-Since),
reads the Last-Modified of the answer and, when that is not newer than the stored "mtime", hangs
up without reading the body: "up-to-date". The stored "mtime" is `lm=<Last-Modified, seconds>;
sha=<SHA-256 of the summary>;at=<when it was loaded, seconds>`. One departure, for tests that
rebuild a repository within a second: when the stored summary had changed in the very second it
was loaded, Last-Modified cannot tell, so the body is read and its digest decides. Summaries are
parsed with pkgsrc_core.packages.summary. Commands resolve against this copy; install, upgrade
and update first check the repositories as above (pkgin.py main).
"""
from __future__ import annotations

import contextlib
import email.utils
import fcntl
import hashlib
import io
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

from pkgsrc_core.errors import SummaryError
from pkgsrc_core.packages.summary import iter_summary

from . import _pkgfetch

STATE_NAME = "pkgin-sim.json"
LIST_FIELDS = (("DEPENDS", "depends"), ("CONFLICTS", "conflicts"), ("PROVIDES", "provides"),
               ("REQUIRES", "requires"), ("SUPERSEDES", "supersedes"))


def _extensions() -> List[str]:
    """Summary formats pkgin 26.4 tries, in order (summary.c sumexts)."""
    return ["zst", "xz", "bz2", "gz"]


def _seconds(http_date: str) -> Optional[int]:
    try:
        return int(email.utils.parsedate_to_datetime(http_date).timestamp())
    except (TypeError, ValueError, IndexError):
        return None


def stored_mtime(last_modified: str, digest: str) -> str:
    """The "mtime" recorded for a summary loaded now (see the module's docstring)."""
    return "lm=%s;sha=%s;at=%d" % (_seconds(last_modified) or 0, digest, int(time.time()))


def _parse_mtime(mtime: str) -> Dict[str, str]:
    fields = dict(part.split("=", 1) for part in mtime.split(";") if "=" in part)
    return fields if fields else {"sha": mtime}


def parse_summary(data: bytes) -> List[Dict[str, object]]:
    """Records of a (compressed) pkg_summary, read with the core's parser, as JSON-ready dicts."""
    records: List[Dict[str, object]] = []
    for record in iter_summary(io.BytesIO(data)):
        item: Dict[str, object] = dict(record.fields)
        item["PKGNAME"] = record.pkgname
        for key, attr in LIST_FIELDS:
            item[key] = list(getattr(record, attr))
        records.append(item)
    return records


@dataclass
class Remote:
    """One available package."""

    record: Dict[str, object]

    @property
    def full(self) -> str:
        """PKGNAME."""
        return str(self.record["PKGNAME"])

    @property
    def name(self) -> str:
        """Base name."""
        return self.full.rsplit("-", 1)[0]

    @property
    def version(self) -> str:
        """Version."""
        return self.full.rsplit("-", 1)[-1]

    def get(self, key: str) -> str:
        """A single-valued field ("" when absent)."""
        value = self.record.get(key, "")
        return "\n".join(value) if isinstance(value, list) else str(value)

    def values(self, key: str) -> List[str]:
        """A list field."""
        value = self.record.get(key, [])
        return list(value) if isinstance(value, list) else [str(value)]

    def number(self, key: str) -> int:
        """An integer field (0 when absent or invalid)."""
        try:
            return int(self.get(key) or 0)
        except ValueError:
            return 0

    @property
    def repo(self) -> str:
        """Repository URL it came from."""
        return self.get("REPO")


class RepoError(Exception):
    """A summary could not be fetched: (url, reason)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__("Could not fetch %s: %s" % (url, reason))
        self.url = url
        self.reason = reason


@dataclass
class Fetched:
    """A summary that is newer than the stored one."""

    file: str
    digest: str  # the "mtime" to store: stored_mtime()
    records: List[Dict[str, object]]


class RemoteDb:
    """The local copy of the repositories' summaries (the REPOS and REMOTE_* tables)."""

    VERSION = 2

    def __init__(self, dbdir: str) -> None:
        self.dbdir = dbdir
        self.path = os.path.join(dbdir, STATE_NAME)
        self.created = False
        state: Dict[str, Any] = {}
        try:
            with open(self.path, encoding="utf-8") as handle:
                state = json.load(handle)
        except (OSError, ValueError):
            pass
        if state.get("version") != self.VERSION:
            # pkgindb_open(): a new or re-created database (schema change) asks for a refresh.
            state = {"version": self.VERSION, "repos": [], "rows": [],
                     "tables": {key: [] for key, _attr in LIST_FIELDS}}
            self.created = True
        self.state = state

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock while updating."""
        os.makedirs(self.dbdir, exist_ok=True)
        fd = os.open(os.path.join(self.dbdir, "pkgin-sim.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def save(self) -> None:
        """Write the JSON atomically, and the SQLite mirror pkgin.db beside it."""
        os.makedirs(self.dbdir, exist_ok=True)
        tmp = self.path + ".%d" % os.getpid()
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(self.state, handle)
        os.replace(tmp, self.path)
        self._save_sqlite()

    def _save_sqlite(self) -> None:
        """<PKGIN_DBDIR>/pkgin.db with the REPOS and REMOTE_PKG columns of pkgin.sql that others
        read (pkgsrc_core's catalogue reuses a repository's list from it): REPO_MTIME is the
        Last-Modified time, in seconds, of the summary loaded (0: never loaded), as pkgin keeps it."""
        path = os.path.join(self.dbdir, "pkgin.db")
        tmp = path + ".%d" % os.getpid()
        if os.path.exists(tmp):
            os.unlink(tmp)
        conn = sqlite3.connect(tmp)
        try:
            conn.execute('CREATE TABLE [REPOS] ("REPO_URL" TEXT UNIQUE, "REPO_MTIME" INTEGER)')
            conn.execute('CREATE TABLE [REMOTE_PKG] ("PKG_ID" INTEGER PRIMARY KEY, "FULLPKGNAME" TEXT UNIQUE, '
                         '"PKGNAME" TEXT, "PKGVERS" TEXT, "COMMENT" TEXT, "FILE_SIZE" TEXT, "REPOSITORY" TEXT)')
            for url, mtime in self.state["repos"]:
                lm = _parse_mtime(str(mtime)).get("lm") if mtime else None
                conn.execute("INSERT OR IGNORE INTO REPOS VALUES (?, ?)", (url, int(lm or 0)))
            for row in self.state["rows"]:
                full = str(row.get("PKGNAME", ""))
                name, _dash, version = full.rpartition("-")
                conn.execute("INSERT OR IGNORE INTO REMOTE_PKG VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (row["PKG_ID"], full, name, version, str(row.get("COMMENT", "")),
                              str(row.get("FILE_SIZE", "")), str(row.get("REPO", ""))))
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, path)

    # --- REPOS ---------------------------------------------------------------------------------
    @property
    def repos(self) -> List[str]:
        """Recorded repositories, in ROWID order."""
        return [url for url, _mtime in self.state["repos"]]

    def mtime(self, url: str) -> str:
        """pkg_sum_mtime(): the stored "mtime" ("" for 0, never loaded)."""
        for known, mtime in self.state["repos"]:
            if known.startswith(url):  # REPO_URL GLOB url || '*'
                return str(mtime)
        return ""

    def record_repos(self, urls: List[str]) -> None:
        """repo_record(): add configured repositories not yet recorded, with mtime 0."""
        for url in urls:
            if url not in self.repos:
                self.state["repos"].append([url, ""])

    def set_mtime(self, url: str, mtime: str) -> None:
        """UPDATE_REPO_MTIME."""
        for item in self.state["repos"]:
            if item[0] == url:
                item[1] = mtime

    def forget_repo(self, url: str) -> None:
        """pdb_delete_remote(): the repository's packages, then its REPOS row."""
        self.delete_packages(url)
        self.state["repos"] = [item for item in self.state["repos"] if item[0] != url]

    # --- REMOTE_PKG and its tables --------------------------------------------------------------
    def delete_packages(self, url: str) -> None:
        """delete_remote_tbl(): the dependent rows of packages whose REPOSITORY starts with url
        (DELETE_REMOTE uses GLOB url || '*'), then the REMOTE_PKG rows of exactly url."""
        ids = {row["PKG_ID"] for row in self.state["rows"] if str(row.get("REPO", "")).startswith(url)}
        for key, _attr in LIST_FIELDS:
            self.state["tables"][key] = [item for item in self.state["tables"][key] if item[0] not in ids]
        self.state["rows"] = [row for row in self.state["rows"] if row.get("REPO") != url]

    def insert_summary(self, url: str, records: List[Dict[str, object]], pkgid: int) -> int:
        """insert_remote_summary(): load records numbered from pkgid; returns the next pkgid.

        The dependent rows go in under pkgid whether or not the package row does, and a row
        whose PKG_ID or FULLPKGNAME is taken is skipped silently (insert_pkg()).
        """
        rows = self.state["rows"]
        taken_ids = {row["PKG_ID"] for row in rows}
        taken_names = {row["PKGNAME"] for row in rows}
        for record in records:
            row = {k: v for k, v in record.items() if k not in dict(LIST_FIELDS)}
            for key, _attr in LIST_FIELDS:
                values = record.get(key)
                for value in values if isinstance(values, list) else []:
                    self.state["tables"][key].append([pkgid, value])
            row["PKG_ID"] = pkgid
            row["REPO"] = url
            if pkgid not in taken_ids and row["PKGNAME"] not in taken_names:
                rows.append(row)
                taken_ids.add(pkgid)
                taken_names.add(str(row["PKGNAME"]))
            pkgid += 1
        return pkgid

    def count(self, url: str) -> int:
        """SELECT count(*) FROM remote_pkg WHERE repository = url."""
        return sum(1 for row in self.state["rows"] if row.get("REPO") == url)

    def packages(self) -> List[Remote]:
        """Every stored package joined with its dependent rows, repository by repository
        (REMOTE_PKG INNER JOIN REPOS ORDER BY REPOS.ROWID), in the order they were loaded."""
        lists: Dict[int, Dict[str, List[str]]] = {}
        for key, _attr in LIST_FIELDS:
            for pkgid, value in self.state["tables"][key]:
                lists.setdefault(pkgid, {}).setdefault(key, []).append(value)
        result = []
        for url in self.repos:
            for row in self.state["rows"]:
                if row.get("REPO") != url:
                    continue
                record = dict(row)
                for key, _attr in LIST_FIELDS:
                    record[key] = lists.get(row["PKG_ID"], {}).get(key, [])
                result.append(Remote(record))
        return result

    @staticmethod
    def fetch(url: str, mtime: str) -> Optional[Fetched]:
        """fetch_summary(): the summary when it is not the one stored (mtime "" forces),
        None when up to date. Raises RepoError."""
        last_error: Optional[RepoError] = None
        stored = _parse_mtime(mtime) if mtime else {}
        lm = int(stored.get("lm") or 0)
        settled = bool(lm) and lm < int(stored.get("at") or 0)

        def wanted(last_modified: str) -> bool:
            seconds = _seconds(last_modified)
            return not (settled and seconds is not None and seconds <= lm)

        for ext in _extensions():
            name = "pkg_summary." + ext
            target = _pkgfetch.join(url, name)
            try:
                data, modified = _pkgfetch.fetch_if(target, wanted)
            except _pkgfetch.FetchError as exc:
                last_error = RepoError(target, str(exc))
                continue
            if data is None:
                return None
            digest = hashlib.sha256(data).hexdigest()
            if stored.get("sha") == digest:
                return None
            try:
                records = parse_summary(data)
            except SummaryError as exc:
                last_error = RepoError(target, exc.message)
                continue
            return Fetched(name, stored_mtime(modified, digest), records)
        raise last_error or RepoError(url, "no summary")
