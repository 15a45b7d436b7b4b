"""download.py against a real HTTP server on 127.0.0.1: checksums while reading, resume with
Range after an interrupted transfer, servers that ignore Range, errors, file:// URLs."""
from __future__ import annotations

import hashlib
import os
import re
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap import download
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError, VerificationError

BODY = os.urandom(300 * 1024 + 17)


class _Handler(BaseHTTPRequestHandler):
    """Serves BODY at /kit.tgz; the server's settings say how to misbehave."""

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server naming
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/kit.tgz")
            self.end_headers()
            return
        if self.path != "/kit.tgz":
            self.send_error(404, "Not Found")
            return
        start = 0
        rng = self.headers.get("Range")
        match = re.match(r"bytes=(\d+)-$", rng or "")
        if match and server.honour_range:
            start = int(match.group(1))
            if start >= len(server.body):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(server.body))
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(server.body) - 1, len(server.body)))
        else:
            self.send_response(200)
        payload = server.body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if server.cut_after is not None:
            cut, server.cut_after = server.cut_after, None
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(payload)


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.body = BODY
    httpd.requests = []
    httpd.honour_range = True
    httpd.cut_after = None
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = "http://127.0.0.1:%d" % httpd.server_address[1]
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def sha(name, data=BODY):
    return "%s:%s" % (name, hashlib.new(name, data).hexdigest())


@pytest.mark.parametrize("algo", ["sha1", "sha256", "sha512"])
def test_download_verified_while_read(server, tmp_path, algo):
    dest = str(tmp_path / "cache" / "kit.tgz")
    lines = []
    got = download.fetch(server.url + "/kit.tgz", dest, sha(algo), log=lines.append)
    assert open(dest, "rb").read() == BODY
    assert got.size == len(BODY) and got.sha256 == hashlib.sha256(BODY).hexdigest()
    assert got.digest == hashlib.new(algo, BODY).hexdigest()
    assert not os.path.exists(dest + ".part")
    assert any("%" in line for line in lines), lines
    assert lines[-1].startswith("downloaded ")
    assert os.stat(tmp_path / "cache").st_mode & 0o777 == 0o700


def test_mismatch_deletes_the_file(server, tmp_path):
    dest = str(tmp_path / "kit.tgz")
    with pytest.raises(VerificationError) as err:
        download.fetch(server.url + "/kit.tgz", dest, "sha256:" + "0" * 64)
    assert "does not match its checksum" in str(err.value)
    assert not os.path.exists(dest) and not os.path.exists(dest + ".part")


def test_interrupted_download_resumes_with_range(server, tmp_path):
    dest = str(tmp_path / "kit.tgz")
    server.cut_after = 100000
    with pytest.raises(PkgsrcError) as err:
        download.fetch(server.url + "/kit.tgz", dest, sha("sha256"))
    assert "resumes" in str(err.value)
    assert os.path.getsize(dest + ".part") == 100000
    lines = []
    got = download.fetch(server.url + "/kit.tgz", dest, sha("sha256"), log=lines.append)
    assert got.resumed_from == 100000
    assert server.requests[-1] == ("/kit.tgz", "bytes=100000-")
    assert open(dest, "rb").read() == BODY
    assert any("resuming" in line for line in lines)


def test_server_ignoring_range_gets_a_fresh_download(server, tmp_path):
    dest = str(tmp_path / "kit.tgz")
    server.cut_after = 50000
    with pytest.raises(PkgsrcError):
        download.fetch(server.url + "/kit.tgz", dest, sha("sha512"))
    server.honour_range = False
    got = download.fetch(server.url + "/kit.tgz", dest, sha("sha512"))
    assert got.resumed_from == 0
    assert open(dest, "rb").read() == BODY


def test_partial_file_as_long_as_the_body_restarts(server, tmp_path):
    dest = str(tmp_path / "kit.tgz")
    with open(dest + ".part", "wb") as handle:
        handle.write(b"x" * len(BODY))  # wrong bytes, full length: the server answers 416
    got = download.fetch(server.url + "/kit.tgz", dest, sha("sha256"))
    assert got.resumed_from == 0 and open(dest, "rb").read() == BODY


