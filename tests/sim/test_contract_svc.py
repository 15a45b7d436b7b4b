"""Contract tests of the SMF (svccfg, svcadm, svcs) and launchctl stand-ins, run as real processes.

Each test makes launchers with launcher.make_launcher in tmp_path and checks exit codes,
messages and listings against CONTRACT.md sections 7 and 8 and the illumos tools' wording.
Methods and jobs really run (small /bin/sh and /bin/sleep programs); every process group the
stand-ins record is killed at teardown.
"""
from __future__ import annotations

import os
import plistlib
import re
from pathlib import Path

from pkgsrc_core.services import launchd, smf
from tests.sim.launcher import read_log
from tests.sim.svc_support import FMRI, Tools, alive, spec, wait_for


def manifest(tools, **kw):
    return tools.write("%s.xml" % kw.get("name", "demo"), smf.render(spec(**kw)))


def pid_of(tools, fmri=FMRI):
    out = tools.run("svcs", "-l", fmri).stdout
    match = re.search(r"^process\s+(\d+)$", out, re.M)
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------- svccfg

def test_import_stores_a_disabled_instance(tools):
    path = manifest(tools)
    out = tools.run("svccfg", "import", path)
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
    assert tools.state() == "disabled - " + FMRI
    listing = tools.run("svcs").stdout.splitlines()
    assert listing[0].split() == ["STATE", "STIME", "FMRI"] and listing[1].split()[::2] == ["disabled", FMRI]
    assert tools.run("svccfg", "export", "svc:/pkgsrc/demo").stdout == Path(path).read_text()
    props = tools.run("svccfg", "-s", FMRI, "listprop").stdout
    assert re.search(r"^general/enabled\s+boolean\s+false$", props, re.M)
    assert re.search(r'^start/exec\s+astring\s+"/bin/sleep 30"$', props, re.M)
    assert re.search(r"^startd/duration\s+astring\s+child$", props, re.M)
    assert re.search(r'^tm_common_name/C\s+ustring\s+"Demo daemon"$', props, re.M)
    only = tools.run("svccfg", "-s", FMRI, "listprop", "general/enabled")
    assert only.stdout.split() == ["general/enabled", "boolean", "false"]


def test_import_rejects_a_manifest_the_dtd_rejects(tools):
    bad = smf.render(spec()).replace('<stability value="Evolving"/>', '<stability value="Sometimes"/>')
    out = tools.run("svccfg", "import", tools.write("bad.xml", bad))
    assert out.returncode == 1
    assert out.stderr.endswith("svccfg: Document is not valid.\n")
    assert "validity error" in out.stderr and "Sometimes" in out.stderr
    unknown = tools.run("svcs", FMRI)
    assert (unknown.returncode, unknown.stderr) == (1, "svcs: Pattern '%s' doesn't match any instances\n" % FMRI)


def test_import_rejects_malformed_xml(tools):
    out = tools.run("svccfg", "import", tools.write("broken.xml", "<service_bundle"))
    assert out.returncode == 1 and out.stderr.startswith("svccfg: couldn't parse document")
    assert tools.run("svccfg", "import").returncode == 2


def test_setprop_and_listprop(tools):
    tools.run("svccfg", "import", manifest(tools))
    out = tools.run("svccfg", "-s", "svc:/pkgsrc/demo", "setprop", "start/exec", "=", "astring:", '"/bin/sleep 5"')
    assert out.returncode == 0, out.stderr
    assert tools.run("svccfg", "-s", FMRI, "listprop", "start/exec").stdout.split() == \
        ["start/exec", "astring", '"/bin/sleep', '5"']
    assert tools.run("svccfg", "-s", FMRI, "setprop", "general/enabled", "=", "boolean:", "true").returncode == 0
    assert tools.run("svccfg", "-s", FMRI, "listprop", "general/enabled").stdout.split()[-1] == "true"
    missing = tools.run("svccfg", "-s", FMRI, "setprop", "nosuch/prop", "=", "astring:", "x")
    assert (missing.returncode, missing.stderr) == (1, 'svccfg: No such property group "nosuch".\n')
    untyped = tools.run("svccfg", "-s", FMRI, "setprop", "start/newprop", "=", "x")
    assert (untyped.returncode, untyped.stderr) == (1, "svccfg: Type required for new properties.\n")
    assert tools.run("svccfg", "-s", "svc:/pkgsrc/nosuch", "listprop").returncode == 1


