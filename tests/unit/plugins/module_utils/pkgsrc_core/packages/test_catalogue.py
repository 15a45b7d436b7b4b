"""catalogue.py: how few requests a repository's summary costs.

A small HTTP server in the test answers as common servers do (ETag, Last-Modified, 304 for a
matching If-None-Match or an If-Modified-Since not older than the file) and logs every request,
so each case says exactly which requests a load makes: the cache, conditional requests, formats
remembered as absent, and pkgin's database standing in for a download.
"""
from __future__ import annotations

import email.utils
import json
import lzma
import os
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages import catalogue

SAMPLES = Path(os.environ.get("PKGSRC_SAMPLES") or Path(__file__).resolve().parents[5] / "data" / "samples")
SUMMARY_TEXT = (SAMPLES / "pkg_summary-demo-repo").read_bytes()
SUMMARY_XZ = lzma.compress(SUMMARY_TEXT)
MTIME = 1_790_000_000  # Last-Modified of the served summaries (2026-09)


class _Site:
    """What the server serves ({path: (bytes, mtime)}) and what it was asked ([(path, status, headers)])."""

    def __init__(self) -> None:
        self.files: Dict[str, Tuple[bytes, int]] = {}
        self.log: List[Tuple[str, int, Dict[str, str]]] = []


def _handler(site: _Site):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - base class name
            asked = {k: v for k, v in self.headers.items() if k.startswith("If-")}
            found = site.files.get(self.path)
            if found is None:
                status = 404
            else:
                data, mtime = found
                etag = '"%x-%x"' % (len(data), mtime)
                since = self.headers.get("If-Modified-Since")
                match = self.headers.get("If-None-Match")
                if match:
                    fresh = match == etag
                else:
                    fresh = bool(since) and mtime <= email.utils.parsedate_to_datetime(since).timestamp()
                status = 304 if fresh else 200
            site.log.append((self.path, status, asked))
            self.send_response(status)
            if found is not None:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
            body = found[0] if status == 200 else b""
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 - base class signature  pylint: disable=redefined-builtin
            pass

    return Handler


@pytest.fixture()
def site():
    served = _Site()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    served.base = "http://127.0.0.1:%d" % httpd.server_address[1]
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture()
def varbase(tmp_path):
    """(summary cache dir, pkgin.db path) laid out as under <varbase>/db."""
    return str(tmp_path / "db" / "pkgsrc-deploy" / "summaries"), str(tmp_path / "db" / "pkgin" / "pkgin.db")


@pytest.fixture()
def every_format(monkeypatch):
    """As where the zstandard module is installed: .zst is asked for first."""
    monkeypatch.setattr(catalogue, "_usable", lambda name: True)


@pytest.fixture()
def no_zstandard(monkeypatch):
    """As on a host without the zstandard module (the testbed's Debian python3): .zst is not asked for."""
    monkeypatch.setattr(catalogue, "_usable", lambda name: not name.endswith(".zst"))


def _requests(site: _Site) -> List[Tuple[str, int]]:
    out = [(path, status) for path, status, _headers in site.log]
    site.log.clear()
    return out


def _record(cache_dir: str, repo: str) -> dict:
    return json.loads(Path(catalogue._cache_file(cache_dir, repo) + ".repo.json").read_text())  # pylint: disable=protected-access


