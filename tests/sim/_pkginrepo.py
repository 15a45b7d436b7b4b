"""pkgin's remote package database, kept as JSON in <PKGIN_DBDIR>/pkgin-sim.json.

`pkgin update` fetches <repo>/pkg_summary.{zst,xz,bz2,gz} (zst only when the `zstandard`
module is importable); when its SHA-256 is the one stored, the database "is up-to-date"
(the real pkgin asks with If-Modified-Since, whose one-second resolution misses a repository
rebuilt within the same second, as tests do); otherwise it is parsed with pkgsrc_core.packages.summary
and the records are stored with the repository list. Every other command resolves against
this local copy, never the network.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

from pkgsrc_core.errors import SummaryError
from pkgsrc_core.packages.summary import iter_summary

from . import _pkgfetch

STATE_NAME = "pkgin-sim.json"
LIST_FIELDS = (("DEPENDS", "depends"), ("CONFLICTS", "conflicts"), ("PROVIDES", "provides"),
               ("REQUIRES", "requires"), ("SUPERSEDES", "supersedes"))


def _extensions() -> List[str]:
    """Summary formats pkgin tries, in order (zst only when it can be read here)."""
    try:
        import zstandard  # noqa: F401  # pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        return ["xz", "bz2", "gz"]
    return ["zst", "xz", "bz2", "gz"]


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


class RemoteDb:
    """The local copy of the repositories' summaries."""

    def __init__(self, dbdir: str) -> None:
        self.dbdir = dbdir
        self.path = os.path.join(dbdir, STATE_NAME)
        self.state: Dict[str, Any] = {"version": 1, "repos": [], "remote": {}}
        try:
            with open(self.path, encoding="utf-8") as handle:
                self.state = json.load(handle)
        except (OSError, ValueError):
            pass

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

    @property
    def repos(self) -> List[str]:
        """Repositories the copy was made from."""
        return list(self.state.get("repos", []))

    def remote_entry(self, url: str) -> Optional[Dict[str, Any]]:
        """Stored data of one repository."""
        return self.state.get("remote", {}).get(url)

    def packages(self) -> List[Remote]:
        """Every stored record, repository by repository."""
        result = []
        for url in self.repos:
            entry = self.remote_entry(url) or {}
            for record in entry.get("packages", []):
                result.append(Remote(record))
        return result

    def save(self) -> None:
        """Write the JSON atomically."""
        os.makedirs(self.dbdir, exist_ok=True)
        tmp = self.path + ".%d" % os.getpid()
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(self.state, handle)
        os.replace(tmp, self.path)

    @staticmethod
    def fetch(url: str, previous: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        """New data for a repository, or None when it is up to date. Raises RepoError."""
        last_error: Optional[RepoError] = None
        for ext in _extensions():
            name = "pkg_summary." + ext
            target = _pkgfetch.join(url, name)
            try:
                data, modified = _pkgfetch.fetch(target)
            except _pkgfetch.FetchError as exc:
                last_error = RepoError(target, str(exc))
                continue
            digest = hashlib.sha256(data).hexdigest()
            if previous and previous.get("sha256") == digest:
                return None
            try:
                records = parse_summary(data)
            except SummaryError as exc:
                last_error = RepoError(target, exc.message)
                continue
            for record in records:
                record["REPO"] = url
            return {"file": name, "last_modified": modified, "sha256": digest, "packages": records}
        raise last_error or RepoError(url, "no summary")
