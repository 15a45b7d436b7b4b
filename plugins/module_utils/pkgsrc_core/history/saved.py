"""Saved packages: an installed package re-packed from its pkgdb entry, the pkg_tarup way.

Before a run upgrades, downgrades or removes a package, `save_installed` turns the installed
version back into a binary package with the prefix's own pkg_create (pkg_install 20170419, as
samples/repack-downgrade-files.md shows it):

    <prefix>/sbin/pkg_create -l -U -B +BUILD_INFO -c +COMMENT -d +DESC -s +SIZE_PKG -S +SIZE_ALL
        [-b +BUILD_VERSION] [-i +INSTALL] [-k +DEINSTALL] [-D +DISPLAY] [-n +PRESERVE]
        -p PREFIX -I PREFIX -f PLIST -F gzip <store>/.saving-XXXX/<PKGNAME>.tgz

Each metadata option is given when the pkgdb entry has that file (pkg_tarup's check_and_add);
+COMMENT and +DESC are required. The packing list is the installed +CONTENTS without @name (the
output file's name gives it), without the @ignore'd metadata entries and @display (the options
add them again), and without the `@comment MD5:` / `@comment Symlink:` lines: pkg_create writes
its own after every file, so kept ones would come out doubled. Dependencies stay as pkg_tarup
leaves them: the @pkgdep, @blddep and @pkgcfl lines of the packing list (-P/-T would add them a
second time, and -T would record whatever is installed now). `-l` is pkg_tarup's: pkg_create
rewrites a symlink whose absolute target lies in the prefix as a relative one, on disk too (the
link keeps pointing at the same file). pkg_create needs no PKG_DBDIR for this (no -K).

Files are packed as they are on disk. A file whose MD5 differs from its `@comment MD5:` line was
modified since install: it is saved as it is and named in `SavedPackage.warnings` (the MD5s are
computed here; pkg_admin check exits 0 even on mismatches). A file missing on disk makes the
package impossible to re-pack (pkg_create would fail half-way): that is an error, raised first.

The store is `<VARBASE>/db/pkgsrc-deploy/saved/`: `<PKGNAME>.tgz` (mode 0644, made under a
temporary name and renamed) and a JSON sidecar `<PKGNAME>.json` (sha256, size, created,
md5_mismatches), written after the package, so a package without its sidecar is an unfinished
save. `find_saved` trusts a package only when it matches its sidecar. `retention` keeps what the
caller says the last transactions need and the store under its size cap. The caller holds the
pkgdb lock while it saves.
"""
from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ..errors import PkgsrcError
from ..fsutil import atomic_write, read_text, remove_tree
from ..layout import Layout
from ..runner import Runner

#: The store, relative to VARBASE.
SAVED_RELPATH = "db/pkgsrc-deploy/saved"

#: pkg_create's option for each optional metadata file of a pkgdb entry, in pkg_tarup's order
#: after the sample's -B/-c/-d/-s/-S.
_REQUIRED_META = (("-c", "+COMMENT"), ("-d", "+DESC"))
_OPTIONAL_META = (("-B", "+BUILD_INFO"), ("-s", "+SIZE_PKG"), ("-S", "+SIZE_ALL"), ("-b", "+BUILD_VERSION"),
                  ("-i", "+INSTALL"), ("-k", "+DEINSTALL"), ("-D", "+DISPLAY"), ("-n", "+PRESERVE"))

_MD5 = "@comment MD5:"
_SYMLINK = "@comment Symlink:"
# Lines pkg_create writes again itself (or that name the output), dropped from the packing list.
_DROPPED = ("@name", "@display", "@src", "@mtree")


@dataclass(frozen=True)
class SavedPackage:
    """A package file in the store: where, its digest, and what saving it found."""

    pkgname: str
    path: str
    sha256: str
    size: int
    created: str
    md5_mismatches: Tuple[str, ...] = ()
    warnings: Tuple[str, ...] = ()
    argv: Tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> Dict[str, Any]:
        """Plain data for a history record and the results."""
        return {"pkgname": self.pkgname, "path": self.path, "sha256": self.sha256, "size": self.size,
                "created": self.created, "md5_mismatches": list(self.md5_mismatches),
                "warnings": list(self.warnings)}


