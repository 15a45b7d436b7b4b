"""The Linux /opt/pkg path against the real pkg_install 20170419 and pkgin 26.4.0, through the real
ansible-playbook over ssh, on a testbed host whose writes vanish at teardown.

One host, in order: bootstrap the real kit (checksum-verified), then the package module through
its features, repository changes (the added-repository bug, issue 17), upgrade without downgrade,
audit with the real pkg_admin, facts. Every step: check mode (the host's tree unchanged), applied
(changed), applied again (not changed). What is installed is asked of the real pkg_info.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.integration.adapters import VENV_BIN, ansible_env, play, task_results
from tests.integration.test_deploy_testbed import tree
from tests.realtools import PKG_DBDIR, PREFIX, SYSCONFDIR
from tests.realtools.site import prepare
from tests.testbed.inventory import REPO_ROOT

pytestmark = [pytest.mark.slow]

WATCHED = (PREFIX, "/etc/profile.d")


@pytest.fixture(scope="module")
def real_host(real_kit, testbed_session, tmp_path_factory):
    tb = testbed_session(1, names=["realans"])
    site = prepare(tb.www_dir, tb.http_url, real_kit)
    return tb, tb.hosts[0], site, tmp_path_factory.mktemp("plays")


def run(env, tasks, check=False, diff=False):
    tb, host, _site, tmp = env
    out = play(tmp, tasks, inventory=tb.files["inventory"]["ssh"], hosts=host.name, connection=None,
               env={"ANSIBLE_CONFIG": tb.files["inventory"]["config"]}, check=check, diff=diff)
    return task_results(out, host.name)


def one(env, module, options, check=False, diff=False):
    results = run(env, [{module: options}], check=check, diff=diff)
    assert len(results) == 1
    return results[0]


def three_ways(env, module, options, expect_failure=False):
    """Check mode writes nothing, then changed, then not changed; returns the changed run's result."""
    _tb, host, _site, _tmp = env
    before = tree(host, WATCHED)
    planned = one(env, module, options, check=True)
    assert not planned.get("failed"), planned
    assert planned["changed"], planned
    assert tree(host, WATCHED) == before, "check mode wrote on the host"
    first = one(env, module, options)
    assert first["changed"] and not first.get("failed"), first
    second = one(env, module, options)
    assert not second["changed"] and not second.get("failed"), second
    return first


def pkg_info(host):
    """PKGNAMEs installed, as the real pkg_info lists them."""
    out = host.run([PREFIX + "/sbin/pkg_info", "-K", PKG_DBDIR]).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def ensure_bootstrapped(env):
    """For a test run alone: the real kit in place (the first test bootstraps it three ways)."""
    _tb, host, site, _tmp = env
    if host.run(["test", "-x", PREFIX + "/bin/pkgin"], check=False).returncode != 0:
        assert one(env, "pkgsrc.deploy.bootstrap", site.bootstrap_options())["changed"]


def automatic(host, pkgname):
    out = host.run([PREFIX + "/sbin/pkg_info", "-K", PKG_DBDIR, "-Q", "automatic", pkgname], check=False).stdout
    return out.strip() == "yes"


def pkg(options):
    return dict(options, prefix=PREFIX)


