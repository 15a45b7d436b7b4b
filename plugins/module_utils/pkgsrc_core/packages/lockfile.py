"""Lock files: one prefix's exact package set, to apply to other hosts and to compare them with.

A lock names every installed package of a prefix by its exact PKGNAME, with its automatic flag
(installed as a dependency), and says where and when it was taken:

    lock_version: 1
    prefix: /opt/pkg
    taken_at: "2026-12-05T12:00:00Z"
    taken_from: web1
    packages:
      - {pkgname: foo-tool-3.2, automatic: false}
      - {pkgname: libfoo-2.0nb1, automatic: true}

It is written as YAML (JSON is the same data and is accepted) and read on the controller only;
the core takes the decoded mapping (`parse_lock`), so managed hosts never need YAML. The same
lock is what pkgsrc.deploy.facts returns per prefix (`prefix_lock`), what the packages role and
the package module apply (`lock_request`: every PKGNAME exactly, the flags as listed, nothing else
but the kit's packages), and the fleet report's desired set (`compare`: the drift of one host).

Only `lock_version` and `packages` are required (a hand-written lock may leave out where and when
it was taken). Unknown keys are refused, so a typo never passes as an empty option.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ..errors import PatternError, PkgsrcError
from ..layout import Layout
from ..versions import is_pattern, split_pkgname
from .pkgdb import read_pkgdb
from .plan import PackageRequest

LOCK_VERSION = 1
KEYS = ("lock_version", "prefix", "taken_at", "taken_from", "packages")
PACKAGE_KEYS = ("pkgname", "automatic")
_HINT = "see docs/lockfiles.md for the format, or take a lock from a host with playbooks/lock.yml"


class LockFileError(PkgsrcError):
    """A lock is not in the lock format, or cannot be applied as asked."""


@dataclass(frozen=True)
class LockedPackage:
    """One package of a lock: its exact PKGNAME and whether it is installed as a dependency."""

    pkgname: str
    automatic: bool = False

    @property
    def name(self) -> str:
        return split_pkgname(self.pkgname)[0]

    def as_dict(self) -> Dict[str, Any]:
        return {"pkgname": self.pkgname, "automatic": self.automatic}


@dataclass(frozen=True)
class Lock:
    """A parsed lock: packages sorted by PKGNAME, one per name."""

    packages: Tuple[LockedPackage, ...]
    prefix: Optional[str] = None
    taken_at: Optional[str] = None
    taken_from: Optional[str] = None
    version: int = LOCK_VERSION

    @property
    def pkgnames(self) -> Tuple[str, ...]:
        return tuple(p.pkgname for p in self.packages)

    @property
    def automatic(self) -> Tuple[str, ...]:
        """The PKGNAMEs installed as dependencies."""
        return tuple(p.pkgname for p in self.packages if p.automatic)

    def by_name(self) -> Dict[str, LockedPackage]:
        return {p.name: p for p in self.packages}

    def as_dict(self) -> Dict[str, Any]:
        """The lock as plain data, in the file's key order (YAML and JSON writers keep it)."""
        return {"lock_version": self.version, "prefix": self.prefix, "taken_at": self.taken_at,
                "taken_from": self.taken_from, "packages": [p.as_dict() for p in self.packages]}


def _optional_text(data: Mapping[str, Any], key: str, source: str) -> Optional[str]:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise LockFileError("%s: %s is %r, not a text" % (source, key, value),
                            "give %s as a string, or leave it out" % key)
    return value.strip()


def _version(data: Mapping[str, Any], source: str) -> int:
    if "lock_version" not in data:
        raise LockFileError("%s has no lock_version: it is not a pkgsrc.deploy lock" % source, _HINT)
    version = data["lock_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise LockFileError("%s: lock_version is %r, not a positive whole number" % (source, version),
                            "this release writes lock_version: %d" % LOCK_VERSION)
    if version > LOCK_VERSION:
        raise LockFileError("%s has lock_version %d; this pkgsrc.deploy reads lock_version %d only"
                            % (source, version, LOCK_VERSION),
                            "upgrade pkgsrc.deploy on the controller, or take the lock again with this release")
    return version


