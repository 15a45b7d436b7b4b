"""Package management end to end on this machine: the core's converge_packages driving the
stand-in pkgin / pkg_install tools in a real prefix, with a fixture repository over real HTTP.
(The same through ansible-playbook and salt on test hosts is in test_packages_testbed.py.)
"""
from __future__ import annotations

import os
import threading

import pytest

from pkgsrc_core.packages.converge import converge_packages
from pkgsrc_core.errors import PkgsrcError
from pkgsrc_core.packages.plan import PackageRequest
from pkgsrc_core.prefixes import layout_for_prefix
from pkgsrc_core.packages.pkgdb import read_pkgdb
from pkgsrc_core.runner import SubprocessRunner
from tests.fixtures.demo import build_demo_repo, hello_spec
from tests.fixtures.local import make_local_prefix, serve, tree_hash
from tests.fixtures.packages import PackageSpec
from tests.fixtures.repo import add_packages, build_repo, corrupt_summary
from tests.sim.launcher import read_log

PKG_TOOLS = ("pkgin", "pkg_add", "pkg_delete", "pkg_admin", "pkg_info")


@pytest.fixture()
def site(tmp_path):
    """(local prefix, repository All dir) with the repository served for the test's duration."""
    prefix_root = tmp_path / "host"
    all_dir = build_demo_repo(tmp_path / "repo", str(prefix_root / "opt" / "pkg"), bootstrap=False)
    with serve(tmp_path / "repo") as (url, server):
        local = make_local_prefix(prefix_root, [url + "/All"])
        yield local, all_dir, server


def converge(local, *names, check=False, **options):
    layout = layout_for_prefix(str(local.prefix))
    request = PackageRequest(tuple(names), **options)
    return converge_packages(request, layout, SubprocessRunner(timeout=120), check_mode=check)


def calls(local):
    return read_log(local.log, PKG_TOOLS)


def installed(local):
    return {p.pkgname: p for p in read_pkgdb(str(local.pkgdb))}


def consistency_problems(pkgdb):
    """Every +REQUIRED_BY entry must name an installed package that depends on it."""
    problems = []
    db = {p.pkgname: p for p in read_pkgdb(str(pkgdb))}
    for pkg in db.values():
        for dependant in pkg.required_by:
            if dependant not in db:
                problems.append("%s required by missing %s" % (pkg.pkgname, dependant))
    return problems


def test_install_chain_then_nothing_then_check_mode(site):
    local, _all_dir, _server = site
    before = len(calls(local))
    result = converge(local, "foo-tool")
    assert result.changed and result.backend == "pkgin"
    db = installed(local)
    assert "foo-tool-3.2" in db and "libfoo-2.0nb1" in db
    assert db["libfoo-2.0nb1"].automatic and not db["foo-tool-3.2"].automatic
    assert db["libfoo-2.0nb1"].required_by == ("foo-tool-3.2",)
    spawned = calls(local)[before:]
    assert [c["argv"][:2] for c in spawned] == [["-y", "install"]]  # one batched pkgin call

    # Applied again: not changed, and not a single process spawned.
    before = len(calls(local))
    again = converge(local, "foo-tool")
    assert not again.changed and len(calls(local)) == before

    # Check mode with something to do: the plan, and nothing written or run.
    tree = tree_hash(local.root / "opt", exclude=["pkg/var/db/pkgsrc-deploy"])
    before = len(calls(local))
    planned = converge(local, "hello", "gtk2+", check=True)
    assert planned.changed
    assert [(c.action, c.pkgname) for c in planned.plan.changes] == [("install", "hello-1.1"),
                                                                     ("install", "gtk2+-2.24.33nb1")]
    assert tree_hash(local.root / "opt", exclude=["pkg/var/db/pkgsrc-deploy"]) == tree
    assert len(calls(local)) == before


def test_versions_by_pattern_plus_names_and_latest(site):
    local, all_dir, _server = site
    assert converge(local, "hello<1.1", "gtk2+", "py3*-requests-[0-9]*").changed
    db = installed(local)
    assert {"hello-1.0", "gtk2+-2.24.33nb1", "py311-requests-2.31.0"} <= set(db)
    assert not converge(local, "hello").changed  # present: 1.0 is a hello
    up = converge(local, "hello", state="latest")
    assert [(c.action, c.current, c.pkgname) for c in up.plan.changes] == [("upgrade", "hello-1.0", "hello-1.1")]
    assert "hello-1.1" in installed(local)
    # The repository gains a version: latest sees it.
    add_packages(all_dir, [hello_spec("1.2", prefix=str(local.prefix))])
    assert converge(local, "hello", state="latest").changed
    assert "hello-1.2" in installed(local)
    assert not converge(local, "hello", state="latest").changed
    # Pinned back down: a downgrade.
    down = converge(local, "hello-1.0")
    assert [(c.action, c.pkgname) for c in down.plan.changes] == [("downgrade", "hello-1.0")]
    assert "hello-1.0" in installed(local)


