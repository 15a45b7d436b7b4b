"""Exact package sets and lock files through the real adapters on a local prefix with the stand-in
tools: ansible-playbook (package module with exact and lock, facts returning the lock) and
salt-call --local (pkgsrc.installed with exact and lock). Changed, then not changed; check mode
and test=True write nothing. Effects are read from the package database.
"""
from __future__ import annotations

import json

import pytest

from tests.fixtures.demo import build_demo_repo
from tests.fixtures.local import make_local_prefix, serve, tree_hash
from tests.integration.adapters import play, salt_call, salt_config, sls, task_results

pytestmark = pytest.mark.slow

KIT = ["bmake-20150505", "bootstrap-mk-files-20170802", "cwrappers-20170611", "nawk-20121220nb1",
       "pkg_install-20170419", "pkgin-26.4.0"]


@pytest.fixture()
def site(tmp_path):
    prefix_root = tmp_path / "host"
    build_demo_repo(tmp_path / "repo", str(prefix_root / "opt" / "pkg"), bootstrap=False)
    with serve(tmp_path / "repo") as (url, _server):
        yield make_local_prefix(prefix_root, [url + "/All"])


def installed(site):
    """{PKGNAME: automatic} straight from the package database."""
    out = {}
    for entry in sorted(site.pkgdb.iterdir()):
        if (entry / "+CONTENTS").is_file():
            info = entry / "+INSTALLED_INFO"
            out[entry.name] = info.is_file() and "automatic=yes" in info.read_text().lower()
    return out


def test_ansible_lock_taken_by_facts_and_applied(site, tmp_path):
    prefix = str(site.prefix)
    first = task_results(play(tmp_path, [{"pkgsrc.deploy.package": {"name": ["foo-tool", "hello-1.0"],
                                                                    "prefix": prefix}}]))[0]
    assert first["changed"] and not first.get("failed"), first
    facts = task_results(play(tmp_path, [{"pkgsrc.deploy.facts": {"prefixes": [prefix]}}]))[0]
    (found,) = [p for p in facts["ansible_facts"]["pkgsrc"]["prefixes"] if p["prefix"] == prefix]
    lock = found["lock"]
    assert lock["lock_version"] == 1 and lock["prefix"] == prefix and lock["taken_at"]
    assert {p["pkgname"]: p["automatic"] for p in lock["packages"]} == installed(site)
    assert found["kit_packages"] == ["bmake", "bootstrap-mk-files", "cwrappers", "nawk", "pkg_install", "pkgin"]
    assert found["last_transaction"]["outcome"] == "ok" and found["last_transaction"]["kind"] == "package"
    wanted = installed(site)
    assert wanted["libfoo-2.0nb1"] is True and wanted["foo-tool-3.2"] is False

    # Drift: another version, an extra package, a dependency marked user-installed.
    drifted = task_results(play(tmp_path, [
        {"pkgsrc.deploy.package": {"name": ["hello", "svc-demo"], "state": "latest", "prefix": prefix}},
        {"pkgsrc.deploy.package": {"name": ["libfoo"], "prefix": prefix}}]))
    assert all(r["changed"] and not r.get("failed") for r in drifted), drifted
    assert installed(site)["libfoo-2.0nb1"] is False and "hello-1.1" in installed(site)

    task = {"pkgsrc.deploy.package": {"lock": lock}}  # the prefix comes from the lock
    tree = tree_hash(site.root, exclude=["sim.log"])
    checked = task_results(play(tmp_path, [task], check=True, diff=True))[0]
    assert checked["changed"] and not checked.get("failed"), checked
    assert tree_hash(site.root, exclude=["sim.log"]) == tree, "check mode wrote something"
    planned = sorted((c["action"], c["pkgname"]) for c in checked["plan"]["changes"])
    assert planned == [("downgrade", "hello-1.0"), ("remove", "svc-demo-1.0"), ("unkeep", "libfoo-2.0nb1")]

    applied = task_results(play(tmp_path, [task]))[0]
    assert applied["changed"] and not applied.get("failed"), applied
    assert applied["prefix"] == prefix
    assert installed(site) == wanted
    again = task_results(play(tmp_path, [task]))[0]
    assert not again["changed"] and not again.get("failed"), again
    assert installed(site) == wanted