def _pkgin_db(path: str, repo: str, mtime: int, names: Tuple[str, ...]) -> None:
    """A database with the two tables of pkgin 26.4's pkgin.sql the catalogue reads."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE [REPOS] ("REPO_URL" TEXT UNIQUE, "REPO_MTIME" INTEGER)')
    conn.execute('CREATE TABLE [REMOTE_PKG] ("PKG_ID" INTEGER PRIMARY KEY, "FULLPKGNAME" TEXT UNIQUE, '
                 '"PKGNAME" TEXT, "PKGVERS" TEXT, "REPOSITORY" TEXT)')
    conn.execute("INSERT INTO REPOS VALUES (?, ?)", (repo, mtime))
    for number, name in enumerate(names, 1):
        conn.execute("INSERT INTO REMOTE_PKG VALUES (?, ?, ?, ?, ?)",
                     (number, name, name.rsplit("-", 1)[0], name.rsplit("-", 1)[1], repo))
    conn.commit()
    conn.close()


def test_an_absent_format_is_asked_for_once_and_an_unchanged_summary_costs_a_304(site, varbase, every_format):
    cache, _db = varbase
    repo = site.base + "/All"
    site.files["/All/pkg_summary.xz"] = (SUMMARY_XZ, MTIME)

    first = catalogue.load_catalogue([repo], cache)
    assert "pkgin-26.4.0" in first and first.sources == (repo + "/pkg_summary.xz",)
    assert _requests(site) == [("/All/pkg_summary.zst", 404), ("/All/pkg_summary.xz", 200)]
    assert list(_record(cache, repo)["absent"]) == ["pkg_summary.zst"]

    # Without refresh the cached copy is used as it is; with refresh it is revalidated.
    assert catalogue.load_catalogue([repo], cache).pkgnames == first.pkgnames
    assert _requests(site) == []
    assert catalogue.load_catalogue([repo], cache, refresh=True).pkgnames == first.pkgnames
    assert [(p, s, sorted(h)) for p, s, h in site.log] == [
        ("/All/pkg_summary.xz", 304, ["If-Modified-Since", "If-None-Match"])]


def test_absent_formats_are_asked_for_again_after_a_week(site, varbase, every_format, monkeypatch):
    cache, _db = varbase
    repo = site.base + "/All"
    site.files["/All/pkg_summary.xz"] = (SUMMARY_XZ, MTIME)
    catalogue.load_catalogue([repo], cache)
    _requests(site)
    now = catalogue.time.time()
    monkeypatch.setattr(catalogue.time, "time", lambda: now + catalogue.ABSENT_TTL + 1)
    catalogue.load_catalogue([repo], cache, refresh=True)
    assert _requests(site) == [("/All/pkg_summary.zst", 404), ("/All/pkg_summary.xz", 304)]


@pytest.mark.parametrize("now_served,expected", [
    # The format used so far is gone: the others are probed, the remembered-absent last.
    ({"/All/pkg_summary.gz": None}, [("/All/pkg_summary.xz", 404), ("/All/pkg_summary.bz2", 404),
                                     ("/All/pkg_summary.gz", 200)]),
    ({"/All/pkg_summary.zst": None}, [("/All/pkg_summary.xz", 404), ("/All/pkg_summary.bz2", 404),
                                      ("/All/pkg_summary.gz", 404), ("/All/pkg_summary.zst", 200)]),
])
def test_when_the_format_used_disappears_every_format_is_probed(site, varbase, every_format, now_served, expected):
    cache, _db = varbase
    repo = site.base + "/All"
    site.files["/All/pkg_summary.xz"] = (SUMMARY_XZ, MTIME)
    catalogue.load_catalogue([repo], cache)
    _requests(site)
    del site.files["/All/pkg_summary.xz"]
    for path in now_served:
        site.files[path] = (SUMMARY_XZ, MTIME + 60)  # the parser goes by magic bytes, not by name
    catalogue.load_catalogue([repo], cache, refresh=True)
    assert _requests(site) == expected
    absent = sorted(_record(cache, repo)["absent"])
    assert absent == sorted({"pkg_summary.zst", "pkg_summary.xz", "pkg_summary.bz2", "pkg_summary.gz"}
                            - {p.rsplit("/", 1)[1] for p in now_served})


def test_pkgin_s_copy_stands_in_for_a_download_once_a_304_confirms_it(site, varbase, no_zstandard):
    cache, db = varbase
    repo = site.base + "/All"
    site.files["/All/pkg_summary.xz"] = (SUMMARY_XZ, MTIME)
    _pkgin_db(db, repo, MTIME, ("hello-1.0", "hello-1.1", "svc-demo-1.0"))

    got = catalogue.load_catalogue([repo], cache)
    assert got.pkgnames == ("hello-1.0", "hello-1.1", "svc-demo-1.0")
    assert got.file_url("svc-demo-1.0") == repo + "/svc-demo-1.0.tgz"
    assert site.log == [
        ("/All/pkg_summary.xz", 304, {"If-Modified-Since": email.utils.formatdate(MTIME, usegmt=True)})]
    site.log.clear()
    assert not [n for n in os.listdir(cache) if not n.endswith(".repo.json")]  # no download, no copy

    # Confirmed for that time: the plan made again in the same run asks nothing.
    assert catalogue.load_catalogue([repo], cache).pkgnames == got.pkgnames
    assert _requests(site) == []
    # refresh asks again; so does a pkgin database loaded since.
    catalogue.load_catalogue([repo], cache, refresh=True)
    assert _requests(site) == [("/All/pkg_summary.xz", 304)]
    _pkgin_db(db + ".new", repo, MTIME + 5, ("hello-1.1",))
    os.replace(db + ".new", db)
    assert catalogue.load_catalogue([repo], cache).pkgnames == ("hello-1.1",)
    assert _requests(site) == [("/All/pkg_summary.xz", 304)]


def test_a_summary_newer_than_pkgin_s_copy_is_downloaded(site, varbase, no_zstandard):
    cache, db = varbase
    repo = site.base + "/All"
    site.files["/All/pkg_summary.xz"] = (SUMMARY_XZ, MTIME + 3600)
    _pkgin_db(db, repo, MTIME, ("stale-1.0",))
    got = catalogue.load_catalogue([repo], cache)
    assert "pkgin-26.4.0" in got and "stale-1.0" not in got
    assert _requests(site) == [("/All/pkg_summary.xz", 200)]
    assert catalogue.load_catalogue([repo], cache).pkgnames == got.pkgnames  # now cached
    assert _requests(site) == []


@pytest.mark.parametrize("mtime,names,why", [
    (0, ("hello-1.0",), "listed but never loaded (pkgin's mark for a forced reload)"),
    (MTIME, (), "no package (the added-repository bug: the summary fetched, nothing loaded)"),
])
def test_an_unusable_pkgin_copy_is_not_trusted(site, varbase, no_zstandard, mtime, names, why):
    cache, db = varbase
    repo = site.base + "/All"
    site.files["/All/pkg_summary.xz"] = (SUMMARY_XZ, MTIME)
    _pkgin_db(db, repo, mtime, names)
    assert catalogue.pkgin_copy(db, repo) is None, why
    assert "pkgin-26.4.0" in catalogue.load_catalogue([repo], cache)
    assert site.log == [("/All/pkg_summary.xz", 200, {})]


def test_a_database_that_is_not_pkgin_s_is_ignored(tmp_path):
    path = tmp_path / "pkgin.db"
    path.write_bytes(b"not a database at all" * 100)
    assert catalogue.pkgin_copy(str(path), "http://example.org/All") is None
    assert catalogue.pkgin_copy(str(tmp_path / "missing.db"), "http://example.org/All") is None


def test_pkgin_database_lies_beside_the_summary_cache():
    assert catalogue.pkgin_database("/opt/pkg/var/db/pkgsrc-deploy/summaries") == "/opt/pkg/var/db/pkgin/pkgin.db"


def test_check_mode_writes_nothing_and_remembers_nothing(site, every_format):
    repo = site.base + "/All"
    site.files["/All/pkg_summary.xz"] = (SUMMARY_XZ, MTIME)
    for _round in range(2):
        catalogue.load_catalogue([repo], None)
        assert _requests(site) == [("/All/pkg_summary.zst", 404), ("/All/pkg_summary.xz", 200)]


def test_an_unreachable_repository_costs_one_attempt(varbase, every_format):
    cache, _db = varbase
    with pytest.raises(catalogue.RepositoryError) as info:
        catalogue.load_catalogue(["http://127.0.0.1:9/All"], cache)
    assert info.value.message.count("http://127.0.0.1:9/All/") == 1
    assert not os.path.exists(cache) or not _record(cache, "http://127.0.0.1:9/All")["absent"]


def test_a_repository_with_no_summary_says_what_was_asked(site, varbase, every_format):
    cache, _db = varbase
    with pytest.raises(catalogue.RepositoryError) as info:
        catalogue.load_catalogue([site.base + "/All"], cache)
    assert "pkg_summary.zst: HTTP 404" in info.value.message and "pkg_summary.gz: HTTP 404" in info.value.message
    assert len(_requests(site)) == 4


@pytest.mark.parametrize("last_modified,date,settled", [
    ("Sat, 21 Nov 2026 21:00:00 GMT", "Sat, 21 Nov 2026 21:00:00 GMT", False),  # changed in the fetch's second
    ("Sat, 21 Nov 2026 21:00:00 GMT", "Sat, 21 Nov 2026 21:00:01 GMT", False),
    ("Sat, 21 Nov 2026 21:00:00 GMT", "Sat, 21 Nov 2026 21:00:02 GMT", True),
    ("Sat, 21 Nov 2026 20:00:00 GMT", "Sat, 21 Nov 2026 21:00:00 GMT", True),
    ("Sat, 21 Nov 2026 21:00:00 GMT", "", False),
    ("not a date", "Sat, 21 Nov 2026 21:00:00 GMT", False),
])
def test_settled(last_modified, date, settled):
    assert catalogue._settled(last_modified, date) is settled  # pylint: disable=protected-access


def test_a_load_that_fails_writes_nothing(site, varbase, every_format):
    """Not the summary, not what was learnt of the formats: a run that fails leaves the prefix as it was."""
    cache, _db = varbase
    repo = site.base + "/All"
    site.files["/All/pkg_summary.xz"] = (SUMMARY_XZ[: len(SUMMARY_XZ) // 2], MTIME)  # truncated
    with pytest.raises(catalogue.RepositoryError) as info:
        catalogue.load_catalogue([repo], cache)
    assert "unusable" in info.value.message
    assert _requests(site) == [("/All/pkg_summary.zst", 404), ("/All/pkg_summary.xz", 200)]
    assert not os.path.exists(cache)
