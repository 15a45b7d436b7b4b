"""history.records: ids, the stored JSON, the "running" marker a killed run leaves and recover()
closing it, abandon, prune, damaged files, modes, and that reading writes nothing."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.history import records
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.history.records import (
    Actor, HistoryError, PackageState, Process)
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout

ACTOR = Actor("ansible", "deploy", "ctl.example.org")
BEFORE = [("hello-1.0", False), ("libfoo-2.0nb1", True)]
AFTER = [("libfoo-2.0nb1", True), ("hello-1.1", False)]  # given unsorted on purpose
NOW = [("hello-1.0", False), ("hello-tools-0.3", True), ("libfoo-2.0nb1", True)]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def _layout(tmp_path):
    return Layout(prefix="/opt/pkg", pkg_dbdir="/opt/pkg/pkgdb", sysconfdir="/opt/pkg/etc",
                  varbase="/opt/pkg/var", root=str(tmp_path))


def _dir(tmp_path):
    return tmp_path / "opt/pkg/var/db/pkgsrc-deploy/history"


def _files(tmp_path):
    directory = _dir(tmp_path)
    return sorted(os.listdir(directory)) if directory.exists() else []


def _tree(tmp_path):
    """Every path under tmp_path with its bytes (None for directories)."""
    out = {}
    for dirpath, _dirs, files in os.walk(tmp_path):
        out[dirpath] = None
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as handle:
                out[path] = handle.read()
    return out


def _transaction(layout, outcome="ok", keep=records.DEFAULT_KEEP):
    txn = records.begin(layout, "package", ACTOR, {"name": ["hello"], "state": "latest"}, BEFORE, keep=keep)
    return txn.finish(outcome, AFTER, [(["/opt/pkg/bin/pkgin", "-y", "install", "hello-1.1"], 0)])


def _dead_pid():
    """A pid that was just used and is free again."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _begin_as(layout, monkeypatch, process):
    """begin() as if written by another process (the one a killed run was)."""
    monkeypatch.setattr(records, "this_process", lambda: process)
    txn = records.begin(layout, "package", ACTOR, {"name": ["hello"]}, BEFORE)
    monkeypatch.undo()
    return txn


# --- ids and the stored record -------------------------------------------------------------------

def test_ids_increase_from_the_highest_on_disk(tmp_path):
    layout = _layout(tmp_path)
    assert [_transaction(layout).id for _unused in range(3)] == [1, 2, 3]
    assert _files(tmp_path) == ["00000001.json", "00000002.json", "00000003.json"]
    records.prune(layout, keep=1)  # only 3 is left: the next is 4, not len + 1
    assert _files(tmp_path) == ["00000003.json"]
    assert _transaction(layout).id == 4
    (_dir(tmp_path) / "00000009.json").write_text("{damaged")  # never overwritten, even unreadable
    assert _transaction(layout).id == 10
    assert (_dir(tmp_path) / "00000009.json").read_text() == "{damaged"


def test_a_finished_record_holds_the_run_as_sorted_indented_json(tmp_path):
    layout = _layout(tmp_path)
    txn = records.begin(layout, "package", ACTOR, {"name": ["hello"], "state": "latest"}, BEFORE)
    done = txn.finish("failed", AFTER,
                      [(["/opt/pkg/bin/pkgin", "-y", "update"], 0), (["/opt/pkg/bin/pkgin", "-y", "install"], 1)],
                      saved=["hello-1.0.tgz"], messages=["hello-1.0 -> hello-1.1"], warnings=["bin/hello modified"])
    path = _dir(tmp_path) / "00000001.json"
    text = path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    start, end, process = data.pop("start"), data.pop("end"), data.pop("process")
    assert data == {
        "format": 1, "id": 1, "kind": "package", "prefix": "/opt/pkg",
        "actor": {"tool": "ansible", "user": "deploy", "controller": "ctl.example.org"},
        "request": {"name": ["hello"], "state": "latest"},
        "before": [{"pkgname": "hello-1.0", "automatic": False}, {"pkgname": "libfoo-2.0nb1", "automatic": True}],
        "after": [{"pkgname": "hello-1.1", "automatic": False}, {"pkgname": "libfoo-2.0nb1", "automatic": True}],
        "commands": [{"argv": ["/opt/pkg/bin/pkgin", "-y", "update"], "rc": 0},
                     {"argv": ["/opt/pkg/bin/pkgin", "-y", "install"], "rc": 1}],
        "outcome": "failed", "saved": ["hello-1.0.tgz"], "messages": ["hello-1.0 -> hello-1.1"],
        "warnings": ["bin/hello modified"],
    }
    assert TIME.match(start) and TIME.match(end) and start <= end
    assert process["pid"] == os.getpid()
    if os.path.exists("/proc/sys/kernel/random/boot_id"):
        with open("/proc/sys/kernel/random/boot_id") as handle:
            assert process["boot_id"] == handle.read().strip()
    assert records.get(layout, 1) == done
    assert done.path == records.get(layout, 1).path == str(path)
    assert done.to_dict()["after"] == data["after"]


