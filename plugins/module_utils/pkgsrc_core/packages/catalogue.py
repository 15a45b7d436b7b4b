"""What the repositories offer: their URLs from the prefix's configuration, and their pkg_summary.

The planner asks for this only when it has to (something to install, `latest`, `upgrade`), so a
converged run reads no summary at all. Each repository's summary costs at most one full download
per run, and none where a copy is known to be current:

- Summaries are fetched over HTTP(S) or from file:// and kept in a cache under
  `<varbase>/db/pkgsrc-deploy/summaries` with their ETag/Last-Modified. Without `refresh` a cached
  copy is used as it is (no request); with `refresh` it is revalidated (If-None-Match,
  If-Modified-Since), so an unchanged summary costs a 304. In check mode nothing is written.
- A format the repository does not have (404 for pkg_summary.zst, say) is remembered in the
  repository's cache record (`<hash>.repo.json`), and not asked for again for ABSENT_TTL (7 days);
  then, or when the format used so far disappears, or when the cache folder is deleted, every
  format is probed again (a repository that starts publishing .zst is noticed within a week).
- pkgin keeps no copy of the summary, only what it loaded into its database
  (`<varbase>/db/pkgin/pkgin.db`, beside our cache): each repository's packages and the
  Last-Modified time of the summary it loaded. Where we have no copy of our own, that list is
  reused after a conditional request with pkgin's time as If-Modified-Since: a 304 says pkgin's
  copy is current, so the run that has just had pkgin load the summary (a bootstrap's
  `pkgin update`) does not download it a second time. A repository pkgin holds no package of
  (never loaded, or the added-repository bug of samples/pkgin-added-repository.md), a database
  that cannot be read (no sqlite3 module, a newer schema, locked) and any answer but 304 fall
  back to reading the summary itself. A 304 so obtained is remembered with pkgin's time (in the
  repository's cache record): without `refresh`, pkgin's copy at that same time is then used with
  no request, as a cached summary of our own would be.
"""
from __future__ import annotations

import email.utils
import hashlib
import io
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import PkgsrcError
from ..fsutil import atomic_write, read_text
from ..layout import parse_conf_vars
from .pkgconf import parse_repositories
from .summary import iter_summary

# pkgin's order of preference (CONTRACT.md §2); .zst only when zstandard can be imported.
SUMMARY_NAMES = ("pkg_summary.zst", "pkg_summary.xz", "pkg_summary.bz2", "pkg_summary.gz")
TIMEOUT = 30.0
ABSENT_TTL = 7 * 24 * 3600  # seconds a format a repository does not have is not asked for again
PKGIN_PACKAGE_SUFFIX = ".tgz"  # pkgin fetches <repository>/<FULLPKGNAME>.tgz


class RepositoryError(PkgsrcError):
    """A repository cannot be reached or its summary cannot be used."""


def repository_urls(sysconfdir: str) -> List[str]:
    """The repositories a prefix uses: pkgin's repositories.conf, else pkg_install.conf's PKG_PATH."""
    urls = parse_repositories(read_text(os.path.join(sysconfdir, "pkgin", "repositories.conf")))
    if not urls:
        conf = parse_conf_vars(read_text(os.path.join(sysconfdir, "pkg_install.conf")) or "")
        urls = [u for u in conf.get("PKG_PATH", "").split(";") if u]
    return [u.rstrip("/") for u in urls]


@dataclass(frozen=True)
class Catalogue:
    """The PKGNAMEs offered, and from which repository each one first came."""

    pkgnames: Tuple[str, ...]
    sources: Tuple[str, ...]  # the summary URLs read
    files: Tuple[Tuple[str, str], ...] = ()  # (PKGNAME, URL of its package file), first repository first

    def file_url(self, pkgname: str) -> Optional[str]:
        """Where the first repository that offers pkgname keeps its package file (None: not offered)."""
        return dict(self.files).get(pkgname)

    def __contains__(self, pkgname: object) -> bool:
        return pkgname in set(self.pkgnames)


