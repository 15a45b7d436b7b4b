"""The history of a prefix, and rollback: back to the package set a prefix had before a transaction.

    transactions(layout, count)            -> the records, newest first (reads only)
    rollback(layout, runner, record_id)    -> RollbackResult (check mode: the plan and the diff)

A rollback compares the package set the record started from (`before`, PKGNAMEs with their
automatic flags) with what the pkgdb holds now, and plans:
- installs and replacements of the exact PKGNAMEs (downgrades, re-installs of removed packages),
  each from the saved package first, then from the first repository whose summary offers it;
- removals of what the transaction added;
- automatic flags set or cleared to match.
Every package file is found before anything changes; when one is in neither the store nor a
repository, the rollback fails at once and names them all.

It runs pkg_install's own tools, because pkgin installs only what its repositories offer:
`pkg_add -U -D` with the package files (-D: while the set is half rolled back, an installed
package may still ask for the newer version of a dependency; the whole set is consistent again
at the end), with PKG_PATH the store and the repositories for dependencies; then `pkg_delete` of
what was added (after the installs, so that nothing still installed needs it); then `pkg_admin`
for the flags. The versions it replaces or removes are saved first, and the rollback is a
transaction of its own ("rollback"), so it can be undone in turn (by its id: `undo` takes the
newest transaction that is not a rollback, so that applying it twice changes nothing the second
time).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..errors import CommandError, PkgsrcError
from ..history import records, saved
from ..layout import Layout
from ..lock import PkgdbLock
from ..runner import Runner
from ..versions import dewey_cmp, split_pkgname
from .catalogue import RepositoryError, load_catalogue, repository_urls
from .converge import read_installed
from .journal import HistoryOptions, Journal, result_fields
from .plan import Installed
from .tools import Command, run_commands, summary_cache_dir, tool_path

#: Packages a rollback never removes: without them the prefix has no package tools.
KEPT = ("pkg_install",)


class RollbackError(PkgsrcError):
    """A rollback cannot be done (nothing changed)."""


@dataclass(frozen=True)
class Install:
    """A PKGNAME to install (replacing `current` when set) from a package file or URL."""

    pkgname: str
    current: Optional[str]
    source: str
    origin: str  # "saved" or "repository"
    automatic: bool

    def as_dict(self) -> Dict[str, Any]:
        action = "install" if not self.current else "reinstall" if self.current == self.pkgname else (
            "downgrade" if _older(self.pkgname, self.current) else "upgrade")
        return {"action": action, "pkgname": self.pkgname, "current": self.current, "source": self.source,
                "from": self.origin, "automatic": self.automatic}


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback to the set before transaction `target` changes."""

    target: int
    installs: Tuple[Install, ...] = ()
    removes: Tuple[str, ...] = ()
    set_automatic: Tuple[str, ...] = ()
    unset_automatic: Tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.installs or self.removes or self.set_automatic or self.unset_automatic)

    def as_dict(self) -> Dict[str, Any]:
        return {"target": self.target, "installs": [i.as_dict() for i in self.installs],
                "removes": list(self.removes), "set_automatic": list(self.set_automatic),
                "unset_automatic": list(self.unset_automatic)}

    def summary_lines(self) -> List[str]:
        lines = []
        for item in self.installs:
            data = item.as_dict()
            replaces = "%s -> " % item.current if item.current and item.current != item.pkgname else ""
            origin = "saved package" if item.origin == "saved" else "repository"
            lines.append("%s %s%s (from the %s)" % (data["action"], replaces, item.pkgname, origin))
        lines.extend("remove %s" % p for p in self.removes)
        lines.extend("mark %s automatic" % p for p in self.set_automatic)
        lines.extend("mark %s user-installed" % p for p in self.unset_automatic)
        return lines


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback did (or, in check mode, would do)."""

    changed: bool
    plan: RollbackPlan
    commands: Tuple[Dict[str, object], ...]
    messages: Tuple[str, ...]
    before: Tuple[str, ...]
    after: Tuple[str, ...]
    history: Mapping[str, object] = field(default_factory=dict)

    @property
    def diff(self) -> Dict[str, str]:
        return {"before": "".join(p + "\n" for p in self.before),
                "after": "".join(p + "\n" for p in self.after)}

    def as_dict(self) -> Dict[str, object]:
        return {"changed": self.changed, "rollback": self.plan.as_dict(), "commands": [dict(c) for c in self.commands],
                "messages": list(self.messages), "installed": list(self.after), "diff": self.diff, **self.history}


def _older(left: str, right: str) -> bool:
    return dewey_cmp(split_pkgname(left)[1], split_pkgname(right)[1]) < 0


def transactions(layout: Layout, count: Optional[int] = None) -> Dict[str, Any]:
    """The history of layout's prefix, newest first (at most count records); writes nothing."""
    listing = records.list_records(layout, count)
    return {"changed": False, "transactions": [r.to_dict() for r in listing.records],
            "warnings": list(listing.warnings), "prefix": layout.prefix}


