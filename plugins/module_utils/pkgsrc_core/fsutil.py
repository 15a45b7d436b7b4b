"""Small filesystem helpers for the apply side: atomic writes, robust tree removal, root joins.

Every file the bootstrap writes goes through atomic_write: a temporary file in the same
directory, written, fsync'd, given its mode (and owner when asked), then renamed over the target.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import stat
import sys
import tempfile
from typing import Optional, Tuple, Union

from .errors import PkgsrcError


def normalize_abs(path: str, what: str = "path") -> str:
    """A clean absolute POSIX path: no '..', no '.', no doubled or trailing slashes."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise PkgsrcError("%s %r is not an absolute path" % (what, path), "give a path that starts with /")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PkgsrcError("%s %r contains '..'" % (what, path), "give the path without '..' components")
    if "\0" in path:
        raise PkgsrcError("%s %r contains a NUL byte" % (what, path))
    return "/" + "/".join(parts)


def is_within(path: str, root: str) -> bool:
    """True when normalized absolute path equals root or lies below it."""
    if root == "/":
        return path.startswith("/")
    return path == root or path.startswith(root + "/")


def join_root(root: str, path: str) -> str:
    """The host path of a logical absolute path under an alternate root ('/' leaves it alone)."""
    if root in ("", "/"):
        return path
    if path == "/":
        return root.rstrip("/") or "/"
    return root.rstrip("/") + path


def nearest_existing(path: str) -> str:
    """path itself or its nearest ancestor that exists."""
    current = path
    while not os.path.lexists(current):
        parent = posixpath.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def ensure_private_dir(path: str) -> str:
    """Create path (mode 0700) if needed and check that only we can write it: ours, not a symlink."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise PkgsrcError("%s is not a private directory of this user" % path,
                          "remove it (someone else may have made it) or choose another cache_dir")
    return path


def read_text(path: str) -> Optional[str]:
    """The file's text (UTF-8, undecodable bytes escaped), or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


def decode_lenient(data: bytes) -> str:
    """UTF-8 text; a line that is not UTF-8 is read as latin-1 (pkgsrc metadata is mostly UTF-8)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "\n".join(_decode_line(line) for line in data.split(b"\n"))


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def atomic_write(path: str, text: Union[str, bytes], mode: int = 0o644, owner: Optional[Tuple[int, int]] = None,
                 make_parents: bool = True, parent_mode: int = 0o755) -> None:
    """Replace path with text (str or bytes) atomically, with an explicit mode (and owner if given)."""
    directory = posixpath.dirname(path) or "."
    if make_parents and not os.path.isdir(directory):
        os.makedirs(directory, mode=parent_mode, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pkgsrc-deploy-", suffix=".tmp", dir=directory)
    try:
        try:
            os.write(fd, text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape"))
            if owner is not None:
                os.fchown(fd, owner[0], owner[1])
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_tree(path: str) -> bool:
    """Remove a file, symlink or directory tree; read-only directories are made writable first.

    Returns True when something was removed. Never follows a symlink out of the tree.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return True

    # Directories that are not writable by us cannot be emptied: open them up first.
    for dirpath, dirnames, _files in os.walk(path):
        for name in [dirpath] + [posixpath.join(dirpath, d) for d in dirnames]:
            try:
                st = os.lstat(name)
                if stat.S_ISDIR(st.st_mode) and (st.st_mode & stat.S_IRWXU) != stat.S_IRWXU:
                    os.chmod(name, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
            except OSError:
                pass
    _rmtree(path)
    return True


def _ignore_vanished(_func, _failed, error):  # type: ignore[no-untyped-def]
    """rmtree error handler: a path that vanished meanwhile is fine, anything else is raised."""
    if isinstance(error, tuple):
        error = error[1]
    if isinstance(error, FileNotFoundError):
        return
    raise error


def _rmtree(path: str) -> None:
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_ignore_vanished)  # pylint: disable=unexpected-keyword-arg
    else:
        shutil.rmtree(path, onerror=_ignore_vanished)


def files_equal(left: str, right: str, chunk: int = 1 << 16) -> bool:
    """True when two regular files have the same size and bytes."""
    if os.path.getsize(left) != os.path.getsize(right):
        return False
    with open(left, "rb") as a, open(right, "rb") as b:
        while True:
            x = a.read(chunk)
            y = b.read(chunk)
            if x != y:
                return False
            if not x:
                return True
