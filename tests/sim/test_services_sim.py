"""The service managers against the stand-in tools, and the renderers against real validators.

- Every rendered SMF manifest is checked with `xmllint --dtdvalid service_bundle.dtd.1`.
- Every rendered unit with `systemd-analyze verify`; with SYSTEMD_LOG_LEVEL=debug it also dumps
  the unit as systemd parsed it, so the argv and environment systemd would use are compared
  with the spec's (hostile values included).
- Every rc.d script with `sh -n`, and run with a minimal rc.subr so the program it starts
  can report the argv, environment and directory it really received.
- Manifests and plists with hostile values are run by the svcadm/launchctl stand-ins (which
  run methods as svc.startd does: /bin/sh -c "exec <exec>") with the same check.
- SmfManager and LaunchdManager drive the stand-in executables through SubprocessRunner:
  register, enable -s, maintenance -> one clear -> error naming the log, transitions,
  re-import and restart on change, removal, check mode.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from pkgsrc_core.errors import ServiceError
from pkgsrc_core.services import ensure, rcd, smf, systemd
from tests.sim.svc_support import FMRI, Tools, alive, spec, wait_for

HOSTILE = [
    "single ' quote", 'double " quote', "<tag a=\"b\"> & &amp;", "$(touch {marker})", "`touch {marker}`",
    "${{HOME}} $HOME $$", "100% %n %f %%", "back\\slash end\\", "semi ; && | > {marker}", "unicode \u00e9",
    "", "  spaced  ", "-dash",
]


def needs(tool):
    return pytest.mark.skipif(shutil.which(tool) is None, reason="%s is not installed" % tool)


def recorder(root: Path) -> str:
    """A program that writes its argv (NUL-separated), $HOSTILE and its directory under $REC_DIR."""
    path = root / "recorder"
    path.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\0" "$a"; done > "$REC_DIR/args.tmp"\n'
                    'printf "%s" "$HOSTILE" > "$REC_DIR/env"\npwd > "$REC_DIR/cwd"\n'
                    'mv "$REC_DIR/args.tmp" "$REC_DIR/args"\n')
    path.chmod(0o755)
    return str(path)


def recorded(rec_dir: Path):
    assert wait_for((rec_dir / "args").exists), "the program never ran"
    args = (rec_dir / "args").read_text().split("\0")[:-1]
    return args, (rec_dir / "env").read_text(), (rec_dir / "cwd").read_text().strip()


def hostile_specs(root: Path):
    marker = root / "pwned"
    out = []
    for i, template in enumerate(HOSTILE):
        value = template.format(marker=marker)
        rec_dir = root / ("rec%d" % i)
        rec_dir.mkdir()
        out.append((value, rec_dir))
    return marker, out


SPECS = {
    "minimal": {},
    "full": {"user": "daemon", "group": "daemon", "working_dir": "/tmp", "env": {"LANG": "C", "X_1": "a b"},
             "stop_command": ["/bin/kill", "-TERM", "0"], "reload_command": ["/bin/kill", "-HUP", "0"],
             "network": True, "depends_on": ["db"], "start_timeout": 0, "stop_timeout": 5,
             "log_file": "/var/log/demo.log", "restart": "always"},
    "forking": {"forks": True, "pid_file": "/run/demo.pid", "filesystems": False},
    "hostile": {"description": "<&> \"quoted\" 'single' $(x) 100%", "env": {"H": "$(touch /x) `y` <z> & 'q' \"d\""},
                "command": ["/bin/echo", "'", '"', "$(touch /x)", "%n", "\\", "<&>", ";"], "working_dir": "/tmp/a b"},
}


# ---------------------------------------------------------------- real validators

@needs("xmllint")
@pytest.mark.parametrize("name", sorted(SPECS))
def test_manifests_are_dtd_valid(tmp_path, dtd, name):
    kw = dict(SPECS[name])
    if name == "full":
        kw.pop("restart")
    path = tmp_path / "m.xml"
    path.write_text(smf.render(spec(**kw)))
    out = subprocess.run(["xmllint", "--noout", "--nonet", "--dtdvalid", str(dtd), str(path)], capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "validity error" not in out.stderr


@needs("xmllint")
def test_hostile_manifests_are_dtd_valid(tmp_path, dtd):
    _marker, cases = hostile_specs(tmp_path)
    for i, (value, _rec) in enumerate(cases):
        path = tmp_path / ("h%d.xml" % i)
        path.write_text(smf.render(spec(command=["/bin/echo", value], env={"V": value},
                                        description=value.strip().rstrip("\\") or "d", working_dir="/tmp")))
        out = subprocess.run(["xmllint", "--noout", "--nonet", "--dtdvalid", str(dtd), str(path)],
                             capture_output=True, text=True, check=False)
        assert out.returncode == 0, (value, out.stderr)


def systemd_dump(tmp_path: Path, text: str, name: str = "demo.service"):
    """Run systemd-analyze verify on a unit (plus stub units it depends on); return its debug dump."""
    (tmp_path / "db.service").write_text("[Service]\nExecStart=/bin/true\n")
    unit = tmp_path / name
    unit.write_text(text)
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="debug", SYSTEMD_LOG_COLOR="0")
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, env=env,
                         cwd=str(tmp_path), check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    problems = [line for line in out.stderr.splitlines() if line.startswith(str(unit) + ":")]
    assert problems == [], problems
    assert "Command Line: " in out.stdout, "systemd-analyze printed no unit dump"
    return out.stdout


def display_words(text: str):
    """Undo systemd's display quoting (shell_maybe_quote): "..." with \\ before \\ " ` $, else bare words."""
    words, i = [], 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        word = []
        if text[i] == '"':
            i += 1
            while text[i] != '"':
                if text[i] == "\\":
                    i += 1
                word.append(text[i])
                i += 1
            i += 1
        else:
            while i < len(text) and text[i] != " ":
                word.append(text[i])
                i += 1
        words.append("".join(word))
    return words