def _package(entry: Any, where: str) -> LockedPackage:
    if not isinstance(entry, Mapping):
        raise LockFileError("%s is %r, not {pkgname: ..., automatic: ...}" % (where, entry),
                            "list each package as a mapping with its pkgname and automatic flag")
    unknown = sorted(str(k) for k in entry if k not in PACKAGE_KEYS)
    if unknown:
        raise LockFileError("%s has unknown key%s %s" % (where, "" if len(unknown) == 1 else "s", ", ".join(unknown)),
                            "a package entry has pkgname and automatic only")
    pkgname = entry.get("pkgname")
    if not isinstance(pkgname, str) or not pkgname.strip():
        raise LockFileError("%s has no pkgname" % where, "give the exact PKGNAME, e.g. pkgname: libfoo-2.0nb1")
    pkgname = pkgname.strip()
    try:
        split_pkgname(pkgname)
        patterned = is_pattern(pkgname)
    except PatternError:
        patterned = True
    if patterned or any(c.isspace() for c in pkgname):
        raise LockFileError("%s: %r is not an exact PKGNAME" % (where, pkgname),
                            "a lock names exact versions (name-version, e.g. libfoo-2.0nb1), not patterns")
    automatic = entry.get("automatic", False)
    if not isinstance(automatic, bool):
        raise LockFileError("%s: automatic is %r, not true or false" % (where, automatic),
                            "write automatic: true for a package installed as a dependency, else false")
    return LockedPackage(pkgname, automatic)


def parse_lock(data: Any, source: str = "the lock") -> Lock:
    """A Lock from decoded YAML or JSON; LockFileError says what is wrong and where."""
    if not isinstance(data, Mapping):
        what = "nothing" if data is None else "a %s" % type(data).__name__
        raise LockFileError("%s holds %s, not a lock" % (source, what), _HINT)
    unknown = sorted(str(k) for k in data if k not in KEYS)
    if unknown:
        raise LockFileError("%s has unknown key%s %s" % (source, "" if len(unknown) == 1 else "s", ", ".join(unknown)),
                            "a lock has the keys %s" % ", ".join(KEYS))
    version = _version(data, source)
    entries = data.get("packages")
    if not isinstance(entries, list):
        what = "missing" if entries is None else "a %s" % type(entries).__name__
        raise LockFileError("%s: packages is %s, not a list" % (source, what),
                            "list the packages as - {pkgname: NAME-VERSION, automatic: false}")
    packages = [_package(entry, "%s: packages[%d]" % (source, index)) for index, entry in enumerate(entries)]
    seen: Dict[str, str] = {}
    for pkg in packages:
        if pkg.name in seen:
            raise LockFileError("%s lists %s twice (%s and %s)" % (source, pkg.name, seen[pkg.name], pkg.pkgname),
                                "a prefix holds one version of a package: keep one of them")
        seen[pkg.name] = pkg.pkgname
    prefix = _optional_text(data, "prefix", source)
    if prefix is not None and not prefix.startswith("/"):
        raise LockFileError("%s: prefix %r is not an absolute path" % (source, prefix),
                            "give the prefix the lock was taken from, e.g. /opt/pkg, or leave it out")
    if prefix is not None and prefix != "/":
        prefix = prefix.rstrip("/")
    return Lock(tuple(sorted(packages, key=lambda p: p.pkgname)), prefix,
                _optional_text(data, "taken_at", source), _optional_text(data, "taken_from", source), version)


def build_lock(packages: Iterable[Tuple[str, bool]], prefix: Optional[str] = None, taken_at: Optional[str] = None,
               taken_from: Optional[str] = None) -> Lock:
    """A Lock of (PKGNAME, automatic) pairs."""
    return Lock(tuple(sorted((LockedPackage(p, bool(a)) for p, a in packages), key=lambda p: p.pkgname)),
                prefix, taken_at, taken_from)