# ---------------------------------------------------------------- svcadm and svcs

def test_enable_wait_disable(tools):
    tools.run("svccfg", "import", manifest(tools))
    out = tools.run("svcadm", "enable", "-s", FMRI)
    assert (out.returncode, out.stderr) == (0, "")
    assert tools.state() == "online - " + FMRI
    pid = pid_of(tools)
    assert pid and alive(pid)
    assert tools.run("svccfg", "-s", FMRI, "listprop", "general/enabled").stdout.split()[-1] == "true"
    out = tools.run("svcadm", "disable", "-s", FMRI)
    assert (out.returncode, out.stderr) == (0, "")
    assert tools.state() == "disabled - " + FMRI
    assert wait_for(lambda: not alive(pid))
    log = Path(tools.run("svcs", "-L", FMRI).stdout.strip())
    assert log == tools.root / "smf" / "log" / "pkgsrc-demo:default.log"
    text = log.read_text()
    assert 'Executing start method ("/bin/sleep 30").' in text and "Executing stop method (:kill)." in text


def test_enable_without_wait_shows_a_transition_once(tools):
    tools.run("svccfg", "import", manifest(tools))
    assert tools.run("svcadm", "enable", FMRI).returncode == 0
    assert tools.state() == "offline* online " + FMRI
    assert tools.state() == "online - " + FMRI
    assert tools.state() == "online - " + FMRI


def test_transition_length_is_configurable(tmp_path, dtd):
    made = Tools(tmp_path, dtd, SMF_TRANSITION_CALLS="3")
    try:
        made.run("svccfg", "import", manifest(made))
        made.run("svcadm", "enable", "-s", FMRI)
        assert made.run("svcadm", "restart", FMRI).returncode == 0
        assert [made.state() for _unused in range(4)] == ["online* online " + FMRI] * 3 + ["online - " + FMRI]
    finally:
        made.cleanup()


def test_temporary_enable_and_disable(tools):
    tools.run("svccfg", "import", manifest(tools))
    assert tools.run("svcadm", "enable", "-s", "-t", FMRI).returncode == 0
    assert tools.state() == "online - " + FMRI
    assert tools.run("svccfg", "-s", FMRI, "listprop", "general/enabled").stdout.split()[-1] == "false"
    assert "enabled      true (temporary)" in tools.run("svcs", "-l", FMRI).stdout
    assert tools.run("svcadm", "enable", "-s", FMRI).returncode == 0
    assert tools.run("svcadm", "disable", "-s", "-t", FMRI).returncode == 0
    assert tools.state() == "disabled - " + FMRI
    assert tools.run("svccfg", "-s", FMRI, "listprop", "general/enabled").stdout.split()[-1] == "true"


def test_failing_method_goes_to_maintenance(tools):
    tools.run("svccfg", "import", manifest(tools, command=["/bin/sh", "-c", "echo boom >&2; exit 1"]))
    out = tools.run("svcadm", "enable", "-s", FMRI)
    assert (out.returncode, out.stderr) == (3, 'svcadm: Instance "%s" is in maintenance state.\n' % FMRI)
    assert tools.state() == "maintenance - " + FMRI
    explain = tools.run("svcs", "-x", FMRI).stdout.splitlines()
    assert explain[0] == "%s (Demo daemon)" % FMRI
    assert explain[1].startswith(" State: maintenance since ")
    assert explain[3] == "   See: http://illumos.org/msg/SMF-8000-KS"
    log = tools.root / "smf" / "log" / "pkgsrc-demo:default.log"
    assert explain[4] == "   See: %s" % log and explain[5] == "Impact: This service is not running."
    assert "\nboom\n" in log.read_text()
    clear = tools.run("svcadm", "clear", FMRI)
    assert (clear.returncode, clear.stderr) == (0, "")
    assert tools.state() == "offline* maintenance " + FMRI
    assert tools.state() == "maintenance - " + FMRI
    assert log.read_text().count("\nboom\n") == 2