def dumped_commands(dump: str):
    """argv lists from the 'Command Line:' lines, with $$ expanded to $ as systemd does when it executes."""
    return [[w.replace("$$", "$") for w in display_words(line.split("Command Line: ", 1)[1])]
            for line in dump.splitlines() if "Command Line: " in line]


def dumped(dump: str, key: str):
    prefix = "%s: " % key
    return [line.lstrip()[len(prefix):] for line in dump.splitlines() if line.lstrip().startswith(prefix)]


@needs("systemd-analyze")
@pytest.mark.parametrize("name", sorted(SPECS))
def test_units_pass_systemd_analyze(tmp_path, name):
    kw = dict(SPECS[name])
    if name == "hostile":
        kw["working_dir"] = "/tmp"
    if name == "full":
        kw["stop_command"] = ["/bin/kill", "-TERM", "$MAINPID"]
    s = spec(**kw)
    dump = systemd_dump(tmp_path, systemd.render(s))
    commands = dumped_commands(dump)
    assert commands[0] == list(s.command)
    if s.stop_command:
        assert list(s.stop_command) in commands
    assert dumped(dump, "Environment") == ["%s=%s" % kv for kv in s.env.items()]
    assert dumped(dump, "Description") == [s.title]


@needs("systemd-analyze")
def test_hostile_units_parse_back_exactly(tmp_path):
    _marker, cases = hostile_specs(tmp_path)
    for i, (value, _rec) in enumerate(cases):
        s = spec(command=["/bin/echo", value, "x" + value], env={"V": value},
                 description=value.strip().rstrip("\\") or "d")
        work = tmp_path / ("u%d" % i)
        work.mkdir()
        dump = systemd_dump(work, systemd.render(s))
        assert dumped_commands(dump) == [list(s.command)], value
        assert dumped(dump, "Environment") == ["V=" + value]
        assert dumped(dump, "Description") == [s.title]