def test_corrupt_partial_file_fails_the_checksum_and_is_dropped(server, tmp_path):
    dest = str(tmp_path / "kit.tgz")
    with open(dest + ".part", "wb") as handle:
        handle.write(b"x" * 1000)
    with pytest.raises(VerificationError):
        download.fetch(server.url + "/kit.tgz", dest, sha("sha256"))
    assert not os.path.exists(dest + ".part")
    assert download.fetch(server.url + "/kit.tgz", dest, sha("sha256")).size == len(BODY)


def test_cached_file_with_matching_checksum_is_reused(server, tmp_path):
    dest = str(tmp_path / "kit.tgz")
    download.fetch(server.url + "/kit.tgz", dest, sha("sha256"))
    count = len(server.requests)
    got = download.fetch(server.url + "/kit.tgz", dest, sha("sha256"))
    assert got.from_cache and len(server.requests) == count


def test_redirect_followed(server, tmp_path):
    got = download.fetch(server.url + "/redirect", str(tmp_path / "kit.tgz"), sha("sha256"))
    assert got.size == len(BODY)


def test_https_to_http_redirect_refused():
    handler = download._NoDowngrade()  # pylint: disable=protected-access
    request = urllib.request.Request("https://pkgsrc.example/kit.tgz")
    with pytest.raises(PkgsrcError) as err:
        handler.redirect_request(request, None, 302, "Found", {}, "http://evil.example/kit.tgz")
    assert "not https" in str(err.value)


def test_http_404(server, tmp_path):
    with pytest.raises(PkgsrcError) as err:
        download.fetch(server.url + "/missing.tgz", str(tmp_path / "x"), sha("sha256"))
    assert "HTTP 404" in str(err.value)


def test_unreachable(tmp_path):
    with pytest.raises(PkgsrcError) as err:
        download.fetch("http://127.0.0.1:9/kit.tgz", str(tmp_path / "x"), None, timeout=5)
    assert "cannot reach" in str(err.value)


def test_file_url_is_verified_in_place(tmp_path):
    src = tmp_path / "kit.tgz"
    src.write_bytes(BODY)
    got = download.fetch("file://%s" % src, str(tmp_path / "cache" / "kit.tgz"), sha("sha1"))
    assert got.path == str(src) and not (tmp_path / "cache").exists()
    with pytest.raises(VerificationError):
        download.fetch(str(src), str(tmp_path / "cache" / "kit.tgz"), "sha1:" + "0" * 40)


def test_other_schemes_refused(tmp_path):
    with pytest.raises(PkgsrcError) as err:
        download.fetch("ftp://example.org/kit.tgz", str(tmp_path / "x"))
    assert "unsupported URL scheme" in str(err.value)


def test_size_limit(server, tmp_path):
    with pytest.raises(PkgsrcError) as err:
        download.fetch(server.url + "/kit.tgz", str(tmp_path / "x"), None, max_bytes=1000)
    assert "limit" in str(err.value)


def test_cache_dir_writable_by_others_is_refused(server, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(PkgsrcError) as err:
        download.fetch(server.url + "/kit.tgz", str(shared / "kit.tgz"), sha("sha256"))
    assert "not a private directory" in str(err.value)


@pytest.mark.parametrize("text,algo", [
    ("sha256:" + "AB" * 32, "sha256"), ("SHA512:" + "0" * 128, "sha512"), ("sha1:" + "f" * 40, "sha1"),
    ("a" * 40, "sha1"), ("a" * 64, "sha256"), ("a" * 128, "sha512"), ("sha-256:" + "1" * 64, "sha256"),
])
def test_parse_checksum(text, algo):
    parsed = download.parse_checksum(text)
    assert parsed.algorithm == algo and parsed.hexdigest == parsed.hexdigest.lower()
    assert str(parsed).startswith(algo + ":")


@pytest.mark.parametrize("text", ["md5:" + "a" * 32, "sha256:xyz", "a" * 50, "", "sha1:" + "g" * 40])
def test_parse_checksum_refuses(text):
    with pytest.raises(PkgsrcError):
        download.parse_checksum(text)
