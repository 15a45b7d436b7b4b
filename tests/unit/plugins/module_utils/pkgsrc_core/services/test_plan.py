"""The pure planner, per init system: (desired, current) -> ordered actions; then apply and ensure."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import ServiceError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.services.base import (
    ServiceManager, ServiceRef, ServiceRequest, ServiceStatus, apply, ensure, plan_service)

NEW = "new definition\n"
OLD = "old definition\n"
REF = ServiceRef(name="demo", ident="demo-ident", path="/etc/x/demo")


def request(definition=NEW, present=True, enabled=None, state=None):
    return ServiceRequest(name="demo", ident="demo-ident", definition=definition, source="rendered",
                          present=present, enabled=enabled, state=state)


def current(kind, definition=None, loaded=False, enabled=False, running=False, stale=False, state=""):
    return ServiceStatus(kind=kind, ref=REF, definition=definition, loaded=loaded, enabled=enabled,
                         running=running, stale=stale, state=state)


FRESH = {}
SAME_RUNNING = {"definition": NEW, "loaded": True, "enabled": True, "running": True}
SAME_STOPPED = {"definition": NEW, "loaded": True, "enabled": True, "running": False}
OLD_RUNNING = {"definition": OLD, "loaded": True, "enabled": True, "running": True}
OLD_STOPPED = {"definition": OLD, "loaded": True, "enabled": True, "running": False}
NO_OVERRIDE = {"enabled": True}  # launchd: a job nobody disabled is enabled, plist or not

# (kind, request kwargs, current kwargs, expected verbs)
TABLE = [
    # systemd: write, daemon-reload, enable/disable, then the run state
    ("systemd", {"enabled": True, "state": "running"}, FRESH, ("write", "register", "enable", "start")),
    ("systemd", {"enabled": True, "state": "running"}, SAME_RUNNING, ()),
    ("systemd", {"enabled": True, "state": "running"}, OLD_RUNNING, ("write", "register", "restart")),
    ("systemd", {}, OLD_RUNNING, ("write", "register", "restart")),
    ("systemd", {}, OLD_STOPPED, ("write", "register")),
    ("systemd", {}, dict(SAME_RUNNING, stale=True), ("register",)),
    ("systemd", {"state": "stopped"}, SAME_RUNNING, ("stop",)),
    ("systemd", {"state": "stopped"}, SAME_STOPPED, ()),
    ("systemd", {"state": "restarted"}, SAME_RUNNING, ("restart",)),
    ("systemd", {"state": "restarted"}, SAME_STOPPED, ("start",)),
    ("systemd", {"state": "reloaded"}, SAME_RUNNING, ("reload",)),
    ("systemd", {"state": "reloaded"}, OLD_RUNNING, ("write", "register", "restart")),
    ("systemd", {"state": "reloaded"}, SAME_STOPPED, ("start",)),
    ("systemd", {"enabled": False}, SAME_RUNNING, ("disable",)),
    ("systemd", {"enabled": True}, dict(SAME_RUNNING, enabled=None), ("enable",)),
    ("systemd", {"definition": None, "state": "running"}, dict(SAME_STOPPED, definition=None), ("start",)),
    ("systemd", {"present": False}, SAME_RUNNING, ("stop", "disable", "remove", "unregister")),
    ("systemd", {"present": False}, dict(SAME_STOPPED, enabled=False), ("remove", "unregister")),
    ("systemd", {"present": False}, FRESH, ()),
    # SMF: enable also starts it; start is `enable -t`; maintenance is not running
    ("smf", {"enabled": True, "state": "running"}, FRESH, ("write", "register", "enable")),
    ("smf", {"enabled": True}, FRESH, ("write", "register", "enable")),
    ("smf", {"state": "running"}, FRESH, ("write", "register", "start")),
    ("smf", {"enabled": True, "state": "stopped"}, FRESH, ("write", "register", "enable", "stop")),
    ("smf", {"enabled": True, "state": "running"}, dict(SAME_STOPPED, state="maintenance"), ("start",)),
    ("smf", {"enabled": True}, dict(SAME_STOPPED, state="maintenance"), ()),
    ("smf", {"enabled": True, "state": "running"}, OLD_RUNNING, ("write", "register", "restart")),
    ("smf", {"enabled": True, "state": "running"}, SAME_RUNNING, ()),
    ("smf", {"enabled": False, "state": "running"}, SAME_RUNNING, ("disable", "start")),
    ("smf", {"enabled": False, "state": "stopped"}, SAME_RUNNING, ("disable",)),
    ("smf", {"enabled": False}, OLD_RUNNING, ("write", "register", "disable")),
    ("smf", {"enabled": True, "state": "restarted"}, dict(SAME_STOPPED, enabled=False), ("enable",)),
    ("smf", {"present": False}, SAME_RUNNING, ("stop", "disable", "remove", "unregister")),
    # launchd: bootstrap starts a RunAtLoad job, bootout stops it; enable before bootstrap
    ("launchd", {"enabled": True, "state": "running"}, FRESH, ("write", "enable", "register")),
    ("launchd", {"enabled": True, "state": "running"}, NO_OVERRIDE, ("write", "register")),
    ("launchd", {"enabled": True, "state": "running"}, SAME_RUNNING, ()),
    ("launchd", {"enabled": True, "state": "running"}, OLD_RUNNING, ("write", "register")),
    ("launchd", {}, OLD_RUNNING, ("write", "register")),
    ("launchd", {"state": "stopped"}, dict(OLD_STOPPED, loaded=False), ("write",)),
    ("launchd", {}, OLD_STOPPED, ("write", "unregister")),
    ("launchd", {"state": "stopped"}, SAME_RUNNING, ("stop",)),
    ("launchd", {"state": "stopped"}, dict(SAME_STOPPED, loaded=False), ()),
    ("launchd", {"state": "running"}, SAME_STOPPED, ("start",)),
    ("launchd", {"state": "running"}, dict(SAME_STOPPED, loaded=False), ("register",)),
    ("launchd", {"enabled": False, "state": "running"}, NO_OVERRIDE, ("write", "register", "disable")),
    ("launchd", {"enabled": False}, SAME_RUNNING, ("disable",)),
    ("launchd", {"state": "restarted"}, SAME_RUNNING, ("restart",)),
    ("launchd", {"state": "restarted"}, dict(SAME_STOPPED, loaded=False), ("register",)),
    ("launchd", {"state": "reloaded"}, SAME_RUNNING, ("reload",)),
    ("launchd", {"present": False}, SAME_RUNNING, ("unregister", "remove")),
    ("launchd", {"present": False}, dict(SAME_STOPPED, loaded=False), ("remove",)),
    # rc.d: nothing to register; enable edits rc.conf
    ("rcd", {"enabled": True, "state": "running"}, FRESH, ("write", "enable", "start")),
    ("rcd", {"enabled": True, "state": "running"}, SAME_RUNNING, ()),
    ("rcd", {"enabled": True, "state": "running"}, OLD_RUNNING, ("write", "restart")),
    ("rcd", {"enabled": True, "state": "running"}, dict(SAME_STOPPED, enabled=False), ("enable", "start")),
    ("rcd", {"present": False}, SAME_RUNNING, ("stop", "disable", "remove")),
]


@pytest.mark.parametrize("kind,req,cur,expected", TABLE)
def test_plan_table(kind, req, cur, expected):
    plan = plan_service(request(**req), current(kind, **cur))
    assert plan.verbs == expected
    assert plan.changed is bool(expected)
    for act in plan.actions:
        assert act.target == (REF.path if act.verb in ("write", "remove") else REF.ident)


def test_plan_refuses_an_undefined_service():
    with pytest.raises(ServiceError, match="not defined on this host"):
        plan_service(request(definition=None, state="running"), current("systemd"))


def test_diff_of_write_and_remove():
    plan = plan_service(request(), current("systemd", **OLD_STOPPED))
    assert plan.diff == {"before": OLD, "after": NEW, "before_header": REF.path, "after_header": REF.path}
    gone = plan_service(request(present=False), current("systemd", **OLD_STOPPED))
    assert gone.diff["before"] == OLD and gone.diff["after"] == ""
    assert plan_service(request(state="restarted"), current("systemd", **SAME_RUNNING)).diff == {}
    assert plan.describe() == ["write /etc/x/demo", "register demo-ident"]


def test_request_validation():
    with pytest.raises(ServiceError, match="state 'up' is not valid"):
        request(state="up")
    with pytest.raises(ServiceError, match="enabled must be"):
        request(enabled="yes")
    with pytest.raises(ServiceError):
        ServiceRequest(name="bad name", ident="x")


class RecordingManager(ServiceManager):
    """A manager that records what apply() asks of it."""

    kind = "systemd"

    def __init__(self, status):
        super().__init__(runner=None)
        self.calls = []
        self._status = status

    def path_for(self, name, ident):
        return REF.path

    def status(self, ref, need_enabled=True):
        self.calls.append(("status", ref.ident, need_enabled))
        return self._status

    def write_definition(self, path, text, mode=None):
        self.calls.append(("write", path, text))

    def remove_definition(self, path):
        self.calls.append(("remove", path))

    def _record(self, verb, ref):
        self.calls.append((verb, ref.ident))
        return "note from %s" % verb if verb == "start" else ""

    def register(self, ref):
        return self._record("register", ref)

    def unregister(self, ref):
        return self._record("unregister", ref)

    def enable(self, ref):
        return self._record("enable", ref)

    def disable(self, ref):
        return self._record("disable", ref)

    def start(self, ref):
        return self._record("start", ref)

    def stop(self, ref):
        return self._record("stop", ref)

    def restart(self, ref):
        return self._record("restart", ref)

    def reload(self, ref):
        return self._record("reload", ref)


def test_apply_runs_actions_in_order_and_collects_notes():
    manager = RecordingManager(current("systemd"))
    plan = plan_service(request(enabled=True, state="running"), current("systemd"))
    result = apply(plan, manager)
    assert manager.calls == [("write", REF.path, NEW), ("register", "demo-ident"), ("enable", "demo-ident"),
                             ("start", "demo-ident")]
    assert result.changed and result.diff["after"] == NEW
    assert result.messages == ("write /etc/x/demo", "register demo-ident", "enable demo-ident",
                               "start demo-ident", "note from start")


def test_ensure_check_mode_stops_after_the_plan():
    manager = RecordingManager(current("systemd"))
    result = ensure(manager, request(enabled=True, state="running"), check=True)
    assert manager.calls == [("status", "demo-ident", True)]
    assert result.changed and result.messages == tuple(result.plan.describe())
    assert result.plan.verbs == ("write", "register", "enable", "start")


def test_ensure_unchanged_does_nothing():
    manager = RecordingManager(current("systemd", **SAME_RUNNING))
    result = ensure(manager, request(state="running"))
    assert manager.calls == [("status", "demo-ident", False)]
    assert not result.changed and result.diff == {} and result.messages == ()
