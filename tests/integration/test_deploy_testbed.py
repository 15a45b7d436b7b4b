"""Bootstrap, packages and a service on real test hosts (systemd as PID 1), through the real
ansible-playbook (over ssh) and the real salt-ssh (the thin with pkgsrc_core, the loader modules from
the file roots), with the kit and repository over real HTTP. The hosts see nothing of the
controller's checkout or virtualenv.
Every step: applied (changed), applied again (not changed), and in check mode / test=True
(nothing written: a tree hash of the host before and after).
"""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.fixtures.gpg import make_signer
from tests.fixtures.www import SIM_LOG, prepare_www
from tests.integration.adapters import play, task_results
from tests.testbed.inventory import REPO_ROOT

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

HASH_SCRIPT = """\
import hashlib, os, sys
h = hashlib.sha256()
for top in sys.argv[1:]:
    for dirpath, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(dirs + files):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(("%s %o %d\\n" % (p, st.st_mode, st.st_size)).encode())
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    h.update(f.read())
print(h.hexdigest())
"""
WATCHED = ("/usr/pkg", "/etc/profile.d", "/etc/systemd/system", "/var/tmp/pkgsrc-deploy")


def tree(host, paths=WATCHED):
    return host.run(["python3", "-c", HASH_SCRIPT] + list(paths)).stdout.strip()


def sim_calls(host):
    text = host.run(["sh", "-c", "cat %s 2>/dev/null || true" % SIM_LOG]).stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture()
def fleet(testbed, tmp_path_factory):
    """Two hosts (that see nothing of the controller's files) and the served kit, key and repository."""
    tb = testbed(2)
    for host in tb.hosts:
        for path in (REPO_ROOT, Path(sys.prefix).resolve()):
            assert host.run(["test", "-e", str(path)], check=False).returncode != 0, f"{host.name} sees {path}"
    signer = make_signer(tmp_path_factory.mktemp("signer"))
    try:
        www = prepare_www(tb.www_dir, tb.http_url, signer)
        yield tb, www
    finally:
        signer.close()


def ansible(tb, tmp_path, tasks, host="host1", **kwargs):
    out = play(tmp_path, tasks, inventory=tb.files["inventory"]["ssh"], hosts=host, connection=None,
               env={"ANSIBLE_CONFIG": tb.files["inventory"]["config"]}, **kwargs)
    return task_results(out, host)


def only(results):
    assert len(results) == 1
    result = results[0]
    assert not result.get("failed"), result
    return result


def test_ansible_bootstrap_packages_and_systemd_service(fleet, tmp_path):
    tb, www = fleet
    host = tb.hosts[0]
    boot = {"pkgsrc.deploy.bootstrap": dict(www.kit_options(), repositories=[www.repo_url])}

    # Bootstrap: check mode on a fresh host writes nothing; then changed; then not changed.
    before = tree(host)
    checked = only(ansible(tb, tmp_path, [boot], check=True))
    assert checked["changed"] and tree(host) == before
    first = only(ansible(tb, tmp_path, [boot]))
    assert first["changed"] and first["layout"]["pkg_dbdir"] == "/usr/pkg/.pkgdb"
    assert "pkg_install-20170419" in host.run(["ls", "/usr/pkg/.pkgdb"]).stdout
    assert "/usr/pkg/sbin" in host.run(["cat", "/etc/profile.d/pkgsrc.sh"]).stdout
    second = only(ansible(tb, tmp_path, [boot]))
    assert not second["changed"] and second["existing"]

    # Packages: a dependency chain, then converged with no process, then check mode.
    pkgs = {"pkgsrc.deploy.package": {"name": ["foo-tool", "svc-demo"], "prefix": "/usr/pkg"}}
    installed = only(ansible(tb, tmp_path, [pkgs]))
    assert installed["changed"] and {"foo-tool-3.2", "libfoo-2.0nb1", "svc-demo-1.0"} <= set(installed["installed"])
    calls = len(sim_calls(host))
    assert not only(ansible(tb, tmp_path, [pkgs]))["changed"]
    assert len(sim_calls(host)) == calls, "a converged run spawned pkgsrc tools on the host"
    before = tree(host)
    planned = only(ansible(tb, tmp_path, [{"pkgsrc.deploy.package": {"name": ["hello"], "prefix": "/usr/pkg"}}],
                           check=True))
    assert planned["changed"] and tree(host) == before

    # Service under real systemd: register, start, answer over HTTP.
    def service(greeting, state="started"):
        return {"pkgsrc.deploy.service": {
            "name": "svc-demo", "state": state, "command": ["/usr/pkg/bin/svc-demo"],
            "env": {"SVC_DEMO_PORT": "8080", "SVC_DEMO_GREETING": greeting}, "network": True}}

    def answer():
        return host.run(["curl", "-fsS", "--retry", "20", "--retry-connrefused", "--retry-delay", "0",
                         "--max-time", "5", "http://127.0.0.1:8080/"]).stdout

    started = only(ansible(tb, tmp_path, [service("hello from ansible")]))
    assert started["changed"] and started["init"] == "systemd"
    assert host.run(["systemctl", "is-active", "svc-demo.service"]).stdout.strip() == "active"
    assert host.run(["systemctl", "is-enabled", "svc-demo.service"]).stdout.strip() == "enabled"
    assert "hello from ansible" in answer()
    pid = host.run(["systemctl", "show", "-p", "MainPID", "--value", "svc-demo.service"]).stdout.strip()

    changed = only(ansible(tb, tmp_path, [service("changed greeting")], diff=True))
    assert changed["changed"] and "changed greeting" in changed["diff"]["after"]
    assert "changed greeting" in answer()
    assert host.run(["systemctl", "show", "-p", "MainPID", "--value", "svc-demo.service"]).stdout.strip() != pid

    assert not only(ansible(tb, tmp_path, [service("changed greeting")]))["changed"]
    before = tree(host)
    assert only(ansible(tb, tmp_path, [service("check mode only")], check=True))["changed"]
    assert tree(host) == before and "changed greeting" in answer()

    gone = only(ansible(tb, tmp_path, [service("changed greeting", state="absent")]))
    assert gone["changed"]
    assert host.run(["test", "-e", "/etc/systemd/system/svc-demo.service"], check=False).returncode != 0
    assert host.run(["pgrep", "-f", "/usr/pkg/bin/svc-demo"], check=False).returncode != 0
    assert not only(ansible(tb, tmp_path, [service("changed greeting", state="absent")]))["changed"]


