"""The four renderers: structure of each native file, and hostile values rendered harmlessly.

Each rendered file is read back with a parser of its format (ElementTree + shell word
splitting for SMF, a systemd unit-syntax decoder, plistlib, shell word splitting for rc.d)
and must give back exactly the argv and environment of the spec. The real validators
(xmllint --dtdvalid, systemd-analyze verify, sh -n, plutil-free plistlib) run in
tests/sim/test_services_sim.py, which may spawn processes.
"""
from __future__ import annotations

import plistlib
import re
import shlex
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import ServiceError, ServiceSpecError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.services import launchd, rcd, smf, systemd
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.services.spec import ServiceSpec

HOSTILE = [
    "single ' quote",
    'double " quote',
    "<tag attr=\"x\"> & &amp; ]]>",
    "$(touch /tmp/pkgsrc-deploy-pwned)",
    "`touch /tmp/pkgsrc-deploy-pwned`",
    "${HOME} $HOME $$ $",
    "100% %n %i %% %{start/exec}",
    "back\\slash \\\\ \\n end\\",
    "semi ; colon && pipe | redirect > /tmp/x",
    "unicode \u00e9 \u2713",
    "",
    "  spaces  around  ",
    "-looks-like-a-flag",
    "'\"'\"'",
]

REFUSED_VALUES = ["two\nlines", "carriage\rreturn", "tab\there", "nul\x00", "line\u2028sep", "esc\x1b[31m"]


def spec(**kw):
    data = {"name": "demo", "command": ["/opt/pkg/bin/demo", "-f"]}
    data.update(kw)
    return ServiceSpec(**data)


# ---------------------------------------------------------------- SMF

SERVICE_ORDER = ["create_default_instance", "single_instance", "restarter", "dependency", "dependent",
                 "method_context", "exec_method", "property_group", "instance", "stability", "template"]


def smf_tree(text):
    assert text.startswith('<?xml version="1.0"?>\n<!DOCTYPE service_bundle SYSTEM '
                           '"/usr/share/lib/xml/dtd/service_bundle.dtd.1">\n')
    return ET.fromstring(text)


def smf_argv(exec_attr):
    """Invert method_exec: svc.startd turns %% into %, then /sbin/sh splits the words."""
    return shlex.split(re.sub("%%", "%", exec_attr))


def test_smf_full_manifest():
    text = smf.render(spec(description="Demo daemon", user="demo", group="staff", working_dir="/var/demo",
                           env={"LANG": "C", "DEMO_HOME": "/var/demo"}, stop_command=["/opt/pkg/bin/demo", "stop"],
                           reload_command=["/bin/kill", "-HUP", "1"], network=True, depends_on=["db", "cache"],
                           start_timeout=30, stop_timeout=0))
    root = smf_tree(text)
    assert root.tag == "service_bundle" and root.get("type") == "manifest" and root.get("name") == "pkgsrc-demo"
    service = root.find("service")
    assert (service.get("name"), service.get("type"), service.get("version")) == ("pkgsrc/demo", "service", "1")
    order = [SERVICE_ORDER.index(child.tag) for child in service]
    assert order == sorted(order), "children out of DTD order: %s" % [c.tag for c in service]
    assert service.find("create_default_instance").get("enabled") == "false"
    deps = [(d.get("name"), d.get("grouping"), d.get("restart_on"), d.get("type"), d.find("service_fmri").get("value"))
            for d in service.findall("dependency")]
    assert deps == [
        ("network", "require_all", "error", "service", "svc:/milestone/network:default"),
        ("filesystem-local", "require_all", "none", "service", "svc:/system/filesystem/local:default"),
        ("pkgsrc-db", "require_all", "restart", "service", "svc:/pkgsrc/db"),
        ("pkgsrc-cache", "require_all", "restart", "service", "svc:/pkgsrc/cache"),
    ]
    ctx = service.find("method_context")
    assert ctx.get("working_directory") == "/var/demo"
    cred = ctx.find("method_credential")
    assert (cred.get("user"), cred.get("group")) == ("demo", "staff")
    assert [(e.get("name"), e.get("value")) for e in ctx.findall("method_environment/envvar")] == \
        [("LANG", "C"), ("DEMO_HOME", "/var/demo")]
    methods = {m.get("name"): m for m in service.findall("exec_method")}
    assert sorted(methods) == ["refresh", "start", "stop"]
    assert smf_argv(methods["start"].get("exec")) == ["/opt/pkg/bin/demo", "-f"]
    assert smf_argv(methods["stop"].get("exec")) == ["/opt/pkg/bin/demo", "stop"]
    assert smf_argv(methods["refresh"].get("exec")) == ["/bin/kill", "-HUP", "1"]
    assert (methods["start"].get("timeout_seconds"), methods["stop"].get("timeout_seconds")) == ("30", "0")
    assert all(m.get("type") == "method" for m in methods.values())
    duration = service.find("property_group/propval")
    assert (duration.get("name"), duration.get("value")) == ("duration", "child")
    assert service.find("stability").get("value") == "Evolving"
    assert service.find("template/common_name/loctext").text == "Demo daemon"


