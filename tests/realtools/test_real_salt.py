"""Salt against the real pkg_install 20170419 and pkgin 26.4.0: our pkgsrc.* functions, and Salt's
own pkg states and functions through the provider (``providers: {pkg: pkgsrc}`` in the minion's
configuration), through a real salt-master and the host's own salt-minion (Salt installed in the
host; ``saltutil.sync_all`` delivers the modules and the core; the host sees nothing of the
controller's checkout or virtualenv). Every state: test=True (nothing written), applied (changed),
applied again (not changed). What is installed is asked of the real pkg_info.
"""
from __future__ import annotations

import json

import pytest

from tests.integration.test_deploy_testbed import tree
from tests.realtools import PREFIX, REPO_ROOT
from tests.realtools.site import prepare
from tests.realtools.test_real_ansible import pkg_info

pytestmark = [pytest.mark.slow]

PROVIDER = {"providers": {"pkg": "pkgsrc"}}


@pytest.fixture(scope="module")
def salt_host(real_kit, testbed_session):
    tb = testbed_session(1, names=["realsalt"])
    site = prepare(tb.www_dir, tb.http_url, real_kit)
    host = tb.hosts[0]
    assert host.run(["test", "-e", str(REPO_ROOT)], check=False).returncode != 0, "the host sees the checkout"
    tb.start_minions(minion=PROVIDER)  # the provider option goes into the minion's configuration
    synced = tb.salt([host.name, "saltutil.sync_all"])[host.name]
    assert "modules.pkgsrc" in synced["modules"] and "utils.pkgsrc_core.__init__" in synced["utils"], synced
    # Through the provider, the module is loaded by salt.loader.raw_mod, which does not put the synced
    # utils on sys.path: the module finds them itself (salt_states/_modules/pkgsrc.py _core()).
    assert tb.salt([host.name, "pkg.version_cmp", "1.0", "1.0nb1"])[host.name] == -1
    return tb, host, site


def call(tb, host, *args):
    """salt HOST ARGS through the master (the minion has the provider configured); the function's return value."""
    out, proc = tb.salt_cli([host.name, *args], timeout=600)
    if not isinstance(out, dict) or host.name not in out:
        raise AssertionError("salt %s %s: rc %d\n%s\n%s" % (host.name, args, proc.returncode, proc.stdout, proc.stderr))
    return out[host.name]


def arg(key, value):
    return "%s=%s" % (key, json.dumps(value) if isinstance(value, (list, dict)) else value)


def state(env, function, test=False, **kwargs):
    tb, host, _site = env
    ret = call(tb, host, "state.single", function, *[arg(k, v) for k, v in kwargs.items()],
               *(["test=True"] if test else []))
    assert isinstance(ret, dict) and len(ret) == 1, ret
    return next(iter(ret.values()))


def three_ways(env, function, **kwargs):
    """test=True changes nothing; then changed; then not changed. Returns the changed run."""
    _tb, host, _site = env
    before = tree(host, (PREFIX,))
    tested = state(env, function, test=True, **kwargs)
    assert tested["result"] is None, tested  # "would change" (Salt shows the predicted changes)
    assert tree(host, (PREFIX,)) == before, "test=True wrote on the host"
    first = state(env, function, **kwargs)
    assert first["result"] is True and first["changes"], first
    second = state(env, function, **kwargs)
    assert second["result"] is True and not second["changes"], second
    return first


