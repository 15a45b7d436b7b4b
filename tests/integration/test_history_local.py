"""Transactions end to end on this machine: converge and rollback through the core, driving the
stand-in pkgin / pkg_install tools (pkg_create included) in a real prefix, with a fixture
repository over real HTTP. What is asserted is on disk: the pkgdb, the history records, the
saved packages. (The same through ansible-playbook and salt on test hosts: test_history_testbed.py.)
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from pkgsrc_core.errors import PkgsrcError
from pkgsrc_core.history import records, saved
from pkgsrc_core.packages.converge import converge_packages
from pkgsrc_core.packages.journal import HistoryOptions
from pkgsrc_core.packages.pkgdb import read_pkgdb
from pkgsrc_core.packages.plan import PackageRequest
from pkgsrc_core.packages.rollback import manage_history, rollback
from pkgsrc_core.prefixes import layout_for_prefix
from pkgsrc_core.runner import SubprocessRunner
from tests.fixtures.demo import build_demo_repo
from tests.fixtures.local import make_local_prefix, serve, tree_hash
from tests.fixtures.repo import remove_packages

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


@pytest.fixture()
def site(tmp_path):
    """(local prefix, repository All dir) with the repository served for the test's duration."""
    prefix_root = tmp_path / "host"
    all_dir = build_demo_repo(tmp_path / "repo", str(prefix_root / "opt" / "pkg"), bootstrap=False)
    with serve(tmp_path / "repo") as (url, _server):
        local = make_local_prefix(prefix_root, [url + "/All"])
        yield local, all_dir


def _layout(local):
    return layout_for_prefix(str(local.prefix))


def converge(local, *names, history=None, check=False, **options):
    request = PackageRequest(tuple(names), **options)
    return converge_packages(request, _layout(local), SubprocessRunner(timeout=120), check_mode=check,
                             history=history or HistoryOptions.for_tool("cli"))


def undo(local, record_id=None, check=False, history=None):
    return rollback(_layout(local), SubprocessRunner(timeout=120), record_id, undo=record_id is None,
                    check_mode=check, history=history)


def pkgset(local):
    """{PKGNAME: automatic} from the pkgdb."""
    return {p.pkgname: p.automatic for p in read_pkgdb(str(local.pkgdb))}


def history(local):
    return records.list_records(_layout(local)).records


def hist_dir(local):
    return records.history_dir(_layout(local))


def test_upgrade_then_undo_after_the_repository_dropped_the_old_version(site):
    local, all_dir = site
    first = converge(local, "hello-1.0")
    assert first.history["transaction"] == 1 and "hello-1.0" in pkgset(local)
    up = converge(local, "hello", state="latest")
    assert "hello-1.1" in pkgset(local) and "hello-1.0" not in pkgset(local)
    assert up.history["saved"] == ["hello-1.0"]
    assert saved.find_saved(_layout(local), "hello-1.0")
    record = records.get(_layout(local), up.history["transaction"])
    assert record.outcome == "ok" and record.kind == "package"
    assert [p.pkgname for p in record.before if p.pkgname.startswith("hello")] == ["hello-1.0"]
    assert [p.pkgname for p in record.after if p.pkgname.startswith("hello")] == ["hello-1.1"]
    assert record.saved == ("hello-1.0",) and record.actor.tool == "cli"
    assert any(c.argv[-2:] == ("install", "hello-1.1") or "hello-1.1" in c.argv for c in record.commands)

    remove_packages(all_dir, ["hello-1.0"])  # the branch moved on: the summary no longer offers it
    assert not os.path.exists(all_dir / "hello-1.0.tgz")

    # check mode: the plan and the diff, nothing written anywhere in the prefix
    tree = tree_hash(local.root / "opt")
    would = undo(local, check=True)
    assert would.changed and would.plan.installs[0].origin == "saved"
    assert "hello-1.0" in would.after and "hello-1.1" not in would.after
    assert tree_hash(local.root / "opt") == tree

    done = undo(local)
    assert done.changed and "hello-1.0" in pkgset(local) and "hello-1.1" not in pkgset(local)
    assert pkgset(local)["hello-1.0"] is False  # user-installed, as before the upgrade
    out = subprocess.run([str(local.prefix / "bin" / "hello")], capture_output=True, text=True, check=True)
    assert "hello 1.0" in out.stdout
    newest = history(local)[0]
    assert newest.kind == "rollback" and newest.outcome == "ok" and newest.request["rollback"] == record.id
    assert newest.saved == ("hello-1.1",)

    # again: nothing left to do for that target, nothing written
    names = sorted(os.listdir(hist_dir(local)))
    again = undo(local, record.id)
    assert not again.changed and sorted(os.listdir(hist_dir(local))) == names

    # undo again: the newest transaction that is not a rollback is already undone
    assert not undo(local).changed
    # the rollback is a transaction: rolling it back brings 1.1 back (from its saved package)
    redo = undo(local, newest.id)
    assert redo.changed and "hello-1.1" in pkgset(local) and "hello-1.0" not in pkgset(local)
    assert redo.plan.target == newest.id


