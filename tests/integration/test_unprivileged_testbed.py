"""The grid-site path on a real host: as the unprivileged user `grid` (no root, over ssh),
bootstrap pkgsrc from a pkgsrc source tree into ~/pkg, install packages there, and run a
service with systemd --user. Applied twice (changed, then not) and in check mode.
"""
from __future__ import annotations

import pytest

from tests.fixtures.demo import build_demo_repo
from tests.fixtures.layouts import source_layout
from tests.integration.adapters import play, task_results
from tests.integration.test_deploy_testbed import tree
from tests.fixtures.source_tree import build_source_tree

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

HOME = "/home/grid"
PREFIX = HOME + "/pkg"
SIM_LOG = HOME + "/pkgsrc-sim.log"


def grid(tb, tmp_path, tasks, **kwargs):
    out = play(tmp_path, tasks, inventory=tb.files["inventory"]["grid"], hosts="host1", connection=None,
               env={"ANSIBLE_CONFIG": tb.files["inventory"]["config"]}, **kwargs)
    results = task_results(out, "host1")
    assert len(results) == 1 and not results[0].get("failed"), results
    return results[0]


def test_unprivileged_source_bootstrap_packages_and_user_service(testbed, tmp_path):
    tb = testbed(1)
    host = tb.hosts[0]
    layout = source_layout(PREFIX)
    build_demo_repo(tb.www_dir / "grid", PREFIX, layout=layout, bootstrap=False)
    repo = tb.http_url + "grid/All"
    checksum = build_source_tree(tb.www_dir / "source" / "pkgsrc.tar.gz", layout, [repo], SIM_LOG)
    boot = {"pkgsrc.deploy.bootstrap": {"prefix": "~/pkg", "repositories": [repo], "from_source": {
        "url": tb.http_url + "source/pkgsrc.tar.gz", "checksum": checksum, "make_jobs": 2}}}

    before = tree(host, [HOME])
    checked = grid(tb, tmp_path, [boot], check=True)
    assert checked["changed"] and tree(host, [HOME]) == before
    first = grid(tb, tmp_path, [boot])
    assert first["changed"] and first["method"] == "source"
    assert first["layout"]["prefix"] == PREFIX
    owner = host.run(["stat", "-c", "%U", PREFIX + "/pkgdb"]).stdout.strip()
    assert owner == "grid"
    assert "pkg/bin" in host.run(["cat", HOME + "/.profile"]).stdout
    assert not grid(tb, tmp_path, [boot])["changed"]

    pkgs = {"pkgsrc.deploy.package": {"name": ["foo-tool", "svc-demo"], "prefix": "~/pkg"}}
    assert grid(tb, tmp_path, [pkgs])["changed"]
    assert host.run(["ls", PREFIX + "/pkgdb"]).stdout.count("foo-tool-3.2") == 1
    assert not grid(tb, tmp_path, [pkgs])["changed"]

    svc = {"pkgsrc.deploy.service": {"name": "svc-demo", "scope": "user", "command": [PREFIX + "/bin/svc-demo"],
                                     "env": {"SVC_DEMO_PORT": "8081", "SVC_DEMO_GREETING": "hello from grid"}}}
    started = grid(tb, tmp_path, [svc])
    assert started["changed"] and started["path"] == HOME + "/.config/systemd/user/svc-demo.service"
    body = host.run(["curl", "-fsS", "--retry", "20", "--retry-connrefused", "--retry-delay", "0", "--max-time", "5",
                     "http://127.0.0.1:8081/"]).stdout
    assert "hello from grid" in body
    assert host.run(["pgrep", "-u", "grid", "-f", PREFIX + "/bin/svc-demo"], check=False).returncode == 0
    assert not grid(tb, tmp_path, [svc])["changed"]
    # Nothing was written outside the user's home by any of it.
    assert host.run(["test", "-e", "/etc/systemd/system/svc-demo.service"], check=False).returncode != 0
