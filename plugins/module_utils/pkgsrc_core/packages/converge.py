"""Converge a prefix's packages: read, plan, (check mode stops here), lock, re-plan, run, verify.

This is the one call the Ansible module and the Salt functions make for packages.
"""
from __future__ import annotations

import os
from dataclasses import asdict
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import CommandError, PkgsrcError
from ..fsutil import decode_lenient
from ..layout import Layout
from ..lock import PkgdbLock
from ..prefixes import select_prefix
from ..runner import Runner
from ..versions import compile_pattern, split_pkgname
from .catalogue import load_catalogue, repository_urls
from .kit import kit_packages
from .journal import HistoryOptions, Journal, installed_at, result_fields
from .plan import (
    CatalogueNeeded,
    Change,
    Installed,
    PackagePlan,
    PackageRequest,
    PackageResult,
    plan_packages,
    validate_names,
    version_changes,
)
from .tools import (
    Command,
    configured_repositories,
    is_update,
    not_available,
    pkg_add_commands,
    pkgin_commands,
    pkgin_update_command,
    record_pkgin_loaded,
    run_commands,
    summary_cache_dir,
    tool_path,
)


class NotBootstrappedError(PkgsrcError):
    """The prefix has no package database."""


class PartlyAppliedError(CommandError):
    """A package tool failed part-way: what the prefix holds now, and the tools' log of this run.

    pkgin installs what it can and exits 1 when one package file cannot be fetched or one name is
    unknown (samples/transcripts-2), so a failed run may still have changed the prefix.
    """

    def __init__(self, error: CommandError, before: Sequence[str], after: Sequence[str],
                 log_lines: Sequence[str], log_path: str, transaction: Optional[int] = None) -> None:
        self.transaction = transaction
        self.before = list(before)
        self.after = list(after)
        self.log_lines = list(log_lines)
        self.changes = version_changes(before, after)
        what = "; ".join("%s %s -> %s" % (n, c["old"] or "(none)", c["new"] or "(removed)")
                         for n, c in self.changes.items())
        hint = ("the prefix changed all the same: %s" % what) if self.changes else "nothing changed in the prefix"
        if self.log_lines:
            hint += "; pkg_install's log of this run (%s): %s" % (log_path, " | ".join(self.log_lines[-5:]))
        super().__init__(error.argv, error.rc, error.stdout, error.stderr, hint)

    def details(self) -> Dict[str, object]:
        out = super().details()
        out.update(changed=bool(self.changes), changes=self.changes, installed=self.after,
                   pkg_install_log=self.log_lines, transaction=self.transaction)
        return out


def read_installed(pkg_dbdir: str) -> Dict[str, Installed]:
    """name -> Installed, straight from the package database (no process)."""
    if not os.path.isdir(pkg_dbdir):
        raise NotBootstrappedError("no package database at %s: pkgsrc is not bootstrapped in this prefix"
                                   % pkg_dbdir,
                                   "bootstrap it first (pkgsrc.deploy.bootstrap / pkgsrc.bootstrap), "
                                   "or give the prefix it was installed in")
    return installed_at(pkg_dbdir)


def _plan(request: PackageRequest, installed: Dict[str, Installed], layout: Layout,
          cache_dir: Optional[str]) -> PackagePlan:
    def plan(available: Optional[Sequence[str]]) -> PackagePlan:
        return plan_packages(request.names, request.state, installed, available,
                             remove_dependants=request.remove_dependants,
                             upgrade_all=request.upgrade, autoremove=request.autoremove,
                             install_upgrades=request.install_upgrades, exact=request.exact,
                             automatic=request.automatic, kit=kit)

    kit = kit_packages(layout) if request.exact else ()
    refresh = request.update_cache or request.state == "latest" or request.upgrade or request.install_upgrades
    try:
        if request.state != "latest" and not request.upgrade and not request.install_upgrades:
            return plan(None)
    except CatalogueNeeded:
        pass
    catalogue = load_catalogue(repository_urls(layout.host(layout.sysconfdir)), cache_dir, refresh)
    return plan(catalogue.pkgnames)


def _pkgin_cache_full(layout: Layout) -> bool:
    cache = layout.host(os.path.join(layout.varbase, "db", "pkgin", "cache"))
    try:
        return any(True for _unused in os.scandir(cache))
    except OSError:
        return False


def _commands(plan: PackagePlan, request: PackageRequest, layout: Layout, use_pkgin: bool) -> List[Command]:
    if use_pkgin:
        return pkgin_commands(plan, layout, update_cache=request.update_cache,
                              clean=request.clean and _pkgin_cache_full(layout))
    return pkg_add_commands(plan, layout)