def _cache_file(cache_dir: str, url: str) -> str:
    return os.path.join(cache_dir, hashlib.sha256(url.encode("utf-8")).hexdigest()[:24])


def _open(url: str, headers: Dict[str, str]) -> Any:
    # The core cannot use ansible's open_url (no framework imports); an opener does the same here.
    request = urllib.request.Request(url, headers=headers)
    return urllib.request.build_opener().open(request, timeout=TIMEOUT)


def _settled(last_modified: str, date: str) -> bool:
    """True when the copy was fetched at least 2 s after it last changed. Last-Modified has a
    one-second resolution: a summary rewritten in the same second as our fetch would otherwise
    be answered "304 not modified" for good."""
    try:
        changed = email.utils.parsedate_to_datetime(last_modified)
        fetched = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return False
    return (fetched - changed).total_seconds() >= 2


def _usable(name: str) -> bool:
    """Whether this Python can read a summary format (.zst needs the optional zstandard module)."""
    if not name.endswith(".zst"):
        return True
    try:
        import zstandard  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        return False
    return True


def _read_json(path: str) -> Dict[str, Any]:
    try:
        value = json.loads(read_text(path) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _read_bytes(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def pkgin_database(cache_dir: str) -> str:
    """pkgin's database beside our summary cache: `<varbase>/db/pkgin/pkgin.db` for the cache
    `<varbase>/db/pkgsrc-deploy/summaries` (tools.summary_cache_dir)."""
    db_dir = os.path.dirname(os.path.dirname(os.path.normpath(cache_dir)))
    return os.path.join(db_dir, "pkgin", "pkgin.db")


@dataclass(frozen=True)
class PkginCopy:
    """What pkgin's database holds of one repository: the Last-Modified time (seconds since the
    epoch) of the summary it loaded, and the PKGNAMEs it loaded from it."""

    mtime: int
    pkgnames: Tuple[str, ...]


def pkgin_copy(pkgin_db: str, repo: str) -> Optional[PkginCopy]:
    """The packages pkgin's database holds for repo, read-only; None when there is nothing usable
    (no database, no sqlite3 module, another schema, a lock, a repository never loaded or empty)."""
    if not os.path.isfile(pkgin_db):
        return None
    try:
        import sqlite3  # pylint: disable=import-outside-toplevel
    except ImportError:  # Pythons built without it (pkgsrc packages it apart: py-sqlite3)
        return None
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(pkgin_db)),
                               uri=True, timeout=2.0)
    except sqlite3.Error:
        return None
    try:
        for url in (repo, repo + "/"):  # pkgin keeps the URL as repositories.conf spells it
            row = conn.execute("SELECT REPO_MTIME FROM REPOS WHERE REPO_URL = ?", (url,)).fetchone()
            if row is None:
                continue
            names = tuple(str(r[0]) for r in conn.execute(
                "SELECT FULLPKGNAME FROM REMOTE_PKG WHERE REPOSITORY = ? ORDER BY PKG_ID", (url,)) if r[0])
            mtime = int(row[0] or 0)
            # 0: listed but never loaded (pkgin's own "force reload" mark); no package: not usable.
            return PkginCopy(mtime, names) if mtime > 0 and names else None
    except (sqlite3.Error, TypeError, ValueError):
        return None
    finally:
        conn.close()
    return None


