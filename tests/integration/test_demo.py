"""`make demo` as CI runs it: the demo driver (tests/demo) as a program, on four test hosts (five
with the real kit: real1 runs the real pkg_install and pkgin). Every application answers GET / from
the controller with its own (current) greeting, every service is active, the second run changes
nothing, a configuration change restarts exactly the services it concerns (one deployed by Ansible,
one by Salt), and the teardown leaves nothing behind.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.demo.fleet import FLEET, REAL_NODE
from tests.demo.run import RECONFIGURED
from tests.realtools import real_kit_dir
from tests.testbed.fixtures import unavailable_reason

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.testbed, pytest.mark.slow,
              pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))]


def test_demo_deploys_the_fleet_and_every_application_answers(tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    env = dict(os.environ, PYTHONPATH="%s:%s" % (REPO / "plugins" / "module_utils", REPO))
    proc = subprocess.run([sys.executable, "-m", "tests.demo", "--json", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1200, check=False)
    report = "demo output:\n%s\n%s" % (proc.stdout[-8000:], proc.stderr[-3000:])
    assert proc.returncode == 0, report
    result = json.loads(out.read_text())
    assert result["ok"] is True and result["problems"] == [] and result["leftovers"] == [], report

    # real1 (the real pkg_install and pkgin, the real svc-demo) runs where the real kit is.
    fleet = FLEET + ((REAL_NODE,) if real_kit_dir() else ())
    assert sorted(result["hosts"]) == sorted(node.name for node in fleet), report

    # Every application of the fleet answered, with its greeting (the reconfigured ones with the new one).
    apps = {"%s:%d" % (node.name, app.port): app for node in fleet for app in node.apps}
    original = {key: app.greeting for key, app in apps.items()}
    expected = result["expected"]
    assert sorted(expected) == sorted(original) == sorted(result["answers"])
    for key, greeting in expected.items():
        host = key.split(":")[0]
        first_app = key == "%s:%d" % (host, [n for n in fleet if n.name == host][0].apps[0].port)
        if host in RECONFIGURED and first_app:
            assert greeting == original[key] + ", reconfigured"
        else:
            assert greeting == original[key]
        if apps[key].configurable:
            assert result["answers"][key] == "svc-demo 1.0\ngreeting: %s\n" % greeting, (key, report)
        else:  # the real svc-demo: no settings, a fixed answer
            assert result["answers"][key] == greeting + "\n", (key, report)
    assert result["services"] == {key: "active" for key in expected}

    # Converged: the second run changed nothing; the config change touched and restarted only its hosts.
    assert result["second_run_changes"] == {node.name: 0 for node in fleet}
    changes = result["config_change"]["changes"]
    assert sorted(h for h, n in changes.items() if n) == sorted(RECONFIGURED)
    assert result["config_change"]["restarted"] == sorted("%s svc-demo.service" % h for h in RECONFIGURED)

    # The facts the tools returned: every prefix holds svc-demo-1.0.
    for node in fleet:
        facts = result["hosts"][node.name]["facts"]
        assert facts["host"]["init"] == "systemd" and not facts["errors"], (node.name, facts)
        for app in node.apps:
            prefix = [p for p in facts["prefixes"] if p["prefix"] == app.prefix]
            assert prefix, (node.name, app.prefix, [p["prefix"] for p in facts["prefixes"]])
            assert "svc-demo-1.0" in [pkg["pkgname"] for pkg in prefix[0]["packages"]]
