"""The fleet report against a lock file, and each prefix's last transaction (amber when interrupted)."""
from __future__ import annotations

import json

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.lockfile import LockFileError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import cli as report_cli
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import html as report_html
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import inputs as report_input
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import model as report
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import schema as report_schema
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.report import text as report_text

BOOTSTRAP = ["bmake-20150505", "bootstrap-mk-files-20170802", "cwrappers-20170611", "nawk-20121220nb1",
             "pkg_install-20170419", "pkgin-26.4.0"]

LOCK_YAML = """\
# taken with playbooks/lock.yml
lock_version: 1
prefix: /opt/pkg
taken_at: "2026-12-05T12:00:00Z"
taken_from: web1
packages:
  - {pkgname: bmake-20150505, automatic: false}
  - {pkgname: bootstrap-mk-files-20170802, automatic: false}
  - {pkgname: cwrappers-20170611, automatic: false}
  - {pkgname: foo-tool-3.2, automatic: false}
  - {pkgname: hello-1.1, automatic: false}
  - {pkgname: libfoo-2.0nb1, automatic: true}
  - {pkgname: nawk-20121220nb1, automatic: false}
  - {pkgname: pkg_install-20170419, automatic: false}
  - {pkgname: pkgin-26.4.0, automatic: false}
"""
SAME = ["foo-tool-3.2", "hello-1.1", "libfoo-2.0nb1"]


def prefix(pkgnames, automatic=(), audited=True):
    packages = []
    for pkgname in sorted(set(BOOTSTRAP + list(pkgnames))):
        name, _sep, version = pkgname.rpartition("-")
        packages.append({"name": name, "version": version, "pkgname": pkgname, "automatic": pkgname in automatic,
                         "comment": "demo"})
    return {"prefix": "/opt/pkg", "pkg_dbdir": "/opt/pkg/pkgdb", "sysconfdir": "/opt/pkg/etc",
            "varbase": "/opt/pkg/var", "repositories": ["http://10.0.0.1/2025Q3/All"], "branch": "2025Q3",
            "pkg_install_version": "20170419", "pkgin_version": "26.4.0", "package_count": len(packages),
            "packages": packages, "vulnerabilities": [] if audited else None}


def facts(*prefixes):
    return {"facts_version": 1, "host": None, "bootstrapped": True, "prefixes": list(prefixes), "errors": []}


def txn(number, outcome, end="2026-12-05T11:00:09.000001Z"):
    return {"id": number, "kind": "package", "start": "2026-12-05T11:00:00.000001Z",
            "end": None if outcome in ("interrupted", "running") else end, "outcome": outcome}


def with_txn(data, last, kit=None):
    for pre in data["prefixes"]:
        pre["last_transaction"] = last
        if kit is not None:
            pre["kit_packages"] = kit
    return data


@pytest.fixture
def lock_file(tmp_path):
    path = tmp_path / "web.lock.yml"
    path.write_text(LOCK_YAML)
    return path


def fleet():
    return {
        "web1": with_txn(facts(prefix(SAME, automatic=["libfoo-2.0nb1"])), txn(3, "ok")),
        "web2": with_txn(facts(prefix(["foo-tool-3.2", "hello-1.0", "libfoo-2.0nb1", "svc-demo-1.0"],
                                      audited=False)), txn(7, "interrupted")),
        "web3": facts(prefix(["hello-1.1"])),  # facts from before lock files: no kit_packages, no history
        "web4": with_txn(facts(prefix(SAME + ["mktools-20220909"], automatic=["libfoo-2.0nb1"])), txn(2, "failed"),
                         kit=["bmake", "bootstrap-mk-files", "cwrappers", "mktools", "nawk", "pkg_install", "pkgin"]),
    }


def test_a_lock_is_a_desired_set(lock_file):
    desired = report_input.load_desired(str(lock_file))
    assert desired.lock is not None and desired.prefix == "/opt/pkg"
    assert [d.pattern for d in desired.packages] == sorted(BOOTSTRAP + SAME)


def test_a_bad_lock_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.lock.yml"
    path.write_text("lock_version: 1\npackages:\n  - {pkgname: hello}\n")
    with pytest.raises(LockFileError) as err:
        report_input.load_desired(str(path))
    assert str(path) in err.value.message and "not an exact PKGNAME" in err.value.message
    assert report_cli.main(["--input", str(path), "--desired", str(path)]) == 2