def test_salt_pkg_states_and_functions_through_the_provider(salt_host):
    env = salt_host
    tb, host, site = env

    def fn(*args):
        return call(tb, host, *args)

    # Our own bootstrap function: planned, done, then nothing to do.
    options = [arg(k, v) for k, v in site.bootstrap_options().items()]
    planned = fn("pkgsrc.bootstrap", "test=True", *options)
    assert planned["changed"] and not host.run(["test", "-e", PREFIX], check=False).returncode == 0
    assert fn("pkgsrc.bootstrap", *options)["changed"]
    assert not fn("pkgsrc.bootstrap", *options)["changed"]

    # pkg.installed: an exact version, a list, a range.
    first = three_ways(env, "pkg.installed", name="hello", version="1.0", prefix=PREFIX)
    assert first["changes"] == {"hello": {"old": "", "new": "1.0"}}
    three_ways(env, "pkg.installed", name="demo", pkgs=["foo-tool", "gtk2+"])
    three_ways(env, "pkg.installed", name="libsigc++", version=">=2.10")
    assert {"hello-1.0", "foo-tool-3.2", "libfoo-2.0nb1", "gtk2+-2.24.33nb5", "libsigc++-2.10.8"} <= pkg_info(host)

    # Functions that only read.
    assert fn("pkg.list_pkgs")["hello"] == "1.0"
    assert fn("pkg.version", "hello") == "1.0"
    assert fn("pkg.latest_version", "hello") == "1.1"
    assert fn("pkg.upgrade_available", "hello") is True
    assert fn("pkg.list_upgrades") == {"hello": "1.1"}
    assert fn("pkg.version_cmp", "1.0", "1.0nb1") == -1
    assert fn("pkg.refresh_db") is True

    # Issue 18: pkg.latest upgrades hello 1.0 -> 1.1, then reports it up to date.
    latest = three_ways(env, "pkg.latest", name="hello", prefix=PREFIX)
    assert latest["changes"] == {"hello": {"old": "1.0", "new": "1.1"}}, latest
    assert "hello-1.1" in pkg_info(host)
    assert fn("pkg.upgrade_available", "hello") is False and fn("pkg.list_upgrades") == {}

    # pkg.uptodate with nothing to upgrade, then with hello back at 1.0.
    assert state(env, "pkg.uptodate", name="all")["changes"] == {}
    state(env, "pkg.installed", name="hello", version="1.0")
    three_ways(env, "pkg.uptodate", name="all")
    assert "hello-1.1" in pkg_info(host)

    # pkg.upgrade (the function) after another downgrade.
    state(env, "pkg.installed", name="hello", version="1.0")
    assert fn("pkg.upgrade") == {"hello": {"old": "1.0", "new": "1.1"}}
    assert fn("pkg.upgrade") == {}

    # pkg.removed / pkg.purged, and pkg.remove.
    three_ways(env, "pkg.removed", name="gtk2+")
    three_ways(env, "pkg.purged", name="libsigc++")
    assert fn("pkg.remove", "hello") == {"hello": {"old": "1.1", "new": ""}}
    assert fn("pkg.remove", "hello") == {}
    assert not {"gtk2+-2.24.33nb5", "libsigc++-2.10.8", "hello-1.1"} & pkg_info(host)

    # Issue 17 through Salt: a repository added beside the first, then a package only it has.
    repos = arg("repositories", [site.repo_url, site.extra_url])
    assert fn("pkgsrc.repository", repos, "test=True")["changed"]
    added = fn("pkgsrc.repository", repos)
    assert added["changed"] and [c["argv"][1:] for c in added["commands"]] == [["-f", "-y", "update"]]
    assert not fn("pkgsrc.repository", repos)["changed"]
    three_ways(env, "pkgsrc.installed", name="big")
    assert "big-1.0" in pkg_info(host)


def test_salt_history_and_rolled_back(salt_host):
    """Issue 13 through the master and the host's own minion, with the real tools: an upgrade saves
    hello-1.0 with the real pkg_create; pkgsrc.rolled_back (test=True, applied, applied again) puts
    it back with the real pkg_add; pkgsrc.history shows the rollback, by salt, from the master."""
    env = salt_host
    tb, host, site = env

    def fn(*args):
        return call(tb, host, *args)

    options = [arg(k, v) for k, v in site.bootstrap_options().items()]
    fn("pkgsrc.bootstrap", *options)
    fn("pkgsrc.repository", arg("repositories", [site.repo_url]))
    assert not fn("pkgsrc.manage", arg("names", ["hello-1.0"])).get("failed")
    up = fn("pkgsrc.manage", arg("names", ["hello"]), "state=latest")
    assert up["saved"] == ["hello-1.0"] and "hello-1.1" in pkg_info(host), up
    back = three_ways(env, "pkgsrc.rolled_back", name="before the upgrade", id=up["transaction"])
    assert back["changes"]["rolled_back"] == up["transaction"], back
    assert "hello-1.0" in pkg_info(host) and "hello-1.1" not in pkg_info(host)
    newest = fn("pkgsrc.history", "count=1")["transactions"][0]
    assert newest["kind"] == "rollback" and newest["outcome"] == "ok" and newest["saved"] == ["hello-1.1"], newest
    assert newest["actor"]["tool"] == "salt" and newest["actor"]["controller"], newest