def changed_packages(record: records.Record) -> bool:
    """Whether a transaction changed the package set (a repository change does not)."""
    return record.after is None or set(record.before) != set(record.after)


def target_record(layout: Layout, record_id: Optional[int], undo: bool) -> records.Record:
    """The record to roll back: the one asked for, or for undo the newest that changed packages and
    was not a rollback. So undo is idempotent (applied twice, the second finds the prefix already
    back); a rollback is undone by giving its id."""
    if (record_id is None) == (not undo):
        raise RollbackError("give either a transaction id to roll back or undo, not %s"
                            % ("both" if undo else "neither"), "list the history for the ids")
    if record_id is not None:
        return records.get(layout, record_id)
    for record in records.list_records(layout).records:
        if not record.running and record.kind != "rollback" and changed_packages(record):
            return record
    raise RollbackError("the history of %s holds no transaction that changed packages: nothing to undo"
                        % layout.prefix, "list the history to see what it holds (a rollback is undone by its id)")


Sources = Dict[str, Tuple[str, str]]


def _find_sources(layout: Layout, wanted: Sequence[str], cache_dir: Optional[str]) -> Tuple[Sources, List[str]]:
    """PKGNAME -> (file or URL, "saved"/"repository"), and the PKGNAMEs found nowhere."""
    found: Dict[str, Tuple[str, str]] = {}
    for pkgname in wanted:
        path = saved.find_saved(layout, pkgname)
        if path:
            found[pkgname] = (path, "saved")
    rest = [p for p in wanted if p not in found]
    if rest:
        urls = repository_urls(layout.host(layout.sysconfdir))
        if urls:
            try:
                catalogue = load_catalogue(urls, cache_dir, refresh=True)
            except RepositoryError as exc:
                raise RollbackError("%s is not saved and the repositories cannot be read: %s"
                                    % (", ".join(rest), exc.message), exc.hint) from None
            for pkgname in rest:
                url = catalogue.file_url(pkgname)
                if url:
                    found[pkgname] = (url, "repository")
    return found, [p for p in wanted if p not in found]


def plan_rollback(layout: Layout, record: records.Record, installed: Mapping[str, Installed],
                  cache_dir: Optional[str]) -> RollbackPlan:
    """The plan that brings installed back to record.before; RollbackError when a version cannot be found."""
    target = {split_pkgname(p.pkgname)[0]: p for p in record.before}
    if record.kind == "bootstrap" and not target:
        raise RollbackError("transaction %d bootstrapped this prefix: rolling it back would remove pkgsrc itself"
                            % record.id, "remove the prefix with the bootstrap's state=absent instead")
    wanted = [p.pkgname for name, p in sorted(target.items())
              if name not in installed or installed[name].pkgname != p.pkgname]
    sources, missing = _find_sources(layout, wanted, cache_dir)
    if missing:
        raise RollbackError(
            "cannot roll back transaction %d: %s %s in neither the saved packages nor a repository"
            % (record.id, ", ".join(missing), "is" if len(missing) == 1 else "are"),
            "nothing was changed; add a repository that still offers %s, or roll back to a later transaction"
            % ("it" if len(missing) == 1 else "them"))
    # Dependencies (mostly automatic) first, so that pkg_add finds them installed at their versions.
    wanted.sort(key=lambda p: (not target[split_pkgname(p)[0]].automatic, p))
    installs = tuple(Install(p, installed[split_pkgname(p)[0]].pkgname if split_pkgname(p)[0] in installed else None,
                             sources[p][0], sources[p][1], target[split_pkgname(p)[0]].automatic) for p in wanted)
    removes = tuple(sorted(pkg.pkgname for name, pkg in installed.items() if name not in target and name not in KEPT))
    # The flags of everything installed here are set explicitly (pkg_add -U keeps a replaced
    # package's flag, a package given on its command line is user-installed), and fixed where only
    # the flag differs.
    flags = [(p.pkgname, p.automatic) for name, p in target.items()
             if name in installed and installed[name].pkgname == p.pkgname and installed[name].automatic != p.automatic]
    flags += [(i.pkgname, i.automatic) for i in installs]
    return RollbackPlan(record.id, installs, removes, tuple(sorted(p for p, auto in flags if auto)),
                        tuple(sorted(p for p, auto in flags if not auto)))


def rollback_commands(plan: RollbackPlan, layout: Layout) -> List[Command]:
    """pkg_add -U -D the files, pkg_delete the extras, pkg_admin the flags."""
    dbdir = ("-K", layout.host(layout.pkg_dbdir))
    search = ";".join([saved.store_dir(layout)] + repository_urls(layout.host(layout.sysconfdir)))
    cmds: List[Command] = []
    if plan.installs:
        cmds.append(Command((tool_path(layout, "pkg_add"), "-U", "-D") + dbdir + tuple(i.source for i in plan.installs),
                            "install the versions of before the transaction", (("PKG_PATH", search),)))
    if plan.removes:
        cmds.append(Command((tool_path(layout, "pkg_delete"),) + dbdir + plan.removes,
                            "remove what the transaction added"))
    if plan.set_automatic:
        cmds.append(Command((tool_path(layout, "pkg_admin"),) + dbdir + ("set", "automatic=YES") + plan.set_automatic,
                            "mark as automatic"))
    if plan.unset_automatic:
        cmds.append(Command((tool_path(layout, "pkg_admin"),) + dbdir + ("unset", "automatic") + plan.unset_automatic,
                            "mark as user-installed"))
    return cmds