def test_remove_then_roll_back_restores_packages_and_flags(site):
    local, _all_dir = site
    converge(local, "foo-tool")
    before = pkgset(local)
    assert before["libfoo-2.0nb1"] is True and before["foo-tool-3.2"] is False
    gone = converge(local, "foo-tool", state="absent", autoremove=True)
    assert "foo-tool-3.2" not in pkgset(local) and "libfoo-2.0nb1" not in pkgset(local)
    assert sorted(gone.history["saved"]) == ["foo-tool-3.2", "libfoo-2.0nb1"]
    back = undo(local, gone.history["transaction"])
    assert back.changed and pkgset(local) == before
    assert {i.origin for i in back.plan.installs} == {"saved"}
    # roll back the rollback: removed again
    undo(local, history(local)[0].id)
    assert "foo-tool-3.2" not in pkgset(local) and "libfoo-2.0nb1" not in pkgset(local)


def test_a_rollback_that_cannot_be_done_changes_nothing_and_names_the_missing(site):
    local, all_dir = site
    converge(local, "hello-1.0")
    up = converge(local, "hello", state="latest", history=HistoryOptions.for_tool("cli", save=False))
    assert up.history["saved"] == []
    remove_packages(all_dir, ["hello-1.0"])
    # the copies of the repositories' summaries are refreshed (a cache); nothing else may change
    summaries = ["pkg/var/db/pkgsrc-deploy/summaries"]
    tree = tree_hash(local.root / "opt", exclude=summaries)
    with pytest.raises(PkgsrcError) as err:
        undo(local)
    assert "hello-1.0" in str(err.value) and "neither the saved packages nor a repository" in str(err.value)
    assert "nothing was changed" in str(err.value)
    assert tree_hash(local.root / "opt", exclude=summaries) == tree


def test_nothing_to_do_and_check_mode_write_nothing(site):
    local, _all_dir = site
    converge(local, "hello-1.0")
    tree = tree_hash(local.root / "opt")
    assert not converge(local, "hello-1.0").changed
    assert tree_hash(local.root / "opt") == tree
    assert converge(local, "foo-tool", check=True).changed
    assert tree_hash(local.root / "opt") == tree


def test_retention_holds_after_20_transactions(site):
    local, _all_dir = site
    options = HistoryOptions.for_tool("cli", keep=8, saved_transactions=3)
    for i in range(10):  # 20 transactions: install, then remove, ten times over
        converge(local, "hello-1.0" if i % 2 else "hello-1.1", history=options)
        converge(local, "hello", state="absent", history=options)
    ids = [r.id for r in history(local)]
    assert ids == list(range(20, 12, -1))
    kept = {s.pkgname for s in saved.list_saved(_layout(local))}
    needed = {p for r in history(local)[:3] for p in r.saved}
    assert kept == needed and kept  # what the newest three need, nothing more
    capped = HistoryOptions.for_tool("cli", keep=8, saved_max_bytes=1)
    converge(local, "hello-1.0", history=capped)
    converge(local, "hello", state="absent", history=capped)
    assert saved.list_saved(_layout(local)) == ()  # the cap holds, whatever the transactions need