@dataclass(frozen=True)
class InstalledFile:
    """A file of a +CONTENTS: its logical path and the MD5 recorded at install (or "")."""

    path: str
    md5: str


def store_dir(layout: Layout, store: Optional[str] = None) -> str:
    """Host path of the store: `store` when given, else <VARBASE>/db/pkgsrc-deploy/saved."""
    if store:
        return store
    return layout.host(posixpath.join(layout.varbase, SAVED_RELPATH))


def _check_pkgname(pkgname: str) -> str:
    if (not pkgname or "/" in pkgname or "\0" in pkgname or pkgname.startswith(".") or "-" not in pkgname
            or any(c.isspace() for c in pkgname)):
        raise PkgsrcError("%r is not a package name (PKGNAME)" % (pkgname,),
                          "give the installed PKGNAME, e.g. hello-1.0")
    return pkgname


def _ignored(lines: List[str]) -> List[bool]:
    """For each line: whether it is an @ignore line or the entry an @ignore applies to."""
    flags = [False] * len(lines)
    skip_next = False
    for i, line in enumerate(lines):
        if skip_next:
            flags[i], skip_next = True, False
        elif line.startswith("@ignore"):
            flags[i], skip_next = True, True
    return flags


def repack_plist(contents: str) -> str:
    """The packing list pkg_create gets: +CONTENTS without @name, the @ignore'd entries, @display
    and the `@comment MD5:` / `@comment Symlink:` lines (pure)."""
    lines = contents.splitlines()
    kept = []
    for line, ignored in zip(lines, _ignored(lines)):
        if ignored or not line.strip():
            continue
        if line.startswith((_MD5, _SYMLINK)) or line.split(" ", 1)[0] in _DROPPED:
            continue
        kept.append(line)
    return "".join(line + "\n" for line in kept)


def installed_files(contents: str, prefix: str) -> Tuple[InstalledFile, ...]:
    """The files a +CONTENTS lists (logical paths) with their recorded MD5 (pure).

    Refuses an @cwd other than the prefix: pkg_create -I records every @cwd as the prefix, so
    such a package cannot be re-packed faithfully.
    """
    lines = contents.splitlines()
    flags = _ignored(lines)
    files: List[InstalledFile] = []
    cwd = prefix
    for i, line in enumerate(lines):
        if flags[i] or not line.strip():
            continue
        if line.startswith("@"):
            word, _sep, arg = line.partition(" ")
            if word in ("@cwd", "@cd"):
                cwd = arg.strip().rstrip("/") or "/"
                if cwd != prefix:
                    raise PkgsrcError("its +CONTENTS has files outside the prefix (@cwd %s)" % cwd,
                                      "such a package cannot be re-packed for prefix %s" % prefix)
            continue
        md5 = ""
        if i + 1 < len(lines) and lines[i + 1].startswith(_MD5):
            md5 = lines[i + 1][len(_MD5):].strip().lower()
        files.append(InstalledFile(posixpath.join(cwd, line), md5))
    return tuple(files)


