"""Transaction records: one JSON file per run that changed a prefix (or failed, or was killed).

The history of a prefix is `<VARBASE>/db/pkgsrc-deploy/history/` (directory mode 0755), one file
per record named after its id, `00000042.json` (mode 0644, indented JSON with sorted keys). Every
write goes through fsutil.atomic_write (a temporary file renamed over the target), so a crash
never leaves a half record. A writer:

    recover(layout, installed_now)         # close what a killed run left "running"
    txn = begin(layout, "package", actor, request, before)   # writes the "running" marker
    ...                                    # the run's own work
    txn.finish("ok", after, commands, saved=..., warnings=...)   # the same file, completed
    # or txn.abandon() when the run changed nothing: a run with nothing to do writes nothing

begin() writes the record at once, with outcome "running", no end, and the identity of the
process (pid, boot id, the process's start time where /proc tells it), so that a run killed with
SIGKILL leaves it behind. The next run's recover() finds it: a "running" record whose process is
gone (its pid is not alive, or alive but started at another time, or the boot id differs) is
closed as "interrupted", with `after` the package set the pkgdb really holds.

Only begin, Transaction.finish/abandon, recover and prune write; reading (list_records, get)
never does. Check mode calls none of the writers.

Concurrency: the writers of a prefix hold its package database lock (lock.PkgdbLock) from
recover() to finish()/abandon(). That makes id allocation (highest existing id + 1) safe and
means that a "running" record found under the lock belongs to no live run but the holder's.
"""
from __future__ import annotations

import errno
import getpass
import json
import os
import posixpath
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ..errors import PkgsrcError
from ..fsutil import atomic_write, read_text
from ..layout import Layout

#: The history directory, relative to VARBASE.
HISTORY_RELPATH = "db/pkgsrc-deploy/history"
#: How many records a history keeps unless told otherwise.
DEFAULT_KEEP = 200
#: The version of the record format; a reader refuses newer ones.
FORMAT = 1

TOOLS = ("ansible", "salt", "cli")
KINDS = ("package", "bootstrap", "repository", "rollback")
OUTCOMES = ("ok", "failed", "interrupted")
RUNNING = "running"
#: How many of the newest records recover() looks at.
RECOVER_WINDOW = 5

FILE_MODE = 0o644
DIR_MODE = 0o755

_RECORD_FILE = re.compile(r"^([0-9]{8,})\.json$")
_RUNNING_TEXT = re.compile(rb'"outcome"\s*:\s*"running"')
_TEMP_PREFIX = ".pkgsrc-deploy-"  # fsutil.atomic_write's temporary files
_BOOT_ID = "/proc/sys/kernel/random/boot_id"


class HistoryError(PkgsrcError):
    """The history of a prefix cannot be read or written, or a record is asked for wrongly."""


@dataclass(frozen=True)
class Actor:
    """Who ran the transaction: the tool (ansible, salt or cli), the user, the controller if known."""

    tool: str
    user: str
    controller: Optional[str] = None

    def __post_init__(self) -> None:
        if self.tool not in TOOLS:
            raise HistoryError("actor tool %r is not one of %s" % (self.tool, ", ".join(TOOLS)),
                               "pass ansible, salt or cli")
        if not isinstance(self.user, str) or not self.user:
            raise HistoryError("actor user %r is not a user name" % (self.user,), "pass the user the run acts as")

    @classmethod
    def current(cls, tool: str, controller: Optional[str] = None) -> "Actor":
        """The actor for this process: its user name (or `uid N` when the system has none)."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError, ImportError):
            user = "uid %d" % os.geteuid()
        return cls(tool, user or "uid %d" % os.geteuid(), controller)

    def to_dict(self) -> Dict[str, Any]:
        return {"tool": self.tool, "user": self.user, "controller": self.controller}


@dataclass(frozen=True)
class PackageState:
    """One installed package: its PKGNAME and whether it was installed automatically."""

    pkgname: str
    automatic: bool = False

    def to_dict(self) -> Dict[str, Any]:
        return {"pkgname": self.pkgname, "automatic": self.automatic}


@dataclass(frozen=True)
class CommandRun:
    """A command the run executed and its exit code."""

    argv: Tuple[str, ...]
    rc: int

    def to_dict(self) -> Dict[str, Any]:
        return {"argv": list(self.argv), "rc": self.rc}


@dataclass(frozen=True)
class Process:
    """What tells a live writer from a dead one: pid, boot id, and the process's start (clock ticks)."""

    pid: int
    boot_id: Optional[str] = None
    started: Optional[int] = None

    def to_dict(self) -> Dict[str, Any]:
        return {"pid": self.pid, "boot_id": self.boot_id, "started": self.started}