KILL_RUN = """
import sys
sys.path[:0] = [{root!r}, {utils!r}]
from pkgsrc_core.packages.converge import converge_packages
from pkgsrc_core.packages.plan import PackageRequest
from pkgsrc_core.prefixes import layout_for_prefix
from pkgsrc_core.runner import SubprocessRunner
converge_packages(PackageRequest(("foo-tool",)), layout_for_prefix({prefix!r}), SubprocessRunner(timeout=120))
"""


def test_a_run_killed_mid_install_is_recorded_as_interrupted_by_the_next(site, tmp_path):
    local, all_dir = site
    converge(local, "hello-1.0")
    # The package file is a FIFO for now: the HTTP server blocks opening it, so pkgin hangs in the
    # middle of the install with the transaction begun. Then the run and its tools get SIGKILL.
    package = all_dir / "foo-tool-3.2.tgz"
    kept = tmp_path / "foo-tool-3.2.tgz"
    os.replace(package, kept)
    os.mkfifo(package)
    script = KILL_RUN.format(root=ROOT, utils=os.path.join(ROOT, "plugins", "module_utils"), prefix=str(local.prefix))
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        running = []
        while time.monotonic() < deadline and not running and proc.poll() is None:
            running = [r for r in history(local) if r.outcome == records.RUNNING]
            time.sleep(0.05)
        assert running, "the run never began its transaction"
        time.sleep(0.5)  # into pkgin's download
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        fd = os.open(package, os.O_WRONLY | os.O_NONBLOCK)  # let the server's open() return
        os.close(fd)
        os.unlink(package)
        os.replace(kept, package)
    assert history(local)[0].outcome == records.RUNNING  # what the killed run left
    left = pkgset(local)
    result = converge(local, "foo-tool")
    interrupted = [r for r in history(local) if r.outcome == "interrupted"]
    assert len(interrupted) == 1 and interrupted[0].end and interrupted[0].kind == "package"
    assert {p.pkgname: p.automatic for p in interrupted[0].after} == left  # what the pkgdb held then
    assert any("interrupted" in m for m in result.messages)
    assert "foo-tool-3.2" in pkgset(local)
    assert history(local)[0].outcome == "ok" and history(local)[0].id == interrupted[0].id + 1


def test_history_listing_reads_only(site):
    local, _all_dir = site
    converge(local, "hello-1.0")
    converge(local, "foo-tool")
    tree = tree_hash(local.root / "opt")
    listed = manage_history(_layout(local), SubprocessRunner(), count=1)
    assert [t["id"] for t in listed["transactions"]] == [2]
    assert listed["transactions"][0]["request"]["names"] == ["foo-tool"]
    full = manage_history(_layout(local), SubprocessRunner())
    assert [t["id"] for t in full["transactions"]] == [2, 1]
    assert json.loads(json.dumps(full))  # plain data
    assert tree_hash(local.root / "opt") == tree
    with pytest.raises(PkgsrcError, match="count"):
        manage_history(_layout(local), SubprocessRunner(), count=0)


# --- through the adapters: real ansible-playbook (local connection) and salt-call --local ---------

