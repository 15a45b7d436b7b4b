"""One run's transaction: the history record and the saved packages of a run that changes a prefix.

The writers (package converge, rollback, the repository call, the bootstrap) use a Journal under
the prefix's pkgdb lock:

    journal = Journal(layout, "package", options, runner)
    journal.recover(installed)          # close what a killed run left "running" (before any work)
    journal.begin(request, installed)   # only when there is something to change
    journal.save(pkgnames)              # the installed versions about to be replaced or removed
    journal.ran(commands)               # argv and exit codes, as they run
    journal.finish("ok", installed_after)   # or "failed"; then the store's retention

A run that changes nothing never calls begin() and writes nothing; check mode makes no Journal.
Saving a package that cannot be re-packed (files missing since install) does not stop the run: the
record says so, and a rollback then needs the repositories for that version.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import PkgsrcError
from ..history import records, saved
from ..layout import Layout
from ..runner import Runner
from .pkgdb import read_pkgdb
from .plan import Installed

#: Saved packages are kept for what this many of the newest transactions need to be rolled back.
DEFAULT_SAVED_TRANSACTIONS = 5


def controller_from_env(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The address the run came from over ssh (Ansible, salt-ssh): SSH_CLIENT's first field."""
    value = (environ if environ is not None else os.environ).get("SSH_CLIENT", "")
    return value.split()[0] if value.split() else None


@dataclass(frozen=True)
class HistoryOptions:
    """What the adapters decide about a run's history: who runs it, and the limits."""

    actor: records.Actor
    keep: int = records.DEFAULT_KEEP  # records kept in the history
    save: bool = True  # save installed packages before they are replaced or removed
    saved_transactions: int = DEFAULT_SAVED_TRANSACTIONS  # the store keeps what these need
    saved_max_bytes: Optional[int] = None  # and stays under this size (None: no cap)

    @classmethod
    def for_tool(cls, tool: str, controller: Optional[str] = None, **limits: Any) -> "HistoryOptions":
        """Options for a run by ansible, salt or cli as this process's user."""
        actor = records.Actor.current(tool, controller or controller_from_env())
        return cls(actor, **limits)

    def __post_init__(self) -> None:
        if not isinstance(self.saved_transactions, int) or self.saved_transactions < 0:
            raise PkgsrcError("saved_transactions must be 0 or more, not %r" % (self.saved_transactions,),
                              "give how many recent transactions the saved packages must be able to undo")
        if self.saved_max_bytes is not None and (not isinstance(self.saved_max_bytes, int) or self.saved_max_bytes < 0):
            raise PkgsrcError("the saved packages' size cap must be a number of bytes, not %r"
                              % (self.saved_max_bytes,), "give a size in bytes, or none for no cap")


#: The history options the adapters take (Ansible module options, Salt keyword arguments), with
#: their defaults: records kept, whether to save packages, how many transactions the saved packages
#: serve, and the store's size cap ("500M", "2G"; none: no cap).
HISTORY_PARAMS: Dict[str, Any] = {"history_keep": records.DEFAULT_KEEP, "save_packages": True,
                                  "saved_keep": DEFAULT_SAVED_TRANSACTIONS, "saved_max_size": None}

_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}


def parse_size(value: Any) -> Optional[int]:
    """A size in bytes from 1048576, "500M", "2G" or "1.5G" (powers of 1024); None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = str(value).strip().upper()
    if text.endswith("IB"):
        text = text[:-2]
    elif text.endswith("B") and len(text) > 1 and text[-2] in _UNITS:
        text = text[:-1]
    unit = text[-1:] if text[-1:] in _UNITS and not text[-1:].isdigit() else ""
    number = text[:-1] if unit else text
    try:
        size = float(number)
    except ValueError:
        size = -1.0
    if size < 0 or number.strip() != number or not number:
        raise PkgsrcError("%r is not a size" % (value,), "give bytes, or a number with K, M, G or T (500M, 2G)")
    return int(size * _UNITS[unit])


def history_options(tool: str, params: Mapping[str, Any], controller: Optional[str] = None) -> HistoryOptions:
    """HistoryOptions from the adapters' parameters (HISTORY_PARAMS; missing ones take their defaults)."""
    values = dict(HISTORY_PARAMS)
    values.update({k: v for k, v in params.items() if k in HISTORY_PARAMS and v is not None})
    try:
        keep = int(values["history_keep"])
        saved_keep = int(values["saved_keep"])
    except (TypeError, ValueError):
        raise PkgsrcError("history_keep and saved_keep must be whole numbers (got %r and %r)"
                          % (values["history_keep"], values["saved_keep"]),
                          "give how many records to keep, and for how many transactions to keep saved packages"
                          ) from None
    if keep < 1:
        raise PkgsrcError("history_keep must be 1 or more, not %d" % keep, "give how many records the history keeps")
    return HistoryOptions.for_tool(tool, controller, keep=keep, save=bool(values["save_packages"]),
                                   saved_transactions=saved_keep,
                                   saved_max_bytes=parse_size(values["saved_max_size"]))


