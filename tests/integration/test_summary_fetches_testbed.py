"""Each repository summary is fetched in full at most once per host per run (issue 14).

One testbed host, the real pkg_install and pkgin (the real kit), the demo's real-tools
deployment through ansible-playbook: bootstrap the kit, install svc-demo (run 1, the first
deployment), the same again (run 2, nothing to change), then svc-demo at `state: latest` (run 3,
nothing to change, but the plan needs the repository's current list). The repository's
pkg_summary.xz is grown to a real repository's size, so the HTTP server's request log tells a
download from pkgin's up-to-date check, which hangs up after the headers. What is counted, per
summary URL and run: the 200 answers whose whole body went out. 304s, 404s of formats the
repository does not have, and pkgin's abandoned checks are allowed (pkgin's own behaviour,
which we cannot change: it always asks for .zst first, and every `pkgin install` checks the
repository with a plain GET: docs/summaries.md). benchmarks/summary_fetches.py measures the same.
"""
from __future__ import annotations

import pytest

from tests.integration.summary_fetches import (
    deploy_tasks,
    enlarge_summary,
    full_fetches,
    run_deploy,
    summary_requests,
)
from tests.realtools import PREFIX, missing_reason, real_kit_dir
from tests.realtools.site import prepare

pytestmark = [pytest.mark.slow]

XZ = "/All/pkg_summary.xz"
ZST = "/All/pkg_summary.zst"


def _seen(requests):
    """[(requester, path, outcome)] of the summary requests, in order."""
    return [(r["by"], r["path"], r["outcome"]) for r in summary_requests(requests)]


def test_each_summary_is_fetched_in_full_at_most_once_per_host_per_run(testbed, tmp_path):
    kit = real_kit_dir()
    if kit is None:
        pytest.skip(missing_reason())
    tb = testbed(1, names=["sumfetch"])
    site = prepare(tb.www_dir, tb.http_url, kit)
    size = enlarge_summary(tb.www_dir / "All")
    assert size > 2 << 20
    host = tb.hosts[0]
    tasks = deploy_tasks(site.bootstrap_options(), PREFIX)

    # Run 1, the first deployment.
    results, requests = run_deploy(tb, host, tasks, tmp_path)
    assert [r.get("failed", False) for r in results] == [False, False], results
    assert [r["changed"] for r in results] == [True, True]
    assert max(full_fetches(requests).values()) == 1, _seen(requests)
    assert _seen(requests) == [
        ("pkgin", ZST, "absent"), ("pkgin", XZ, "full"),     # bootstrap: pkgin -f -y update loads it
        ("core", XZ, "not_modified"),                        # the plan: pkgin's copy, confirmed by a 304
        ("pkgin", ZST, "absent"), ("pkgin", XZ, "abandoned"),  # pkgin install's own up-to-date check
    ]
    check = [r for r in summary_requests(requests) if r["outcome"] == "abandoned"][0]
    assert check["sent"] < size // 4, check

    # Run 2: nothing to change, and nothing is asked of the repository.
    results, requests = run_deploy(tb, host, tasks, tmp_path)
    assert [r["changed"] for r in results] == [False, False], results
    assert summary_requests(requests) == []

    # Run 3: state latest needs the current list: conditional requests, answered 304. Two, as
    # converge.py plans twice (before taking the package database's lock, and again under it),
    # each with refresh.
    latest = [{"name": "svc-demo at the newest version", "pkgsrc.deploy.package":
               {"name": ["svc-demo"], "prefix": PREFIX, "state": "latest"}}]
    results, requests = run_deploy(tb, host, latest, tmp_path)
    assert not results[0].get("failed") and not results[0]["changed"], results
    assert _seen(requests) in ([("core", XZ, "not_modified")], [("core", XZ, "not_modified")] * 2)
    assert all(r["if_modified_since"] for r in summary_requests(requests))