def test_drift_from_a_lock_and_last_transactions(lock_file):
    model = report.build_report(fleet(), report_input.load_desired(str(lock_file)), "2026-12-05T12:30:00Z")
    assert report_schema.validate(model) == []
    hosts = {h["host"]: h for h in model["hosts"]}
    assert hosts["web1"]["status"] == "green"
    assert hosts["web1"]["drift"] == {"prefix": "/opt/pkg", "prefix_found": True, "missing": [], "wrong_version": [],
                                      "extra": [], "automatic": []}
    web2 = hosts["web2"]
    assert web2["status"] == "red"
    assert web2["drift"]["wrong_version"] == [{"pattern": "hello-1.1", "installed": ["hello-1.0"]}]
    assert web2["drift"]["extra"] == ["svc-demo-1.0"]
    assert web2["drift"]["automatic"] == [{"pkgname": "libfoo-2.0nb1", "automatic": True}]
    assert web2["reasons"] == [
        "wrong version: hello-1.0 (wants hello-1.1)", "not in the lock: svc-demo-1.0",
        "automatic flag not as locked: libfoo-2.0nb1 (automatic)",
        "last transaction 7 in /opt/pkg interrupted (started 2026-12-05T11:00:00.000001Z)",
        "vulnerabilities unknown (audit not run): /opt/pkg"]
    assert hosts["web3"]["drift"]["missing"] == ["foo-tool-3.2", "libfoo-2.0nb1"]
    assert hosts["web3"]["prefixes"][0]["last_transaction"] is None
    # a kit package the lock does not list is not extra (applying the lock keeps it)
    assert hosts["web4"]["drift"]["extra"] == []
    assert hosts["web4"]["status"] == "amber"
    assert hosts["web4"]["reasons"] == ["last transaction 2 in /opt/pkg failed (started 2026-12-05T11:00:00.000001Z)"]
    assert model["summary"]["interrupted"] == 1 and model["summary"]["drifted"] == 2
    assert model["desired"]["lock"] == {"taken_at": "2026-12-05T12:00:00Z", "taken_from": "web1"}


def test_an_unfinished_transaction_is_amber_on_its_own():
    data = {"web5": with_txn(facts(prefix(["hello-1.1"])), txn(9, "running"))}
    host = report.build_report(data)["hosts"][0]
    assert host["status"] == "amber"
    assert host["reasons"] == ["last transaction 9 in /opt/pkg is unfinished: running, or killed "
                               "(started 2026-12-05T11:00:00.000001Z)"]


def test_text_shows_drift_and_every_last_transaction(lock_file):
    text = report_text.render_text(report.build_report(fleet(), report_input.load_desired(str(lock_file))))
    assert all(len(line) <= 80 for line in text.splitlines())
    words = " ".join(text.split())
    assert "desired in /opt/pkg: the lock taken from web1 at 2026-12-05T12:00:00Z (9 packages)" in words
    assert "automatic flag: libfoo-2.0nb1 should be automatic" in words
    section = text.split("\nLAST TRANSACTIONS\n")[1].split("\n\n")[0].splitlines()
    assert section == ["  web1 /opt/pkg: 3 package ok, ended 2026-12-05T11:00:09.000001Z",
                       "  web2 /opt/pkg: 7 package INTERRUPTED, started 2026-12-05T11:00:00.000001Z",
                       "  web3 /opt/pkg: no transaction recorded",
                       "  web4 /opt/pkg: 2 package FAILED, ended 2026-12-05T11:00:09.000001Z"]


def test_html_shows_interrupted_in_amber(lock_file):
    page = report_html.render_html(report.build_report(fleet(), report_input.load_desired(str(lock_file))))
    assert '<span class="outcome amber">interrupted</span>' in page
    assert '<span class="outcome red">failed</span>' in page
    assert "Last transaction: 7 (package)" in page
    assert "<code>libfoo-2.0nb1</code> should be automatic" in page
    assert '<div class="card amber"><b>1</b>interrupted</div>' in page


def test_cli_with_a_lock(tmp_path, lock_file, capsys):
    facts_file = tmp_path / "facts.json"
    facts_file.write_text(json.dumps(fleet()))
    assert report_cli.main(["--input", str(facts_file), "--desired", str(lock_file), "--format", "json",
                            "--fail-on", "red"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [h["status"] for h in out["hosts"]] == ["green", "red", "red", "amber"]