def test_real_tools_through_ansible(real_host):
    env = real_host
    _tb, host, site, _tmp = env

    # Bootstrap the real kit, verified by its checksum.
    boot = three_ways(env, "pkgsrc.deploy.bootstrap", site.bootstrap_options())
    assert boot["layout"]["pkg_dbdir"] == PKG_DBDIR
    assert any("-f -y update" in a for a in boot["actions"]), boot["actions"]
    assert {"pkg_install-20170419", "pkgin-26.4.0"} <= pkg_info(host)
    assert host.run([PREFIX + "/sbin/pkg_admin", "-K", PKG_DBDIR, "check"]).returncode == 0

    # Names with a dependency chain, an exact version, a `+` name and a dewey range.
    first = three_ways(env, "pkgsrc.deploy.package",
                       pkg({"name": ["foo-tool", "hello-1.0", "gtk2+", "libsigc++>=2.10<3"]}))
    assert [c["argv"][1:3] for c in first["commands"]] == [["-y", "install"]]
    have = pkg_info(host)
    assert {"foo-tool-3.2", "libfoo-2.0nb1", "hello-1.0", "gtk2+-2.24.33nb5", "libsigc++-2.10.8"} <= have
    assert automatic(host, "libfoo-2.0nb1") and not automatic(host, "foo-tool-3.2")

    # latest: hello 1.0 -> 1.1, then up to date.
    latest = three_ways(env, "pkgsrc.deploy.package", pkg({"name": ["hello"], "state": "latest"}))
    assert "upgrade hello-1.0 -> hello-1.1" in latest["messages"]
    assert "hello-1.1" in pkg_info(host) and "hello-1.0" not in pkg_info(host)

    # A downgrade asked for by exact version.
    down = three_ways(env, "pkgsrc.deploy.package", pkg({"name": ["hello-1.0"]}))
    assert "downgrade hello-1.1 -> hello-1.0" in down["messages"]
    assert "hello-1.0" in pkg_info(host)

    # Dependants are refused; unknown names fail before anything runs.
    before = pkg_info(host)
    refused = one(env, "pkgsrc.deploy.package", pkg({"name": ["libfoo"], "state": "absent"}))
    assert refused.get("failed") and "foo-tool-3.2" in refused["msg"], refused
    unknown = one(env, "pkgsrc.deploy.package", pkg({"name": ["hello", "no-such-package"]}))
    assert unknown.get("failed") and "no-such-package" in unknown["msg"], unknown
    assert pkg_info(host) == before

    # Removing foo-tool leaves libfoo an orphan: autoremove takes it.
    three_ways(env, "pkgsrc.deploy.package", pkg({"name": ["foo-tool"], "state": "absent", "autoremove": True}))
    assert not {"foo-tool-3.2", "libfoo-2.0nb1"} & pkg_info(host)

    # Issue 17: a repository added beside the first, then a package only it has.
    repos = {"repositories": [site.repo_url, site.extra_url], "prefix": PREFIX}
    added = three_ways(env, "pkgsrc.deploy.repository", repos)
    assert [c["argv"][1:] for c in added["commands"]] == [["-f", "-y", "update"]]
    big = three_ways(env, "pkgsrc.deploy.package", pkg({"name": ["big"]}))
    assert "big-1.0" in pkg_info(host) and not any("reloaded" in m for m in big["messages"])
    assert "big-1.0;" in host.run([PREFIX + "/bin/pkgin", "-p", "search", "big"]).stdout

    # hello-1.2 from the second repository, then the second repository removed: hello-1.2 is newer
    # than anything offered, and `upgrade: true` must not take it back (pkgin upgrade would).
    three_ways(env, "pkgsrc.deploy.package", pkg({"name": ["hello-1.2"]}))
    three_ways(env, "pkgsrc.deploy.repository", {"repositories": [site.repo_url], "prefix": PREFIX})
    upgraded = one(env, "pkgsrc.deploy.package", pkg({"upgrade": True, "update_cache": True}))
    assert not upgraded.get("failed"), upgraded
    assert not upgraded["plan"]["upgrade_all"], upgraded["plan"]
    assert any(m.startswith("hello-1.2 is newer than anything the repositories offer") for m in upgraded["messages"])
    assert "hello-1.2" in pkg_info(host)


def test_real_pkgin_database_lagging_is_reloaded_once(real_host):
    """A repository added by hand with a plain `pkgin update` (the real pkgin then does not load it):
    the package module reloads pkgin's database once (pkgin -f update) and says so."""
    env = real_host
    _tb, host, site, _tmp = env
    ensure_bootstrapped(env)
    conf = SYSCONFDIR + "/pkgin/repositories.conf"
    host.run(["sh", "-c", "grep -v '^http' %s > %s.new && echo %s >> %s.new && mv %s.new %s"
              % (conf, conf, site.repo_url, conf, conf, conf)])
    host.run([PREFIX + "/bin/pkgin", "-f", "-y", "update"])
    host.run([PREFIX + "/sbin/pkg_delete", "-K", PKG_DBDIR, "big"], check=False)
    host.run(["sh", "-c", "echo %s >> %s" % (site.extra_url, conf)])
    host.run([PREFIX + "/bin/pkgin", "-y", "update"])
    # The real pkgin downloaded the new summary but did not load it (samples/pkgin-added-repository.md).
    assert "big-1.0;" not in host.run([PREFIX + "/bin/pkgin", "-p", "search", "big"], check=False).stdout
    result = three_ways(env, "pkgsrc.deploy.package", pkg({"name": ["big"]}))
    assert any("reloaded it with pkgin -f update" in m for m in result["messages"]), result["messages"]
    assert "big-1.0" in pkg_info(host)