SLS = """\
pkgsrc:
  pkgsrc.bootstrapped:
    - url: {url}
    - checksum: {checksum}
    - signature_url: {signature_url}
    - gpg_key: {gpg_key}
    - repositories:
      - {repo}

demo packages:
  pkgsrc.installed:
    - pkgs:
      - foo-tool
      - svc-demo
    - prefix: /usr/pkg
    - require:
      - pkgsrc: pkgsrc

svc-demo:
  pkgsrc_service.running:
    - command: [/usr/pkg/bin/svc-demo]
    - env:
        SVC_DEMO_PORT: "8080"
        SVC_DEMO_GREETING: hello from salt
    - require:
      - pkgsrc: demo packages
"""


def test_salt_same_deployment_same_results(fleet, tmp_path):
    """The same request through Ansible and through salt-ssh (as a user runs it: tb.salt_ssh)."""
    tb, www = fleet
    host = tb.hosts[1]
    # The same bootstrap request planned by Ansible and by Salt on the same host: same result.
    options = dict(www.kit_options(), repositories=[www.repo_url])
    by_ansible = only(ansible(tb, tmp_path, [{"pkgsrc.deploy.bootstrap": options}], host=host.name, check=True))
    salt_args = ["pkgsrc.bootstrap", "test=True"] + ["%s=%s" % (k, json.dumps(v) if isinstance(v, list) else v)
                                                     for k, v in options.items()]
    by_salt = tb.salt_ssh(salt_args, target=host.name)[host.name]
    assert isinstance(by_salt, dict) and "actions" in by_salt, by_salt
    for key in ("changed", "actions", "layout", "method", "kit"):
        assert by_salt[key] == by_ansible[key], key
    assert "; ".join(by_salt["messages"]) == by_ansible["msg"]

    # A state file of the user's own next to salt_states/ (the formulas and loader modules) on the
    # file roots of the salt-ssh configuration; salt-ssh ships both to the host.
    states = tmp_path / "states"
    states.mkdir()
    (states / "demo.sls").write_text(SLS.format(repo=www.repo_url, **www.kit_options()))
    master_file = Path(tb.files["salt"]["master"])
    master = yaml.safe_load(master_file.read_text())
    master["file_roots"] = {"base": [str(states), str(REPO_ROOT / "salt_states")]}
    master_file.write_text(yaml.safe_dump(master))

    def apply(test=False):
        out = tb.salt_ssh(["state.apply", "demo"] + (["test=True"] if test else []), target=host.name)
        ret = out.get(host.name) if isinstance(out, dict) else None
        assert isinstance(ret, dict) and all(isinstance(r, dict) for r in ret.values()), out
        return ret

    before = tree(host)
    tested = apply(test=True)
    assert all(r["result"] in (None, True) for r in tested.values()), json.dumps(tested, indent=1)
    assert any(r["changes"] or r["result"] is None for r in tested.values())
    assert tree(host) == before
    first = apply()
    assert all(r["result"] is True for r in first.values()), textwrap.shorten(json.dumps(first), 2000)
    assert any(r["changes"] for r in first.values())
    answer = host.run(["curl", "-fsS", "--retry", "20", "--retry-connrefused", "--retry-delay", "0",
                       "--max-time", "5", "http://127.0.0.1:8080/"]).stdout
    assert "hello from salt" in answer
    calls = len(sim_calls(host))
    second = apply()
    assert all(r["result"] is True and not r["changes"] for r in second.values()), second
    assert len(sim_calls(host)) == calls