def test_clear_on_a_healthy_instance_and_usage(tools):
    tools.run("svccfg", "import", manifest(tools))
    out = tools.run("svcadm", "clear", FMRI)
    assert (out.returncode, out.stderr) == (1, 'svcadm: Instance "%s" is not in a maintenance or degraded state.\n'
                                            % FMRI)
    assert tools.run("svcadm").returncode == 2
    assert tools.run("svcadm", "frobnicate", FMRI).returncode == 2
    assert tools.run("svcadm", "enable").returncode == 2
    assert tools.run("svcadm", "enable", "-x", FMRI).returncode == 2
    unknown = tools.run("svcadm", "restart", "svc:/pkgsrc/nosuch")
    assert (unknown.returncode, unknown.stderr) == (1, "svcadm: Pattern 'svc:/pkgsrc/nosuch' doesn't match any "
                                                    "instances\n")


def test_abbreviated_fmris(tools):
    tools.run("svccfg", "import", manifest(tools))
    assert tools.run("svcadm", "enable", "-s", "demo").returncode == 0
    assert tools.state("pkgsrc/demo") == "online - " + FMRI
    assert tools.state("svc:/pkgsrc/demo") == "online - " + FMRI


def test_dependencies_block_and_follow(tools):
    tools.run("svccfg", "import", manifest(tools, name="db"))
    tools.run("svccfg", "import", manifest(tools, depends_on=["db"], network=True))
    out = tools.run("svcadm", "enable", "-s", FMRI)
    assert (out.returncode, out.stderr) == (4, 'svcadm: Instance "%s" has unsatisfied dependencies.\n' % FMRI)
    assert tools.state() == "offline - " + FMRI
    assert "waiting for dependencies: pkgsrc-db" in tools.run("svcs", "-x", FMRI).stdout
    assert tools.run("svcadm", "enable", "-s", "svc:/pkgsrc/db:default").returncode == 0
    assert tools.state() == "online - " + FMRI
    assert tools.run("svcadm", "disable", "-s", "svc:/pkgsrc/db:default").returncode == 0
    assert tools.state() == "offline - " + FMRI


def test_recursive_enable(tools):
    tools.run("svccfg", "import", manifest(tools, name="db"))
    tools.run("svccfg", "import", manifest(tools, depends_on=["db"]))
    assert tools.run("svcadm", "enable", "-r", "-s", FMRI).returncode == 0
    assert tools.state("svc:/pkgsrc/db:default") == "online - svc:/pkgsrc/db:default"
    assert tools.state() == "online - " + FMRI


def test_contract_service_keeps_its_forked_children_until_stopped(tools):
    marker = tools.root / "child.pid"
    start = ["/bin/sh", "-c", "/bin/sleep 30 </dev/null >/dev/null 2>&1 & echo $! > %s" % marker]
    tools.run("svccfg", "import", manifest(tools, command=start, forks=True))
    assert tools.run("svcadm", "enable", "-s", FMRI).returncode == 0
    assert tools.state() == "online - " + FMRI
    child = int(marker.read_text())
    assert alive(child)
    assert tools.run("svcadm", "disable", "-s", FMRI).returncode == 0
    assert wait_for(lambda: not alive(child))


def test_restart_and_refresh_run_methods(tools):
    flag = tools.root / "refreshed"
    tools.run("svccfg", "import", manifest(tools, reload_command=["/bin/sh", "-c", "echo $SMF_METHOD > %s" % flag]))
    tools.run("svcadm", "enable", "-s", FMRI)
    before = pid_of(tools)
    assert tools.run("svcadm", "restart", FMRI).returncode == 0
    assert tools.state() == "online* online " + FMRI
    after = pid_of(tools)
    assert after != before and alive(after) and wait_for(lambda: not alive(before))
    assert tools.run("svcadm", "refresh", FMRI).returncode == 0
    assert flag.read_text() == "refresh\n" and pid_of(tools) == after