def prefix_lock(layout: Layout, taken_at: Optional[str] = None, taken_from: Optional[str] = None) -> Lock:
    """The lock of layout's prefix, read from its package database (no process run)."""
    pkgdb = read_pkgdb(layout.host(layout.pkg_dbdir))
    return build_lock(((p.pkgname, p.automatic) for p in pkgdb), layout.prefix, taken_at, taken_from)


def with_lock(request: PackageRequest, data: Any, prefix: Optional[str] = None,
              source: str = "the lock option") -> Tuple[PackageRequest, Optional[str]]:
    """The adapters' lock option: (the request that applies the lock, the prefix to apply it in).

    `request` carries the other options (update_cache, clean, lock_timeout, ...); it must not name
    packages, ask for another state, or upgrade/autoremove. The prefix defaults to the lock's.
    """
    lock = parse_lock(data, source)
    if request.state != "present":
        raise LockFileError("a lock cannot be applied with state %s" % request.state,
                            "leave state out (present): the lock names every package and version")
    options = {"update_cache": request.update_cache, "upgrade": request.upgrade, "autoremove": request.autoremove,
               "clean": request.clean, "lock_timeout": request.lock_timeout, "names": request.names}
    return lock_request(lock, **options), prefix or lock.prefix


def lock_request(lock: Lock, **options: Any) -> PackageRequest:
    """The package request that applies a lock: every PKGNAME, exact, its automatic ones marked so.

    `options` are the other PackageRequest fields (update_cache, clean, lock_timeout, ...);
    names, state, exact and automatic come from the lock.
    """
    for key in ("names", "state", "exact", "automatic", "upgrade", "autoremove"):
        if options.get(key):
            raise LockFileError("a lock cannot be combined with %s" % key,
                                "leave %s out: the lock names every package and version" % key)
        options.pop(key, None)
    return PackageRequest(names=lock.pkgnames, state="present", exact=True, automatic=lock.automatic, **options)


@dataclass(frozen=True)
class Drift:
    """How an installed set differs from a lock.

    missing: locked PKGNAMEs of which no version is installed; wrong_version: (locked PKGNAME,
    installed PKGNAME); extra: installed PKGNAMEs the lock does not name (the kit's packages
    left out); automatic: (PKGNAME, the flag the lock wants) where only the flag differs.
    """

    missing: Tuple[str, ...] = ()
    wrong_version: Tuple[Tuple[str, str], ...] = ()
    extra: Tuple[str, ...] = ()
    automatic: Tuple[Tuple[str, bool], ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.missing or self.wrong_version or self.extra or self.automatic)

    def as_dict(self) -> Dict[str, Any]:
        return {"missing": list(self.missing),
                "wrong_version": [{"locked": w, "installed": i} for w, i in self.wrong_version],
                "extra": list(self.extra),
                "automatic": [{"pkgname": p, "automatic": a} for p, a in self.automatic]}


def compare(lock: Lock, installed: Iterable[Tuple[str, bool]], keep: Iterable[str] = ()) -> Drift:
    """The drift of an installed set ((PKGNAME, automatic) pairs) from a lock.

    `keep`: names never counted as extra (the kit's packages, which applying the lock keeps).
    """
    locked = lock.by_name()
    keep_names = set(keep)
    have: Dict[str, List[Tuple[str, bool]]] = {}
    for pkgname, automatic in installed:
        have.setdefault(split_pkgname(pkgname)[0], []).append((pkgname, bool(automatic)))
    missing: List[str] = []
    wrong: List[Tuple[str, str]] = []
    flags: List[Tuple[str, bool]] = []
    for name, want in sorted(locked.items()):
        present = have.get(name, [])
        if not present:
            missing.append(want.pkgname)
            continue
        exact = [a for p, a in present if p == want.pkgname]
        if not exact:
            wrong.extend((want.pkgname, p) for p, _auto in sorted(present))
        elif exact[0] != want.automatic:
            flags.append((want.pkgname, want.automatic))
    extra = sorted(p for name, pkgs in have.items() if name not in locked and name not in keep_names
                   for p, _auto in pkgs)
    return Drift(tuple(missing), tuple(wrong), tuple(extra), tuple(flags))