@dataclass(frozen=True)
class Record:
    """One transaction of a prefix (outcome "running" until it is finished or recovered)."""

    id: int
    kind: str
    start: str
    end: Optional[str]
    actor: Actor
    request: Mapping[str, Any]
    before: Tuple[PackageState, ...]
    after: Optional[Tuple[PackageState, ...]]
    commands: Tuple[CommandRun, ...]
    outcome: str
    saved: Tuple[str, ...]
    messages: Tuple[str, ...]
    warnings: Tuple[str, ...]
    process: Process
    prefix: str
    path: str = field(default="", compare=False)

    @property
    def running(self) -> bool:
        return self.outcome == RUNNING

    def to_dict(self) -> Dict[str, Any]:
        """The record as stored (and as results show it)."""
        return {
            "format": FORMAT, "id": self.id, "kind": self.kind, "start": self.start, "end": self.end,
            "actor": self.actor.to_dict(), "request": dict(self.request),
            "before": [p.to_dict() for p in self.before],
            "after": None if self.after is None else [p.to_dict() for p in self.after],
            "commands": [c.to_dict() for c in self.commands], "outcome": self.outcome,
            "saved": list(self.saved), "messages": list(self.messages), "warnings": list(self.warnings),
            "process": self.process.to_dict(), "prefix": self.prefix,
        }


@dataclass(frozen=True)
class Listing:
    """The records of a history, newest first, and a warning for each file that could not be read."""

    records: Tuple[Record, ...]
    warnings: Tuple[str, ...] = ()


PackageSet = Iterable[Union[PackageState, Tuple[str, bool]]]
Commands = Iterable[Union[CommandRun, Tuple[Sequence[str], int]]]


# --- paths and time ------------------------------------------------------------------------------

def history_dir(layout: Layout) -> str:
    """Host path of the history directory of layout's prefix."""
    return layout.host(posixpath.join(layout.varbase, HISTORY_RELPATH))


def record_path(layout: Layout, record_id: int) -> str:
    """Host path of the record file with this id."""
    return posixpath.join(history_dir(layout), "%08d.json" % record_id)


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- the process that writes ---------------------------------------------------------------------

def _boot_id() -> Optional[str]:
    text = read_text(_BOOT_ID)
    if text is None:
        return None
    return text.strip() or None


