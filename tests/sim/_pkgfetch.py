"""Fetching for the stand-ins, with libfetch's error strings ("Connection refused", "Not Found").

URLs are http://, https://, ftp:// (not supported here) and file://; anything else is a path.
No proxies are used (the test repositories are on loopback). Timeouts are short.
"""
from __future__ import annotations

import email.utils
import fnmatch
import html
import http.client
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, List, Optional, Tuple

TIMEOUT = 10.0
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


class FetchError(Exception):
    """A fetch that failed; str() is the libfetch-style reason."""


def is_url(text: str) -> bool:
    """True for the URL schemes libfetch handles."""
    return text.startswith(("http://", "https://", "ftp://", "file://"))


def local_path(url: str) -> str:
    """The filesystem path of a file:// URL, or the text itself when it is a path."""
    if url.startswith("file://"):
        return urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return url


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        try:
            return http.client.responses[exc.code]
        except KeyError:
            return "HTTP error %d" % exc.code
    if isinstance(exc, urllib.error.URLError):
        return _reason(exc.reason) if isinstance(exc.reason, BaseException) else str(exc.reason)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "Operation timed out"
    if isinstance(exc, socket.gaierror):
        return "No address record"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or exc.__class__.__name__


def fetch(url: str) -> Tuple[bytes, str]:
    """(content, Last-Modified) of a URL or file. Raises FetchError with a libfetch-style reason."""
    if not is_url(url) or url.startswith("file://"):
        path = local_path(url)
        try:
            stamp = email.utils.formatdate(os.stat(path).st_mtime, usegmt=True)
            with open(path, "rb") as handle:
                return handle.read(), stamp
        except OSError as exc:
            raise FetchError(_reason(exc)) from exc
    if url.startswith("ftp://"):
        raise FetchError("FTP is not supported by the stand-in")
    try:
        with _OPENER.open(urllib.request.Request(url), timeout=TIMEOUT) as response:
            return response.read(), response.headers.get("Last-Modified", "")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise FetchError(_reason(exc)) from exc


def fetch_if(url: str, wanted: Callable[[str], bool]) -> Tuple[Optional[bytes], str]:
    """(content, Last-Modified) of a URL or file, or (None, Last-Modified) when wanted(Last-Modified)
    says no: then, as pkgin's sum_open() with libfetch, the connection is closed after the headers,
    with the body unread. Raises FetchError."""
    if not is_url(url) or url.startswith("file://"):
        path = local_path(url)
        try:
            stamp = email.utils.formatdate(os.stat(path).st_mtime, usegmt=True)
        except OSError as exc:
            raise FetchError(_reason(exc)) from exc
        return (fetch(url)[0] if wanted(stamp) else None), stamp
    if url.startswith("ftp://"):
        raise FetchError("FTP is not supported by the stand-in")
    try:
        with _OPENER.open(urllib.request.Request(url), timeout=TIMEOUT) as response:
            stamp = response.headers.get("Last-Modified", "")
            return (response.read() if wanted(stamp) else None), stamp
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise FetchError(_reason(exc)) from exc


def fetch_bytes(url: str) -> bytes:
    """Content of a URL or file; FetchError on failure."""
    return fetch(url)[0]


def with_slash(url: str) -> str:
    """A directory URL or path with one trailing slash."""
    return url if url.endswith("/") else url + "/"


def list_dir(url: str, pattern: str) -> List[str]:
    """Names in a directory (path, file:// or an HTTP index page) matching an fnmatch pattern."""
    if not is_url(url) or url.startswith("file://"):
        try:
            names = os.listdir(local_path(url))
        except OSError as exc:
            raise FetchError(_reason(exc)) from exc
    else:
        page = fetch_bytes(with_slash(url)).decode("utf-8", "replace")
        names = []
        for href in _HREF.findall(page):
            target = urllib.parse.unquote(html.unescape(href)).split("?")[0].split("#")[0]
            name = target.rstrip("/").rsplit("/", 1)[-1]
            if name and name not in names:
                names.append(name)
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def join(base: str, name: str) -> str:
    """base/name for a URL or a path."""
    if is_url(base):
        return with_slash(base) + urllib.parse.quote(name)
    return os.path.join(base, name)