def test_real_audit_and_facts(real_host):
    """pkg_admin fetch-pkg-vulnerabilities and audit, the real ones; then the facts."""
    env = real_host
    _tb, host, site, _tmp = env
    ensure_bootstrapped(env)
    conf = SYSCONFDIR + "/pkg_install.conf"
    vuln_url = {"path": conf, "line": "PKGVULNURL=" + site.vuln_url, "regexp": "^PKGVULNURL="}
    results = run(env, [{"ansible.builtin.lineinfile": vuln_url},
                        {"pkgsrc.deploy.package": pkg({"name": ["hello-1.0"]})}])
    assert not any(r.get("failed") for r in results), results
    before = tree(host, WATCHED)
    planned = one(env, "pkgsrc.deploy.audit", {"prefix": PREFIX, "fail_on": "critical"}, check=True)
    assert tree(host, WATCHED) == before, "check mode fetched the list"
    assert not planned.get("refreshed"), planned
    found = one(env, "pkgsrc.deploy.audit", {"prefix": PREFIX})
    assert not found.get("failed") and found["refreshed"], found
    assert found["vulnerable_packages"] == ["hello-1.0"], found
    assert found["vulnerabilities"][0]["level"] == "critical", found  # remote-code-execution
    refused = one(env, "pkgsrc.deploy.audit", {"prefix": PREFIX, "fail_on": "critical", "refresh": False})
    assert refused.get("failed") and "hello-1.0" in refused["msg"], refused
    three_ways(env, "pkgsrc.deploy.package", pkg({"name": ["hello"], "state": "latest"}))
    assert one(env, "pkgsrc.deploy.audit", {"prefix": PREFIX, "fail_on": "low"})["vulnerable_packages"] == []

    facts = one(env, "pkgsrc.deploy.facts", {})
    prefixes = {p["prefix"]: p for p in facts["ansible_facts"]["pkgsrc"]["prefixes"]}
    real = prefixes[PREFIX]
    assert real["pkg_install_version"] == "20170419" and real["pkgin_version"] == "26.4.0", real
    assert real["package_count"] == len(pkg_info(host)), real


def test_real_fleet_report(real_host, tmp_path):
    """playbooks/report.yml on the real host: a vulnerable hello, then none, against a desired set."""
    env = real_host
    tb, host, site, _tmp = env
    ensure_bootstrapped(env)
    conf = SYSCONFDIR + "/pkg_install.conf"
    vuln_url = {"path": conf, "line": "PKGVULNURL=" + site.vuln_url, "regexp": "^PKGVULNURL="}
    setup = run(env, [{"ansible.builtin.lineinfile": vuln_url},
                      {"pkgsrc.deploy.package": pkg({"name": ["hello-1.0"]})},
                      {"pkgsrc.deploy.audit": {"prefix": PREFIX, "refresh": True}}])
    assert not any(r.get("failed") for r in setup), setup
    desired = tmp_path / "desired.json"
    desired.write_text(json.dumps(["hello>=1.1"]))

    def report():
        out = tmp_path / ("report-%d" % len(list(tmp_path.glob("report-*"))))
        done = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", tb.files["inventory"]["ssh"],
                               "--limit", host.name, str(REPO_ROOT / "playbooks" / "report.yml"),
                               "-e", "report_dir=%s" % out, "-e", "report_desired_file=%s" % desired],
                              capture_output=True, text=True, timeout=600, check=False,
                              env=ansible_env({"ANSIBLE_CONFIG": tb.files["inventory"]["config"]}))
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return {h["host"]: h for h in json.loads((out / "report.json").read_text())["hosts"]}[host.name]

    red = report()
    assert red["status"] == "red" and red["vulnerable_packages"] == ["hello-1.0"], red
    assert one(env, "pkgsrc.deploy.package", pkg({"name": ["hello"], "state": "latest"}))["changed"]
    after = report()
    # No longer red: nothing vulnerable, nothing desired missing (the other tests' extra packages
    # may leave it amber for drift, when run in the same module).
    assert after["vulnerable_packages"] == [] and after["drift"]["missing"] == [], after
    assert after["status"] == ("green" if not after["drift"]["extra"] else "amber"), after