def test_smf_minimal_and_forking():
    service = smf_tree(smf.render(spec(forks=True, filesystems=False))).find("service")
    assert service.findall("dependency") == []
    ctx = service.find("method_context")
    assert ctx is not None and list(ctx) == [] and ctx.get("working_directory") is None
    assert {m.get("name"): m.get("exec") for m in service.findall("exec_method")} == \
        {"start": "/opt/pkg/bin/demo -f", "stop": ":kill"}
    assert service.find("property_group/propval").get("value") == "contract"
    assert service.find("template/common_name/loctext").text == "demo"


def test_smf_group_without_user_runs_as_root():
    cred = smf_tree(smf.render(spec(group="staff"))).find("service/method_context/method_credential")
    assert (cred.get("user"), cred.get("group")) == ("root", "staff")


def test_smf_log_file_is_a_quoted_redirection():
    start = smf_tree(smf.render(spec(log_file="/var/log/my demo.log"))).find("service/exec_method")
    assert smf_argv(start.get("exec")) == ["/opt/pkg/bin/demo", "-f", ">>", "/var/log/my demo.log", "2>&1"]
    assert start.get("exec").endswith(">> '/var/log/my demo.log' 2>&1")


def test_smf_fmri_and_names():
    assert smf.fmri(spec()) == "svc:/pkgsrc/demo:default"
    assert smf.service_fmri(spec(smf_fmri="svc:/site/app")) == "svc:/site/app"
    text = smf.render(spec(smf_fmri="svc:/site/app"))
    assert smf.fmri_from_manifest(text) == "svc:/site/app:default"
    assert smf_tree(text).get("name") == "site-app"
    assert smf.log_path("svc:/pkgsrc/demo:default") == "/var/svc/log/pkgsrc-demo:default.log"
    assert smf.log_path("svc:/site/a/b:default", "/x/") == "/x/site-a-b:default.log"


def test_smf_refusals():
    with pytest.raises(ServiceSpecError, match="restart='no'"):
        smf.render(spec(restart="no"))
    with pytest.raises(ServiceSpecError, match="user scope"):
        smf.render(spec(scope="user"))


PACKAGE_MANIFEST = """<?xml version="1.0"?>
<!DOCTYPE service_bundle SYSTEM "/usr/share/lib/xml/dtd/service_bundle.dtd.1">
<service_bundle type="manifest" name="export">
  <service name="pkgsrc/nginx" type="service" version="1">
    <dependency name="network" grouping="require_all" restart_on="error" type="service">
      <service_fmri value="svc:/milestone/network:default"/>
    </dependency>
    <exec_method type="method" name="start" exec="/opt/local/sbin/nginx" timeout_seconds="60"/>
    <exec_method type="method" name="stop" exec=":kill" timeout_seconds="60"/>
    <instance name="default" enabled="false"/>
    <stability value="Evolving"/>
  </service>
</service_bundle>
"""


def test_fmri_from_package_manifest():
    assert smf.fmri_from_manifest(PACKAGE_MANIFEST) == "svc:/pkgsrc/nginx:default"


@pytest.mark.parametrize("text,message", [
    ("<not xml", "not well-formed"),
    ("<plist/>", "not an SMF manifest"),
    ("<service_bundle type='manifest' name='x'/>", "defines 0 services"),
    ("<service_bundle type='manifest' name='x'><service name='a' type='service' version='1'/></service_bundle>",
     "defines no instance"),
])
def test_fmri_from_bad_manifests(text, message):
    with pytest.raises(ServiceError, match=message):
        smf.fmri_from_manifest(text, "bad.xml")


def test_method_exec_quoting():
    assert smf.method_exec(["/bin/echo", "100%", "a b"]) == "/bin/echo 100%% 'a b'"
    assert smf.method_exec(["/bin/echo", "it's"]) == "/bin/echo 'it'\"'\"'s'"


# ---------------------------------------------------------------- systemd

def unit_sections(text):
    """Parse a unit file (no continuation lines are expected): {section: [(key, value)]}."""
    sections = {}
    current = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        assert not line.endswith("\\"), "line continues: %r" % line
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        key, _unused, value = line.partition("=")
        sections[current].append((key, value))
    return sections


