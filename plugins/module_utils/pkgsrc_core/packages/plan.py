"""The package plan, pure: (desired, installed, available) -> actions; and the request and result types.

The planner is pure: it takes the request, the installed packages (read from PKG_DBDIR by
pkgdb.py) and, only when it needs them, the PKGNAMEs the repositories offer (their
pkg_summary), and returns a PackagePlan. Nothing is spawned to find out what is installed, so a
converged host costs no process at all. Applying the plan runs one command per kind of action
(pkgin, or pkg_add/pkg_delete/pkg_admin where pkgin is absent) under the pkgdb lock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import PkgsrcError
from ..versions import best_match, compile_pattern, dewey_cmp, split_pkgname

STATES = ("present", "latest", "absent")

# The order actions are applied in; also the order of batches.
INSTALLING = ("install", "upgrade", "downgrade")
ACTION_ORDER = ("remove", "install", "upgrade", "downgrade", "keep", "unkeep")


class PackageNotFoundError(PkgsrcError):
    """A requested name or pattern matches nothing the repositories offer."""


class DependantsError(PkgsrcError):
    """Removing a package would break packages that depend on it."""


class CatalogueNeeded(Exception):
    """Internal signal: the plan needs the repositories' package list to be decided."""


@dataclass(frozen=True)
class Installed:
    """What the planner needs to know of an installed package."""

    pkgname: str
    automatic: bool = False
    required_by: Tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return split_pkgname(self.pkgname)[0]

    @property
    def version(self) -> str:
        return split_pkgname(self.pkgname)[1]


@dataclass(frozen=True)
class Change:
    """One planned action on one package."""

    action: str  # install | upgrade | downgrade | remove | keep | unkeep (mark as automatic)
    pkgname: str  # the PKGNAME installed (or removed, or kept)
    request: str  # the entry of the request that asked for it
    current: Optional[str] = None  # the PKGNAME it replaces, for upgrade/downgrade

    def as_dict(self) -> Dict[str, Optional[str]]:
        return {"action": self.action, "pkgname": self.pkgname, "request": self.request,
                "current": self.current}


@dataclass(frozen=True)
class PackagePlan:
    """The outcome of planning: the changes, and what was already as asked."""

    changes: Tuple[Change, ...] = ()
    satisfied: Tuple[Tuple[str, str], ...] = ()  # (request, installed PKGNAME)
    upgrade_all: Tuple[Change, ...] = ()  # upgrades found for `upgrade: true`
    autoremove: Tuple[str, ...] = ()  # orphans `autoremove: true` will remove
    messages: Tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.upgrade_all or self.autoremove)

    def of(self, action: str) -> Tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action == action)

    def as_dict(self) -> Dict[str, object]:
        return {
            "changes": [c.as_dict() for c in self.changes],
            "satisfied": [{"request": r, "pkgname": p} for r, p in self.satisfied],
            "upgrade_all": [c.as_dict() for c in self.upgrade_all],
            "autoremove": list(self.autoremove),
        }

    def summary_lines(self) -> List[str]:
        """Human-readable lines, one per change (used for messages and diffs)."""
        lines = []
        for change in self.changes + self.upgrade_all:
            if change.current:
                lines.append("%s %s -> %s" % (change.action, change.current, change.pkgname))
            else:
                lines.append("%s %s" % (change.action, change.pkgname))
        lines.extend("autoremove %s" % p for p in self.autoremove)
        lines.extend(self.messages)
        return lines


def validate_names(names: Sequence[str]) -> Tuple[str, ...]:
    """Refuse entries that cannot be package names or patterns (before anything runs)."""
    out = []
    for raw in names:
        if not isinstance(raw, str):
            raise PkgsrcError("package entry %r is not a string" % (raw,), "list names or patterns as strings")
        name = raw.strip()
        if not name:
            raise PkgsrcError("empty package name in the list", "remove the empty entry")
        if name.startswith("-"):
            raise PkgsrcError("package name %r starts with '-'" % (name,),
                              "package names never start with '-'; options are not accepted here")
        bad = [c for c in name if c.isspace() or c in ";|&$`'\"\\()!#%\0" or ord(c) < 32]
        if bad:
            raise PkgsrcError("package name %r contains %r, which no package name or pattern has"
                              % (name, "".join(sorted(set(bad)))),
                              "give a name (nginx), a PKGNAME (nginx-1.25.3) or a pattern (nginx>=1.24)")
        compile_pattern(name)
        out.append(name)
    return tuple(out)


def _installed_matches(pattern: str, installed: Mapping[str, Installed]) -> List[Installed]:
    match = compile_pattern(pattern)
    return [pkg for pkg in installed.values() if match(pkg.pkgname)]