def _process_started(pid: int) -> Optional[int]:
    """The start time of pid in clock ticks since boot (/proc/<pid>/stat field 22), None if unknown."""
    try:
        text = read_text("/proc/%d/stat" % pid)
    except OSError:
        return None
    if not text or ")" not in text:
        return None
    fields = text.rsplit(")", 1)[1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def this_process() -> Process:
    """The identity of the running process, as begin() stores it."""
    pid = os.getpid()
    return Process(pid, _boot_id(), _process_started(pid))


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    except OSError as exc:
        return exc.errno != errno.ESRCH
    return True


def process_gone(process: Process) -> Optional[str]:
    """Why the process a record names is no longer running on this host, or None when it may be."""
    boot = _boot_id()
    if process.boot_id is not None and boot is not None and process.boot_id != boot:
        return "written before the host last booted"
    if not _pid_alive(process.pid):
        return "pid %d is not running" % process.pid
    if process.started is not None:
        started = _process_started(process.pid)
        if started is not None and started != process.started:
            return "pid %d is another process now" % process.pid
    return None


# --- converting and checking ---------------------------------------------------------------------

def _package_set(packages: PackageSet, what: str) -> Tuple[PackageState, ...]:
    out: Dict[str, PackageState] = {}
    for item in packages:
        if isinstance(item, PackageState):
            state = item
        else:
            try:
                pkgname, automatic = item
            except (TypeError, ValueError):
                raise HistoryError("%s holds %r, not a (pkgname, automatic) pair" % (what, item),
                                   "pass the package set as (PKGNAME, automatic) pairs") from None
            state = PackageState(pkgname, automatic)
        if not isinstance(state.pkgname, str) or not state.pkgname or not isinstance(state.automatic, bool):
            raise HistoryError("%s holds %r, not a PKGNAME and an automatic flag" % (what, item),
                               "pass the package set as (PKGNAME, automatic) pairs, automatic a bool")
        out[state.pkgname] = state
    return tuple(out[name] for name in sorted(out))


def _commands(commands: Commands) -> Tuple[CommandRun, ...]:
    out: List[CommandRun] = []
    for item in commands:
        if isinstance(item, CommandRun):
            run = item
        else:
            try:
                argv, rc = item
                run = CommandRun(tuple(argv), rc)
            except (TypeError, ValueError):
                raise HistoryError("command %r is not an (argv, rc) pair" % (item,),
                                   "pass each command as its argv list and its exit code") from None
        if (isinstance(run.argv, str) or not all(isinstance(a, str) for a in run.argv)
                or not isinstance(run.rc, int) or isinstance(run.rc, bool)):
            raise HistoryError("command %r is not an argv list of strings and an integer exit code" % (item,),
                               "pass each command as its argv list and its exit code")
        out.append(CommandRun(tuple(run.argv), run.rc))
    return tuple(out)


def _strings(values: Iterable[str], what: str) -> Tuple[str, ...]:
    if isinstance(values, str):
        raise HistoryError("%s must be a list of strings, not the string %r" % (what, values),
                           "pass a list (or tuple) of strings")
    out = tuple(values)
    for value in out:
        if not isinstance(value, str):
            raise HistoryError("%s holds %r, not a string" % (what, value), "pass a list of strings")
    return out


def _json_request(request: Mapping[str, Any]) -> Dict[str, Any]:
    if not isinstance(request, Mapping):
        raise HistoryError("the request %r is not a mapping" % (request,), "pass the run's arguments as a dict")
    try:
        copied = json.loads(json.dumps(dict(request), sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise HistoryError("the request cannot be stored as JSON (%s)" % exc,
                           "pass only strings, numbers, booleans, None, lists and dicts with string keys") from None
    if not isinstance(copied, dict):
        raise HistoryError("the request is not a mapping", "pass the run's arguments as a dict")
    return copied


def _check_id(record_id: int) -> int:
    if not isinstance(record_id, int) or isinstance(record_id, bool) or record_id < 1:
        raise HistoryError("%r is not a transaction id" % (record_id,), "give a positive integer id from the history")
    return record_id


def _check_keep(keep: int) -> int:
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise HistoryError("cannot keep %r history records" % (keep,), "set the history limit to 1 or more")
    return keep


# --- reading -------------------------------------------------------------------------------------

def _field(data: Mapping[str, Any], key: str, kind: Any) -> Any:
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError("%s is %r" % (key, value))
    return value


def _optional(data: Mapping[str, Any], key: str, kind: Any) -> Any:
    value = data.get(key)
    return None if value is None else _field(data, key, kind)


def _packages_from(value: Any, key: str) -> Tuple[PackageState, ...]:
    if not isinstance(value, list):
        raise ValueError("%s is not a list" % key)
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise ValueError("%s holds %r" % (key, item))
        out.append(PackageState(_field(item, "pkgname", str), _field(item, "automatic", bool)))
    return tuple(out)


def record_from_dict(data: Any, path: str = "") -> Record:
    """A Record from its stored form; ValueError (or KeyError/TypeError) when it is not one."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    version = _field(data, "format", int)
    if version > FORMAT:
        raise ValueError("record format %d is newer than this version of pkgsrc.deploy reads (%d)"
                         % (version, FORMAT))
    outcome = _field(data, "outcome", str)
    if outcome not in OUTCOMES + (RUNNING,):
        raise ValueError("outcome is %r" % outcome)
    kind = _field(data, "kind", str)
    if kind not in KINDS:
        raise ValueError("kind is %r" % kind)
    actor_data = _field(data, "actor", dict)
    actor = Actor(_field(actor_data, "tool", str), _field(actor_data, "user", str),
                  _optional(actor_data, "controller", str))
    process_data = _field(data, "process", dict)
    process = Process(_field(process_data, "pid", int), _optional(process_data, "boot_id", str),
                      _optional(process_data, "started", int))
    commands = []
    for item in _field(data, "commands", list):
        if not isinstance(item, dict):
            raise ValueError("commands holds %r" % (item,))
        argv = _field(item, "argv", list)
        if not all(isinstance(a, str) for a in argv):
            raise ValueError("a command's argv holds a non-string")
        commands.append(CommandRun(tuple(argv), _field(item, "rc", int)))
    after = data.get("after")
    return Record(
        id=_field(data, "id", int), kind=kind, start=_field(data, "start", str), end=_optional(data, "end", str),
        actor=actor, request=_field(data, "request", dict), before=_packages_from(data.get("before"), "before"),
        after=None if after is None else _packages_from(after, "after"), commands=tuple(commands),
        outcome=outcome, saved=_strings_from(data, "saved"), messages=_strings_from(data, "messages"),
        warnings=_strings_from(data, "warnings"), process=process, prefix=_field(data, "prefix", str), path=path)


def _strings_from(data: Mapping[str, Any], key: str) -> Tuple[str, ...]:
    values = _field(data, key, list)
    if not all(isinstance(v, str) for v in values):
        raise ValueError("%s holds a non-string" % key)
    return tuple(values)


def _record_ids(directory: str) -> List[int]:
    """The ids of the record files in directory, ascending (none when it does not exist)."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise HistoryError("cannot read the history directory %s: %s" % (directory, exc.strerror),
                           "run as a user who may read the prefix's VARBASE (root, or the prefix owner)") from None
    ids = []
    for name in names:
        match = _RECORD_FILE.match(name)
        if match:
            ids.append(int(match.group(1)))
    return sorted(ids)


def _read(path: str, record_id: int) -> Record:
    """The record in path; ValueError with the reason when it cannot be read or is not a record."""
    try:
        text = read_text(path)
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc)) from None
    if text is None:
        raise ValueError("it no longer exists")
    try:
        data = json.loads(text)
        record = record_from_dict(data, path)
    except (ValueError, KeyError, TypeError, PkgsrcError) as exc:
        reason = "missing field %s" % exc if isinstance(exc, KeyError) else str(exc)
        raise ValueError(reason or type(exc).__name__) from None
    if record.id != record_id:
        raise ValueError("it holds id %d, not the id of its name" % record.id)
    return record