def test_absent_with_dependants_refused_unless_asked(site):
    local, _all_dir, _server = site
    converge(local, "foo-tool")
    tree = tree_hash(local.pkgdb)
    with pytest.raises(PkgsrcError) as err:
        converge(local, "libfoo", state="absent")
    assert "foo-tool-3.2" in str(err.value) and "remove_dependants" in str(err.value)
    assert tree_hash(local.pkgdb) == tree
    result = converge(local, "libfoo", state="absent", remove_dependants=True)
    assert result.changed
    assert not {"libfoo-2.0nb1", "foo-tool-3.2"} & set(installed(local))
    assert not converge(local, "libfoo", state="absent").changed


def test_unknown_package_fails_before_anything_runs(site):
    local, _all_dir, _server = site
    before = len(calls(local))
    with pytest.raises(PkgsrcError) as err:
        converge(local, "hello", "does-not-exist")
    assert "does-not-exist" in str(err.value)
    assert len(calls(local)) == before and "hello-1.1" not in installed(local)


@pytest.mark.parametrize("name", ["hello;id", "$(id)", "hello\nid", "-rf", "`id`"])
def test_hostile_names_are_refused_and_nothing_runs(site, name):
    local, _all_dir, _server = site
    before = len(calls(local))
    with pytest.raises(PkgsrcError):
        converge(local, name)
    assert len(calls(local)) == before


def test_repository_down_or_corrupt_changes_nothing(site):
    local, all_dir, server = site
    tree = tree_hash(local.prefix)
    corrupt_summary(all_dir, "truncated")
    with pytest.raises(PkgsrcError) as err:
        converge(local, "hello")
    assert "summary" in str(err.value)
    server.shutdown()
    server.server_close()
    with pytest.raises(PkgsrcError) as err:
        converge(local, "hello")
    assert "cannot fetch" in str(err.value)
    assert tree_hash(local.prefix) == tree


def test_without_pkgin_uses_pkg_add(site):
    local, _all_dir, _server = site
    os.unlink(local.prefix / "bin" / "pkgin")
    result = converge(local, "foo-tool")
    assert result.backend == "pkg_install" and result.changed
    assert {"foo-tool-3.2", "libfoo-2.0nb1"} <= set(installed(local))
    assert converge(local, "foo-tool", state="absent").changed
    assert "foo-tool-3.2" not in installed(local)


def test_concurrent_runs_on_one_prefix(site):
    local, _all_dir, _server = site
    wanted = [["hello"], ["foo-tool"], ["gtk2+"], ["py311-requests"], ["svc-demo"], ["hello", "foo-tool"],
              ["libfoo"], ["php>=8.1<8.2"]]
    errors = []

    def worker(names):
        try:
            converge(local, *names, lock_timeout=120)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(names,)) for names in wanted]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors
    db = installed(local)
    for names in wanted:
        for name in names:
            assert any(p.startswith(name.split(">", maxsplit=1)[0] + "-") for p in db), name
    assert consistency_problems(local.pkgdb) == []


def test_audit_with_real_vulnerability_list(site, samples_dir):
    from pkgsrc_core.packages.audit import audit, offline_audit  # pylint: disable=import-outside-toplevel

    local, _all_dir, _server = site
    converge(local, "hello-1.0", "foo-tool")
    vulns = local.root / "pkg-vulnerabilities"
    vulns.write_bytes((samples_dir / "pkgdb-final" / "pkg-vulnerabilities").read_bytes())
    with open(local.prefix / "etc" / "pkg_install.conf", "a", encoding="utf-8") as conf:
        conf.write("PKGVULNURL=file://%s\n" % vulns)
    layout = layout_for_prefix(str(local.prefix))
    assert offline_audit(layout) is None  # nothing fetched yet
    result = audit(layout, SubprocessRunner(timeout=60), refresh=True, fail_on="high")
    assert result.refreshed and not result.failed
    assert [(v.pkgname, v.type) for v in result.vulnerabilities] == [("hello-1.0", "denial-of-service")]
    # The offline audit (facts, reports) agrees with pkg_admin audit, without running it.
    assert offline_audit(layout) == list(result.vulnerabilities)
    assert audit(layout, SubprocessRunner(timeout=60), refresh=False, fail_on="medium").failed


