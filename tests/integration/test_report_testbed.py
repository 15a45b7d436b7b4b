"""The fleet report on real hosts: three test hosts in different states and one unreachable,
reported by playbooks/report.yml (real ansible-playbook over ssh, forks) in text, JSON and HTML.
"""
from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser

import pytest
import yaml

from tests.conftest import SAMPLES_DIR
from tests.fixtures.gpg import make_signer
from tests.fixtures.www import prepare_www
from tests.integration.adapters import VENV_BIN, ansible_env, play, task_results
from tests.testbed.inventory import REPO_ROOT

pytestmark = [pytest.mark.testbed, pytest.mark.slow]


def ok(out, host):
    results = task_results(out, host)
    assert results and not any(r.get("failed") for r in results), results
    return results


def test_report_marks_each_host(testbed, tmp_path):
    tb = testbed(3)
    signer = make_signer(tmp_path / "gpg")
    try:
        www = prepare_www(tb.www_dir, tb.http_url, signer)
    finally:
        signer.close()
    (tb.www_dir / "pkg-vulnerabilities").write_bytes((SAMPLES_DIR / "pkgdb-final" / "pkg-vulnerabilities").read_bytes())
    env = {"ANSIBLE_CONFIG": tb.files["inventory"]["config"]}
    inventory = tb.files["inventory"]["ssh"]
    boot = {"pkgsrc.deploy.bootstrap": dict(www.kit_options(), repositories=[www.repo_url])}
    vuln_url = {"ansible.builtin.lineinfile": {"path": "/usr/pkg/etc/pkg_install.conf",
                                               "line": "PKGVULNURL=%spkg-vulnerabilities" % tb.http_url}}
    audit = {"pkgsrc.deploy.audit": {"prefix": "/usr/pkg", "refresh": True}}
    # host1: no pkgsrc. host2: a vulnerable hello-1.0. host3: exactly the desired set.
    ok(play(tmp_path, [boot, vuln_url, {"pkgsrc.deploy.package": {"name": ["hello-1.0"]}}, audit],
            inventory=inventory, hosts="host2", connection=None, env=env), "host2")
    ok(play(tmp_path, [boot, vuln_url, {"pkgsrc.deploy.package": {"name": ["hello>=1.1", "foo-tool"]}}, audit],
            inventory=inventory, hosts="host3", connection=None, env=env), "host3")

    # The inventory the report runs on: the three hosts and one that does not exist.
    data = yaml.safe_load(open(inventory, encoding="utf-8"))
    data["all"]["children"]["testbed"]["hosts"]["gone"] = {"ansible_host": "gone.invalid"}
    fleet = tmp_path / "fleet.yml"
    fleet.write_text(yaml.safe_dump(data))
    desired = tmp_path / "desired.json"
    desired.write_text(json.dumps(["hello>=1.1", "foo-tool"]))
    report_dir = tmp_path / "report"
    done = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(fleet), "--forks", "8",
                           str(REPO_ROOT / "playbooks" / "report.yml"), "-e", "report_dir=%s" % report_dir,
                           "-e", "report_desired_file=%s" % desired],
                          capture_output=True, text=True, env=ansible_env(env), timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    report = json.loads((report_dir / "report.json").read_text())
    hosts = {h["host"]: h for h in report["hosts"]}
    assert hosts["gone"]["state"] == "unreachable" and hosts["gone"]["status"] == "red"
    assert hosts["host1"]["bootstrapped"] is False and hosts["host1"]["status"] == "red"
    assert hosts["host2"]["status"] == "red" and hosts["host2"]["vulnerable_packages"] == ["hello-1.0"]
    assert hosts["host3"]["status"] == "green", hosts["host3"]["reasons"]
    assert report["summary"]["unreachable"] == 1 and report["summary"]["vulnerable"] == 1

    text = (report_dir / "report.txt").read_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    for name, word in (("host1", "RED"), ("host2", "RED"), ("host3", "GREEN"), ("gone", "RED")):
        assert any(name in line and word in line.upper() for line in text.splitlines()), (name, word)
    assert "hello-1.0" in text

    html = (report_dir / "report.html").read_text()
    rows = []

    class Rows(HTMLParser):
        """(status class, text) of every table row with a status class."""

        current = None

        def handle_starttag(self, tag, attrs):
            css = dict(attrs).get("class") or ""
            if tag == "tr" and "status-" in css:
                self.current = [css, ""]
                rows.append(self.current)

        def handle_endtag(self, tag):
            if tag == "tr":
                self.current = None

        def handle_data(self, data):
            if self.current is not None:
                self.current[1] += data + " "

    Rows().feed(html)
    status_of = {}
    for css, text in rows:
        words = text.split()
        for name in ("host1", "host2", "host3", "gone"):
            if name in words and name not in status_of:
                status_of[name] = css
    assert {k: v.split("status-")[1].split()[0] for k, v in status_of.items()} == {
        "host1": "red", "host2": "red", "host3": "green", "gone": "red"}
    assert "http://" not in html.split("<body", 1)[0]  # no external assets in the head

    # The same facts, read directly: the facts module reports the vulnerable package too.
    facts = ok(play(tmp_path, [{"pkgsrc.deploy.facts": {}}], inventory=inventory, hosts="host2",
                    connection=None, env=env), "host2")[0]["ansible_facts"]["pkgsrc"]
    assert [v["pkgname"] for v in facts["prefixes"][0]["vulnerabilities"]] == ["hello-1.0"]