class _RepoRecord:
    """What the cache remembers of a repository beyond its summaries: the formats it lacks."""

    def __init__(self, cache_dir: Optional[str], repo: str, now: float) -> None:
        self.path = _cache_file(cache_dir, repo) + ".repo.json" if cache_dir else None
        self.now = now
        data = _read_json(self.path) if self.path else {}
        absent = data.get("absent") if data.get("repo") == repo else None
        self.repo = repo
        self.absent: Dict[str, float] = {}
        for name, when in (absent.items() if isinstance(absent, dict) else ()):
            if isinstance(when, (int, float)) and 0 <= now - when < ABSENT_TTL:
                self.absent[str(name)] = float(when)
        self.dirty = self.absent != (absent or {})
        pkgin = data.get("pkgin") if data.get("repo") == repo else None
        self.pkgin: Dict[str, Any] = pkgin if isinstance(pkgin, dict) else {}

    def pkgin_current(self, copy: Optional[PkginCopy]) -> Optional[str]:
        """The summary URL a 304 confirmed pkgin's copy against, if that copy is still the one pkgin holds."""
        if copy is not None and self.pkgin.get("mtime") == copy.mtime and self.pkgin.get("url"):
            return str(self.pkgin["url"])
        return None

    def pkgin_confirmed(self, url: str, copy: PkginCopy) -> None:
        self.pkgin = {"url": url, "mtime": copy.mtime}
        self.dirty = True

    def lacks(self, name: str) -> bool:
        return name in self.absent

    def missing(self, name: str) -> None:
        self.absent[name] = self.now
        self.dirty = True

    def found(self, name: str) -> None:
        if self.absent.pop(name, None) is not None:
            self.dirty = True

    def save(self) -> None:
        if self.path and self.dirty:
            atomic_write(self.path, json.dumps({"repo": self.repo, "absent": self.absent, "pkgin": self.pkgin},
                                               sort_keys=True), mode=0o644)
            self.dirty = False


@dataclass(frozen=True)
class _Got:
    """One repository's summary: its bytes (to parse), or pkgin's list of it (validated by a 304)."""

    url: str
    data: Optional[bytes] = None
    store: Optional[Dict[str, str]] = None  # cache metadata for data fetched now (None: nothing to write)
    pkgin: Optional[PkginCopy] = None


class _Absent(Exception):
    """The server says there is no such file (404, 410)."""


class _Unreachable(Exception):
    """The server cannot be reached at all: the other formats will not be reachable either."""


def _conditional(cached: Optional[str], copy: Optional[PkginCopy]) -> Tuple[Dict[str, str], Dict[str, str]]:
    """(our cache metadata for the URL, the validators to send): ours when we have a copy, else pkgin's time."""
    meta = _read_json(cached + ".json") if cached and os.path.exists(cached) else {}
    headers: Dict[str, str] = {}
    if meta:
        if meta.get("etag"):
            headers["If-None-Match"] = str(meta["etag"])
        if meta.get("last_modified") and _settled(str(meta["last_modified"]), str(meta.get("date", ""))):
            headers["If-Modified-Since"] = str(meta["last_modified"])
    elif copy is not None:
        headers["If-Modified-Since"] = email.utils.formatdate(copy.mtime, usegmt=True)
    return meta, headers


def _ask(url: str, cached: Optional[str], copy: Optional[PkginCopy]) -> Optional[_Got]:
    """One request for one summary URL: a _Got, or None when it answered 304 for a copy we cannot read."""
    meta, headers = _conditional(cached, copy)
    try:
        with _open(url, headers) as resp:
            data = resp.read()
            store = {"url": url, "etag": resp.headers.get("ETag") or "",
                     "last_modified": resp.headers.get("Last-Modified") or "",
                     "date": resp.headers.get("Date") or ""}
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            if meta and cached:
                data_cached = _read_bytes(cached)
                return _Got(url, data_cached) if data_cached is not None else None
            if copy is not None:
                return _Got(url, pkgin=copy)
        if exc.code in (404, 410):
            raise _Absent("%s: HTTP %d" % (url, exc.code)) from None
        raise OSError("%s: HTTP %d" % (url, exc.code)) from None
    except urllib.error.URLError as exc:
        if url.startswith("file:"):
            raise OSError("%s: %s" % (url, exc.reason)) from None
        raise _Unreachable("%s: %s" % (url, exc.reason)) from None
    return _Got(url, data, store)