def _predict(installed: Dict[str, Installed], plan: PackagePlan) -> List[str]:
    names = {p.pkgname for p in installed.values()}
    for change in plan.changes + plan.upgrade_all:
        if change.action == "remove":
            names.discard(change.pkgname)
        else:
            if change.current:
                names.discard(change.current)
            names.add(change.pkgname)
    names.difference_update(plan.autoremove)
    return sorted(names)


def _verify(request: PackageRequest, layout: Layout, plan: PackagePlan) -> Dict[str, Installed]:
    installed = read_installed(layout.host(layout.pkg_dbdir))
    pkgnames = [p.pkgname for p in installed.values()]
    missing: List[str] = []
    for req in request.names:
        matches = compile_pattern(req)
        found = any(matches(p) for p in pkgnames)
        if found != (request.state != "absent"):
            missing.append(req)
    for change in plan.changes:
        if change.action in ("install", "upgrade", "downgrade") and change.pkgname not in pkgnames:
            missing.append(change.pkgname)
    if missing:
        raise PkgsrcError("the package tools finished but the package database does not show %s as asked"
                          % ", ".join(sorted(set(missing))),
                          "look at the tool output in this result and at %s/db/pkgin/pkg_install-err.log"
                          % layout.varbase)
    return installed


def _replaced(plan: PackagePlan, installed: Dict[str, Installed]) -> List[str]:
    """The installed PKGNAMEs the plan upgrades, downgrades or removes: what is saved first."""
    out: List[str] = []
    for change in plan.changes + plan.upgrade_all:
        if change.action in ("upgrade", "downgrade") and change.current:
            out.append(change.current)
        elif change.action == "remove":
            out.append(change.pkgname)
    out.extend(plan.autoremove)
    present = {p.pkgname for p in installed.values()}
    return [p for p in out if p in present]


def _request_record(request: PackageRequest) -> Dict[str, object]:
    """The arguments of a request that matter to its history record."""
    return {k: v for k, v in asdict(request).items() if k != "lock_timeout"}


def converge_packages(request: PackageRequest, layout: Layout, runner: Runner,
                      check_mode: bool = False, history: Optional[HistoryOptions] = None) -> PackageResult:
    """Bring the prefix's packages to the request. In check mode, plan and report only.

    A run that changes the prefix (or fails part-way) is a transaction: recorded in the prefix's
    history, with the installed versions it replaces or removes saved first (journal.py).
    """
    installed = read_installed(layout.host(layout.pkg_dbdir))
    use_pkgin = os.access(tool_path(layout, "pkgin"), os.X_OK)
    backend = "pkgin" if use_pkgin else "pkg_install"
    cache_dir = None if check_mode else summary_cache_dir(layout)
    plan = _plan(request, installed, layout, cache_dir)
    before = sorted(p.pkgname for p in installed.values())
    if check_mode:
        commands = _commands(plan, request, layout, use_pkgin)
        return PackageResult(plan.changed or any(c.purpose.startswith("clean") for c in commands), plan,
                             backend, tuple(c.as_dict() for c in commands),
                             tuple(plan.summary_lines()), tuple(before), tuple(_predict(installed, plan)))
    with PkgdbLock(layout.host(layout.pkg_dbdir), timeout=request.lock_timeout):
        # Another run may have changed the prefix while this one waited: plan again.
        installed = read_installed(layout.host(layout.pkg_dbdir))
        journal = Journal(layout, "package", history, runner)
        notes: List[str] = journal.recover(installed)
        before = sorted(p.pkgname for p in installed.values())
        plan = _plan(request, installed, layout, cache_dir)
        commands = _commands(plan, request, layout, use_pkgin)
        if plan.changed:
            journal.begin(_request_record(request), installed)
            journal.save(_replaced(plan, installed))
        log_path = layout.host(os.path.join(layout.varbase, "db", "pkgin", "pkg_install-err.log"))
        log_offset = _size(log_path)
        done: List[Dict[str, object]] = []
        try:
            _run(commands, runner, layout, notes, done)
            after_installed = _verify(request, layout, plan) if commands else installed
        except CommandError as exc:
            now = read_installed(layout.host(layout.pkg_dbdir))
            journal.ran(done + [{"argv": exc.argv, "rc": exc.rc}])
            error = PartlyAppliedError(exc, before, sorted(p.pkgname for p in now.values()),
                                       _read_from(log_path, log_offset), log_path, journal.id)
            journal.fail(error, installed)
            raise error from None
        except PkgsrcError as exc:
            journal.ran(done)
            journal.fail(exc, installed)
            raise
        journal.ran(done)
        journal.note_unsaved(installed, after_installed)
        journal.messages.extend(plan.summary_lines())
        journal.finish("ok", after_installed)
    after = sorted(p.pkgname for p in after_installed.values())
    changed = plan.changed or before != after or any(c.purpose.startswith("clean") for c in commands)
    return PackageResult(changed, plan, backend, tuple(done), tuple(plan.summary_lines() + notes),
                         tuple(before), tuple(after), result_fields(journal))


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _read_from(path: str, offset: int) -> List[str]:
    """The lines a log gained since it was offset bytes long (pkgin's pkg_install-err.log keeps growing)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset if _size(path) >= offset else 0)
            return [line for line in decode_lenient(handle.read()).splitlines() if line.strip()]
    except OSError:
        return []


def _pkgin_lists(layout: Layout, runner: Runner, name: str) -> List[str]:
    """The PKGNAMEs pkgin's own database holds for a name (`pkgin -p search`), for error messages."""
    try:
        base = split_pkgname(name)[0]  # the batches name exact PKGNAMEs
    except PkgsrcError:
        base = name
    result = runner.run([tool_path(layout, "pkgin"), "-p", "search", "^%s-[0-9]" % base])
    return [line.split(";", 1)[0] for line in (result.stdout or "").splitlines() if ";" in line]


