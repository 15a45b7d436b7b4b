"""The four managers, driven through a scripted Runner that checks every command and answers in
the real tools' formats. No process is spawned; files go to tmp_path."""
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import (
    CommandError, ServiceError, ServiceSpecError)
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.runner import Result, Runner
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.services import (
    LaunchdManager, RcdManager, ServiceRef, ServiceSpec, SmfManager, SystemdManager, ensure, manager_for, smf)

FMRI = "svc:/pkgsrc/demo:default"
SVCS = ["/usr/bin/svcs", "-H", "-o", "state,nstate,fmri", FMRI]
LISTPROP = ["/usr/sbin/svccfg", "-s", FMRI, "listprop", "general/enabled"]
UNKNOWN = (1, "", "svcs: Pattern '%s' doesn't match any instances\n" % FMRI)
MAINT_MSG = 'svcadm: Instance "%s" is in maintenance state.\n' % FMRI


def svcs_line(state, nstate="-"):
    return (0, "%-14s %-13s %s\n" % (state, nstate, FMRI), "")


class ScriptedRunner(Runner):
    """Answers each command from a script of (argv, rc, stdout, stderr), in order."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = []

    def run(self, argv, env=None, cwd=None, stdin=None):
        argv = list(argv)
        self.calls.append(argv)
        assert self.script, "unexpected command %r" % (argv,)
        expected, rc, out, err = self.script.pop(0)
        assert argv == expected, "expected %r, got %r" % (expected, argv)
        return Result(tuple(argv), rc, out, err)

    def finished(self):
        assert self.script == [], "commands never run: %r" % (self.script,)
        return True


def step(argv, answer=(0, "", "")):
    return (argv,) + tuple(answer)


def spec(**kw):
    data = {"name": "demo", "command": ["/opt/pkg/bin/demo", "-f"]}
    data.update(kw)
    return ServiceSpec(**data)


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def smf_manager(tmp_path, script, **kw):
    clock = Clock()
    runner = ScriptedRunner(script)
    manager = SmfManager(runner, manifest_dir=str(tmp_path / "site"), sleep=clock.sleep, clock=clock.time,
                         poll_interval=1.0, **kw)
    return manager, runner, clock


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------- SMF

def test_smf_register_and_enable(tmp_path):
    path = str(tmp_path / "site" / "demo.xml")
    manager, runner, _clock = smf_manager(tmp_path, [
        step(SVCS, UNKNOWN),
        step(["/usr/sbin/svccfg", "import", path]),
        step(["/usr/sbin/svcadm", "enable", "-s", FMRI]),
    ])
    result = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert runner.finished()
    assert result.changed and result.plan.verbs == ("write", "register", "enable")
    with open(path) as handle:
        assert handle.read() == smf.render(spec())
    assert mode(path) == 0o644
    assert result.diff["before"] == "" and result.diff["after_header"] == path


def test_smf_second_run_is_quiet(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "demo.xml").write_text(smf.render(spec()))
    manager, runner, _clock = smf_manager(tmp_path, [
        step(SVCS, svcs_line("online")),
        step(LISTPROP, (0, "general/enabled  boolean  true\n", "")),
    ])
    result = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert runner.finished() and not result.changed and result.messages == ()


def test_smf_maintenance_is_cleared_once(tmp_path):
    manager, runner, clock = smf_manager(tmp_path, [
        step(SVCS, UNKNOWN),
        step(["/usr/sbin/svccfg", "import", str(tmp_path / "site" / "demo.xml")]),
        step(["/usr/sbin/svcadm", "enable", "-s", FMRI], (3, "", MAINT_MSG)),
        step(SVCS, svcs_line("maintenance")),
        step(["/usr/sbin/svcadm", "clear", FMRI]),
        step(SVCS, svcs_line("offline*", "online")),
        step(SVCS, svcs_line("online")),
    ])
    result = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert runner.finished()
    assert clock.sleeps == [1.0]
    assert result.messages[-1] == "%s was in maintenance after enable; cleared once and it is online" % FMRI


def test_smf_maintenance_that_stays_names_the_log(tmp_path):
    log = "/var/svc/log/pkgsrc-demo:default.log"
    manager, runner, _clock = smf_manager(tmp_path, [
        step(SVCS, UNKNOWN),
        step(["/usr/sbin/svccfg", "import", str(tmp_path / "site" / "demo.xml")]),
        step(["/usr/sbin/svcadm", "enable", "-s", FMRI], (3, "", MAINT_MSG)),
        step(SVCS, svcs_line("maintenance")),
        step(["/usr/sbin/svcadm", "clear", FMRI]),
        step(SVCS, svcs_line("maintenance")),
        step(["/usr/bin/svcs", "-L", FMRI], (0, log + "\n", "")),
    ])
    with pytest.raises(ServiceError) as info:
        ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert runner.finished()
    assert "stayed there after one svcadm clear" in str(info.value)
    assert log in info.value.hint


def test_smf_start_of_a_service_in_maintenance(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "demo.xml").write_text(smf.render(spec()))
    manager, runner, _clock = smf_manager(tmp_path, [
        step(SVCS, svcs_line("maintenance")),
        step(["/usr/bin/svcs", "-L", FMRI], (0, "/var/svc/log/pkgsrc-demo:default.log\n", "")),
        step(["/usr/sbin/svcadm", "enable", "-s", "-t", FMRI], (3, "", MAINT_MSG)),
        step(SVCS, svcs_line("maintenance")),
        step(["/usr/sbin/svcadm", "clear", FMRI]),
        step(SVCS, svcs_line("online")),
    ])
    result = ensure(manager, manager.request(spec(), state="running"))
    assert runner.finished()
    assert result.plan.current.state == "maintenance"
    assert result.plan.current.detail == "/var/svc/log/pkgsrc-demo:default.log"
    assert result.plan.verbs == ("start",)


def test_smf_transitional_state_is_waited_for(tmp_path):
    manager, runner, clock = smf_manager(tmp_path, [
        step(SVCS, svcs_line("online*", "online")),
        step(SVCS, svcs_line("online*", "online")),
        step(SVCS, svcs_line("online")),
        step(LISTPROP, (0, "general/enabled  boolean  true\n", "")),
    ])
    status = manager.status(manager.ref("demo", FMRI))
    assert runner.finished()
    assert (status.running, status.state, status.enabled, status.loaded) == (True, "online", True, True)
    assert clock.sleeps == [1.0, 1.0]


def test_smf_transition_that_never_settles(tmp_path):
    manager, _runner, _clock = smf_manager(tmp_path, [step(SVCS, svcs_line("offline*", "online"))] * 4,
                                           wait_timeout=3.0)
    with pytest.raises(ServiceError, match="still changing state"):
        manager.status(manager.ref("demo", FMRI))


def test_smf_changed_definition_is_reimported_and_restarted(tmp_path):
    (tmp_path / "site").mkdir()
    path = tmp_path / "site" / "demo.xml"
    path.write_text(smf.render(spec(command=["/opt/pkg/bin/demo", "--old"])))
    manager, runner, clock = smf_manager(tmp_path, [
        step(SVCS, svcs_line("online")),
        step(LISTPROP, (0, "general/enabled  boolean  true\n", "")),
        step(["/usr/sbin/svccfg", "import", str(path)]),
        step(["/usr/sbin/svcadm", "restart", FMRI]),
        step(SVCS, svcs_line("online*", "online")),
        step(SVCS, svcs_line("online")),
    ])
    result = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert runner.finished()
    assert result.plan.verbs == ("write", "register", "restart")
    assert "--old" in result.diff["before"] and "--old" not in result.diff["after"]
    assert path.read_text() == smf.render(spec()) and clock.sleeps == [1.0]


def test_smf_unsatisfied_dependencies(tmp_path):
    manager, runner, _clock = smf_manager(tmp_path, [
        step(["/usr/sbin/svcadm", "enable", "-s", FMRI],
             (4, "", 'svcadm: Instance "%s" has unsatisfied dependencies.\n' % FMRI)),
    ])
    with pytest.raises(ServiceError, match="dependencies are not satisfied"):
        manager.enable(manager.ref("demo", FMRI))
    assert runner.finished()


def test_smf_import_failure_and_other_errors(tmp_path):
    manager, runner, _clock = smf_manager(tmp_path, [
        step(["/usr/sbin/svccfg", "import", "/x.xml"], (1, "", "svccfg: Document is not valid.\n")),
        step(SVCS, (1, "", "svcs: Could not bind to repository server: repository server unavailable.\n")),
        step(["/usr/sbin/svccfg", "delete", "svc:/pkgsrc/demo"]),
        step(["/usr/sbin/svcadm", "disable", "-s", "-t", FMRI]),
    ])
    with pytest.raises(ServiceError, match="Document is not valid"):
        manager.register(ServiceRef(name="demo", ident=FMRI, path="/x.xml"))
    with pytest.raises(CommandError, match="repository server unavailable"):
        manager.status(manager.ref("demo", FMRI))
    assert manager.unregister(manager.ref("demo", FMRI)) == ""
    assert manager.stop(manager.ref("demo", FMRI)) == ""
    assert runner.finished()


def test_smf_remove(tmp_path):
    (tmp_path / "site").mkdir()
    path = tmp_path / "site" / "demo.xml"
    path.write_text(smf.render(spec()))
    manager, runner, _clock = smf_manager(tmp_path, [
        step(SVCS, svcs_line("online")),
        step(LISTPROP, (0, "general/enabled  boolean  true\n", "")),
        step(["/usr/sbin/svcadm", "disable", "-s", "-t", FMRI]),
        step(["/usr/sbin/svcadm", "disable", "-s", FMRI]),
        step(["/usr/sbin/svccfg", "delete", "svc:/pkgsrc/demo"]),
    ])
    result = ensure(manager, manager.request(spec(), present=False))
    assert runner.finished() and not path.exists()
    assert result.plan.verbs == ("stop", "disable", "remove", "unregister")


def test_smf_package_manifest(tmp_path):
    prefix = tmp_path / "opt" / "local"
    shipped = prefix / "share" / "smf" / "svc-demo" / "manifest.xml"
    shipped.parent.mkdir(parents=True)
    shipped.write_text(smf.render(spec(name="svc-demo")))
    manager, _runner, _clock = smf_manager(tmp_path, [])
    req = manager.request_from_package(str(prefix), "svc-demo", enabled=True)
    assert (req.ident, req.source, req.definition) == ("svc:/pkgsrc/svc-demo:default", str(shipped),
                                                       shipped.read_text())
    first = prefix / "lib" / "svc" / "manifest" / "svc-demo.xml"
    first.parent.mkdir(parents=True)
    first.write_text(smf.render(spec(name="svc-demo", smf_fmri="svc:/site/svc-demo")))
    assert manager.request_from_package(str(prefix), "svc-demo").ident == "svc:/site/svc-demo:default"
    with pytest.raises(ServiceError) as info:
        manager.request_from_package(str(prefix), "other")
    assert "lib/svc/manifest/other.xml" in info.value.hint


# ---------------------------------------------------------------- systemd

SHOW = ["/bin/systemctl", "show", "--property=LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload",
        "demo.service"]
NOT_FOUND = "LoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nNeedDaemonReload=no\n"
RUNNING = "NeedDaemonReload=no\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n"


def test_systemd_fresh_then_quiet(tmp_path):
    unit_dir = tmp_path / "system"
    runner = ScriptedRunner([
        step(SHOW, (0, NOT_FOUND, "")),
        step(["/bin/systemctl", "daemon-reload"]),
        step(["/bin/systemctl", "enable", "demo.service"]),
        step(["/bin/systemctl", "start", "demo.service"]),
        step(SHOW, (0, RUNNING, "")),
    ])
    manager = SystemdManager(runner, unit_dir=str(unit_dir))
    first = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    second = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert runner.finished()
    assert first.plan.verbs == ("write", "register", "enable", "start") and not second.changed
    assert mode(unit_dir / "demo.service") == 0o644


def test_systemd_user_scope(tmp_path):
    runner = ScriptedRunner([
        step(["/usr/bin/systemctl", "--user"] + SHOW[1:], (0, RUNNING.replace("NeedDaemonReload=no",
                                                                              "NeedDaemonReload=yes"), "")),
        step(["/usr/bin/systemctl", "--user", "daemon-reload"]),
    ])
    manager = SystemdManager(runner, systemctl="/usr/bin/systemctl", scope="user", home=str(tmp_path))
    assert manager.unit_dir == str(tmp_path / ".config" / "systemd" / "user")
    (tmp_path / ".config" / "systemd" / "user").mkdir(parents=True)
    (tmp_path / ".config" / "systemd" / "user" / "demo.service").write_text(
        manager.render(spec(scope="user")))
    result = ensure(manager, manager.request(spec(scope="user")))
    assert runner.finished() and result.plan.verbs == ("register",)
    with pytest.raises(ServiceSpecError, match="scope"):
        manager.render(spec())


def test_systemd_failures_say_where_to_look(tmp_path):
    runner = ScriptedRunner([
        step(["/bin/systemctl", "start", "demo.service"],
             (1, "", "Job for demo.service failed because the control process exited with error code.\n")),
        step(SHOW, (1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\n")),
    ])
    manager = SystemdManager(runner, unit_dir=str(tmp_path))
    with pytest.raises(ServiceError) as info:
        manager.start(manager.ref("demo", "demo.service"))
    assert "control process exited" in str(info.value) and "journalctl -u demo.service" in info.value.hint
    with pytest.raises(ServiceError) as info:
        manager.status(manager.ref("demo", "demo.service"))
    assert "systemd the init system" in info.value.hint
    assert runner.finished()


def test_systemd_package_unit(tmp_path):
    prefix = tmp_path / "usr" / "pkg"
    unit = prefix / "lib" / "systemd" / "system" / "svc-demo.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Unit]\nDescription=svc-demo\n\n[Service]\nExecStart=/usr/pkg/bin/svc-demo\n")
    manager = SystemdManager(ScriptedRunner([]), unit_dir=str(tmp_path / "etc"))
    req = manager.request_from_package(str(prefix), "svc-demo", state="running")
    assert (req.ident, req.source) == ("svc-demo.service", str(unit))
    assert manager.path_for(req.name, req.ident) == str(tmp_path / "etc" / "svc-demo.service")
    unit.write_text("not a unit\n")
    with pytest.raises(ServiceError, match="not a systemd service unit"):
        manager.request_from_package(str(prefix), "svc-demo")


# ---------------------------------------------------------------- launchd

LABEL = "org.pkgsrc.demo"
PRINT_RUNNING = """system/org.pkgsrc.demo = {
\tactive count = 1
\tpath = /Library/LaunchDaemons/org.pkgsrc.demo.plist
\ttype = LaunchDaemon
\tstate = running

\tprogram = /opt/pkg/bin/demo
\targuments = {
\t\t/opt/pkg/bin/demo
\t\t-f
\t}

\tdefault environment = {
\t\tPATH => /usr/bin:/bin:/usr/sbin:/sbin
\t}

\tdomain = system
\tminimum runtime = 10
\texit timeout = 60
\truns = 1
\tpid = 412
\tlast exit code = (never exited)

\tspawn type = daemon (3)
\tproperties = keepalive | runatload | inferred program
}
"""
PRINT_DISABLED = """disabled services = {
\t"com.apple.ftpd" => disabled
\t"org.pkgsrc.other" => true
\t"org.pkgsrc.demo" => %s
}
login item associations = {
}
"""
NOT_LOADED = (113, "", 'Could not find service "org.pkgsrc.demo" in domain for system\n')
BOOTOUT_NOT_LOADED = (113, "", "Boot-out failed: 113: Could not find specified service\n")


def test_launchd_status_parsing(tmp_path):
    runner = ScriptedRunner([
        step(["/bin/launchctl", "print", "system/" + LABEL], (0, PRINT_RUNNING, "")),
        step(["/bin/launchctl", "print-disabled", "system"], (0, PRINT_DISABLED % "enabled", "")),
        step(["/bin/launchctl", "print", "system/" + LABEL], NOT_LOADED),
        step(["/bin/launchctl", "print-disabled", "system"], (0, PRINT_DISABLED % "disabled", "")),
    ])
    manager = LaunchdManager(runner, plist_dir=str(tmp_path))
    ref = manager.ref("demo", LABEL)
    assert ref.path == str(tmp_path / (LABEL + ".plist"))
    up = manager.status(ref)
    assert (up.loaded, up.running, up.enabled, up.state, up.detail) == (True, True, True, "running", "pid 412")
    down = manager.status(ref)
    assert (down.loaded, down.running, down.enabled, down.state) == (False, False, False, "not loaded")
    assert runner.finished()


def test_launchd_fresh_install_and_restart_on_change(tmp_path):
    target = "system/" + LABEL
    path = str(tmp_path / (LABEL + ".plist"))
    runner = ScriptedRunner([
        step(["/bin/launchctl", "print", target], NOT_LOADED),
        step(["/bin/launchctl", "print-disabled", "system"], (0, "disabled services = {\n}\n", "")),
        step(["/bin/launchctl", "bootout", target], BOOTOUT_NOT_LOADED),
        step(["/bin/launchctl", "bootstrap", "system", path]),
        step(["/bin/launchctl", "print", target], (0, PRINT_RUNNING, "")),
        step(["/bin/launchctl", "bootout", target]),
        step(["/bin/launchctl", "bootstrap", "system", path]),
    ])
    manager = LaunchdManager(runner, plist_dir=str(tmp_path))
    first = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    second = ensure(manager, manager.request(spec(env={"NEW": "1"}), state="running"))
    assert runner.finished()
    assert first.plan.verbs == ("write", "register") and second.plan.verbs == ("write", "register")
    assert mode(path) == 0o644


def test_launchd_bootstrap_failure(tmp_path):
    target = "system/" + LABEL
    runner = ScriptedRunner([
        step(["/bin/launchctl", "bootout", target], NOT_LOADED),
        step(["/bin/launchctl", "bootstrap", "system", "/p.plist"],
             (5, "", "Bootstrap failed: 5: Input/output error\n")),
    ])
    manager = LaunchdManager(runner, plist_dir=str(tmp_path))
    with pytest.raises(ServiceError) as info:
        manager.register(ServiceRef(name="demo", ident=LABEL, path="/p.plist"))
    assert "Input/output error" in str(info.value) and "plutil -lint" in info.value.hint
    assert runner.finished()


def test_launchd_user_domain_and_verbs(tmp_path):
    target = "gui/501/" + LABEL
    runner = ScriptedRunner([
        step(["/bin/launchctl", "kickstart", "-k", target]),
        step(["/bin/launchctl", "kill", "SIGHUP", target]),
        step(["/bin/launchctl", "disable", target]),
        step(["/bin/launchctl", "bootout", target]),
    ])
    manager = LaunchdManager(runner, scope="user", uid=501, home=str(tmp_path))
    ref = manager.ref("demo", LABEL)
    assert ref.path == str(tmp_path / "Library" / "LaunchAgents" / (LABEL + ".plist"))
    for verb in ("restart", "reload", "disable", "stop"):
        assert getattr(manager, verb)(ref) == ""
    assert runner.finished()


# ---------------------------------------------------------------- rc.d

def test_rcd_enable_start_and_idempotence(tmp_path):
    rc_conf = tmp_path / "rc.conf"
    rc_conf.write_text("rc_configured=YES\ndemo=NO\n")
    os.chmod(rc_conf, 0o600)
    runner = ScriptedRunner([
        step(["/usr/sbin/service", "demo", "onestart"], (0, "Starting demo.\n", "")),
        step(["/usr/sbin/service", "demo", "onestatus"], (0, "demo is running as pid 812.\n", "")),
    ])
    manager = RcdManager(runner, rc_dir=str(tmp_path / "rc.d"), rc_conf=str(rc_conf))
    first = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert first.plan.verbs == ("write", "enable", "start")
    assert "%s: demo=YES" % rc_conf in first.messages
    assert rc_conf.read_text() == "rc_configured=YES\ndemo=YES\n" and mode(rc_conf) == 0o600
    assert mode(tmp_path / "rc.d" / "demo") == 0o755
    second = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert not second.changed and runner.finished()


def test_rcd_without_service_command_and_failures(tmp_path):
    script = str(tmp_path / "demo")
    runner = ScriptedRunner([
        step([script, "onestop"], (1, "", "demo not running? (check /var/run/demo.pid).\n")),
    ])
    manager = RcdManager(runner, rc_dir=str(tmp_path), rc_conf=str(tmp_path / "rc.conf"), service=None)
    with pytest.raises(ServiceError) as info:
        manager.stop(manager.ref("demo", "demo"))
    assert "not running?" in str(info.value) and script in info.value.hint
    assert runner.finished()


def test_rcd_package_example(tmp_path):
    example = tmp_path / "pkg" / "share" / "examples" / "rc.d" / "nginx"
    example.parent.mkdir(parents=True)
    example.write_text('#!/bin/sh\n$_rc_subr_loaded . /etc/rc.subr\nname="nginx"\nrcvar=$name\n'
                       'command="/usr/pkg/sbin/nginx"\nload_rc_config $name\nrun_rc_command "$1"\n')
    manager = RcdManager(ScriptedRunner([]), rc_dir=str(tmp_path / "etc"), rc_conf=str(tmp_path / "rc.conf"))
    req = manager.request_from_package(str(tmp_path / "pkg"), "nginx", enabled=True)
    assert (req.ident, req.definition) == ("nginx", example.read_text())


# ---------------------------------------------------------------- factory

def test_manager_for():
    runner = ScriptedRunner([])
    assert isinstance(manager_for("smf", runner, svcs="/x/svcs"), SmfManager)
    assert manager_for("systemd", runner, scope="user", home="/h").unit_dir == "/h/.config/systemd/user"
    with pytest.raises(ServiceError, match="supported: launchd, rcd, smf, systemd"):
        manager_for("upstart", runner)