def installed_at(dbdir: str) -> Dict[str, Installed]:
    """name -> Installed, straight from a package database (no process; empty when there is none)."""
    if not os.path.isdir(dbdir):
        return {}
    return {pkg.name: Installed(pkg.pkgname, pkg.automatic, tuple(pkg.required_by)) for pkg in read_pkgdb(dbdir)}


def installed_packages(layout: Layout) -> Dict[str, Installed]:
    """What the prefix's package database holds now."""
    return installed_at(layout.host(layout.pkg_dbdir))


def package_set(installed: Mapping[str, Installed]) -> List[Tuple[str, bool]]:
    """(PKGNAME, automatic) pairs, sorted, as a record stores them."""
    return sorted((p.pkgname, p.automatic) for p in installed.values())


class Journal:
    """The transaction of one run (see the module's docstring)."""

    def __init__(self, layout: Layout, kind: str, options: Optional[HistoryOptions], runner: Runner) -> None:
        self.layout = layout
        self.kind = kind
        self.options = options or HistoryOptions.for_tool("cli")
        self.runner = runner
        self.transaction: Optional[records.Transaction] = None
        self.saved: List[str] = []
        self.warnings: List[str] = []
        self.messages: List[str] = []
        self.commands: List[Tuple[Sequence[str], int]] = []
        self.recovered: List[records.Record] = []

    @property
    def id(self) -> Optional[int]:
        return self.transaction.id if self.transaction else None

    def recover(self, installed: Mapping[str, Installed]) -> List[str]:
        """Close a killed run's record as interrupted; return a line for each, for the result."""
        self.recovered = records.recover(self.layout, package_set(installed))
        return ["transaction %d (%s, started %s) was interrupted: recorded as such, with the packages found now"
                % (r.id, r.kind, r.start) for r in self.recovered]

    def begin(self, request: Mapping[str, Any], installed: Mapping[str, Installed]) -> None:
        self.transaction = records.begin(self.layout, self.kind, self.options.actor, request,
                                         package_set(installed), keep=self.options.keep)

    def save(self, pkgnames: Iterable[str]) -> None:
        """Save the installed pkgnames (once each) before the run replaces or removes them."""
        if not self.options.save:
            return
        for pkgname in pkgnames:
            if pkgname in self.saved:
                continue
            try:
                done = saved.save_installed(self.layout, pkgname, self.runner)
            except PkgsrcError as exc:
                self.warnings.append("%s was not saved (%s); undoing this transaction needs a repository that "
                                     "still offers it" % (pkgname, exc.message))
                continue
            self.saved.append(pkgname)
            self.warnings.extend(done.warnings)
            self.commands.append((done.argv, 0))

    def ran(self, done: Iterable[Mapping[str, Any]]) -> None:
        """Add commands as run_commands reports them (argv, rc)."""
        for cmd in done:
            self.commands.append((tuple(cmd["argv"]), int(cmd["rc"])))

    def note_unsaved(self, before: Mapping[str, Installed], after: Mapping[str, Installed]) -> None:
        """Warn about installed versions the tools replaced or removed that were not saved first
        (pkgin upgrading a dependency the plan did not name)."""
        if not self.options.save:
            return
        kept = {p.pkgname for p in after.values()}
        for pkg in before.values():
            if pkg.pkgname not in kept and pkg.pkgname not in self.saved:
                self.warnings.append("%s was replaced or removed as a dependency and was not saved first; "
                                     "undoing this transaction needs a repository that still offers it" % pkg.pkgname)

    def abandon(self) -> None:
        """Take back the record of a run that turned out to change nothing."""
        if self.transaction is not None:
            self.transaction.abandon()
            self.transaction = None

    def fail(self, error: PkgsrcError, before: Mapping[str, Installed]) -> None:
        """Record the run as failed with what the pkgdb holds now, and name the record in the error."""
        if self.transaction is None:
            return
        record_id = self.transaction.id
        now = installed_packages(self.layout)
        self.messages.append("failed: %s" % error.message)
        self.note_unsaved(before, now)
        self.finish("failed", now)
        error.add_hint("recorded as transaction %d (history rollback or undo brings back the packages it "
                       "started from)" % record_id)

    def finish(self, outcome: str, installed: Mapping[str, Installed]) -> Optional[records.Record]:
        """Complete the record, then keep the saved packages the newest transactions need."""
        if self.transaction is None:
            return None
        record = self.transaction.finish(outcome, package_set(installed), self.commands, saved=self.saved,
                                         messages=self.messages, warnings=self.warnings)
        self.retention()
        return record

    def retention(self) -> Tuple[str, ...]:
        """Apply the store's limits: what the newest transactions need, under the size cap."""
        listing = records.list_records(self.layout, self.options.saved_transactions)
        needed = {pkgname for record in listing.records for pkgname in record.saved}
        return saved.retention(self.layout, needed, self.options.saved_max_bytes)


def result_fields(journal: Optional[Journal]) -> Dict[str, Any]:
    """What the results show of a run's transaction: its id, the saved packages, the warnings."""
    if journal is None or journal.transaction is None:
        return {"transaction": None, "saved": [], "warnings": []}
    return {"transaction": journal.id, "saved": list(journal.saved), "warnings": list(journal.warnings)}