def unit_value(sections, section, key):
    values = [v for k, v in sections[section] if k == key]
    assert len(values) == 1, (key, values)
    return values[0]


def systemd_words(value):
    """Split an Exec*=/Environment= value as systemd does: quotes, C escapes, then %% and $$."""
    words, i = [], 0
    while i < len(value):
        if value[i] == " ":
            i += 1
            continue
        word = []
        if value[i] in "\"'":
            quote = value[i]
            i += 1
            while value[i] != quote:
                if value[i] == "\\":
                    i += 1
                    word.append({"n": "\n", "t": "\t"}.get(value[i], value[i]))
                else:
                    word.append(value[i])
                i += 1
            i += 1
        else:
            while i < len(value) and value[i] != " ":
                word.append(value[i])
                i += 1
        words.append("".join(word).replace("%%", "%"))
    return words


def exec_argv(value):
    return [w.replace("$$", "$") for w in systemd_words(value)]


def test_systemd_full_unit():
    text = systemd.render(spec(description="Demo 100%", user="demo", group="staff", working_dir="/var/demo",
                               env={"LANG": "C"}, stop_command=["/opt/pkg/bin/demo", "stop"],
                               reload_command=["/bin/kill", "-HUP", "$MAINPID"], network=True, depends_on=["db"],
                               restart="always", start_timeout=30, stop_timeout=0, log_file="/var/log/demo.log"))
    assert text.startswith("# Generated by pkgsrc.deploy")
    sec = unit_sections(text)
    assert list(sec) == ["Unit", "Service", "Install"]
    assert unit_value(sec, "Unit", "Description") == "Demo 100%%"
    assert unit_value(sec, "Unit", "Wants") == "network-online.target"
    assert unit_value(sec, "Unit", "Requires") == "db.service"
    assert unit_value(sec, "Unit", "After") == "network-online.target local-fs.target db.service"
    assert dict(sec["Service"]) == {
        "Type": "simple",
        "ExecStart": '"/opt/pkg/bin/demo" "-f"',
        "ExecStop": '"/opt/pkg/bin/demo" "stop"',
        "ExecReload": '"/bin/kill" "-HUP" "$$MAINPID"',
        "User": "demo", "Group": "staff", "WorkingDirectory": "/var/demo",
        "Environment": '"LANG=C"', "Restart": "always",
        "TimeoutStartSec": "30s", "TimeoutStopSec": "infinity",
        "StandardOutput": "append:/var/log/demo.log", "StandardError": "append:/var/log/demo.log",
    }
    assert exec_argv(unit_value(sec, "Service", "ExecReload")) == ["/bin/kill", "-HUP", "$MAINPID"]
    assert sec["Install"] == [("WantedBy", "multi-user.target")]


def test_systemd_forking_and_minimal():
    sec = unit_sections(systemd.render(spec(forks=True, pid_file="/run/demo.pid", filesystems=False)))
    assert "After" not in dict(sec["Unit"]) and unit_value(sec, "Unit", "Description") == "demo"
    assert unit_value(sec, "Service", "Type") == "forking"
    assert unit_value(sec, "Service", "PIDFile") == "/run/demo.pid"
    assert unit_value(sec, "Service", "Restart") == "on-failure"


def test_systemd_user_scope():
    sec = unit_sections(systemd.render(spec(scope="user", network=True, depends_on=["db"])))
    assert unit_value(sec, "Unit", "After") == "db.service"
    assert "Wants" not in dict(sec["Unit"])
    assert sec["Install"] == [("WantedBy", "default.target")]
    assert systemd.unit_name(spec()) == "demo.service"
    with pytest.raises(ServiceSpecError, match="user-scope unit cannot set user"):
        systemd.render(spec(scope="user", user="demo"))


# ---------------------------------------------------------------- launchd

def test_launchd_plist():
    data = plistlib.loads(launchd.render(spec(description="ignored", user="demo", group="staff",
                                              working_dir="/var/demo", env={"LANG": "C"},
                                              log_file="/var/log/demo.log", stop_timeout=15)).encode())
    assert data == {
        "Label": "org.pkgsrc.demo", "ProgramArguments": ["/opt/pkg/bin/demo", "-f"], "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False}, "UserName": "demo", "GroupName": "staff",
        "EnvironmentVariables": {"LANG": "C"}, "WorkingDirectory": "/var/demo",
        "StandardOutPath": "/var/log/demo.log", "StandardErrorPath": "/var/log/demo.log", "ExitTimeOut": 15,
    }


