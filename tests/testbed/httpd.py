"""A small HTTP file server for the testbed, with single-range ``Range`` requests (resumable downloads).

Run inside the controller's network namespace by the testbed::

    nsenter --net=/run/netns/CTL .venv/bin/python -m tests.testbed.httpd --dir DIR --port 8080 \
        --ready-file WORKDIR/http.json --request-log WORKDIR/http-requests.jsonl

Once listening it writes ``--ready-file`` (JSON: pid, host, port) atomically, so the caller knows it
is up. Every request is appended to ``--request-log`` as one JSON object per line, so tests can assert
what hosts asked for (a resumed download shows up as a 206 with its range), who asked (User-Agent),
with which conditional headers, and how many body bytes went out of how many promised (``sent``,
``length``: a client that hangs up after the headers shows up with less ``sent``).

Conditional GETs are answered as common servers (Apache, nginx) answer them: a file carries an ETag
(size and mtime) and a Last-Modified; ``If-None-Match`` naming its ETag, or else ``If-Modified-Since``
not older than its mtime, gets ``304 Not Modified`` with no body.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
from email.utils import formatdate, parsedate_to_datetime
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO, Mapping

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def etag_of(stat: os.stat_result) -> str:
    """A strong validator for a file: its size and mtime (nanoseconds), as nginx builds it."""
    return '"%x-%x"' % (stat.st_size, stat.st_mtime_ns)


def not_modified(headers: Mapping[str, str], stat: os.stat_result) -> bool:
    """True when a conditional GET's validators say the client's copy is current (RFC 9110 13.2.2)."""
    match = headers.get("If-None-Match")
    if match:
        return match.strip() == "*" or etag_of(stat) in [t.strip() for t in match.split(",")]
    since = headers.get("If-Modified-Since")
    if not since:
        return False
    try:
        when = parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError, IndexError):
        return False
    return int(stat.st_mtime) <= when


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """Turn a ``Range`` header into an inclusive (first, last) byte pair for a file of ``size`` bytes.

    Returns None when the whole file should be sent (no header, a multi-range or a malformed one,
    which RFC 9110 lets a server ignore) and the string "unsatisfiable" for a range past the end.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_s, last_s = match.groups()
    if first_s == "" and last_s == "":
        return None
    if first_s == "":
        suffix = int(last_s)
        if suffix == 0:
            return "unsatisfiable"
        return (max(0, size - suffix), size - 1) if size else "unsatisfiable"
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if last_s and last < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus ``Range: bytes=N-``, ``bytes=N-M`` and ``bytes=-K`` (206 replies)."""

    protocol_version = "HTTP/1.1"
    request_log: str | None = None
    _log_lock = threading.Lock()
    _remaining: int | None = None
    _sent = 0
    _length: int | None = None

    def send_head(self) -> BinaryIO | None:  # type: ignore[override]
        """Serve files ourselves (to honour Range); leave directories and redirects to the base class."""
        self._remaining = None
        self._sent = 0
        self._length = None
        path = self.translate_path(self.path)
        if os.path.isdir(path) or not os.path.isfile(path):
            return super().send_head()  # type: ignore[return-value]
        if self.path.split("?", 1)[0].endswith("/"):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            fobj = open(path, "rb")  # noqa: SIM115 - closed by the base class after copyfile
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            stat = os.fstat(fobj.fileno())
            size = stat.st_size
            if not_modified(self.headers, stat):
                fobj.close()
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.send_header("ETag", etag_of(stat))
                self.send_header("Last-Modified", formatdate(stat.st_mtime, usegmt=True))
                self.end_headers()
                return None
            wanted = parse_range(self.headers.get("Range"), size)
            if wanted == "unsatisfiable":
                fobj.close()
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if isinstance(wanted, tuple):
                first, last = wanted
                fobj.seek(first)
                self._remaining = self._length = last - first + 1
                self.send_response(HTTPStatus.PARTIAL_CONTENT)
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                self.send_header("Content-Length", str(self._remaining))
            else:
                self._length = size
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Length", str(size))
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", etag_of(stat))
            self.send_header("Last-Modified", formatdate(stat.st_mtime, usegmt=True))
            self.end_headers()
            return fobj  # type: ignore[return-value]
        except Exception:
            fobj.close()
            raise

    def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:  # type: ignore[override]
        """Copy the whole file, or only the requested range."""
        left = -1 if self._remaining is None else self._remaining
        while left != 0:
            chunk = source.read(65536 if left < 0 else min(65536, left))
            if not chunk:
                break
            outputfile.write(chunk)
            self._sent += len(chunk)  # counted as written: a client that hangs up shows what it got
            if left > 0:
                left -= len(chunk)

    def do_GET(self) -> None:  # noqa: N802 - base class name
        """Serve, then log the request with the body bytes that went out (also when the client hung up)."""
        self._pending: dict[str, object] | None = None
        try:
            super().do_GET()
        finally:
            self._write_log()

    def do_HEAD(self) -> None:  # noqa: N802 - base class name
        self._pending = None
        try:
            super().do_HEAD()
        finally:
            self._write_log()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Note the request for the request log (written once its body is sent; nothing to stderr)."""
        if not self.request_log:
            return
        status = code.value if isinstance(code, HTTPStatus) else code
        entry = {"client": self.client_address[0], "method": self.command, "path": self.path,
                 "status": int(status) if str(status).isdigit() else status,
                 "range": self.headers.get("Range") if self.headers else None,
                 "agent": self.headers.get("User-Agent") if self.headers else None,
                 "if_modified_since": self.headers.get("If-Modified-Since") if self.headers else None,
                 "if_none_match": self.headers.get("If-None-Match") if self.headers else None}
        if self.command in ("GET", "HEAD"):
            self._pending = entry
        else:
            self._append(entry)

    def _write_log(self) -> None:
        entry = getattr(self, "_pending", None)
        if entry is not None:
            entry["sent"] = self._sent
            entry["length"] = self._length
            self._pending = None
            self._append(entry)

    def _append(self, entry: dict[str, object]) -> None:
        with self._log_lock, open(str(self.request_log), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class signature
        """Errors go to stderr (the server's log file); successful requests go to the request log."""
        sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))


def _write_json_atomic(path: str, data: dict[str, object]) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Serve ``--dir`` on ``--bind``:``--port`` until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m tests.testbed.httpd", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="directory to serve")
    parser.add_argument("--bind", default="0.0.0.0", help="address to listen on (default: all, in this namespace)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    parser.add_argument("--ready-file", help="JSON file written once the server listens")
    parser.add_argument("--request-log", help="append one JSON line per request here")
    args = parser.parse_args(argv)

    handler = partial(RangeRequestHandler, directory=os.path.abspath(args.dir))
    RangeRequestHandler.request_log = args.request_log
    server = ThreadingHTTPServer((args.bind, args.port), handler)
    server.daemon_threads = True

    def _stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    host, port = server.server_address[:2]
    if args.ready_file:
        _write_json_atomic(args.ready_file, {"pid": os.getpid(), "host": host, "port": port})
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