def test_ansible_exact_names(site, tmp_path):
    prefix = str(site.prefix)
    play(tmp_path, [{"pkgsrc.deploy.package": {"name": ["hello", "svc-demo", "libfoo"], "prefix": prefix}}])
    task = {"pkgsrc.deploy.package": {"name": ["foo-tool-3.2"], "exact": True, "prefix": prefix}}
    first = task_results(play(tmp_path, [task]))[0]
    assert first["changed"] and not first.get("failed"), first
    # libfoo stays (foo-tool needs it) but is no longer installed by hand; the kit stays.
    assert installed(site) == dict({p: False for p in KIT}, **{"foo-tool-3.2": False, "libfoo-2.0nb1": True})
    second = task_results(play(tmp_path, [task]))[0]
    assert not second["changed"] and not second.get("failed"), second

    bad = task_results(play(tmp_path, [{"pkgsrc.deploy.package": {"lock": {"lock_version": 1, "packages": [
        {"pkgname": "hello"}]}, "prefix": prefix}}]))[0]
    assert bad["failed"] and "not an exact PKGNAME" in bad["msg"] and "Traceback" not in bad["msg"]
    both = task_results(play(tmp_path, [{"pkgsrc.deploy.package": {"name": ["hello-1.0"], "exact": True,
                                                                   "autoremove": True, "prefix": prefix}}]))[0]
    assert both["failed"] and "exact cannot be combined with autoremove" in both["msg"]


def test_salt_installed_exact_and_lock(site, tmp_path):
    conf = salt_config(tmp_path)
    prefix = str(site.prefix)
    sls(conf, "before", """
        demo:
          pkgsrc.installed:
            - pkgs: [hello, svc-demo]
            - prefix: %s
        """ % prefix)
    assert salt_call(conf, "state.apply", "before")["rc"] == 0
    sls(conf, "exact", """
        exactly foo-tool:
          pkgsrc.installed:
            - pkgs: [foo-tool-3.2]
            - exact: true
            - prefix: %s
        """ % prefix)
    tree = tree_hash(site.root, exclude=["sim.log"])
    tested = next(iter(salt_call(conf, "state.apply", "exact", test=True)["local"].values()))
    assert tested["result"] is None and tested["changes"], tested
    assert tree_hash(site.root, exclude=["sim.log"]) == tree
    applied = next(iter(salt_call(conf, "state.apply", "exact")["local"].values()))
    assert applied["result"] is True, applied
    assert applied["changes"]["hello"] == {"old": "1.1", "new": ""}
    assert installed(site) == dict({p: False for p in KIT}, **{"foo-tool-3.2": False, "libfoo-2.0nb1": True})
    again = next(iter(salt_call(conf, "state.apply", "exact")["local"].values()))
    assert again["result"] is True and again["changes"] == {}, again

    # A lock (as pkgsrc.facts returns it) through the state: libfoo user-installed, hello back.
    lock = {"lock_version": 1, "prefix": prefix, "packages": [{"pkgname": p} for p in KIT] + [
        {"pkgname": "foo-tool-3.2"}, {"pkgname": "libfoo-2.0nb1", "automatic": False},
        {"pkgname": "hello-1.0", "automatic": True}]}
    sls(conf, "locked", """
        same as the lock:
          pkgsrc.installed:
            - lock: %s
        """ % json.dumps(lock))
    applied = next(iter(salt_call(conf, "state.apply", "locked")["local"].values()))
    assert applied["result"] is True, applied
    assert installed(site) == dict({p: False for p in KIT}, **{"foo-tool-3.2": False, "libfoo-2.0nb1": False,
                                                               "hello-1.0": True})
    again = next(iter(salt_call(conf, "state.apply", "locked")["local"].values()))
    assert again["result"] is True and again["changes"] == {}, again
    facts = salt_call(conf, "pkgsrc.facts", "prefixes=[\"%s\"]" % prefix)["local"]
    (found,) = [p for p in facts["prefixes"] if p["prefix"] == prefix]
    assert sorted((p["pkgname"], p["automatic"]) for p in found["lock"]["packages"]) == sorted(
        (p["pkgname"], p.get("automatic", False)) for p in lock["packages"])