def _same_name(installed: Mapping[str, Installed], pkgname: str) -> Optional[Installed]:
    return installed.get(split_pkgname(pkgname)[0])


def _replace_action(current: Installed, target: str) -> Optional[str]:
    order = dewey_cmp(split_pkgname(target)[1], current.version)
    if order > 0:
        return "upgrade"
    if order < 0:
        return "downgrade"
    return None if target == current.pkgname else "upgrade"


def _need(available: Optional[Sequence[str]]) -> Sequence[str]:
    if available is None:
        raise CatalogueNeeded()
    return available


def _plan_present(req: str, latest: bool, installed: Mapping[str, Installed],
                  available: Optional[Sequence[str]], changes: List[Change],
                  satisfied: List[Tuple[str, str]]) -> None:
    have = _installed_matches(req, installed)
    if have and not latest:
        best_have = best_match(req, [p.pkgname for p in have]) or have[0].pkgname
        satisfied.append((req, best_have))
        if installed[split_pkgname(best_have)[0]].automatic:
            changes.append(Change("keep", best_have, req))
        return
    target = best_match(req, _need(available))
    if target is None:
        if have:  # latest, but the repositories no longer offer it: keep what is there
            satisfied.append((req, best_match(req, [p.pkgname for p in have]) or have[0].pkgname))
            return
        raise PackageNotFoundError(
            "no package in the repositories matches %r" % (req,),
            "check the name or pattern (pkgin avail, or the repository's pkg_summary) and the "
            "repositories configured for this prefix; run with update_cache if they changed")
    current = _same_name(installed, target)
    if current is None:
        changes.append(Change("install", target, req))
        return
    action = _replace_action(current, target)
    if action is None or (latest and dewey_cmp(split_pkgname(target)[1], current.version) <= 0
                          and compile_pattern(req)(current.pkgname)):
        satisfied.append((req, current.pkgname))
        if current.automatic and not latest:
            changes.append(Change("keep", current.pkgname, req))
        return
    changes.append(Change(action, target, req, current.pkgname))


def _plan_absent(req: str, installed: Mapping[str, Installed], changes: List[Change]) -> None:
    for pkg in _installed_matches(req, installed):
        changes.append(Change("remove", pkg.pkgname, req))


def _check_dependants(changes: List[Change], installed: Mapping[str, Installed],
                      remove_dependants: bool) -> List[Change]:
    removing = {c.pkgname for c in changes if c.action == "remove"}
    by_pkgname = {p.pkgname: p for p in installed.values()}
    extra: List[Change] = []
    pending = sorted(removing)
    while pending:
        pkgname = pending.pop()
        pkg = by_pkgname.get(pkgname)
        if pkg is None:
            continue
        dependants = [d for d in pkg.required_by if d in by_pkgname and d not in removing]
        if not dependants:
            continue
        if not remove_dependants:
            raise DependantsError(
                "cannot remove %s: %s still depend%s on it" % (
                    pkgname, ", ".join(sorted(dependants)), "s" if len(dependants) == 1 else ""),
                "remove those too (list them, or set remove_dependants) or keep %s" % pkgname)
        for dep in dependants:
            removing.add(dep)
            extra.append(Change("remove", dep, "dependant of %s" % pkgname))
            pending.append(dep)
    return extra


def _orphans(installed: Mapping[str, Installed], changes: Sequence[Change]) -> Tuple[str, ...]:
    """Automatic packages no remaining package requires, after the planned removals."""
    kept = {c.pkgname for c in changes if c.action == "keep"}
    gone = {c.pkgname for c in changes if c.action == "remove"}
    alive = {p.pkgname: p for p in installed.values() if p.pkgname not in gone}
    orphans: List[str] = []
    changed = True
    while changed:
        changed = False
        for pkgname, pkg in sorted(alive.items()):
            if not pkg.automatic or pkgname in kept:
                continue
            if not any(dep in alive for dep in pkg.required_by):
                orphans.append(pkgname)
                del alive[pkgname]
                changed = True
                break
    return tuple(orphans)


def _newest(available: Sequence[str]) -> Dict[str, str]:
    """name -> the PKGNAME with the highest version among those offered."""
    by_name: Dict[str, str] = {}
    for pkgname in available:
        name, version = split_pkgname(pkgname)
        best = by_name.get(name)
        if best is None or dewey_cmp(version, split_pkgname(best)[1]) > 0:
            by_name[name] = pkgname
    return by_name