@needs("systemd-analyze")
def test_user_unit_passes_systemd_analyze(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    unit = tmp_path / "demo.service"
    unit.write_text(systemd.render(spec(scope="user", network=True)))
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    out = subprocess.run(["systemd-analyze", "--user", "verify", str(unit)], capture_output=True, text=True, env=env,
                         check=False)
    assert out.returncode == 0 and str(unit) not in out.stderr, out.stderr


FAKE_RC_SUBR = """# minimal rc.subr for tests: runs ${1}_cmd like rc.subr does for a custom method
load_rc_config() { :; }
wait_for_pids() { :; }
run_rc_command() {
\trc_pid=
\tpidfile="$TEST_PIDFILE"
\teval _cmd=\\$${1}_cmd
\t$_cmd
}
"""


def run_rcd(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    subr = tmp_path / "rc.subr"
    subr.write_text(FAKE_RC_SUBR)
    script = tmp_path / "script"
    assert text.count("$_rc_subr_loaded . /etc/rc.subr") == 1
    script.write_text(text.replace("$_rc_subr_loaded . /etc/rc.subr", ". %s" % shlex.quote(str(subr))))
    env = {"PATH": "/usr/bin:/bin", "TEST_PIDFILE": str(tmp_path / "pid")}
    return subprocess.run(["/bin/sh", str(script), "start"], capture_output=True, text=True, env=env, timeout=30,
                          check=False)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_rcd_scripts_pass_sh_n(tmp_path, name):
    path = tmp_path / "script"
    path.write_text(rcd.render(spec(**SPECS[name])))
    for shell in ("/bin/sh", "/bin/dash", "/bin/bash"):
        if os.path.exists(shell):
            out = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, check=False)
            assert (out.returncode, out.stderr) == (0, ""), shell


def test_rcd_script_starts_exactly_the_spec(tmp_path):
    marker, cases = hostile_specs(tmp_path)
    program = recorder(tmp_path)
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    for value, rec_dir in cases:
        s = spec(command=[program, value, "--x=" + value], env={"REC_DIR": str(rec_dir), "HOSTILE": value},
                 working_dir=str(workdir), description=value.strip().rstrip("\\") or "d")
        out = run_rcd(rec_dir, rcd.render(s))
        assert out.returncode == 0, out.stderr
        assert out.stdout == "Starting demo.\n"
        assert recorded(rec_dir) == ([value, "--x=" + value], value, str(workdir))
        pid = int((rec_dir / "pid").read_text())
        assert pid > 0
    assert not marker.exists()


@pytest.mark.slow
def test_smf_methods_receive_exactly_the_spec(tools):
    marker, cases = hostile_specs(tools.root)
    program = recorder(tools.root)
    manager = tools.smf()
    for value, rec_dir in cases:
        s = spec(command=[program, value, "%s" + value], env={"REC_DIR": str(rec_dir), "HOSTILE": value},
                 working_dir=str(tools.root), forks=True)
        result = ensure(manager, manager.request(s, enabled=True, state="running"))
        assert result.changed
        assert recorded(rec_dir) == ([value, "%s" + value], value, str(tools.root))
    assert not marker.exists()


@pytest.mark.slow
def test_launchd_jobs_receive_exactly_the_spec(tools):
    marker, cases = hostile_specs(tools.root)
    program = recorder(tools.root)
    manager = tools.launchd()
    for value, rec_dir in cases:
        s = spec(command=[program, value], env={"REC_DIR": str(rec_dir), "HOSTILE": value}, working_dir="/tmp",
                 restart="no")
        ensure(manager, manager.request(s, state="running"))
        assert recorded(rec_dir) == ([value], value, "/tmp")
    assert not marker.exists()


# ---------------------------------------------------------------- SmfManager with the stand-ins

def test_smf_register_enable_and_second_run(tools):
    manager = tools.smf()
    first = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert first.changed and first.plan.verbs == ("write", "register", "enable")
    path = tools.root / "manifests" / "demo.xml"
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert tools.calls() == [["svcs", "-H", "-o", "state,nstate,fmri", FMRI],
                             ["svccfg", "import", str(path)],
                             ["svcadm", "enable", "-s", FMRI]]
    status = manager.status(manager.ref("demo", FMRI))
    assert (status.state, status.running, status.enabled) == ("online", True, True)
    second = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert not second.changed and second.messages == ()
    assert tools.calls()[-2:] == [["svcs", "-H", "-o", "state,nstate,fmri", FMRI],
                                  ["svccfg", "-s", FMRI, "listprop", "general/enabled"]]


def test_smf_check_mode_changes_nothing(tools):
    manager = tools.smf()
    result = ensure(manager, manager.request(spec(), enabled=True, state="running"), check=True)
    assert result.changed and result.messages == (
        "write %s" % (tools.root / "manifests" / "demo.xml"), "register " + FMRI, "enable " + FMRI)
    assert not (tools.root / "manifests").exists()
    assert [c[0] for c in tools.calls()] == ["svcs"]


def test_smf_maintenance_cleared_once_then_error_with_log(tools):
    manager = tools.smf()
    failing = spec(command=["/bin/sh", "-c", "echo 'demo: cannot bind port' >&2; exit 1"])
    with pytest.raises(ServiceError) as info:
        ensure(manager, manager.request(failing, enabled=True, state="running"))
    log = tools.root / "smf" / "log" / "pkgsrc-demo:default.log"
    assert "stayed there after one svcadm clear" in str(info.value)
    assert str(log) in info.value.hint
    assert log.read_text().count("demo: cannot bind port\n") == 2
    verbs = [c[:2] for c in tools.calls() if c[0] == "svcadm"]
    assert verbs == [["svcadm", "enable"], ["svcadm", "clear"]]
    status = manager.status(manager.ref("demo", FMRI))
    assert (status.state, status.detail) == ("maintenance", str(log))


def test_smf_maintenance_cleared_once_and_recovering(tools):
    flag = tools.root / "second-try"
    flaky = spec(command=["/bin/sh", "-c", "if [ -f %s ]; then exec /bin/sleep 30; fi; touch %s; exit 1"
                          % (flag, flag)])
    manager = tools.smf()
    result = ensure(manager, manager.request(flaky, enabled=True, state="running"))
    assert result.messages[-1] == "%s was in maintenance after enable; cleared once and it is online" % FMRI
    assert manager.status(manager.ref("demo", FMRI)).running


def test_smf_transitions_are_waited_for(tmp_path, dtd):
    made = Tools(tmp_path, dtd, SMF_TRANSITION_CALLS="3")
    try:
        manager = made.smf()
        ensure(manager, manager.request(spec(), enabled=True, state="running"))
        before = len(made.calls())
        result = ensure(manager, manager.request(spec(), state="restarted"))
        assert result.plan.verbs == ("restart",)
        svcs_calls = [c for c in made.calls()[before:] if c[0] == "svcs"]
        assert len(svcs_calls) == 5  # status once, then 3 transitional listings and the settled one
        assert manager.status(manager.ref("demo", FMRI)).state == "online"
    finally:
        made.cleanup()


def test_smf_changed_definition_is_reimported_and_restarted(tools):
    manager = tools.smf()
    ensure(manager, manager.request(spec(), enabled=True, state="running"))
    old_pid = _smf_pid(tools)
    changed = ensure(manager, manager.request(spec(command=["/bin/sleep", "31"]), enabled=True, state="running"))
    assert changed.plan.verbs == ("write", "register", "restart")
    assert "/bin/sleep 30" in changed.diff["before"] and "/bin/sleep 31" in changed.diff["after"]
    new_pid = _smf_pid(tools)
    assert new_pid != old_pid and alive(new_pid) and wait_for(lambda: not alive(old_pid))
    with open("/proc/%d/cmdline" % new_pid) as handle:
        assert handle.read().split("\0")[:2] == ["/bin/sleep", "31"]


def _smf_pid(tools):
    out = subprocess.run([str(tools.bin / "svcs"), "-l", FMRI], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^process\s+(\d+)$", out, re.M).group(1))


def test_smf_stop_disable_and_remove(tools):
    manager = tools.smf()
    ensure(manager, manager.request(spec(), enabled=True, state="running"))
    pid = _smf_pid(tools)
    stopped = ensure(manager, manager.request(spec(), state="stopped"))
    assert stopped.plan.verbs == ("stop",) and wait_for(lambda: not alive(pid))
    status = manager.status(manager.ref("demo", FMRI))
    assert (status.state, status.enabled) == ("disabled", True)
    gone = ensure(manager, manager.request(spec(), present=False))
    assert gone.plan.verbs == ("disable", "remove", "unregister")
    assert not (tools.root / "manifests" / "demo.xml").exists()
    assert not manager.status(manager.ref("demo", FMRI)).loaded
    assert not ensure(manager, manager.request(spec(), present=False)).changed


def test_smf_package_manifest_is_imported_as_shipped(tools):
    prefix = tools.root / "opt" / "local"
    shipped = prefix / "lib" / "svc" / "manifest" / "svc-demo.xml"
    shipped.parent.mkdir(parents=True)
    shipped.write_text(smf.render(spec(name="svc-demo", description="shipped by the package")))
    manager = tools.smf()
    req = manager.request_from_package(str(prefix), "svc-demo", enabled=True)
    result = ensure(manager, req)
    assert result.plan.verbs == ("write", "register", "enable")
    assert (tools.root / "manifests" / "svc-demo.xml").read_text() == shipped.read_text()
    assert manager.status(manager.ref("svc-demo", "svc:/pkgsrc/svc-demo:default")).running


# ---------------------------------------------------------------- LaunchdManager with the stand-in

def test_launchd_manager_lifecycle(tools):
    manager = tools.launchd()
    first = ensure(manager, manager.request(spec(), enabled=True, state="running"))
    assert first.plan.verbs == ("write", "register")
    ref = manager.ref("demo", "org.pkgsrc.demo")
    up = manager.status(ref)
    assert up.running and up.enabled and up.detail.startswith("pid ")
    pid = int(up.detail.split()[1])
    assert not ensure(manager, manager.request(spec(), enabled=True, state="running")).changed
    changed = ensure(manager, manager.request(spec(command=["/bin/sleep", "31"]), state="running"))
    assert changed.plan.verbs == ("write", "register") and wait_for(lambda: not alive(pid))
    assert manager.status(ref).running
    stopped = ensure(manager, manager.request(spec(command=["/bin/sleep", "31"]), state="stopped"))
    assert stopped.plan.verbs == ("stop",) and not manager.status(ref).loaded
    disabled = ensure(manager, manager.request(spec(command=["/bin/sleep", "31"]), enabled=False))
    assert disabled.plan.verbs == ("disable",)
    gone = ensure(manager, manager.request(spec(), present=False))
    assert gone.plan.verbs == ("remove",) and not Path(ref.path).exists()
