"""Lock files on two real hosts with the real pkg_install 20170419 and pkgin 26.4.0, through the real
ansible-playbook over ssh: playbooks/lock.yml takes host A's lock, the fleet report shows host B's
drift from it, the packages role applies it to host B (check mode writes nothing, then changed,
then not changed), and afterwards the real pkg_info lists the same on both hosts, automatic flags
included, and the report shows no drift.
"""
from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.integration.adapters import VENV_BIN, ansible_env, play, task_results
from tests.integration.test_deploy_testbed import tree
from tests.realtools import PKG_DBDIR, PREFIX
from tests.realtools.site import prepare
from tests.testbed.inventory import REPO_ROOT

pytestmark = [pytest.mark.slow]

WATCHED = (PREFIX, "/etc/profile.d")
KIT = ["bmake-20150505", "bootstrap-mk-files-20170802", "cwrappers-20170611", "nawk-20121220nb1",
       "pkg_install-20170419", "pkgin-26.4.0"]


def pkg_info(host, *options):
    """The real pkg_info's lines (PKGNAME and comment), sorted: it lists in directory order."""
    out = host.run([PREFIX + "/sbin/pkg_info", "-K", PKG_DBDIR] + list(options)).stdout
    return sorted(line.rstrip() for line in out.splitlines() if line.strip())