def _newer_than_offered(installed: Mapping[str, Installed], available: Sequence[str]) -> Tuple[str, ...]:
    """What `upgrade` leaves alone because it is newer than anything offered (pkgin upgrade would not)."""
    by_name = _newest(available)
    return tuple("%s is newer than anything the repositories offer (%s): left as it is" % (pkg.pkgname, by_name[name])
                 for name, pkg in sorted(installed.items())
                 if name in by_name and dewey_cmp(pkg.version, split_pkgname(by_name[name])[1]) > 0)


def _upgrades(installed: Mapping[str, Installed], available: Sequence[str]) -> Tuple[Change, ...]:
    by_name = _newest(available)
    out = []
    for name, pkg in sorted(installed.items()):
        best = by_name.get(name)
        if best and dewey_cmp(split_pkgname(best)[1], pkg.version) > 0:
            out.append(Change("upgrade", best, "upgrade", pkg.pkgname))
    return tuple(out)


def plan_packages(names: Sequence[str], state: str, installed: Mapping[str, Installed],
                  available: Optional[Sequence[str]] = None, *, remove_dependants: bool = False,
                  upgrade_all: bool = False, autoremove: bool = False,
                  install_upgrades: bool = False, exact: bool = False, automatic: Sequence[str] = (),
                  kit: Sequence[str] = ()) -> PackagePlan:
    """Decide what to do. `installed` maps package name -> Installed.

    With `install_upgrades` (state present only), a bare name of an installed package is
    planned as `latest`, as `pkgin install NAME` does; Salt's pkg.latest relies on that.

    With `exact` (state present or latest), the request is the whole set: what it names, what
    that needs, and the kit's packages (`kit`: names) stay; everything else is removed; a
    dependency nobody asked for is marked automatic. The PKGNAMEs in `automatic` (a lock's
    automatic packages) are installed like the others and then marked automatic (_plan_exact).

    `available` (the repositories' PKGNAMEs) may be None; when the plan cannot be decided
    without it, CatalogueNeeded is raised and the caller loads it and plans again. A name or
    pattern that nothing available matches is a PackageNotFoundError, before anything runs.
    """
    if state not in STATES:
        raise PkgsrcError("unknown state %r" % (state,), "use one of: %s" % ", ".join(STATES))
    requests = validate_names(names)
    if exact:
        _check_exact(state, upgrade_all, autoremove)
    changes: List[Change] = []
    satisfied: List[Tuple[str, str]] = []
    for req in requests:
        if state == "absent":
            _plan_absent(req, installed, changes)
        else:
            # pkgin's (and apt's, dnf's) meaning of "install NAME": an installed NAME is brought
            # to the best version available. A PKGNAME or a pattern keeps its exact meaning.
            latest = state == "latest" or (install_upgrades and req in installed)
            _plan_present(req, latest, installed, available, changes, satisfied)
    if exact:
        changes = _plan_exact(changes, satisfied, installed, automatic, kit)
    changes.extend(_check_dependants(changes, installed, remove_dependants))
    changes = _dedupe(changes)
    upgrades: Tuple[Change, ...] = ()
    messages: Tuple[str, ...] = ()
    if upgrade_all:
        planned = {split_pkgname(c.pkgname)[0] for c in changes}
        upgrades = tuple(c for c in _upgrades(installed, _need(available))
                         if split_pkgname(c.pkgname)[0] not in planned)
        messages = _newer_than_offered(installed, _need(available))
    orphans = _orphans(installed, changes) if autoremove else ()
    return PackagePlan(tuple(changes), tuple(satisfied), upgrades, orphans, messages)


def _check_exact(state: str, upgrade_all: bool, autoremove: bool) -> None:
    if state not in ("present", "latest"):
        raise PkgsrcError("exact works with state present or latest, not %s" % state,
                          "list the packages to keep with state present (or latest) and exact; "
                          "what the list does not need is removed")
    if upgrade_all or autoremove:
        raise PkgsrcError("exact cannot be combined with %s" % ("upgrade" if upgrade_all else "autoremove"),
                          "leave it out: with exact the list decides every version, and what it does not "
                          "need is removed anyway")


def _dependencies(installed: Mapping[str, Installed]) -> Dict[str, List[str]]:
    """PKGNAME -> the installed PKGNAMEs it depends on (from +REQUIRED_BY, read the other way)."""
    deps: Dict[str, List[str]] = {p.pkgname: [] for p in installed.values()}
    for pkg in installed.values():
        for dependant in pkg.required_by:
            if dependant in deps:
                deps[dependant].append(pkg.pkgname)
    return deps