def test_real_run_that_fails_part_way(real_host):
    """The real pkgin with one package file missing (404): it installs the rest and exits 1. The task
    fails, says the prefix changed (changed: true) and what it holds, with this run's pkg_install log."""
    env = real_host
    tb, host, site, _tmp = env
    ensure_bootstrapped(env)
    broken = tb.www_dir / "broken" / "All"
    shutil.copytree(tb.www_dir / "All", broken, dirs_exist_ok=True)
    (broken / "libfoo-2.0nb1.tgz").unlink()
    url = site.base_url + "broken/All"
    assert not one(env, "pkgsrc.deploy.package", pkg({"name": ["foo-tool", "svc-demo", "libfoo"],
                                                      "state": "absent"})).get("failed")
    host.run([PREFIX + "/bin/pkgin", "-y", "clean"])  # else pkgin takes libfoo from its download cache
    assert not one(env, "pkgsrc.deploy.repository", {"repositories": [url], "prefix": PREFIX}).get("failed")
    try:
        failed = one(env, "pkgsrc.deploy.package", pkg({"name": ["foo-tool", "svc-demo"]}))
        assert failed.get("failed") and failed["changed"] is True, failed
        assert failed["changes"] == {"svc-demo": {"old": "", "new": "1.0"}}, failed
        assert "svc-demo-1.0" in failed["installed"] and "foo-tool-3.2" not in failed["installed"]
        assert "svc-demo-1.0" in pkg_info(host) and "foo-tool-3.2" not in pkg_info(host)
        assert failed["pkg_install_log"], failed
    finally:
        assert not one(env, "pkgsrc.deploy.repository", {"repositories": [site.repo_url], "prefix": PREFIX}).get(
            "failed")


def _summary_without(all_dir, pkgname):
    """A copy of the real repository's summary without pkgname's record (the branch moved on)."""
    import gzip  # pylint: disable=import-outside-toplevel
    import lzma  # pylint: disable=import-outside-toplevel
    text = gzip.decompress((all_dir / "pkg_summary.gz").read_bytes()).decode("utf-8")
    kept = [r for r in text.split("\n\n") if r.strip() and "PKGNAME=%s\n" % pkgname not in r + "\n"]
    data = ("\n\n".join(kept) + "\n\n").encode("utf-8")
    (all_dir / "pkg_summary.gz").write_bytes(gzip.compress(data))
    (all_dir / "pkg_summary.xz").write_bytes(lzma.compress(data))


def test_real_undo_from_the_saved_package(real_host):
    """Issue 13 with the real tools: upgrade hello 1.0 -> 1.1 (the real pkg_create saves hello-1.0),
    point the host at a repository that no longer has hello-1.0, undo: the real pkg_add puts the saved
    hello-1.0 back, pkg_admin check is clean, and the rollback is itself undone by its id."""
    env = real_host
    tb, host, site, _tmp = env
    ensure_bootstrapped(env)
    assert not one(env, "pkgsrc.deploy.package", pkg({"name": ["hello-1.0"]})).get("failed")
    up = one(env, "pkgsrc.deploy.package", pkg({"name": ["hello"], "state": "latest"}))
    assert up["changed"] and up["saved"] == ["hello-1.0"], up
    moved = tb.www_dir / "moved" / "All"
    shutil.copytree(tb.www_dir / "All", moved, dirs_exist_ok=True)
    (moved / "hello-1.0.tgz").unlink()
    _summary_without(moved, "hello-1.0")
    assert not one(env, "pkgsrc.deploy.repository", {"repositories": [site.base_url + "moved/All"],
                                                     "prefix": PREFIX}).get("failed")
    try:
        undone = three_ways(env, "pkgsrc.deploy.history", {"undo": True, "prefix": PREFIX})
        assert undone["rollback"]["installs"][0]["from"] == "saved", undone
        assert "hello-1.0" in pkg_info(host) and "hello-1.1" not in pkg_info(host)
        assert not automatic(host, "hello-1.0")
        assert host.run([PREFIX + "/bin/hello"]).stdout.strip()
        rc, lines = host.run([PREFIX + "/sbin/pkg_admin", "-K", PKG_DBDIR, "check"], check=False).returncode, []
        assert rc == 0, lines
        redo = one(env, "pkgsrc.deploy.history", {"rollback": undone["transaction"], "prefix": PREFIX})
        assert redo["changed"] and "hello-1.1" in pkg_info(host), redo
        listed = one(env, "pkgsrc.deploy.history", {"prefix": PREFIX, "count": 3})
        assert [t["kind"] for t in listed["transactions"]] == ["rollback", "rollback", "repository"], listed
        assert all(t["outcome"] == "ok" and t["actor"]["tool"] == "ansible" for t in listed["transactions"])
    finally:
        assert not one(env, "pkgsrc.deploy.repository", {"repositories": [site.repo_url], "prefix": PREFIX}).get(
            "failed")
