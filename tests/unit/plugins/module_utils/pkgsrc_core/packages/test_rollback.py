"""The rollback plan and the history options, without tools: a saved store and records on disk."""
from __future__ import annotations

import hashlib
import json

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.history import records
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.history.records import Actor
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.journal import (
    HistoryOptions, controller_from_env, history_options, parse_size)
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.plan import Installed
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.rollback import (
    RollbackError, manage_history, plan_rollback, rollback_commands, target_record)
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.runner import Runner

ACTOR = Actor("ansible", "deploy")


def _layout(tmp_path):
    return Layout(prefix="/opt/pkg", pkg_dbdir="/opt/pkg/pkgdb", sysconfdir="/opt/pkg/etc",
                  varbase="/opt/pkg/var", root=str(tmp_path))


def _record(layout, before, after, kind="package"):
    txn = records.begin(layout, kind, ACTOR, {}, before)
    return txn.finish("ok", after, [])


def _save(tmp_path, pkgname):
    """A saved package as history.saved leaves it: the file and its sidecar."""
    store = tmp_path / "opt/pkg/var/db/pkgsrc-deploy/saved"
    store.mkdir(parents=True, exist_ok=True)
    data = ("package %s" % pkgname).encode()
    (store / (pkgname + ".tgz")).write_bytes(data)
    (store / (pkgname + ".json")).write_text(json.dumps({
        "pkgname": pkgname, "file": pkgname + ".tgz", "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data), "created": "2026-12-05T00:00:00Z", "md5_mismatches": []}))
    return str(store / (pkgname + ".tgz"))


def _installed(*pairs):
    return {p.rsplit("-", 1)[0]: Installed(p, auto) for p, auto in pairs}


def test_plan_downgrades_reinstalls_removes_and_fixes_flags(tmp_path):
    layout = _layout(tmp_path)
    before = [("hello-1.0", False), ("libfoo-2.0nb1", True), ("old-tool-1", False), ("pkg_install-20250417", False)]
    record = _record(layout, before, [("hello-1.1", False), ("libfoo-2.0nb1", False), ("newdep-3", True),
                                      ("pkg_install-20250417", False)])
    hello = _save(tmp_path, "hello-1.0")
    tool = _save(tmp_path, "old-tool-1")
    now = _installed(("hello-1.1", False), ("libfoo-2.0nb1", False), ("newdep-3", True),
                     ("pkg_install-20250417", False))
    plan = plan_rollback(layout, record, now, None)
    assert [(i.pkgname, i.current, i.source, i.origin) for i in plan.installs] == [
        ("hello-1.0", "hello-1.1", hello, "saved"), ("old-tool-1", None, tool, "saved")]
    assert plan.installs[0].as_dict()["action"] == "downgrade"
    assert plan.removes == ("newdep-3",)
    assert plan.set_automatic == ("libfoo-2.0nb1",)
    assert plan.unset_automatic == ("hello-1.0", "old-tool-1")
    argv = [c.argv for c in rollback_commands(plan, layout)]
    assert argv[0][1:3] == ("-U", "-D") and argv[0][-2:] == (hello, tool)
    assert argv[1][-1] == "newdep-3" and argv[2][-2:] == ("automatic=YES", "libfoo-2.0nb1")
    assert plan.summary_lines()[0] == "downgrade hello-1.1 -> hello-1.0 (from the saved package)"


def test_plan_fails_before_anything_naming_every_missing_version(tmp_path):
    layout = _layout(tmp_path)  # no repository configured, nothing saved
    record = _record(layout, [("hello-1.0", False), ("libfoo-1.0", True)], [("hello-1.1", False), ("libfoo-2.0", True)])
    now = _installed(("hello-1.1", False), ("libfoo-2.0", True))
    with pytest.raises(RollbackError) as err:
        plan_rollback(layout, record, now, None)
    assert "hello-1.0, libfoo-1.0 are in neither" in str(err.value) and "nothing was changed" in str(err.value)


def test_nothing_to_do_when_the_prefix_already_holds_the_set(tmp_path):
    layout = _layout(tmp_path)
    record = _record(layout, [("hello-1.0", False)], [("hello-1.1", False)])
    assert not plan_rollback(layout, record, _installed(("hello-1.0", False)), None).changed


def test_undo_takes_the_newest_package_change_that_is_not_a_rollback(tmp_path):
    layout = _layout(tmp_path)
    first = _record(layout, [], [("hello-1.0", False)])
    _record(layout, [("hello-1.0", False)], [("hello-1.0", False)], kind="repository")  # no package change
    _record(layout, [("hello-1.0", False)], [], kind="rollback")
    assert target_record(layout, None, True).id == first.id
    assert target_record(layout, 2, False).id == 2
    with pytest.raises(RollbackError, match="not both"):
        target_record(layout, 1, True)
    with pytest.raises(RollbackError, match="not neither"):
        target_record(layout, None, False)


def test_a_bootstrap_is_not_rolled_back_to_nothing(tmp_path):
    layout = _layout(tmp_path)
    record = _record(layout, [], [("pkg_install-20250417", False), ("pkgin-26.4", False)], kind="bootstrap")
    with pytest.raises(RollbackError, match="remove pkgsrc itself"):
        plan_rollback(layout, record, _installed(("pkg_install-20250417", False), ("pkgin-26.4", False)), None)


def test_manage_history_lists_newest_first_and_checks_its_arguments(tmp_path):
    layout = _layout(tmp_path)
    for version in ("1.0", "1.1", "1.2"):
        _record(layout, [], [("hello-" + version, False)])
    listed = manage_history(layout, Runner(), count=2)
    assert [t["id"] for t in listed["transactions"]] == [3, 2] and not listed["changed"]
    for bad in ({"count": 0}, {"count": True}, {"rollback_id": 0}, {"rollback_id": "3"}):
        with pytest.raises(PkgsrcError):
            manage_history(layout, Runner(), **bad)


@pytest.mark.parametrize("text, size", [("500M", 500 * 2 ** 20), ("2G", 2 * 2 ** 30), ("1.5g", int(1.5 * 2 ** 30)),
                                        ("10KiB", 10240), ("7", 7), (1000, 1000), (None, None), ("", None),
                                        ("3MB", 3 * 2 ** 20)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["x", "-1M", "M", "1X", "1 M", True, -3])
def test_parse_size_refuses(text):
    with pytest.raises(PkgsrcError, match="not a size"):
        parse_size(text)


def test_history_options_from_adapter_parameters():
    options = history_options("salt", {"history_keep": 10, "save_packages": False, "saved_keep": 2,
                                       "saved_max_size": "1M", "name": ["ignored"]}, "master.example.org")
    assert options == HistoryOptions(Actor.current("salt", "master.example.org"), keep=10, save=False,
                                     saved_transactions=2, saved_max_bytes=2 ** 20)
    defaults = history_options("ansible", {"history_keep": None})
    assert defaults.keep == records.DEFAULT_KEEP and defaults.save and defaults.saved_transactions == 5
    for bad in ({"history_keep": 0}, {"history_keep": "many"}, {"saved_keep": -1}, {"saved_max_size": "lots"}):
        with pytest.raises(PkgsrcError):
            history_options("ansible", bad)


def test_controller_from_ssh_client():
    assert controller_from_env({"SSH_CLIENT": "10.213.0.1 52314 22"}) == "10.213.0.1"
    assert controller_from_env({}) is None and controller_from_env({"SSH_CLIENT": " "}) is None