def _predict(installed: Mapping[str, Installed], plan: RollbackPlan) -> List[str]:
    names = {p.pkgname for p in installed.values()}
    for item in plan.installs:
        names.discard(item.current or "")
        names.add(item.pkgname)
    names.difference_update(plan.removes)
    return sorted(names)


def _check_result(record: records.Record, now: Mapping[str, Installed]) -> List[str]:
    """The differences left between the target set and the pkgdb (empty when the rollback is complete)."""
    want = {p.pkgname: p.automatic for p in record.before}
    have = {p.pkgname: p.automatic for p in now.values()}
    wrong = ["%s is not installed" % p for p in sorted(set(want) - set(have))]
    wrong += ["%s is still installed" % p for p in sorted(set(have) - set(want)) if split_pkgname(p)[0] not in KEPT]
    wrong += ["%s is %s" % (p, "user-installed" if want[p] else "automatic")
              for p in sorted(set(want) & set(have)) if want[p] != have[p]]
    return wrong


def rollback(layout: Layout, runner: Runner, record_id: Optional[int] = None, undo: bool = False,
             check_mode: bool = False, history: Optional[HistoryOptions] = None,
             lock_timeout: float = 600.0) -> RollbackResult:
    """Bring the prefix back to the package set it had before transaction record_id (or the last one)."""
    installed = read_installed(layout.host(layout.pkg_dbdir))
    if check_mode:
        record = target_record(layout, record_id, undo)
        plan = plan_rollback(layout, record, installed, None)
        before = tuple(sorted(p.pkgname for p in installed.values()))
        return RollbackResult(plan.changed, plan, tuple(c.as_dict() for c in rollback_commands(plan, layout)),
                              tuple(plan.summary_lines()), before, tuple(_predict(installed, plan)))
    with PkgdbLock(layout.host(layout.pkg_dbdir), timeout=lock_timeout):
        installed = read_installed(layout.host(layout.pkg_dbdir))
        journal = Journal(layout, "rollback", history, runner)
        notes = journal.recover(installed)
        record = target_record(layout, record_id, undo)
        plan = plan_rollback(layout, record, installed, summary_cache_dir(layout))
        before = tuple(sorted(p.pkgname for p in installed.values()))
        done: List[Dict[str, object]] = []
        if plan.changed:
            journal.begin({"rollback": record.id, "undo": bool(undo)}, installed)
            journal.save([i.current for i in plan.installs if i.current] + list(plan.removes))
            journal.messages.append("rolled back to the packages of before transaction %d" % record.id)
            journal.messages.extend(plan.summary_lines())
            try:
                for cmd in rollback_commands(plan, layout):
                    done.extend(run_commands([cmd], runner))
            except CommandError as exc:
                journal.ran(done + [{"argv": exc.argv, "rc": exc.rc}])
                journal.fail(exc, installed)
                exc.add_hint("the prefix is part way back: roll back to before transaction %d again" % record.id)
                raise
            journal.ran(done)
            now = read_installed(layout.host(layout.pkg_dbdir))
            wrong = _check_result(record, now)
            if wrong:
                error = RollbackError("the tools finished but the prefix is not back to before transaction %d: %s"
                                      % (record.id, "; ".join(wrong)), "look at the tool output in the history record")
                journal.fail(error, installed)
                raise error
            journal.finish("ok", now)
        else:
            now = installed
            notes.append("the prefix already holds the packages of before transaction %d" % record.id)
    after = tuple(sorted(p.pkgname for p in now.values()))
    return RollbackResult(plan.changed, plan, tuple(done), tuple(plan.summary_lines() + notes), before, after,
                          result_fields(journal))


def manage_history(layout: Layout, runner: Runner, rollback_id: Optional[int] = None, undo: bool = False,
                   count: Optional[int] = None, check_mode: bool = False, history: Optional[HistoryOptions] = None,
                   lock_timeout: float = 600.0) -> Dict[str, Any]:
    """The adapters' one call: list the history (no rollback, no undo), or roll back and say what changed."""
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise RollbackError("count must be a whole number of 1 or more, not %r" % (count,),
                            "give how many of the newest transactions to list, or leave it out for all")
    if rollback_id is None and not undo:
        return transactions(layout, count)
    if rollback_id is not None and (isinstance(rollback_id, bool) or not isinstance(rollback_id, int)
                                    or rollback_id < 1):
        raise RollbackError("rollback must be a transaction id (1 or more), not %r" % (rollback_id,),
                            "list the history for the ids it holds")
    result = rollback(layout, runner, rollback_id, undo, check_mode, history, lock_timeout).as_dict()
    result["prefix"] = layout.prefix
    return result
