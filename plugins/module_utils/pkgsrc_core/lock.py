"""One writer at a time per package database, and one bootstrap at a time per prefix.

Every change to the packages of a prefix happens with an exclusive flock(2) held on a lock file
beside its PKG_DBDIR (`<pkg_dbdir>.pkgsrc-deploy.lock`, outside the pkgdb so pkg_install never
sees it). A bootstrap, which runs before the prefix exists, locks a file in its cache directory
named after the prefix (bootstrap_lock_path). The holder writes its pid into the file, so a run
that waits too long can say who holds it.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import time
from typing import Optional

from .errors import LockError

DEFAULT_TIMEOUT = 600.0


def lock_path(pkg_dbdir: str) -> str:
    """The lock file that guards pkg_dbdir."""
    return os.path.normpath(pkg_dbdir) + ".pkgsrc-deploy.lock"


def bootstrap_lock_path(cache_dir: str, root: str, prefix: str) -> str:
    """The lock file that keeps two bootstraps of root+prefix apart (readable name, unique digest)."""
    place = os.path.normpath(root + "/" + prefix)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", place).strip("-") or "root"
    digest = hashlib.sha256(place.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return os.path.join(cache_dir, "bootstrap-%s-%s.lock" % (readable[-80:], digest))


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 64).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text


class FileLock:
    """Context manager: `with FileLock(path, what): ...` holds an exclusive flock on path for the block."""

    def __init__(self, path: str, what: str, timeout: float = DEFAULT_TIMEOUT, poll: float = 0.1) -> None:
        self.path = path
        self.what = what
        self.timeout = timeout
        self.poll = poll
        self._fd: Optional[int] = None
        self.waited = 0.0

    def __enter__(self) -> "FileLock":
        parent = os.path.dirname(self.path) or "."
        try:
            os.makedirs(parent, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LockError("cannot open the %s lock %s: %s" % (self.what, self.path, exc.strerror),
                            "run as a user who may write the prefix (root, or the prefix owner)") from None
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise LockError("cannot lock %s: %s" % (self.path, exc.strerror)) from None
                if time.monotonic() - start >= self.timeout:
                    holder = _holder(fd)
                    os.close(fd)
                    raise LockError(
                        "another run (pid %s) has held the %s lock %s for over %d seconds"
                        % (holder or "unknown", self.what, self.path, int(self.timeout)),
                        "wait for it to finish, or check that process; the lock goes when it exits") from None
                time.sleep(self.poll)
        self.waited = time.monotonic() - start
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, ("%d\n" % os.getpid()).encode("ascii"))
        self._fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None


class PkgdbLock(FileLock):
    """`with PkgdbLock(dbdir): ...` holds the package database's lock for the block."""

    def __init__(self, pkg_dbdir: str, timeout: float = DEFAULT_TIMEOUT, poll: float = 0.1) -> None:
        super().__init__(lock_path(pkg_dbdir), "package database", timeout, poll)