def test_repository_configuration_then_nothing_then_check(site, tmp_path):
    from pkgsrc_core.packages.repository import RepositoryRequest, manage_repository  # pylint: disable=import-outside-toplevel

    local, _all_dir, _server = site
    layout = layout_for_prefix(str(local.prefix))
    conf = local.prefix / "etc" / "pkgin" / "repositories.conf"
    url = conf.read_text().split()[-1]
    other = (tmp_path / "mirror").as_uri()
    request = RepositoryRequest((url, other + "/{branch}/All"), "2025Q3", ("php>=8.1<8.2",), True, "never", False)
    tree = tree_hash(local.prefix)
    planned = manage_repository(request, layout, SubprocessRunner(), check_mode=True)
    assert planned["changed"] and tree_hash(local.prefix) == tree
    done = manage_repository(request, layout, SubprocessRunner())
    assert done["changed"]
    assert [line for line in conf.read_text().splitlines() if not line.startswith("#")] == [
        url, other + "/2025Q3/All"]
    pkg_install_conf = (local.prefix / "etc" / "pkg_install.conf").read_text()
    assert "PKG_PATH=%s;%s/2025Q3/All\n" % (url, other) in pkg_install_conf
    assert "php>=8.1<8.2" in (local.prefix / "etc" / "pkgin" / "preferred.conf").read_text()
    assert not manage_repository(request, layout, SubprocessRunner())["changed"]


@pytest.fixture()
def two_repos(site, tmp_path):
    """site, plus a second repository (big-1.0 only) served beside the first."""
    local, all_dir, server = site
    extra_all = build_repo(tmp_path / "extra", [PackageSpec("big", "1.0", comment="big-1.0 test",
                                                            prefix=str(local.prefix))])
    assert extra_all.name == "All"
    with serve(tmp_path / "extra") as (extra_url, _extra_server):
        yield local, extra_url + "/All"
    del all_dir, server


def test_added_repository_then_install_from_it(two_repos):
    """Issue 17 on the stand-ins: the repository module adds a second repository (the first kept),
    then the package module installs what only the second one has; changed, then not changed."""
    from pkgsrc_core.packages.repository import RepositoryRequest, manage_repository  # pylint: disable=import-outside-toplevel

    local, extra = two_repos
    layout = layout_for_prefix(str(local.prefix))
    first = (local.prefix / "etc" / "pkgin" / "repositories.conf").read_text().split()[-1]
    request = RepositoryRequest((first, extra))
    added = manage_repository(request, layout, SubprocessRunner())
    assert added["changed"] and [c["argv"][1:] for c in added["commands"]] == [["-f", "-y", "update"]]
    assert not manage_repository(request, layout, SubprocessRunner())["changed"]
    result = converge(local, "big")
    assert result.changed and "big-1.0" in installed(local), result.messages
    assert not any("reloaded" in m for m in result.messages)
    assert not converge(local, "big").changed
    # update_cache now takes the cheap update: the list pkgin loaded is the list configured.
    mark = len(calls(local))
    converge(local, "big", update_cache=True)
    assert [e["argv"] for e in calls(local)[mark:]] == [["-y", "update"]]


def test_pkgin_database_lagging_behind_the_summaries_is_reloaded_once(two_repos):
    """A repository added by hand and loaded with a plain `pkgin update` (pkgin then keeps none of
    its packages): the install reloads pkgin's database once with -f and runs the batch again."""
    local, extra = two_repos
    conf = local.prefix / "etc" / "pkgin" / "repositories.conf"
    pkgin = str(local.prefix / "bin" / "pkgin")
    assert SubprocessRunner().run([pkgin, "-y", "update"]).rc == 0
    conf.write_text(conf.read_text() + extra + "\n")
    assert SubprocessRunner().run([pkgin, "-y", "update"]).rc == 0
    mark = len(calls(local))
    result = converge(local, "big")
    assert result.changed and "big-1.0" in installed(local)
    assert any("reloaded it with pkgin -f update" in m for m in result.messages), result.messages
    assert [e["argv"] for e in calls(local)[mark:] if e["tool"] == "pkgin"] == [
        ["-y", "install", "big-1.0"], ["-f", "-y", "update"], ["-y", "install", "big-1.0"]]
    assert not converge(local, "big").changed


def test_a_run_that_fails_part_way_reports_what_changed(site):
    """pkgin installs what it can and exits 1 when one package file is gone (404): the failure says
    what the prefix holds now, changed or not, and the lines pkg_install logged for this run only."""
    from pkgsrc_core.packages.converge import PartlyAppliedError  # pylint: disable=import-outside-toplevel

    local, all_dir, _server = site
    assert converge(local, "hello-1.0").changed  # earlier lines in pkg_install-err.log
    (all_dir / "libfoo-2.0nb1.tgz").unlink()
    with pytest.raises(PartlyAppliedError) as err:
        converge(local, "foo-tool", "svc-demo")
    failure = err.value
    assert "svc-demo-1.0" in installed(local) and "foo-tool-3.2" not in installed(local)
    assert failure.changes == {"svc-demo": {"old": "", "new": "1.0"}}
    details = failure.details()
    assert details["changed"] is True and "svc-demo-1.0" in details["installed"] and details["rc"] == 1
    assert "svc-demo" in str(failure) and "changed all the same" in str(failure)
    assert details["pkg_install_log"] and not any("hello" in line for line in details["pkg_install_log"])