def _fetch(repo: str, cache_dir: Optional[str], refresh: bool, pkgin_db: Optional[str],
           now: float) -> Tuple[_Got, _RepoRecord]:
    """One repository's summary, with as few requests as the cache, pkgin's database and the
    remembered absent formats allow (see the module's docstring), and the repository's record to
    save once the summary has proved usable (a failed run writes nothing)."""
    names = [name for name in SUMMARY_NAMES if _usable(name)]
    record = _RepoRecord(cache_dir, repo, now)
    if cache_dir and not refresh:
        for name in names:  # a copy of any format we can read: no request at all
            path = _cache_file(cache_dir, "%s/%s" % (repo, name))
            data = _read_bytes(path) if os.path.exists(path + ".json") else None
            if data is not None:
                return _Got("%s/%s" % (repo, name), data), record
    copy = pkgin_copy(pkgin_db, repo) if pkgin_db else None
    confirmed = record.pkgin_current(copy) if cache_dir and not refresh else None
    if confirmed and copy is not None:  # pkgin's copy, already confirmed by a 304: as good as a cached one
        return _Got(confirmed, pkgin=copy), record
    skipped = [name for name in names if record.lacks(name)]
    errors: List[str] = []
    try:
        # Formats not known to be absent first; those only when no other one is there (any more).
        for attempt in ([name for name in names if name not in skipped], skipped):
            only_absent = True
            for name in attempt:
                url = "%s/%s" % (repo, name)
                try:
                    got = _ask(url, _cache_file(cache_dir, url) if cache_dir else None, copy)
                    if got is None:  # 304 for a cached copy that has gone: ask again without validators
                        got = _ask(url, None, None)
                except _Absent as exc:
                    record.missing(name)
                    errors.append(str(exc))
                    continue
                except OSError as exc:
                    only_absent = False
                    errors.append(str(exc))
                    continue
                if got is not None:
                    record.found(name)
                    if got.pkgin is not None:
                        record.pkgin_confirmed(url, got.pkgin)
                    return got, record
            if not only_absent:
                break
    except _Unreachable as exc:
        errors.append(str(exc))
    raise RepositoryError("cannot fetch a pkg_summary from repository %s (%s)" % (repo, "; ".join(errors)),
                          "check that the repository URL is right and reachable from this host")


def load_catalogue(repos: Sequence[str], cache_dir: Optional[str] = None, refresh: bool = False,
                   pkgin_db: Optional[str] = None) -> Catalogue:
    """Read every repository's summary (cached when cache_dir is given; nothing written without it).

    pkgin_db is pkgin's database whose lists may stand in for a download (validated by a 304);
    by default the one beside cache_dir (pkgin_database), "" for none.
    """
    if not repos:
        raise RepositoryError("no repository is configured for this prefix",
                              "set repositories (pkgin's repositories.conf or PKG_PATH in pkg_install.conf)")
    if pkgin_db is None and cache_dir:
        pkgin_db = pkgin_database(cache_dir)
    now = time.time()
    names: List[str] = []
    files: List[Tuple[str, str]] = []
    sources: List[str] = []
    seen = set()
    records: List[_RepoRecord] = []
    for repo in repos:
        got, record = _fetch(repo, cache_dir, refresh, pkgin_db, now)
        sources.append(got.url)
        if got.pkgin is not None:
            offered = [(pkgname, pkgname + PKGIN_PACKAGE_SUFFIX) for pkgname in got.pkgin.pkgnames]
        else:
            try:
                offered = [(r.pkgname, r.file_name) for r in iter_summary(io.BytesIO(got.data or b""))]
            except PkgsrcError as exc:
                raise RepositoryError("the summary of %s is unusable: %s" % (got.url, exc),
                                      "the repository may be mid-update: try again, or run with update_cache") from None
        for pkgname, file_name in offered:
            if pkgname not in seen:
                seen.add(pkgname)
                names.append(pkgname)
                files.append((pkgname, "%s/%s" % (repo, file_name)))
        if cache_dir and got.store is not None and got.data is not None:  # only a summary that parsed is kept
            cached = _cache_file(cache_dir, got.url)
            atomic_write(cached, got.data, mode=0o644)
            atomic_write(cached + ".json", json.dumps(got.store), mode=0o644)
        records.append(record)
    for record in records:  # what was learnt of the repositories, once every summary proved usable
        record.save()
    return Catalogue(tuple(names), tuple(sources), tuple(files))