def _unreadable(path: str, reason: str) -> str:
    return ("history record %s cannot be read (%s): it is left out; repair the file or move it out of %s"
            % (path, reason, posixpath.dirname(path)))


def list_records(layout: Layout, count: Optional[int] = None) -> Listing:
    """The records of layout's prefix, newest first, at most count of them (all when None).

    A file that does not parse is left out and named in Listing.warnings. Writes nothing.
    """
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise HistoryError("cannot list %r records" % (count,), "give a count of 0 or more, or none for all")
    directory = history_dir(layout)
    records: List[Record] = []
    warnings: List[str] = []
    for record_id in reversed(_record_ids(directory)):
        if count is not None and len(records) >= count:
            break
        path = record_path(layout, record_id)
        try:
            records.append(_read(path, record_id))
        except ValueError as exc:
            warnings.append(_unreadable(path, str(exc)))
    return Listing(tuple(records), tuple(warnings))


def get(layout: Layout, record_id: int) -> Record:
    """The record with this id; HistoryError when the history has none or its file is damaged."""
    path = record_path(layout, _check_id(record_id))
    if not os.path.exists(path):
        ids = _record_ids(history_dir(layout))
        held = "ids %d to %d" % (ids[0], ids[-1]) if ids else "no records"
        raise HistoryError("the history of %s has no transaction %d (it holds %s)" % (layout.prefix, record_id, held),
                           "list the history for the ids it holds")
    try:
        return _read(path, record_id)
    except ValueError as exc:
        raise HistoryError(_unreadable(path, str(exc))) from None