def test_the_request_is_a_copy_taken_at_begin(tmp_path):
    layout = _layout(tmp_path)
    request = {"name": ["hello"]}
    txn = records.begin(layout, "package", ACTOR, request, BEFORE)
    request["name"].append("changed later")
    assert txn.finish("ok", AFTER, []).request == {"name": ["hello"]}
    assert records.get(layout, 1).request == {"name": ["hello"]}


@pytest.mark.parametrize("call, words", [
    (lambda lay: records.begin(lay, "upgrade", ACTOR, {}, []), "kind"),
    (lambda lay: records.begin(lay, "package", ACTOR, {"when": object()}, []), "JSON"),
    (lambda lay: records.begin(lay, "package", ACTOR, {}, [("hello-1.0", "yes")]), "automatic"),
    (lambda lay: records.begin(lay, "package", ACTOR, {}, ["hello-1.0"]), "pkgname"),
    (lambda lay: records.begin(lay, "package", ACTOR, {}, [], keep=0), "limit"),
    (lambda _lay: Actor("puppet", "root"), "ansible, salt or cli"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, call, words):
    with pytest.raises(HistoryError, match=words) as info:
        call(_layout(tmp_path))
    assert isinstance(info.value, PkgsrcError) and info.value.hint
    assert not (tmp_path / "opt").exists()


def test_finish_refuses_an_unknown_outcome_and_a_second_close(tmp_path):
    layout = _layout(tmp_path)
    txn = records.begin(layout, "bootstrap", ACTOR, {}, [])
    with pytest.raises(HistoryError, match="outcome"):
        txn.finish("running", AFTER, [])
    assert records.get(layout, 1).running  # the refused finish left the marker as it was
    txn.finish("ok", AFTER, [])
    with pytest.raises(HistoryError, match="already closed"):
        txn.finish("ok", AFTER, [])
    with pytest.raises(HistoryError, match="already closed"):
        txn.abandon()
    assert records.get(layout, 1).outcome == "ok"


# --- the running marker, a killed run, recover() -------------------------------------------------

def test_begin_leaves_a_readable_running_record_until_finish(tmp_path):
    layout = _layout(tmp_path)
    txn = records.begin(layout, "repository", ACTOR, {"url": "http://repo/All"}, BEFORE)
    data = json.loads((_dir(tmp_path) / "00000001.json").read_text())
    assert (data["outcome"], data["end"], data["after"], data["commands"]) == ("running", None, None, [])
    [listed] = records.list_records(layout).records
    assert listed.running and listed.id == txn.id == 1
    assert txn.finish("ok", AFTER, []).end is not None
    assert not records.get(layout, 1).running


def test_a_run_killed_with_sigkill_leaves_its_record_and_the_next_run_closes_it(tmp_path):
    child = textwrap.dedent("""
        import os, signal, sys
        from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.history import records
        from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout
        layout = Layout(prefix="/opt/pkg", pkg_dbdir="/opt/pkg/pkgdb", sysconfdir="/opt/pkg/etc",
                        varbase="/opt/pkg/var", root=sys.argv[1])
        records.begin(layout, "package", records.Actor("salt", "root"), {"name": ["hello"]}, [("hello-1.0", False)])
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-c", child, str(tmp_path)], env=env, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    layout = _layout(tmp_path)
    left = records.get(layout, 1)
    assert left.running and left.process.pid != os.getpid()

    [closed] = records.recover(layout, NOW)
    assert (closed.id, closed.outcome) == (1, "interrupted")
    assert closed.after == tuple(PackageState(n, a) for n, a in NOW)
    assert closed.before == (PackageState("hello-1.0", False),)
    assert closed.end is not None and "not running" in closed.messages[-1]
    assert records.get(layout, 1) == closed  # written, not only returned
    assert records.recover(layout, NOW) == []  # closed once


def test_recover_closes_a_record_whose_pid_is_gone_and_keeps_a_live_one(tmp_path, monkeypatch):
    layout = _layout(tmp_path)
    _transaction(layout)  # 1: finished, must stay as it is
    finished = (_dir(tmp_path) / "00000001.json").read_bytes()
    here = records.this_process()
    _begin_as(layout, monkeypatch, Process(_dead_pid(), here.boot_id, None))  # 2: a killed run
    live = records.begin(layout, "package", ACTOR, {}, BEFORE)  # 3: this process, alive

    closed = records.recover(layout, NOW)
    assert [r.id for r in closed] == [2]
    assert [(r.id, r.outcome) for r in records.list_records(layout).records] == [
        (3, "running"), (2, "interrupted"), (1, "ok")]
    assert records.get(layout, 2).after == tuple(PackageState(n, a) for n, a in NOW)
    assert (_dir(tmp_path) / "00000001.json").read_bytes() == finished
    assert live.finish("ok", AFTER, []).outcome == "ok"


@pytest.mark.skipif(not os.path.exists("/proc/sys/kernel/random/boot_id"), reason="no boot id here")
def test_recover_closes_a_record_from_before_a_reboot_even_if_its_pid_is_alive(tmp_path, monkeypatch):
    layout = _layout(tmp_path)
    here = records.this_process()
    _begin_as(layout, monkeypatch, Process(here.pid, "00000000-0000-0000-0000-000000000000", None))
    [closed] = records.recover(layout, NOW)
    assert "booted" in closed.messages[-1]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="no /proc here")
def test_recover_closes_a_record_whose_pid_now_belongs_to_another_process(tmp_path, monkeypatch):
    layout = _layout(tmp_path)
    here = records.this_process()
    _begin_as(layout, monkeypatch, Process(here.pid, here.boot_id, (here.started or 0) + 1))
    [closed] = records.recover(layout, NOW)
    assert "another process" in closed.messages[-1]


def test_recover_removes_what_a_killed_write_left_and_writes_nothing_without_a_history(tmp_path):
    layout = _layout(tmp_path)
    assert records.recover(layout, NOW) == []
    assert not (tmp_path / "opt").exists()
    _transaction(layout)
    (_dir(tmp_path) / ".pkgsrc-deploy-abc123.tmp").write_text('{"id": 2, "outc')
    assert records.recover(layout, NOW) == []
    assert _files(tmp_path) == ["00000001.json"]


# --- abandon, prune --------------------------------------------------------------------------------

def test_a_run_that_changed_nothing_leaves_nothing(tmp_path):
    layout = _layout(tmp_path)
    _transaction(layout)
    before = _tree(tmp_path)
    txn = records.begin(layout, "package", ACTOR, {}, BEFORE)
    assert len(_files(tmp_path)) == 2
    txn.abandon()
    assert _tree(tmp_path) == before
    with pytest.raises(HistoryError, match="already closed"):
        txn.finish("ok", AFTER, [])
    assert _tree(tmp_path) == before


def test_the_history_keeps_its_limit_and_never_prunes_a_running_record(tmp_path, monkeypatch):
    layout = _layout(tmp_path)
    _transaction(layout)  # 1
    # 2: a run that is still going (its process is this one): older than the limit, never pruned
    stuck = records.begin(layout, "package", ACTOR, {}, BEFORE)
    for _unused in range(23):  # 3..25, each finish prunes to its limit
        _transaction(layout, keep=5)
    assert _files(tmp_path) == ["%08d.json" % i for i in (2, 21, 22, 23, 24, 25)]
    assert records.prune(layout, keep=5) == []
    assert records.prune(layout, keep=3) == [21, 22]
    stuck.finish("failed", AFTER, [])  # now finished: pruned with the rest (limit 200)
    assert len(_files(tmp_path)) == 4
    assert records.prune(layout, keep=3) == [2]
    assert [r.id for r in records.list_records(layout).records] == [25, 24, 23]


def test_the_default_limit_is_200(tmp_path):
    txn = records.begin(_layout(tmp_path), "package", ACTOR, {}, [])
    assert records.DEFAULT_KEEP == 200 and txn.keep == 200


# --- reading -------------------------------------------------------------------------------------

def test_list_is_newest_first_and_count_limits_it(tmp_path):
    layout = _layout(tmp_path)
    for outcome in ("ok", "failed", "ok", "interrupted"):
        _transaction(layout, outcome)
    listing = records.list_records(layout)
    assert [(r.id, r.outcome) for r in listing.records] == [(4, "interrupted"), (3, "ok"), (2, "failed"), (1, "ok")]
    assert [r.id for r in records.list_records(layout, count=2).records] == [4, 3]
    assert records.list_records(layout, count=0).records == ()
    assert listing.warnings == ()


def test_a_file_that_does_not_parse_is_left_out_with_a_warning(tmp_path, monkeypatch):
    layout = _layout(tmp_path)
    for _unused in range(4):
        _transaction(layout)
    history = _dir(tmp_path)
    (history / "00000002.json").write_text("{not json")
    good = json.loads((history / "00000003.json").read_text())
    (history / "00000003.json").write_text(json.dumps(dict(good, outcome="maybe")))
    (history / "00000004.json").write_text(json.dumps(dict(good, id=3)))  # does not match its name
    (history / "notes.txt").write_text("ignored")

    listing = records.list_records(layout)
    assert [r.id for r in listing.records] == [1]
    assert len(listing.warnings) == 3
    for number, warning in zip((4, 3, 2), listing.warnings):
        assert "%08d.json" % number in warning and "repair the file" in warning
    with pytest.raises(HistoryError, match="00000002.json cannot be read"):
        records.get(layout, 2)
    # the writers step over them too, and never remove what they cannot read
    _begin_as(layout, monkeypatch, Process(_dead_pid(), None, None))
    assert [r.id for r in records.recover(layout, NOW)] == [5]
    assert records.prune(layout, keep=1) == [1]
    assert _files(tmp_path) == ["00000002.json", "00000003.json", "00000004.json", "00000005.json", "notes.txt"]


def test_get_names_the_ids_the_history_holds(tmp_path):
    layout = _layout(tmp_path)
    with pytest.raises(HistoryError, match="holds no records"):
        records.get(layout, 1)
    _transaction(layout)
    _transaction(layout)
    with pytest.raises(HistoryError, match="no transaction 7 .*ids 1 to 2") as info:
        records.get(layout, 7)
    assert info.value.hint
    with pytest.raises(HistoryError, match="not a transaction id"):
        records.get(layout, 0)


def test_reading_writes_nothing(tmp_path):
    layout = _layout(tmp_path)
    assert records.list_records(layout).records == ()
    assert not (tmp_path / "opt").exists()
    _transaction(layout)
    before = _tree(tmp_path)
    records.list_records(layout)
    records.get(layout, 1)
    assert _tree(tmp_path) == before


# --- modes ---------------------------------------------------------------------------------------

def test_files_are_0644_and_directories_0755_whatever_the_umask(tmp_path):
    layout = _layout(tmp_path)
    (tmp_path / "opt/pkg/var").mkdir(parents=True)
    old = os.umask(0o077)
    try:
        txn = records.begin(layout, "package", ACTOR, {}, BEFORE)
        running_mode = (_dir(tmp_path) / "00000001.json").stat().st_mode & 0o777
        txn.finish("ok", AFTER, [])
    finally:
        os.umask(old)
    assert running_mode == 0o644
    assert (_dir(tmp_path) / "00000001.json").stat().st_mode & 0o777 == 0o644
    for directory in ("opt/pkg/var/db", "opt/pkg/var/db/pkgsrc-deploy", "opt/pkg/var/db/pkgsrc-deploy/history"):
        assert (tmp_path / directory).stat().st_mode & 0o777 == 0o755, directory