def test_method_tokens_environment_and_directory(tools):
    out_file = tools.root / "tokens"
    workdir = tools.root / "work"
    workdir.mkdir()
    text = smf.render(spec(command=["/bin/sh", "-c", 'echo "$SMF_FMRI|$SMF_METHOD|$DEMO|$(pwd)|%f" > ' + str(out_file)],
                           env={"DEMO": "x y"}, working_dir=str(workdir), forks=True))
    hand_written = text.replace("%%f", "%f")
    assert hand_written != text
    tools.run("svccfg", "import", tools.write("tokens.xml", hand_written))
    assert tools.run("svcadm", "enable", "-s", FMRI).returncode == 0
    assert out_file.read_text() == "%s|start|x y|%s|%s\n" % (FMRI, workdir, FMRI)
    tools.run("svcadm", "disable", "-s", FMRI)
    tools.run("svccfg", "import", tools.write("literal.xml", text))
    assert tools.run("svcadm", "enable", "-s", FMRI).returncode == 0
    assert out_file.read_text().endswith("|%f\n")


def test_context_failures_go_to_maintenance(tools):
    tools.run("svccfg", "import", manifest(tools, working_dir="/nonexistent/dir"))
    assert tools.run("svcadm", "enable", "-s", FMRI).returncode == 3
    assert "chdir: No such file or directory" in (tools.root / "smf" / "log" / "pkgsrc-demo:default.log").read_text()
    assert "Reason: Start method exited with $SMF_EXIT_ERR_CONFIG." in tools.run("svcs", "-x", FMRI).stdout
    tools.run("svcadm", "disable", "-s", FMRI)
    assert tools.state() == "disabled - " + FMRI
    tools.run("svccfg", "import", manifest(tools, user="no-such-user-here"))
    assert tools.run("svcadm", "enable", "-s", FMRI).returncode == 3
    assert "Missing passwd entry for user." in (tools.root / "smf" / "log" / "pkgsrc-demo:default.log").read_text()


def test_delete(tools):
    tools.run("svccfg", "import", manifest(tools))
    tools.run("svcadm", "enable", "-s", FMRI)
    pid = pid_of(tools)
    busy = tools.run("svccfg", "delete", "svc:/pkgsrc/demo")
    assert busy.returncode == 1 and "is online" in busy.stderr
    assert tools.run("svccfg", "delete", "-f", "svc:/pkgsrc/demo").returncode == 0
    assert tools.run("svcs", FMRI).returncode == 1
    assert wait_for(lambda: not alive(pid))
    gone = tools.run("svccfg", "delete", "svc:/pkgsrc/demo")
    assert gone.returncode == 1 and "doesn't match" in gone.stderr


def test_every_invocation_is_logged(tools):
    tools.run("svccfg", "import", manifest(tools))
    tools.run("svcs", "-H", FMRI)
    calls = read_log(tools.log)
    assert [(c["tool"], c["argv"][0]) for c in calls] == [("svccfg", "import"), ("svcs", "-H")]


# ---------------------------------------------------------------- launchctl

def plist(tools, name="demo.plist", **kw):
    return tools.write(name, launchd.render(spec(**kw)))


def job_info(tools, target="system/org.pkgsrc.demo"):
    out = tools.run("launchctl", "print", target)
    assert out.returncode == 0, out.stderr
    return dict(line.strip().split(" = ", 1) for line in out.stdout.splitlines()
                if line.startswith("\t") and not line.startswith("\t\t") and " = " in line
                and not line.rstrip().endswith("{"))