def _md5(path: str) -> str:
    digest = hashlib.md5()  # noqa: S324 - the packing list's checksum, not security
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(path: str) -> Tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_files(layout: Layout, files: Iterable[InstalledFile]) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(modified, missing): logical paths whose MD5 differs from +CONTENTS, and paths not on disk."""
    modified: List[str] = []
    missing: List[str] = []
    for item in files:
        host = layout.host(item.path)
        if not os.path.lexists(host):
            missing.append(item.path)
        elif item.md5 and not os.path.islink(host) and os.path.isfile(host) and _md5(host) != item.md5:
            modified.append(item.path)
    return tuple(modified), tuple(missing)


def pkg_create_argv(layout: Layout, pkgname: str, meta_present: Iterable[str], plist: str,
                    target: str) -> List[str]:
    """The pkg_create command that re-packs pkgname (pure; meta_present: the entry's file names)."""
    present = set(meta_present)
    entry = layout.host(posixpath.join(layout.pkg_dbdir, pkgname))
    argv = [layout.host(posixpath.join(layout.prefix, "sbin", "pkg_create")), "-l", "-U"]
    for flag, name in _OPTIONAL_META[:1] + _REQUIRED_META + _OPTIONAL_META[1:]:
        if name in present:
            argv += [flag, posixpath.join(entry, name)]
    argv += ["-p", layout.host(layout.prefix), "-I", layout.prefix, "-f", plist, "-F", "gzip", target]
    return argv


def _utc_now() -> str:
    """UTC, ISO 8601 to the microsecond: sorts as text, oldest first."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _contents_name(path: str) -> Optional[str]:
    """The @name of a package file's +CONTENTS (its first member), or None when unreadable."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            first = tar.next()
            if first is None or first.name != "+CONTENTS":
                return None
            handle = tar.extractfile(first)
            if handle is None:
                return None
            for line in handle.read().decode("utf-8", "replace").splitlines():
                if line.startswith("@name "):
                    return line[len("@name "):].strip()
    except (OSError, tarfile.TarError, EOFError):
        return None
    return None


def save_installed(layout: Layout, pkgname: str, runner: Runner, store: Optional[str] = None) -> SavedPackage:
    """Re-pack the installed pkgname into the store; raise PkgsrcError when it cannot be done."""
    pkgname = _check_pkgname(pkgname)
    entry = layout.host(posixpath.join(layout.pkg_dbdir, pkgname))
    contents = read_text(posixpath.join(entry, "+CONTENTS"))
    if contents is None:
        raise PkgsrcError("cannot save %s: it is not installed (no %s/+CONTENTS)" % (pkgname, entry),
                          "give an installed PKGNAME (pkg_info lists them)")
    present = set(os.listdir(entry))
    lacking = [name for _flag, name in _REQUIRED_META if name not in present]
    if lacking:
        raise PkgsrcError("cannot save %s: its pkgdb entry lacks %s" % (pkgname, ", ".join(lacking)),
                          "repair the entry (reinstall the package) first")
    try:
        files = installed_files(contents, layout.prefix)
    except PkgsrcError as exc:
        raise PkgsrcError("cannot save %s: %s" % (pkgname, exc.message), exc.hint) from None
    modified, missing = check_files(layout, files)
    if missing:
        raise PkgsrcError("cannot save %s: files of it are missing: %s" % (pkgname, ", ".join(missing)),
                          "reinstall the package (pkg_admin check lists what is wrong) or remove it without saving")
    plist = repack_plist(contents)
    if layout.root != "/":
        plist = "".join(("@cwd %s\n" % layout.host(line[5:]) if line.startswith("@cwd ") else line + "\n")
                        for line in plist.splitlines())
    directory = store_dir(layout, store)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".saving-", dir=directory)
    try:
        plist_path = os.path.join(work, "+PLIST")
        atomic_write(plist_path, plist, mode=0o600, make_parents=False)
        made = os.path.join(work, pkgname + ".tgz")
        argv = pkg_create_argv(layout, pkgname, present, plist_path, made)
        runner.run(argv).check("pkg_create could not re-pack %s from its pkgdb entry" % pkgname)
        if _contents_name(made) != pkgname:
            raise PkgsrcError("pkg_create made no readable package %s" % pkgname,
                              "run the command by hand to see why: %s" % " ".join(argv))
        os.chmod(made, 0o644)
        sha256, size = _sha256(made)
        final = os.path.join(directory, pkgname + ".tgz")
        os.replace(made, final)
        saved = SavedPackage(pkgname=pkgname, path=final, sha256=sha256, size=size, created=_utc_now(),
                             md5_mismatches=modified,
                             warnings=tuple("%s: %s was modified since install (its MD5 differs from +CONTENTS); "
                                            "saved as it is on disk" % (pkgname, path) for path in modified),
                             argv=tuple(argv))
        atomic_write(_sidecar(directory, pkgname), json.dumps(_sidecar_data(saved), indent=1, sort_keys=True) + "\n",
                     mode=0o644, make_parents=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return saved


def _sidecar(directory: str, pkgname: str) -> str:
    return os.path.join(directory, pkgname + ".json")


def _sidecar_data(saved: SavedPackage) -> Dict[str, Any]:
    return {"pkgname": saved.pkgname, "file": os.path.basename(saved.path), "sha256": saved.sha256,
            "size": saved.size, "created": saved.created, "md5_mismatches": list(saved.md5_mismatches)}


def read_saved(layout: Layout, pkgname: str, store: Optional[str] = None) -> Optional[SavedPackage]:
    """What the sidecar says of a saved package (not checked against the file), or None."""
    directory = store_dir(layout, store)
    text = read_text(_sidecar(directory, pkgname))
    if text is None:
        return None
    try:
        data = json.loads(text)
        mismatches = tuple(str(p) for p in data.get("md5_mismatches", []))
        return SavedPackage(pkgname=str(data["pkgname"]), path=os.path.join(directory, pkgname + ".tgz"),
                            sha256=str(data["sha256"]), size=int(data["size"]), created=str(data["created"]),
                            md5_mismatches=mismatches)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def find_saved(layout: Layout, pkgname: str, store: Optional[str] = None) -> Optional[str]:
    """Host path of the saved package of pkgname, or None: absent, unfinished, or not matching its sidecar."""
    saved = read_saved(layout, pkgname, store)
    if saved is None or saved.pkgname != pkgname:
        return None
    try:
        if os.path.getsize(saved.path) != saved.size:
            return None
        if _sha256(saved.path)[0] != saved.sha256:
            return None
    except OSError:
        return None
    return saved.path


def list_saved(layout: Layout, store: Optional[str] = None) -> Tuple[SavedPackage, ...]:
    """Every finished saved package of the store (sidecar and file present), oldest first."""
    directory = store_dir(layout, store)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return ()
    found = []
    for name in names:
        if name.endswith(".json") and not name.startswith("."):
            saved = read_saved(layout, name[:-len(".json")], store)
            if saved is not None and os.path.isfile(saved.path):
                found.append(saved)
    return tuple(sorted(found, key=lambda s: (s.created, s.pkgname)))


def retention(layout: Layout, keep_pkgnames: Iterable[str], max_bytes: Optional[int],
              store: Optional[str] = None) -> Tuple[str, ...]:
    """Apply the store's limits; return the PKGNAMEs removed.

    Removes the saved packages not in keep_pkgnames (what the last transactions need, which the
    caller computes), then the oldest until the store holds at most max_bytes (None: no cap), and
    what unfinished saves left (a package without its sidecar, a sidecar without its package,
    temporary folders).
    """
    directory = store_dir(layout, store)
    if not os.path.isdir(directory):
        return ()
    keep = set(keep_pkgnames)
    removed: List[str] = []
    saved = list(list_saved(layout, store))
    finished = {s.pkgname for s in saved}
    for name in sorted(os.listdir(directory)):
        base = name[:-len(".tgz")] if name.endswith(".tgz") else name[:-len(".json")] if name.endswith(".json") else ""
        if name.startswith(".saving-") or (base and base not in finished):
            remove_tree(os.path.join(directory, name))
    kept = []
    for item in saved:
        if item.pkgname in keep:
            kept.append(item)
        else:
            _remove(directory, item.pkgname)
            removed.append(item.pkgname)
    if max_bytes is not None:
        total = sum(s.size for s in kept)
        while kept and total > max_bytes:
            oldest = kept.pop(0)
            _remove(directory, oldest.pkgname)
            removed.append(oldest.pkgname)
            total -= oldest.size
    return tuple(removed)


def _remove(directory: str, pkgname: str) -> None:
    """The package first, then its sidecar: a crash in between leaves a sidecar retention clears."""
    for path in (os.path.join(directory, pkgname + ".tgz"), _sidecar(directory, pkgname)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
