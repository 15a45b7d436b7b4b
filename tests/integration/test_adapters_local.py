"""The Ansible modules for packages and repositories and the Salt state for packages, run for real
(ansible-playbook with a local connection, salt-call --local) on a local prefix with the stand-in
tools: changed, then not changed, and check mode / test=True writing nothing. Same request, same
result, both sides.
"""
from __future__ import annotations

import pytest

from tests.fixtures.demo import build_demo_repo
from tests.fixtures.local import make_local_prefix, serve, tree_hash
from tests.integration.adapters import play, salt_call, salt_config, sls, task_results
from tests.sim.launcher import read_log

pytestmark = pytest.mark.slow


@pytest.fixture()
def site(tmp_path):
    prefix_root = tmp_path / "host"
    build_demo_repo(tmp_path / "repo", str(prefix_root / "opt" / "pkg"), bootstrap=False)
    with serve(tmp_path / "repo") as (url, _server):
        yield make_local_prefix(prefix_root, [url + "/All"])


def test_ansible_package_module(site, tmp_path):
    task = {"pkgsrc.deploy.package": {"name": ["foo-tool", "gtk2+", "hello<1.1"], "prefix": str(site.prefix)}}
    tree = tree_hash(site.prefix)
    checked = task_results(play(tmp_path, [task], check=True, diff=True))[0]
    assert checked["changed"] and not checked.get("failed")
    assert tree_hash(site.prefix) == tree, "check mode wrote something"
    assert "foo-tool-3.2" in checked["diff"]["after"]

    first = task_results(play(tmp_path, [task]))[0]
    assert first["changed"] and not first.get("failed"), first
    assert {"foo-tool-3.2", "libfoo-2.0nb1", "gtk2+-2.24.33nb1", "hello-1.0"} <= set(first["installed"])
    assert (site.pkgdb / "foo-tool-3.2" / "+CONTENTS").exists()

    calls = len(read_log(site.log))
    second = task_results(play(tmp_path, [task]))[0]
    assert not second["changed"] and not second.get("failed")
    assert len(read_log(site.log)) == calls, "a converged run spawned pkgsrc tools"


def test_ansible_package_errors_are_clean(site, tmp_path):
    out = play(tmp_path, [{"pkgsrc.deploy.package": {"name": ["no-such-package"], "prefix": str(site.prefix)}}])
    result = task_results(out)[0]
    assert result["failed"] and "no-such-package" in result["msg"]
    assert "Traceback" not in result["msg"] and "module_stderr" not in result


def test_salt_state_and_execution_module(site, tmp_path):
    conf = salt_config(tmp_path)
    sls(conf, "pkgs", """
        demo packages:
          pkgsrc.installed:
            - pkgs:
              - foo-tool
              - gtk2+
            - prefix: %s
        """ % site.prefix)
    tree = tree_hash(site.prefix)
    tested = salt_call(conf, "state.apply", "pkgs", test=True)
    state = next(iter(tested["local"].values()))
    assert state["result"] is None and state["changes"], state
    assert tree_hash(site.prefix) == tree

    applied = salt_call(conf, "state.apply", "pkgs")
    state = next(iter(applied["local"].values()))
    assert state["result"] is True and state["changes"]["foo-tool"]["new"] == "3.2", state
    assert applied["rc"] == 0

    again = salt_call(conf, "state.apply", "pkgs")
    state = next(iter(again["local"].values()))
    assert state["result"] is True and state["changes"] == {}

    listed = salt_call(conf, "pkgsrc.list_pkgs", "prefix=%s" % site.prefix)["local"]
    assert listed["foo-tool"] == "3.2" and listed["gtk2+"] == "2.24.33nb1"
    assert salt_call(conf, "pkgsrc.version_cmp", "1.0rc1", "1.0")["local"] == -1


def test_salt_pkg_provider_standard_states(site, tmp_path):
    """With providers: {pkg: pkgsrc}, Salt's own pkg.installed / pkg.removed use our module."""
    conf = salt_config(tmp_path, {"providers": {"pkg": "pkgsrc"}})
    sls(conf, "std", """
        hello:
          pkg.installed:
            - version: "1.0"
            - prefix: %s
        """ % site.prefix)
    applied = salt_call(conf, "state.apply", "std")
    state = next(iter(applied["local"].values()))
    assert state["result"] is True, state
    assert (site.pkgdb / "hello-1.0").is_dir()
    again = next(iter(salt_call(conf, "state.apply", "std")["local"].values()))
    assert again["result"] is True and not again["changes"], again


def test_ansible_repository_module(site, tmp_path):
    """Check mode with diff writes nothing and shows the new file; then changed (pkgin update run
    with the new repository), then not changed."""
    conf = site.prefix / "etc" / "pkgin" / "repositories.conf"
    before = conf.read_text()
    with serve(tmp_path / "repo") as (url, _server):
        task = {"pkgsrc.deploy.repository": {"repositories": [url + "/All"], "prefix": str(site.prefix)}}
        tree = tree_hash(site.prefix)
        checked = task_results(play(tmp_path, [task], check=True, diff=True))[0]
        assert checked["changed"] and not checked.get("failed"), checked
        assert tree_hash(site.prefix) == tree, "check mode wrote something"
        diffs = {d["after_header"]: d for d in checked["diff"]}
        assert url + "/All" in diffs[str(conf)]["after"] and diffs[str(conf)]["before"] == before

        calls = len(read_log(site.log, ["pkgin"]))
        first = task_results(play(tmp_path, [task]))[0]
        assert first["changed"] and str(conf) in first["files"] and "diff" not in first, first
        assert sorted(first["files"]) == sorted(diffs)
        assert url + "/All" in conf.read_text()
        assert [c["argv"][-1] for c in first["commands"]] == ["update"]
        assert [e["argv"] for e in read_log(site.log, ["pkgin"])[calls:]] == [["-f", "-y", "update"]]

        second = task_results(play(tmp_path, [task]))[0]
        assert not second["changed"] and second["files"] == [] and not second.get("failed"), second


def test_health_check_module_and_salt_function(tmp_path):
    """pkgsrc.deploy.health and pkgsrc_service.health: the same core check, on a real HTTP server."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "health").write_text("ok: ready\n")
    with serve(www) as (url, _server):
        good = {"pkgsrc.deploy.health": {"url": url + "/health", "body": "ready", "retries": 0}}
        bad = {"pkgsrc.deploy.health": {"url": url + "/missing", "retries": 1, "delay": 0.1}}
        cmd = {"pkgsrc.deploy.health": {"command": ["/bin/false"], "rc": 1, "retries": 0}}
        results = task_results(play(tmp_path, [good, bad, cmd]))
        assert results[0]["healthy"] and not results[0]["changed"] and not results[0].get("failed"), results[0]
        assert results[1]["failed"] and not results[1]["healthy"] and results[1]["attempts"] == 2, results[1]
        assert "status 404, expected 200" in results[1]["msg"]
        assert results[2]["healthy"], results[2]
        checked = task_results(play(tmp_path, [good], check=True))[0]
        assert checked["healthy"] and not checked["changed"]

        conf = salt_config(tmp_path)
        ok = salt_call(conf, "pkgsrc_service.health", "url=%s/health" % url, "body=ready", "retries=0")
        assert ok["rc"] == 0 and ok["local"]["healthy"] is True, ok
        with pytest.raises(AssertionError, match="UNHEALTHY"):  # salt-call exits 1 with the message
            salt_call(conf, "pkgsrc_service.health", "url=%s/missing" % url, "retries=0")