def _plan_exact(changes: List[Change], satisfied: Sequence[Tuple[str, str]], installed: Mapping[str, Installed],
                automatic: Sequence[str], kit: Sequence[str]) -> List[Change]:
    """Add to a present/latest plan what makes the installed set exactly the request's.

    Stays: the requested names (at the planned version), the kit's packages, and every installed
    package one of those depends on (a requested package that is replaced counts with its current
    version's dependencies; a new one's dependencies are the package tool's to add, as automatic).
    Everything else installed is removed. A dependency nobody asked for that is marked
    user-installed becomes automatic; a requested PKGNAME listed in `automatic` ends up automatic
    (after the install, which marks what it names as user-installed), the others user-installed.
    """
    auto = {split_pkgname(p)[0] for p in automatic}
    kit_names = set(kit)
    final: Dict[str, Tuple[str, str, bool]] = {}  # name -> (PKGNAME it ends at, request, (re)installed now)
    for req, pkgname in satisfied:
        final[split_pkgname(pkgname)[0]] = (pkgname, req, False)
    for change in changes:
        if change.action in INSTALLING:
            final[split_pkgname(change.pkgname)[0]] = (change.pkgname, change.request, True)
    deps = _dependencies(installed)
    needed = set()
    todo = [p.pkgname for p in installed.values() if p.name in final or p.name in kit_names]
    while todo:
        pkgname = todo.pop()
        if pkgname not in needed:
            needed.add(pkgname)
            todo.extend(deps.get(pkgname, ()))
    out = [c for c in changes if not (c.action == "keep" and split_pkgname(c.pkgname)[0] in auto)]
    for name, pkg in sorted(installed.items()):
        if pkg.pkgname not in needed:
            out.append(Change("remove", pkg.pkgname, "exact: not in the list, nor needed by it"))
        elif name not in final and name not in kit_names and not pkg.automatic:
            out.append(Change("unkeep", pkg.pkgname, "exact: a dependency, not in the list"))
    for name, (pkgname, req, renewed) in sorted(final.items()):
        if name in auto and (renewed or not installed[name].automatic):
            out.append(Change("unkeep", pkgname, req))
    return out


def _dedupe(changes: Iterable[Change]) -> List[Change]:
    seen = set()
    out = []
    for change in changes:
        key = (change.action, change.pkgname)
        if key not in seen:
            seen.add(key)
            out.append(change)
    out.sort(key=lambda c: ACTION_ORDER.index(c.action))
    return out


# --- applying ----------------------------------------------------------------------------

def version_changes(before: Sequence[str], after: Sequence[str]) -> Dict[str, Dict[str, str]]:
    """{name: {"old": version, "new": version}} for every package whose PKGNAME differs (Salt's form)."""
    old = dict(split_pkgname(p) for p in before)
    new = dict(split_pkgname(p) for p in after)
    out = {}
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            out[name] = {"old": old.get(name, ""), "new": new.get(name, "")}
    return out


@dataclass(frozen=True)
class PackageRequest:
    """What the user asked for (the options of the Ansible module and the Salt functions)."""

    names: Tuple[str, ...] = ()
    state: str = "present"
    update_cache: bool = False
    upgrade: bool = False
    autoremove: bool = False
    clean: bool = False
    remove_dependants: bool = False
    lock_timeout: float = 600.0
    # present: an installed bare name is upgraded to the best version (pkgin's and Salt's
    # pkg.install meaning). Off for the Ansible module and Salt's pkgsrc.installed state.
    install_upgrades: bool = False
    # exact: the names are the whole set; everything else but their dependencies and the kit's
    # packages is removed (plan_packages). automatic: the PKGNAMEs (from a lock) that end up
    # marked automatic.
    exact: bool = False
    automatic: Tuple[str, ...] = ()


@dataclass(frozen=True)
class PackageResult:
    """What a run did (or, in check mode, would do)."""

    changed: bool
    plan: PackagePlan
    backend: str
    commands: Tuple[Dict[str, object], ...]
    messages: Tuple[str, ...]
    before: Tuple[str, ...]
    after: Tuple[str, ...]
    # The history record this run wrote (None: nothing changed, or check mode), what it saved first,
    # and its warnings (journal.result_fields).
    history: Mapping[str, object] = field(default_factory=dict)

    @property
    def diff(self) -> Dict[str, str]:
        return {"before": "".join(p + "\n" for p in self.before),
                "after": "".join(p + "\n" for p in self.after)}

    def version_changes(self) -> Dict[str, Dict[str, str]]:
        """{name: {"old": version, "new": version}} for every package that changed (Salt's form)."""
        return version_changes(self.before, self.after)

    def as_dict(self) -> Dict[str, object]:
        return {"changed": self.changed, "plan": self.plan.as_dict(), "backend": self.backend,
                "commands": [dict(c) for c in self.commands], "messages": list(self.messages),
                "installed": list(self.after), **(self.history or {"transaction": None, "saved": []})}
