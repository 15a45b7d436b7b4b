"""playbooks/rollout.yml and the app role's health check and rollback on four real test hosts
(systemd as PID 1, real ssh, real ansible-playbook, the kit and repository over real HTTP).

The application is svc-demo in /usr/pkg with a configuration file whose greeting names the release
and a health check over HTTP. The repository offers svc-demo-1.0 and 1.1 (good) and 1.2, whose
daemon exits at once (tests.fixtures.demo.svc_demo_unhealthy_spec). The rollout of 1.1 gives host2
1.2 instead (a host variable: the bad build reaches one host of the first batch), in batches of
two with max_fail_percentage 25:

- host1 ends on 1.1, healthy: "upgraded";
- host2 fails its check, is rolled back to 1.0 (package, configuration, service) and answers
  again: "rolled back";
- the batch failed 50 % > 25 %: the rollout stops; host3 and host4 are untouched: "not reached".

Before it: the first deployment of 1.0 (changed), the same again (nothing changed), and the
rollout in check mode (nothing on any host changes). Five ansible-playbook runs in all.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional

import pytest
import yaml

from tests.demo.ansible_side import parse_output
from tests.fixtures.demo import svc_demo_spec, svc_demo_unhealthy_spec
from tests.fixtures.gpg import make_signer
from tests.fixtures.repo import add_packages
from tests.fixtures.www import prepare_www
from tests.integration.adapters import VENV_BIN, ansible_env
from tests.integration.test_deploy_testbed import tree
from tests.testbed.inventory import REPO_ROOT

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

PREFIX = "/usr/pkg"
HOSTS = ("host1", "host2", "host3", "host4")
REPORT_TASK = "Write the outcomes so far on the controller"


@pytest.fixture(scope="module")
def fleet(testbed_session, tmp_path_factory):
    """Four hosts, the served kit and a repository with svc-demo 1.0, 1.1 and the broken 1.2."""
    tb = testbed_session(4, names=list(HOSTS))
    signer = make_signer(tmp_path_factory.mktemp("rollout-signer"))
    try:
        www = prepare_www(tb.www_dir, tb.http_url, signer)
    finally:
        signer.close()
    add_packages(tb.www_dir / "All", [svc_demo_spec("1.1", PREFIX), svc_demo_unhealthy_spec("1.2", PREFIX)])
    return tb, www, tmp_path_factory.mktemp("rollout")


def app_vars(www, version: str, check: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "app_name": "svc-demo", "app_prefix": PREFIX,
        "app_bootstrap": www.kit_options(), "app_repositories": [www.repo_url],
        "app_packages": ["svc-demo-%s" % version],
        "app_config_files": [{"dest": "etc/svc-demo/svc-demo.env",
                              "content": "SVC_DEMO_PORT=8080\nSVC_DEMO_GREETING='release %s'\n" % version}],
        "app_service": {"command": ["/bin/sh", "-ac", ". %s/etc/svc-demo/svc-demo.env && exec %s/bin/svc-demo"
                                    % (PREFIX, PREFIX)],
                        "network": True, "restart": "on-failure"},
        "app_health_check": dict(check, timeout=2, retries=3, delay=1),
    }


HTTP_CHECK = {"url": "http://127.0.0.1:8080/", "body": "greeting: release"}
COMMAND_CHECK = {"command": ["curl", "-fsS", "http://127.0.0.1:8080/"]}


def rollout(tb, www, workdir: Path, name: str, version: str, *, bad_host: Optional[str] = None,
            check: bool = False, batch: str = "2", max_fail: int = 25, health: Optional[Dict[str, Any]] = None):
    """ansible-playbook playbooks/rollout.yml over the four hosts: (process, report, task statuses)."""
    inventory = yaml.safe_load(Path(tb.files["inventory"]["ssh"]).read_text())
    inventory["all"]["vars"].update(app_vars(www, version, health or HTTP_CHECK))
    if bad_host:
        inventory["all"]["children"]["testbed"]["hosts"][bad_host]["app_packages"] = ["svc-demo-1.2"]
    path = workdir / ("inventory-%s.yml" % name)
    path.write_text(yaml.safe_dump(inventory))
    report = workdir / ("rollout-%s.json" % name)
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(path), "--forks", "4",
            str(REPO_ROOT / "playbooks" / "rollout.yml"), "-e", "rollout_hosts=testbed",
            "-e", "rollout_batch=%s" % batch, "-e", "rollout_max_fail_percentage=%d" % max_fail,
            "-e", "rollout_report=%s" % report]
    if check:
        argv.append("--check")
    env = ansible_env({"ANSIBLE_CONFIG": tb.files["inventory"]["config"], "ANSIBLE_NOCOLOR": "1",
                       "ANSIBLE_FORCE_COLOR": "0"})
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    (workdir / ("output-%s.txt" % name)).write_text(proc.stdout + proc.stderr)
    output = proc.stdout[-6000:] + proc.stderr[-3000:]
    assert report.exists(), output
    _recap, tasks = parse_output(proc.stdout)
    return proc, json.loads(report.read_text()), tasks, output


def answer(host) -> str:
    return host.run(["curl", "-sS", "--retry", "10", "--retry-connrefused", "--retry-delay", "1",
                     "--max-time", "5", "http://127.0.0.1:8080/"], check=False).stdout


def installed(host) -> set:
    return set(host.run(["ls", PREFIX + "/.pkgdb"]).stdout.split())


def test_rollout_upgrades_rolls_back_and_stops(fleet):
    tb, www, workdir = fleet
    hosts = {h.name: h for h in tb.hosts}

    # The first deployment (through the rollout, all four hosts; the health check a command):
    # changed, every host answers.
    proc, report, tasks, out = rollout(tb, www, workdir, "first", "1.0", health=COMMAND_CHECK)
    assert proc.returncode == 0, out
    assert report["check_mode"] is False and report["app"] == "svc-demo"
    assert {h: (r["outcome"], r["version"]) for h, r in report["hosts"].items()} == {
        h: ("upgraded", "1.0") for h in HOSTS}, out
    assert all(r["message"] == "svc-demo: deployed, healthy (curl -fsS http://127.0.0.1:8080/ exits 0)"
               for r in report["hosts"].values()), report
    for host in hosts.values():
        assert answer(host) == "svc-demo 1.0\ngreeting: release 1.0\n"
        assert "svc-demo-1.0" in installed(host)

    # The same again: nothing changes (the report on the controller is the only write).
    proc, report, tasks, out = rollout(tb, www, workdir, "again", "1.0")
    assert proc.returncode == 0, out
    changed = [(name, status) for name, status in tasks if name.split(" : ")[-1] != REPORT_TASK
               and "changed" in status.values()]
    assert changed == [], out
    assert {h: r["outcome"] for h, r in report["hosts"].items()} == {h: "unchanged" for h in HOSTS}
    assert all(r["version"] == "1.0" for r in report["hosts"].values())

    # Check mode plans the rollout of 1.1 (1.2 on host2): the report says what would change, no host changes.
    before = {name: tree(host) for name, host in hosts.items()}
    proc, report, tasks, out = rollout(tb, www, workdir, "check", "1.1", bad_host="host2", check=True)
    assert proc.returncode == 0, out
    assert report["check_mode"] is True
    assert {h: (r["outcome"], r["version"]) for h, r in report["hosts"].items()} == {
        "host1": ("upgraded", "1.1"), "host2": ("upgraded", "1.2"), "host3": ("upgraded", "1.1"),
        "host4": ("upgraded", "1.1")}, out
    assert {name: tree(host) for name, host in hosts.items()} == before
    assert all(answer(host) == "svc-demo 1.0\ngreeting: release 1.0\n" for host in hosts.values())

    # The rollout: host1 upgraded, host2 rolled back, the batch over 25 %: host3 and host4 not reached.
    proc, report, tasks, out = rollout(tb, www, workdir, "bad", "1.1", bad_host="host2")
    assert proc.returncode == 2, out
    outcomes = report["hosts"]
    assert {h: (r["outcome"], r["version"]) for h, r in outcomes.items()} == {
        "host1": ("upgraded", "1.1"), "host2": ("rolled back", "1.0"),
        "host3": ("not reached", None), "host4": ("not reached", None)}, json.dumps(report, indent=1)

    assert answer(hosts["host1"]) == "svc-demo 1.1\ngreeting: release 1.1\n"
    assert "svc-demo-1.1" in installed(hosts["host1"]) and "svc-demo-1.0" not in installed(hosts["host1"])

    bad = hosts["host2"]
    message = outcomes["host2"]["message"]
    assert message.startswith("svc-demo: the new version failed its health check (GET http://127.0.0.1:8080/ "
                              "answers 200 with 'greeting: release': no answer ("), message
    assert ("Rolled back: packages (transaction 3 undone: svc-demo-1.2 -> svc-demo-1.0); configuration files "
            "etc/svc-demo/svc-demo.env; service svc-demo restarted. The previous version is healthy again (GET "
            "http://127.0.0.1:8080/ answers 200 with 'greeting: release').") in message, message
    assert "svc-demo-1.0" in installed(bad) and "svc-demo-1.2" not in installed(bad)
    assert answer(bad) == "svc-demo 1.0\ngreeting: release 1.0\n"
    assert bad.run(["cat", PREFIX + "/etc/svc-demo/svc-demo.env"]).stdout.endswith("release 1.0'\n")
    assert bad.run(["systemctl", "is-active", "svc-demo.service"]).stdout.strip() == "active"
    for host in (hosts["host1"], bad):  # the copies kept for a rollback are gone
        assert host.run(["ls", PREFIX + "/etc/svc-demo"]).stdout.split() == ["svc-demo.env"]
    history = bad.run(["sh", "-c", "cat %s/var/db/pkgsrc-deploy/history/*.json" % PREFIX], check=False).stdout
    assert '"rollback"' in history, history[-2000:]

    for name in ("host3", "host4"):
        assert tree(hosts[name]) == before[name], name
        assert answer(hosts[name]) == "svc-demo 1.0\ngreeting: release 1.0\n"