@pytest.mark.slow
def test_ansible_history_module_undo_applied_twice_and_in_check_mode(site, tmp_path):
    from tests.integration.adapters import play, task_results  # pylint: disable=import-outside-toplevel
    local, all_dir = site
    prefix = str(local.prefix)
    steps = task_results(play(tmp_path, [
        {"pkgsrc.deploy.package": {"name": ["hello-1.0"], "prefix": prefix}},
        {"pkgsrc.deploy.package": {"name": ["hello"], "state": "latest", "prefix": prefix}},
    ]))
    assert all(s["changed"] and not s.get("failed") for s in steps), steps
    assert steps[1]["saved"] == ["hello-1.0"] and steps[1]["transaction"] == 2
    remove_packages(all_dir, ["hello-1.0"])

    task = {"pkgsrc.deploy.history": {"undo": True, "prefix": prefix}}
    tree = tree_hash(local.root / "opt")
    checked = task_results(play(tmp_path, [task], check=True, diff=True))[0]
    assert checked["changed"] and not checked.get("failed"), checked
    assert "hello-1.0" in checked["diff"]["after"] and "hello-1.1" in checked["diff"]["before"]
    assert checked["rollback"]["installs"][0]["from"] == "saved"
    assert tree_hash(local.root / "opt") == tree, "check mode wrote something"

    first = task_results(play(tmp_path, [task]))[0]
    assert first["changed"] and not first.get("failed"), first
    assert "hello-1.0" in pkgset(local) and first["transaction"] == 3
    second = task_results(play(tmp_path, [task]))[0]
    assert not second["changed"] and not second.get("failed"), second

    listed = task_results(play(tmp_path, [{"pkgsrc.deploy.history": {"prefix": prefix, "count": 2}}]))[0]
    assert [t["id"] for t in listed["transactions"]] == [3, 2]
    newest = listed["transactions"][0]
    assert newest["kind"] == "rollback" and newest["actor"]["tool"] == "ansible" and newest["outcome"] == "ok"

    bad = task_results(play(tmp_path, [{"pkgsrc.deploy.history": {"prefix": prefix, "rollback": 99}}]))[0]
    assert bad["failed"] and "no transaction 99" in bad["msg"] and "Traceback" not in bad["msg"]


@pytest.mark.slow
def test_salt_rolled_back_state_and_history_function(site, tmp_path):
    from tests.integration.adapters import salt_call, salt_config, sls  # pylint: disable=import-outside-toplevel
    local, all_dir = site
    prefix = str(local.prefix)
    conf = salt_config(tmp_path)
    assert salt_call(conf, "pkgsrc.manage", '["hello-1.0"]', "prefix=" + prefix)["rc"] == 0
    up = salt_call(conf, "pkgsrc.manage", '["hello"]', "state=latest", "prefix=" + prefix)
    assert up["rc"] == 0 and up["local"]["saved"] == ["hello-1.0"], up
    remove_packages(all_dir, ["hello-1.0"])
    sls(conf, "back", """
        back before the upgrade:
          pkgsrc.rolled_back:
            - undo: true
            - prefix: %s
        """ % prefix)
    tree = tree_hash(local.root / "opt")
    planned = salt_call(conf, "state.apply", "back", test=True)
    state = next(iter(planned["local"].values()))
    assert state["result"] is None and "would downgrade hello-1.1 -> hello-1.0" in state["comment"], state
    assert tree_hash(local.root / "opt") == tree, "test=True wrote something"

    applied = next(iter(salt_call(conf, "state.apply", "back")["local"].values()))
    assert applied["result"] is True and applied["changes"]["rolled_back"] == 2, applied
    assert "hello-1.0" in pkgset(local) and "hello-1.1" not in pkgset(local)
    again = next(iter(salt_call(conf, "state.apply", "back")["local"].values()))
    assert again["result"] is True and again["changes"] == {}, again

    listed = salt_call(conf, "pkgsrc.history", "count=1", "prefix=" + prefix)
    assert listed["rc"] == 0
    newest = listed["local"]["transactions"][0]
    assert newest["kind"] == "rollback" and newest["actor"]["tool"] == "salt" and newest["saved"] == ["hello-1.1"]
    # the same core call as the Ansible module: the same record fields
    assert set(newest) == set(records.get(_layout(local), newest["id"]).to_dict())

    with pytest.raises(AssertionError, match="no transaction 99") as err:  # salt-call exits 1 with the message
        salt_call(conf, "pkgsrc.rollback", "id=99", "prefix=" + prefix)
    assert "Traceback" not in str(err.value)