def playbook(tb, tmp_path, path, extra_vars, check=False):
    """ansible-playbook PATH over ssh; returns (rc, output, {host: changed count})."""
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", tb.files["inventory"]["ssh"], str(path),
            "-e", json.dumps(extra_vars)] + (["--check"] if check else [])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False,
                          env=ansible_env({"ANSIBLE_CONFIG": tb.files["inventory"]["config"]}))
    output = done.stdout + done.stderr
    recap = re.finditer(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", done.stdout, re.M)
    changed = {m.group(1): int(m.group(2)) for m in recap}
    return done.returncode, output, changed


def report(tb, tmp_path, lock_path, name):
    out = tmp_path / name
    rc, output, _changed = playbook(tb, tmp_path, REPO_ROOT / "playbooks" / "report.yml",
                                    {"report_dir": str(out), "report_desired_file": str(lock_path)})
    assert rc == 0, output[-3000:]
    return json.loads((out / "report.json").read_text()), (out / "report.txt").read_text()


def test_lock_from_host_a_applied_to_host_b(real_kit, testbed, tmp_path):
    tb = testbed(2, names=["locka", "lockb"])
    site = prepare(tb.www_dir, tb.http_url, real_kit)
    host_a, host_b = tb.hosts
    env = {"ANSIBLE_CONFIG": tb.files["inventory"]["config"]}

    def ok(host, tasks):
        results = task_results(play(tmp_path, tasks, inventory=tb.files["inventory"]["ssh"], hosts=host.name,
                                    connection=None, env=env), host.name)
        assert results and not any(r.get("failed") for r in results), results
        return results

    boot = {"pkgsrc.deploy.bootstrap": site.bootstrap_options()}
    ok(host_a, [boot, {"pkgsrc.deploy.package": {"name": ["foo-tool", "hello-1.0"], "prefix": PREFIX}}])
    ok(host_b, [boot, {"pkgsrc.deploy.package": {"name": ["hello-1.1", "svc-demo"], "prefix": PREFIX}},
                {"pkgsrc.deploy.package": {"name": ["libfoo"], "prefix": PREFIX}}])
    assert pkg_info(host_a) != pkg_info(host_b)

    # Mistakes are refused with a message: no file, or more than one reference host.
    rc, output, _changed = playbook(tb, tmp_path, REPO_ROOT / "playbooks" / "lock.yml", {"lock_host": host_a.name})
    assert rc != 0 and "Give the reference host and the file to write" in output, output[-3000:]
    rc, output, _changed = playbook(tb, tmp_path, REPO_ROOT / "playbooks" / "lock.yml",
                                    {"lock_host": "all", "lock_file": str(tmp_path / "all.lock.yml")})
    assert rc != 0 and "lock_host matches 2 hosts: give one" in output, output[-3000:]
    assert not (tmp_path / "all.lock.yml").exists()

    # The reference host's lock, written on the controller.
    lock_path = tmp_path / "locks" / "web.lock.yml"
    lock_path.parent.mkdir()
    rc, output, _changed = playbook(tb, tmp_path, REPO_ROOT / "playbooks" / "lock.yml",
                                    {"lock_host": host_a.name, "lock_file": str(lock_path)})
    assert rc == 0, output[-3000:]
    text = lock_path.read_text()
    assert text.startswith("# pkgsrc.deploy lock file")
    lock = yaml.safe_load(text)
    assert list(lock) == ["lock_version", "prefix", "taken_at", "taken_from", "packages"]
    assert lock["lock_version"] == 1 and lock["prefix"] == PREFIX and lock["taken_from"] == host_a.name
    assert [p["pkgname"] for p in lock["packages"]] == sorted(KIT + ["foo-tool-3.2", "hello-1.0", "libfoo-2.0nb1"])
    assert [p["pkgname"] for p in lock["packages"] if p["automatic"]] == ["libfoo-2.0nb1"]

    # The report shows host B's drift from the lock, and each host's last transaction.
    before, before_text = report(tb, tmp_path, lock_path, "report-before")
    hosts = {h["host"]: h for h in before["hosts"]}
    clean = {"prefix": PREFIX, "prefix_found": True, "missing": [], "wrong_version": [], "extra": [], "automatic": []}
    # (no audit was run on these hosts: that alone makes them amber)
    assert hosts[host_a.name]["drift"] == clean
    assert hosts[host_a.name]["reasons"] == ["vulnerabilities unknown (audit not run): /opt/pkg"]
    drift = hosts[host_b.name]["drift"]
    assert (drift["missing"], drift["extra"]) == (["foo-tool-3.2"], ["svc-demo-1.0"])
    assert drift["wrong_version"] == [{"pattern": "hello-1.0", "installed": ["hello-1.1"]}]
    assert drift["automatic"] == [{"pkgname": "libfoo-2.0nb1", "automatic": True}]
    assert hosts[host_b.name]["status"] == "red"
    assert all(h["prefixes"][0]["last_transaction"]["outcome"] == "ok" for h in hosts.values())
    assert "LAST TRANSACTIONS" in before_text and before["desired"]["lock"]["taken_from"] == host_a.name

    # The packages role applies it to host B: check mode writes nothing, then changed, then not.
    role_play = tmp_path / "apply-lock.yml"
    role_play.write_text(yaml.safe_dump([{"hosts": host_b.name, "gather_facts": False,
                                          "roles": [{"role": "pkgsrc.deploy.packages"}]}]))
    variables = {"packages_lock_file": str(lock_path)}
    watched = tree(host_b, WATCHED)
    rc, output, changed = playbook(tb, tmp_path, role_play, variables, check=True)
    assert rc == 0 and changed[host_b.name] >= 1, output[-3000:]
    assert tree(host_b, WATCHED) == watched, "check mode wrote on the host"
    rc, output, changed = playbook(tb, tmp_path, role_play, variables)
    assert rc == 0 and changed[host_b.name] >= 1, output[-3000:]
    assert pkg_info(host_b) == pkg_info(host_a)
    assert pkg_info(host_b, "-u") == pkg_info(host_a, "-u")  # the packages installed by hand
    assert host_b.run([PREFIX + "/sbin/pkg_admin", "-K", PKG_DBDIR, "check"]).returncode == 0
    rc, output, changed = playbook(tb, tmp_path, role_play, variables)
    assert rc == 0 and changed[host_b.name] == 0, output[-3000:]
    # pkgin's own database agrees on what is kept (pkgin unkeep, not pkg_admin behind its back).
    no_keep = host_b.run([PREFIX + "/bin/pkgin", "show-no-keep"]).stdout
    assert [line.split()[0] for line in no_keep.splitlines() if line.strip()] == ["libfoo-2.0nb1"]

    after, _text = report(tb, tmp_path, lock_path, "report-after")
    hosts = {h["host"]: h for h in after["hosts"]}
    assert hosts[host_b.name]["drift"] == clean
    assert hosts[host_b.name]["reasons"] == ["vulnerabilities unknown (audit not run): /opt/pkg"]
    assert hosts[host_b.name]["prefixes"][0]["last_transaction"]["kind"] == "package"