def _run(commands: Sequence[Command], runner: Runner, layout: Layout, notes: List[str],
         done: List[Dict[str, object]]) -> None:
    """Run the batches, adding what ran to done. When pkgin says a planned package "is not available in the repository"
    (its database lags behind the summaries: samples/pkgin-added-repository.md), reload the
    database once with `pkgin -f update` and run that batch again."""
    reloaded = False
    for cmd in commands:
        try:
            done.extend(run_commands([cmd], runner))
        except CommandError as exc:
            missing = not_available(exc) if cmd.purpose in ("install", "upgrade all") else []
            if not missing or reloaded:
                raise
            reloaded = True
            done.extend(run_commands([pkgin_update_command(layout, force=True)], runner))
            record_pkgin_loaded(layout)
            notes.append("pkgin's database did not list %s although the repositories' summaries offer %s: "
                         "reloaded it with pkgin -f update and ran the batch again"
                         % (", ".join(missing), "it" if len(missing) == 1 else "them"))
            try:
                done.extend(run_commands([cmd], runner))
            except CommandError as again:
                still = not_available(again)
                if not still:
                    raise
                offering = ", ".join(configured_repositories(layout))
                holds = "; ".join("for %s: %s" % (name, ", ".join(_pkgin_lists(layout, runner, name)) or "nothing")
                                  for name in still)
                raise PkgsrcError(
                    "pkgin refuses %s (\"not available in the repository\") even after reloading its database "
                    "with pkgin -f update, while the summaries of %s offer %s; pkgin's database lists %s"
                    % (", ".join(still), offering, "it" if len(still) == 1 else "them", holds),
                    "pkgin's database and the repositories' summaries disagree: check that pkgin can fetch "
                    "every repository in %s/pkgin/repositories.conf (pkgin -f update shows it), then run "
                    "again" % layout.sysconfdir) from None
        else:
            if is_update(cmd):
                record_pkgin_loaded(layout)


def manage_packages(request: PackageRequest, prefix: Optional[str], pkg_dbdir: Optional[str], runner: Runner,
                    check_mode: bool = False, history: Optional[HistoryOptions] = None
                    ) -> Tuple[PackageResult, Optional[Layout]]:
    """The adapters' one call: find the prefix, then converge (or, in check mode, plan).

    In check mode a prefix that is not bootstrapped yet (a playbook that bootstraps it in an
    earlier task) is reported as "would install" rather than as an error.
    """
    try:
        layout = select_prefix(prefix, pkg_dbdir)
        read_installed(layout.host(layout.pkg_dbdir))
    except PkgsrcError as exc:
        if not check_mode:
            raise
        validate_names(request.names)
        wanted = tuple(request.names) if request.state != "absent" else ()
        plan = PackagePlan(changes=tuple(Change("install", name, name) for name in wanted))
        would = "install " + ", ".join(wanted) if wanted else "change nothing"
        message = "%s; in check mode: would %s" % (exc.message, would)
        return PackageResult(bool(wanted), plan, "none", (), (message,), (), wanted), None
    return converge_packages(request, layout, runner, check_mode, history), layout