def test_bootstrap_print_bootout(tools):
    path = plist(tools)
    out = tools.run("launchctl", "bootstrap", "system", path)
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
    text = tools.run("launchctl", "print", "system/org.pkgsrc.demo").stdout
    assert text.startswith("system/org.pkgsrc.demo = {\n") and text.endswith("}\n")
    assert "\targuments = {\n\t\t/bin/sleep\n\t\t30\n\t}\n" in text
    info = job_info(tools)
    assert (info["state"], info["path"], info["type"], info["last exit code"]) == \
        ("running", path, "LaunchDaemon", "(never exited)")
    pid = int(info["pid"])
    assert alive(pid)
    again = tools.run("launchctl", "bootstrap", "system", path)
    assert (again.returncode, again.stderr) == (5, "Bootstrap failed: 5: Input/output error\n")
    assert tools.run("launchctl", "bootout", "system/org.pkgsrc.demo").returncode == 0
    assert wait_for(lambda: not alive(pid))
    gone = tools.run("launchctl", "print", "system/org.pkgsrc.demo")
    assert (gone.returncode, gone.stderr) == (113, 'Could not find service "org.pkgsrc.demo" in domain for system\n')
    twice = tools.run("launchctl", "bootout", "system/org.pkgsrc.demo")
    assert (twice.returncode, twice.stderr) == (113, "Boot-out failed: 113: Could not find specified service\n")


def test_disabled_jobs_cannot_be_bootstrapped(tools):
    path = plist(tools)
    assert tools.run("launchctl", "disable", "system/org.pkgsrc.demo").returncode == 0
    listing = tools.run("launchctl", "print-disabled", "system").stdout
    assert listing == 'disabled services = {\n\t"org.pkgsrc.demo" => disabled\n}\n'
    assert tools.run("launchctl", "bootstrap", "system", path).returncode == 5
    assert tools.run("launchctl", "enable", "system/org.pkgsrc.demo").returncode == 0
    assert '"org.pkgsrc.demo" => enabled' in tools.run("launchctl", "print-disabled", "system").stdout
    assert tools.run("launchctl", "bootstrap", "system", path).returncode == 0


def test_kickstart_kill_and_exit_codes(tools):
    tools.run("launchctl", "bootstrap", "system", plist(tools))
    first = int(job_info(tools)["pid"])
    assert tools.run("launchctl", "kickstart", "system/org.pkgsrc.demo").returncode == 0
    assert int(job_info(tools)["pid"]) == first
    out = tools.run("launchctl", "kickstart", "-k", "-p", "system/org.pkgsrc.demo")
    second = int(job_info(tools)["pid"])
    assert out.stdout == "service spawned with pid: %d\n" % second and second != first
    assert wait_for(lambda: not alive(first))
    assert tools.run("launchctl", "kill", "SIGTERM", "system/org.pkgsrc.demo").returncode == 0
    assert wait_for(lambda: not alive(second))
    info = job_info(tools)
    assert info["state"] == "not running" and "pid" not in info
    nothing = tools.run("launchctl", "kill", "HUP", "system/org.pkgsrc.demo")
    assert (nothing.returncode, nothing.stderr) == (3, "Could not kill service: 3: No such process\n")


def test_job_environment_directory_and_exit(tools):
    out = tools.root / "job.out"
    workdir = tools.root / "wd"
    workdir.mkdir()
    path = plist(tools, command=["/bin/sh", "-c", 'echo "$DEMO|$(pwd)"; exit 3'], env={"DEMO": "a b"},
                 working_dir=str(workdir), log_file=str(out), restart="no")
    assert plistlib.loads(Path(path).read_bytes())["KeepAlive"] is False
    tools.run("launchctl", "bootstrap", "system", path)
    info = job_info(tools)
    assert (info["state"], info["last exit code"], info["runs"]) == ("not running", "3", "1")
    assert out.read_text() == "a b|%s\n" % workdir


def test_domains_are_separate_and_usage(tools):
    path = plist(tools)
    assert tools.run("launchctl", "bootstrap", "gui/501", path).returncode == 0
    assert tools.run("launchctl", "print", "system/org.pkgsrc.demo").returncode == 113
    assert job_info(tools, "gui/501/org.pkgsrc.demo")["type"] == "LaunchAgent"
    assert tools.run("launchctl").returncode == 64
    assert tools.run("launchctl", "frobnicate").returncode == 64
    assert tools.run("launchctl", "print", "nodomain").returncode == 64
    assert tools.run("launchctl", "bootstrap", "system", str(tools.root / "missing.plist")).returncode == 2
    garbage = tools.write("garbage.plist", "not a plist")
    assert tools.run("launchctl", "bootstrap", "system", garbage).returncode == 5
    assert os.path.exists(tools.config["LAUNCHD_STATE"] + "/launchd.json")