@pytest.mark.parametrize("restart,keep_alive", [("always", True), ("no", False),
                                                ("on-failure", {"SuccessfulExit": False})])
def test_launchd_keepalive(restart, keep_alive):
    data = plistlib.loads(launchd.render(spec(restart=restart, stop_timeout=0)).encode())
    assert data["KeepAlive"] == keep_alive and "ExitTimeOut" not in data
    assert data["Label"] == "org.pkgsrc.demo"


def test_launchd_label_override_and_reading_back():
    text = launchd.render(spec(launchd_label="com.example.demo"))
    assert launchd.label_from_plist(text) == "com.example.demo"


@pytest.mark.parametrize("kw,message", [
    ({"forks": True}, "forks=true"),
    ({"stop_command": ["/bin/kill", "1"]}, "stop command"),
    ({"reload_command": ["/bin/kill", "-HUP", "1"]}, "reload command"),
    ({"scope": "user", "user": "demo"}, "LaunchAgent cannot set user"),
])
def test_launchd_refusals(kw, message):
    with pytest.raises(ServiceSpecError, match=message):
        launchd.render(spec(**kw))


@pytest.mark.parametrize("text,message", [
    ("garbage", "not a valid property list"),
    (plistlib.dumps({"Program": "/bin/x"}).decode(), "has no Label"),
    (plistlib.dumps({"Label": "x"}).decode(), "names no Program"),
])
def test_launchd_bad_plists(text, message):
    with pytest.raises(ServiceError, match=message):
        launchd.label_from_plist(text, "bad.plist")


# ---------------------------------------------------------------- rc.d

def rcd_line(text, marker):
    lines = [line.strip() for line in text.splitlines() if marker in line]
    assert len(lines) == 1, lines
    return lines[0]


def test_rcd_script_layout():
    text = rcd.render(spec(name="svc-demo", network=True, depends_on=["db-main"]))
    assert text.startswith("#!/bin/sh\n")
    assert "# PROVIDE: svc_demo\n# REQUIRE: DAEMON NETWORKING mountcritremote db_main\n# KEYWORD: shutdown\n" in text
    assert "\n$_rc_subr_loaded . /etc/rc.subr\n" in text
    assert "\nname=svc_demo\nrcvar=$name\ncommand='/opt/pkg/bin/demo'\npidfile='/var/run/svc_demo.pid'\n" in text
    assert '\nstart_cmd="svc_demo_start"\n' in text
    assert "stop_cmd" not in text and "extra_commands" not in text
    assert text.endswith('\nload_rc_config $name\nrun_rc_command "$1"\n')
    start = rcd_line(text, "/opt/pkg/bin/demo' '-f'")
    assert shlex.split(start) == ["/opt/pkg/bin/demo", "-f", ">>/dev/null", "2>&1", "</dev/null", "&"]
    assert '\techo $! >"$pidfile"\n' in text


def test_rcd_everything():
    text = rcd.render(spec(user="demo", group="staff", working_dir="/var/demo dir", env={"LANG": "C"},
                           stop_command=["/opt/pkg/bin/demo", "stop"], reload_command=["/bin/kill", "-HUP", "0"],
                           log_file="/var/log/demo.log"))
    start = rcd_line(text, "'/opt/pkg/bin/demo' '-f'")
    assert shlex.split(start) == [
        "/usr/bin/env", "LANG=C", "/usr/sbin/chroot", "-u", "demo", "-g", "staff", "/",
        "/bin/sh", "-c", 'cd "$1" || exit 1; shift; exec "$@"', "sh", "/var/demo dir",
        "/opt/pkg/bin/demo", "-f", ">>/var/log/demo.log", "2>&1", "</dev/null", "&"]
    stop = rcd_line(text, "'/opt/pkg/bin/demo' 'stop'")
    assert shlex.split(stop)[-2:] == ["/opt/pkg/bin/demo", "stop"]
    assert 'stop_cmd="demo_stop"' in text and 'extra_commands="reload"' in text and 'reload_cmd="demo_reload"' in text
    assert "\twait_for_pids $rc_pid\n" in text


def test_rcd_forking():
    text = rcd.render(spec(forks=True))
    assert "pidfile" not in text and "$!" not in text
    assert shlex.split(rcd_line(text, "'/opt/pkg/bin/demo' '-f'"))[-1] == "</dev/null"
    assert "pidfile='/run/demo.pid'" in rcd.render(spec(forks=True, pid_file="/run/demo.pid"))


