"""ServiceSpec validation: what is accepted, what is refused, and that refusals say what to do."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import ServiceSpecError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.services.spec import (
    SPEC_FIELDS, ServiceSpec, spec_from_dict)

BASE = {"name": "demo", "command": ["/opt/pkg/bin/demo", "--foreground"]}


def make(**overrides):
    data = dict(BASE)
    data.update(overrides)
    return ServiceSpec(**data)


def test_defaults_and_normalisation():
    spec = make(env={"B": "2", "A": "1"}, depends_on=["db"], stop_command=["/bin/kill", "x"])
    assert spec.command == ("/opt/pkg/bin/demo", "--foreground")
    assert spec.stop_command == ("/bin/kill", "x")
    assert spec.depends_on == ("db",)
    assert spec.env == {"B": "2", "A": "1"}
    assert (spec.restart, spec.scope, spec.forks, spec.filesystems, spec.network) == \
        ("on-failure", "system", False, True, False)
    assert spec.title == "demo"
    assert make(description="Demo daemon").title == "Demo daemon"


def test_env_is_copied_not_shared():
    env = {"A": "1"}
    spec = make(env=env)
    env["A"] = "changed"
    assert spec.env == {"A": "1"}


ACCEPTED = [
    ("name", "a"), ("name", "svc-demo"), ("name", "org.example_1"), ("name", "9lives"),
    ("user", "nobody"), ("user", "_www"), ("user", "1001"), ("group", "daemon"),
    ("working_dir", "/var/lib/demo dir"), ("log_file", "/var/log/demo.log"), ("pid_file", "/run/demo.pid"),
    ("description", "Demo <&> 'quotes' \"double\" $(x) 100%"), ("description", "unicode \u00e9 \u2713"),
    ("command", ["/bin/echo", "", "$(touch x)", "a;b", "it's"]),
    ("restart", "no"), ("restart", "always"), ("scope", "user"),
    ("start_timeout", 0), ("stop_timeout", 604800),
    ("smf_fmri", "svc:/site/demo"), ("launchd_label", "com.example.demo"),
]


@pytest.mark.parametrize("field,value", ACCEPTED)
def test_accepted(field, value):
    spec = make(**{field: value})
    got = getattr(spec, field)
    assert got == (tuple(value) if isinstance(value, list) else value)


REFUSED = [
    ("name", "", "is empty"),
    ("name", "-demo", "not a valid service name"),
    ("name", "demo/x", "not a valid service name"),
    ("name", "demo svc", "not a valid service name"),
    ("name", "x" * 65, "not a valid service name"),
    ("name", "de\nmo", "control character"),
    ("command", "/bin/demo --flag", "list of arguments"),
    ("command", [], "is empty"),
    ("command", ["demo"], "not an absolute path"),
    ("command", ["/bin/demo", "two\nlines"], "control character U+000A"),
    ("command", ["/bin/demo", "tab\there"], "control character U+0009"),
    ("command", ["/bin/demo", "nul\x00"], "control character U+0000"),
    ("command", ["/bin/demo", "sep\u2028"], "control character U+2028"),
    ("command", ["/bin/demo", 5], "must be a string"),
    ("command", ["/bin\\demo"], "backslash"),
    ("description", "two\nlines", "control character"),
    ("description", "ends with \\", "backslash"),
    ("description", " padded", "surrounding spaces"),
    ("user", "root\nUser=evil", "control character"),
    ("user", "bad user", "not a valid user"),
    ("user", "a:b", "not a valid user"),
    ("group", "$(id)", "not a valid user"),
    ("working_dir", "relative/dir", "not an absolute path"),
    ("working_dir", "/tmp/\r", "control character"),
    ("log_file", "/var/log/x\\", "backslash"),
    ("env", {"1BAD": "x"}, "environment variable name"),
    ("env", {"BAD-NAME": "x"}, "environment variable name"),
    ("env", {"OK": "multi\nline"}, "control character"),
    ("env", ["A=1"], "must be a mapping"),
    ("depends_on", "other", "list of service names"),
    ("depends_on", ["demo"], "depends on itself"),
    ("depends_on", ["../etc"], "not a valid service name"),
    ("restart", "sometimes", "not a restart policy"),
    ("scope", "global", "scope"),
    ("start_timeout", -1, "out of range"),
    ("stop_timeout", True, "whole number"),
    ("start_timeout", "60", "whole number"),
    ("forks", "yes", "true or false"),
    ("smf_fmri", "svc:/site/demo:default", "not a service FMRI"),
    ("smf_fmri", "site/demo", "not a service FMRI"),
    ("launchd_label", "bad label", "not a valid label"),
]


@pytest.mark.parametrize("field,value,message", REFUSED)
def test_refused(field, value, message):
    with pytest.raises(ServiceSpecError) as info:
        make(**{field: value})
    assert message in str(info.value)


def test_refusal_carries_a_hint():
    with pytest.raises(ServiceSpecError) as info:
        make(command="/bin/demo -f")
    assert info.value.hint and "list" in info.value.hint


def test_spec_from_dict_maps_options():
    spec = spec_from_dict({"name": "demo", "command": ["/bin/demo"], "user": None, "env": {"A": "1"},
                           "depends_on": ["db"], "network": True})
    assert spec.user is None and spec.network is True and spec.depends_on == ("db",)


def test_spec_from_dict_refuses_unknown_and_missing():
    with pytest.raises(ServiceSpecError) as info:
        spec_from_dict({"name": "demo", "command": ["/bin/demo"], "usr": "x"})
    assert "usr" in str(info.value) and "user" in info.value.hint
    with pytest.raises(ServiceSpecError) as info:
        spec_from_dict({"name": "demo"})
    assert "command" in str(info.value)


def test_fields_listed():
    assert SPEC_FIELDS[:2] == ("name", "command")
    assert {"user", "group", "working_dir", "env", "stop_command", "reload_command", "network",
            "filesystems", "depends_on", "restart", "start_timeout", "stop_timeout", "forks"} <= set(SPEC_FIELDS)
