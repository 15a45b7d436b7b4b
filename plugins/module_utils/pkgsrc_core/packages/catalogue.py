"""What the repositories offer: their URLs from the prefix's configuration, and their pkg_summary.

The planner asks for this only when it has to (something to install, `latest`, `upgrade`), so a
converged run reads no summary at all. Summaries are fetched over HTTP(S) or from file:// and
kept in a cache under `<varbase>/db/pkgsrc-deploy/` with their Last-Modified/ETag, so later
runs ask the server "has it changed?" and reuse the copy; in check mode nothing is written.
"""
from __future__ import annotations

import email.utils
import hashlib
import io
import json
import os
import urllib.error
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


def _fetch(repo: str, cache_dir: Optional[str], refresh: bool) -> Tuple[str, bytes, Optional[Dict[str, str]]]:
    """Return (summary URL, compressed bytes, cache metadata to store or None if from the cache)."""
    errors = []
    for name in SUMMARY_NAMES:
        if name.endswith(".zst"):
            try:
                import zstandard  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
            except ImportError:
                continue
        url = "%s/%s" % (repo, name)
        cached = _cache_file(cache_dir, url) if cache_dir else None
        meta: Dict[str, str] = {}
        if cached and os.path.exists(cached + ".json") and os.path.exists(cached):
            with open(cached + ".json", encoding="utf-8") as handle:
                meta = json.load(handle)
            if not refresh:
                with open(cached, "rb") as handle:
                    return url, handle.read(), None
        headers = {}
        if meta.get("etag"):
            headers["If-None-Match"] = meta["etag"]
        if meta.get("last_modified") and _settled(meta["last_modified"], meta.get("date", "")):
            headers["If-Modified-Since"] = meta["last_modified"]
        try:
            with _open(url, headers) as resp:
                data = resp.read()
                new_meta = {"url": url, "etag": resp.headers.get("ETag") or "",
                            "last_modified": resp.headers.get("Last-Modified") or "",
                            "date": resp.headers.get("Date") or ""}
        except urllib.error.HTTPError as exc:
            if exc.code == 304 and cached:
                with open(cached, "rb") as handle:
                    return url, handle.read(), None
            errors.append("%s: HTTP %d" % (url, exc.code))
            continue
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            errors.append("%s: %s" % (url, reason))
            if isinstance(exc, urllib.error.URLError) and not url.startswith("file:"):
                break  # the server is not there: the other names will not be either
            continue
        return url, data, new_meta
    raise RepositoryError("cannot fetch a pkg_summary from repository %s (%s)" % (repo, "; ".join(errors)),
                          "check that the repository URL is right and reachable from this host")


def load_catalogue(repos: Sequence[str], cache_dir: Optional[str] = None, refresh: bool = False) -> Catalogue:
    """Read every repository's summary (cached when cache_dir is given; nothing written without it)."""
    if not repos:
        raise RepositoryError("no repository is configured for this prefix",
                              "set repositories (pkgin's repositories.conf or PKG_PATH in pkg_install.conf)")
    names: List[str] = []
    files: List[Tuple[str, str]] = []
    sources: List[str] = []
    seen = set()
    for repo in repos:
        url, data, meta = _fetch(repo, cache_dir, refresh)
        sources.append(url)
        try:
            for record in iter_summary(io.BytesIO(data)):
                if record.pkgname not in seen:
                    seen.add(record.pkgname)
                    names.append(record.pkgname)
                    files.append((record.pkgname, "%s/%s" % (repo, record.file_name)))
        except PkgsrcError as exc:
            raise RepositoryError("the summary of %s is unusable: %s" % (url, exc),
                                  "the repository may be mid-update: try again, or run with update_cache") from None
        if cache_dir and meta is not None:  # only a summary that parsed is kept
            cached = _cache_file(cache_dir, url)
            atomic_write(cached, data, mode=0o644)
            atomic_write(cached + ".json", json.dumps(meta), mode=0o644)
    return Catalogue(tuple(names), tuple(sources), tuple(files))