# --- writing -------------------------------------------------------------------------------------

def _ensure_dir(directory: str) -> None:
    """Create directory and missing parents with mode 0755 (whatever the umask)."""
    missing = []
    current = directory
    while not os.path.isdir(current):
        missing.append(current)
        parent = posixpath.dirname(current)
        if parent == current:
            break
        current = parent
    try:
        for path in reversed(missing):
            os.mkdir(path, DIR_MODE)
            os.chmod(path, DIR_MODE)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise HistoryError("%s exists but is not a directory" % directory,
                               "move it away so that the history can be kept there") from None
    except OSError as exc:
        raise HistoryError("cannot create the history directory %s: %s" % (directory, exc.strerror),
                           "run as a user who may write the prefix's VARBASE (root, or the prefix owner)") from None


def _write(layout: Layout, record: Record) -> Record:
    path = record_path(layout, record.id)
    text = json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n"
    _ensure_dir(posixpath.dirname(path))
    try:
        atomic_write(path, text, mode=FILE_MODE, make_parents=False)
    except OSError as exc:
        raise HistoryError("cannot write the history record %s: %s" % (path, exc.strerror),
                           "run as a user who may write the prefix's VARBASE, and check that its disk has room"
                           ) from None
    return replace(record, path=path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise HistoryError("cannot remove the history record %s: %s" % (path, exc.strerror),
                           "run as a user who may write the prefix's VARBASE (root, or the prefix owner)") from None


class Transaction:
    """A begun transaction: its "running" record is on disk until finish() or abandon()."""

    def __init__(self, layout: Layout, record: Record, keep: int = DEFAULT_KEEP) -> None:
        self.layout = layout
        self.record = record
        self.keep = _check_keep(keep)
        self.closed = False

    @property
    def id(self) -> int:
        return self.record.id

    def _open(self, action: str) -> None:
        if self.closed:
            raise HistoryError("transaction %d is already closed: cannot %s it" % (self.record.id, action),
                               "call finish() or abandon() once per begin()")

    def finish(self, outcome: str, after: PackageSet, commands: Commands, saved: Iterable[str] = (),
               messages: Iterable[str] = (), warnings: Iterable[str] = ()) -> Record:
        """Complete the record (end time, outcome ok/failed/interrupted, package set after), then prune."""
        self._open("finish")
        if outcome not in OUTCOMES:
            raise HistoryError("%r is not a transaction outcome" % (outcome,), "use one of %s" % ", ".join(OUTCOMES))
        done = replace(self.record, end=_utc_now(), outcome=outcome, after=_package_set(after, "after"),
                       commands=_commands(commands), saved=_strings(saved, "saved"),
                       messages=_strings(messages, "messages"), warnings=_strings(warnings, "warnings"))
        self.record = _write(self.layout, done)
        self.closed = True
        prune(self.layout, self.keep)
        return self.record

    def abandon(self) -> None:
        """Remove the "running" record of a run that changed nothing (it leaves no trace)."""
        self._open("abandon")
        _remove(record_path(self.layout, self.record.id))
        self.closed = True


def begin(layout: Layout, kind: str, actor: Actor, request: Mapping[str, Any], before: PackageSet,
          keep: int = DEFAULT_KEEP) -> Transaction:
    """Write the "running" record of a new transaction (id: the highest in the history + 1).

    The caller holds the prefix's pkgdb lock (lock.PkgdbLock) until finish() or abandon(), and has
    called recover() under it. keep is the history limit finish() prunes to.
    """
    if kind not in KINDS:
        raise HistoryError("%r is not a transaction kind" % (kind,), "use one of %s" % ", ".join(KINDS))
    if not isinstance(actor, Actor):
        raise HistoryError("the actor %r is not an Actor" % (actor,), "pass Actor(tool, user, controller)")
    keep = _check_keep(keep)
    ids = _record_ids(history_dir(layout))
    record = Record(
        id=(ids[-1] + 1) if ids else 1, kind=kind, start=_utc_now(), end=None, actor=actor,
        request=_json_request(request), before=_package_set(before, "before"), after=None, commands=(),
        outcome=RUNNING, saved=(), messages=(), warnings=(), process=this_process(), prefix=layout.prefix)
    return Transaction(layout, _write(layout, record), keep)


def recover(layout: Layout, installed_now: PackageSet) -> List[Record]:
    """Close every "running" record whose process is gone as "interrupted" (after = installed_now).

    installed_now is the package set the pkgdb holds now, as (PKGNAME, automatic) pairs. Also
    removes the temporary files a killed write left. Returns the records it closed, oldest first.
    Call it under the pkgdb lock, before the run's own work.
    """
    directory = history_dir(layout)
    now_set = _package_set(installed_now, "the installed package set")
    closed: List[Record] = []
    # Writers hold the pkgdb lock and recover before they begin, so only the newest records can
    # be left running; looking at a few keeps a run that changes nothing to one directory read.
    for record_id in _record_ids(directory)[-RECOVER_WINDOW:]:
        path = record_path(layout, record_id)
        if not _may_be_running(path):
            continue  # finished (or gone): no need to parse it, so that a converged run stays fast
        try:
            record = _read(path, record_id)
        except ValueError:
            continue  # list_records reports it
        if not record.running:
            continue
        gone = process_gone(record.process)
        if gone is None:
            continue
        note = "interrupted: the run left its record running (%s); after is the package set found then" % gone
        done = replace(record, end=_utc_now(), outcome="interrupted", after=now_set,
                       messages=record.messages + (note,))
        closed.append(_write(layout, done))
    _remove_temporaries(directory)
    return closed


def _may_be_running(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        return b"running" in data and _RUNNING_TEXT.search(data) is not None
    except OSError:
        return True  # let _read say what is wrong


def _remove_temporaries(directory: str) -> None:
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(_TEMP_PREFIX) and name.endswith(".tmp"):
            try:
                os.unlink(posixpath.join(directory, name))
            except OSError:
                pass


def prune(layout: Layout, keep: int = DEFAULT_KEEP) -> List[int]:
    """Remove the records older than the newest `keep`, except "running" ones and unreadable ones.

    Returns the ids removed, oldest first.
    """
    keep = _check_keep(keep)
    ids = _record_ids(history_dir(layout))
    removed: List[int] = []
    for record_id in ids[:max(0, len(ids) - keep)]:
        path = record_path(layout, record_id)
        try:
            record = _read(path, record_id)
        except ValueError:
            continue  # not ours to delete: list_records names it
        if record.running:
            continue
        _remove(path)
        removed.append(record_id)
    return removed