def test_rcd_names_and_conf_line():
    assert rcd.rcvar(spec(name="svc-demo.x")) == "svc_demo_x"
    assert rcd.rc_conf_line(spec(name="svc-demo")) == "svc_demo=YES"
    assert rcd.rc_conf_line(spec(), enabled=False) == "demo=NO"
    with pytest.raises(ServiceSpecError, match="no user scope"):
        rcd.render(spec(scope="user"))


PKGSRC_SCRIPT = """#!/bin/sh
#
# $NetBSD: example.sh $
#
# PROVIDE: nginx
# REQUIRE: DAEMON

$_rc_subr_loaded . /etc/rc.subr

name="nginx"
rcvar=${name}
command="/usr/pkg/sbin/${name}"
pidfile="/var/run/${name}.pid"

load_rc_config $name
run_rc_command "$1"
"""


@pytest.mark.parametrize("text,expected", [
    (PKGSRC_SCRIPT, "nginx"),
    (PKGSRC_SCRIPT.replace("rcvar=${name}", "rcvar=nginx_enable"), "nginx_enable"),
    (PKGSRC_SCRIPT.replace('name="nginx"', "name=web_srv").replace("rcvar=${name}", "rcvar=$name"), "web_srv"),
    (PKGSRC_SCRIPT.replace('name="nginx"', 'name="$(evil)"'), "my_svc"),
])
def test_rcvar_from_script(text, expected):
    assert rcd.rcvar_from_script("my-svc", text) == expected


def test_rcvar_from_non_script():
    with pytest.raises(ServiceError, match="not an rc.d script"):
        rcd.rcvar_from_script("x", "#!/bin/sh\necho hi\n")


RC_CONF = """# rc.conf
if [ -r /etc/defaults/rc.conf ]; then . /etc/defaults/rc.conf; fi
rc_configured=YES
sshd=YES
demo=NO   # old setting
demo_flags="-x"
demo="yes"
"""


def test_rc_conf_values():
    assert rcd.rc_conf_value(RC_CONF, "demo") == "yes"
    assert rcd.rc_conf_value(RC_CONF, "sshd") == "YES"
    assert rcd.rc_conf_value(RC_CONF, "demo_flags") == "-x"
    assert rcd.rc_conf_value(RC_CONF, "nginx") is None
    assert rcd.rc_conf_value("x='YES'\n", "x") == "YES"


def test_set_rc_conf_value():
    out = rcd.set_rc_conf_value(RC_CONF, "demo", "NO")
    assert out.splitlines() == RC_CONF.splitlines()[:4] + ["demo=NO", 'demo_flags="-x"']
    added = rcd.set_rc_conf_value("sshd=YES", "nginx", "YES")
    assert added == "sshd=YES\nnginx=YES\n"
    assert rcd.set_rc_conf_value("", "nginx", "YES") == "nginx=YES\n"
    with pytest.raises(ServiceError):
        rcd.set_rc_conf_value("", "nginx", "YES; rm -rf /")


# ---------------------------------------------------------------- hostile values, all four

@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_round_trip_everywhere(value):
    s = spec(command=["/opt/pkg/bin/demo", value, "--opt=" + value], env={"HOSTILE": value},
             description=value.strip().rstrip("\\") or "d")
    argv = list(s.command)

    service = smf_tree(smf.render(s)).find("service")
    assert smf_argv(service.find("exec_method").get("exec")) == argv
    assert service.find("method_context/method_environment/envvar").get("value") == value
    assert service.find("template/common_name/loctext").text == s.description

    sec = unit_sections(systemd.render(s))
    assert exec_argv(unit_value(sec, "Service", "ExecStart")) == argv
    assert systemd_words(unit_value(sec, "Service", "Environment")) == ["HOSTILE=" + value]
    assert unit_value(sec, "Unit", "Description").replace("%%", "%") == s.description

    data = plistlib.loads(launchd.render(s).encode())
    assert data["ProgramArguments"] == argv and data["EnvironmentVariables"] == {"HOSTILE": value}

    text = rcd.render(s)
    start = shlex.split(rcd_line(text, "/usr/bin/env"))
    assert start == ["/usr/bin/env", "HOSTILE=" + value] + argv + [">>/dev/null", "2>&1", "</dev/null", "&"]


@pytest.mark.parametrize("value", REFUSED_VALUES, ids=range(len(REFUSED_VALUES)))
@pytest.mark.parametrize("where", ["command", "env", "description", "working_dir"])
def test_control_characters_are_refused_before_rendering(value, where):
    kw = {"command": {"command": ["/bin/demo", value]}, "env": {"env": {"X": value}},
          "description": {"description": value}, "working_dir": {"working_dir": "/tmp/" + value}}[where]
    with pytest.raises(ServiceSpecError, match="control character"):
        spec(**kw)
