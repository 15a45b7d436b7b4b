"""A rollout through the real salt-master: ``salt-run state.orchestrate pkgsrc.rollout`` (salt_states/pkgsrc/
rollout.sls with the pkgsrc_rollout runner) over three test hosts, each with its own salt-minion, deploying
the svc-demo application with the pkgsrc.app formula and its health check (pkgsrc_service.checkpoint first,
pkgsrc_service.healthy last).

The fixtures serve two repositories: the good one, where svc-demo 1.1 and 1.2 answer like 1.0, and the one
host2 is pointed at (its pillar), where 1.1 and 1.2 start but never answer. So on host2 every upgrade fails
its health check, and the formula rolls that host back exactly: the package transaction of the run, the
configuration file it rewrote, a restart, and a check that the old version answers again.

- test=True plans the rollout: every batch's states run with test=True on the minions; nothing is written on
  any host (a hash of the prefix and the systemd folder) nor the outcome file on the master.
- batch 2, max_fail_percentage 50: host1 and host2 (host2 rolled back: 1 of 2 is not more than 50%), then
  host3. host1 and host3 are upgraded, host2 is back on 1.0 with its old configuration and answers.
- batch 2, max_fail_percentage 30, to 1.2 (through the rollout's own pillar): host2 is rolled back again,
  1 of 2 is more than 30%, so the rollout stops: host3 is not reached and not touched.
Each outcome file holds every host's outcome and version.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Dict
from unittest.mock import ANY

import pytest

from tests.fixtures.demo import demo_specs, svc_demo_spec
from tests.fixtures.gpg import make_signer
from tests.fixtures.repo import add_packages, build_repo
from tests.fixtures.www import prepare_www
from tests.integration.test_salt_formulas import SERVICE_COMMAND, _render
from tests.testbed.hosts import Host

REPO = Path(__file__).resolve().parents[2]

PREFIX = "/usr/pkg"
PKGDB = "/usr/pkg/.pkgdb"
WATCHED = [PREFIX, "/etc/systemd/system"]
ENV_FILE = PREFIX + "/etc/svc-demo/svc-demo.env"
TREE = """\
import hashlib, json, os, sys
out = {}
for top in sys.argv[1:]:
    for base, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(base, name)
            if path.endswith(".pkgsrc-deploy.lock"):
                continue  # the run lock beside the pkgdb: every run takes it
            info = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            out[path] = "%o %d %d %s" % (info.st_mode, info.st_size, info.st_mtime_ns, digest)
print(json.dumps(out))
"""
# svc-demo made broken on purpose: the service runs, and never answers.
BROKEN_DAEMON = "#!/bin/sh\n# svc-demo, broken by the pkgsrc.deploy test fixtures\nexec sleep 100000\n"


def tree(host: Host) -> Dict[str, str]:
    return json.loads(host.run(["python3", "-c", TREE] + WATCHED).stdout)


def answer(host: Host, port: int) -> str:
    """What the service on the host answers to GET / (retried for up to 30 s while it starts)."""
    return host.run(["curl", "-fsS", "--retry", "30", "--retry-connrefused", "--retry-delay", "1",
                     "--retry-max-time", "30", "--max-time", "5", "http://127.0.0.1:%d/" % port]).stdout


def installed(host: Host) -> list:
    """The PKGNAMEs in the host's package database, read on the host."""
    return sorted(host.run(["ls", PKGDB]).stdout.split())


def pillar(repo: str, version: str, kit: Dict[str, str]) -> Dict[str, Any]:
    return {"pkgsrc": {"apps": {"demo": {
        "prefix": PREFIX, "bootstrap": kit, "repositories": [repo], "packages": ["svc-demo-" + version],
        "config_files": [{"dest": "etc/svc-demo/svc-demo.env",
                          "env": {"SVC_DEMO_PORT": 8080, "SVC_DEMO_GREETING": "release " + version}}],
        "service": {"name": "svc-demo", "command": SERVICE_COMMAND, "network": True},
        "health_check": {"url": "http://127.0.0.1:8080/health", "body": "ok", "retries": 8, "delay": 0.5,
                         "timeout": 2},
    }}}}


def write_pillar(tb: Any, common: Dict[str, Any], broken_repo: str) -> None:
    """Every host gets `common`; host2's repository is the broken one; host4 gets the broken 1.1 at once."""
    pillar_dir = Path(tb.files["salt_master"]["pillar_dir"])
    pillar_dir.mkdir(parents=True, exist_ok=True)
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - deploy\n  host2:\n    - broken\n"
                                        "  host4:\n    - broken\n    - fresh\n")
    (pillar_dir / "deploy.sls").write_text(json.dumps(common, indent=1))
    (pillar_dir / "broken.sls").write_text(json.dumps({"pkgsrc": {"apps": {"demo": {"repositories": [broken_repo]}}}}))
    (pillar_dir / "fresh.sls").write_text(json.dumps({"pkgsrc": {"apps": {"demo": {"packages": ["svc-demo-1.1"]}}}}))


def orchestrate(tb: Any, rollout: Dict[str, Any], test: bool = False) -> Dict[str, Dict[str, Any]]:
    """salt-run state.orchestrate pkgsrc.rollout with this rollout pillar; {state id: result} on the master."""
    args = ["state.orchestrate", "pkgsrc.rollout", "pillar=" + json.dumps({"rollout": rollout})]
    out, proc = tb.salt_cli(args + (["test=True"] if test else []), tool="salt-run", timeout=600)
    data = out.get("data") if isinstance(out, dict) else None
    assert isinstance(data, dict) and len(data) == 1, (out, proc.stderr[-3000:])
    states = next(iter(data.values()))
    assert isinstance(states, dict), states  # a list: the orchestration did not render
    return {tag.split("_|-")[1]: result for tag, result in states.items()}


@pytest.fixture()
def fleet(testbed, tmp_path_factory):
    """Four hosts with their minions; svc-demo 1.0 deployed with its health check on host1-3. host4's first
    deployment is the broken 1.1, so it fails its check and is rolled back to the bare bootstrap."""
    tb = testbed(4)
    signer = make_signer(tmp_path_factory.mktemp("signer"))
    try:
        www = prepare_www(tb.www_dir, tb.http_url, signer)
        add_packages(tb.www_dir / "All", [svc_demo_spec(v, PREFIX) for v in ("1.1", "1.2")])
        broken = [dataclasses.replace(spec, files={**spec.files, "bin/svc-demo": BROKEN_DAEMON})
                  for spec in (svc_demo_spec(v, PREFIX) for v in ("1.1", "1.2"))]
        build_repo(tb.www_dir / "broken", demo_specs(PREFIX, extras=False) + broken)
        urls = {"good": www.repo_url, "broken": tb.http_url + "broken/All", "kit": www.kit_options()}
        tb.start_salt_master()
        tb.start_minions()
        synced = tb.salt(["*", "saltutil.sync_all"])
        assert all("states.pkgsrc_service" in synced[h.name]["states"] for h in tb.hosts), synced
        runners = tb.salt(["saltutil.sync_runners"], tool="salt-run")
        assert "runners.pkgsrc_rollout" in json.dumps(runners), runners

        # The first deployment: 1.0 on host1-3 (host2 from its own repository, where 1.0 is still good).
        write_pillar(tb, pillar(urls["good"], "1.0", urls["kit"]), urls["broken"])
        out = tb.salt(["*", "state.apply", "pkgsrc.app"], timeout=600)
        failed = {h: {tag.split("_|-")[1]: r["comment"] for tag, r in out[h].items() if r["result"] is False}
                  for h in out}
        assert failed == {"host1": {}, "host2": {}, "host3": {}, "host4": {"pkgsrc-app-demo-health": ANY}}, failed
        for host in tb.hosts[:3]:
            assert "svc-demo 1.0\ngreeting: release 1.0" in answer(host, 8080)
        # host4: its first deployment does not answer, so it is rolled back to nothing (the bootstrap stays).
        comment = failed["host4"]["pkgsrc-app-demo-health"]
        assert "UNHEALTHY" in comment and "there is no previous version" in comment, comment
        assert "restored" not in comment and "removed %s (this run created it)" % ENV_FILE in comment, comment
        host4 = tb.hosts[3]
        assert "pkg_install-20170419" in installed(host4) and not [p for p in installed(host4) if "svc-demo" in p]
        assert host4.run(["test", "-e", ENV_FILE], check=False).returncode != 0
        assert host4.run(["systemctl", "is-active", "svc-demo.service"], check=False).stdout.strip() != "active"
        yield tb, urls
    finally:
        signer.close()


@pytest.mark.testbed
@pytest.mark.slow
def test_rollout_batches_health_checks_and_rollback(fleet):
    tb, urls = fleet
    host1, host2, host3 = tb.hosts[:3]
    outdir = Path(tb.workdir) / "rollouts"
    timings: Dict[str, float] = {}

    # A target that matches nothing is refused while the orchestration renders, with what to fix.
    out, proc = tb.salt_cli(["state.orchestrate", "pkgsrc.rollout", "pillar=" + json.dumps({"rollout": {
        "target": "web*"}})], tool="salt-run")
    # A converged host: nothing changes, nothing is written, no check runs.
    before = tree(host1)
    again = tb.salt(["host1", "state.apply", "pkgsrc.app"])["host1"]
    assert not [r for r in again.values() if r["changes"] or r["result"] is not True], again
    health = [r for tag, r in again.items() if tag.endswith("_|-healthy")][0]
    assert "this run changed nothing" in health["comment"] and "not checked" in health["comment"], health
    assert tree(host1) == before
    assert proc.returncode != 0 and "target 'web*' (glob) matches no accepted minion" in json.dumps(out), out

    # The new version in the pillar: 1.1, with its own greeting.
    write_pillar(tb, pillar(urls["good"], "1.1", urls["kit"]), urls["broken"])
    rollout = {"target": "host[1-3]", "batch": 2, "max_fail_percentage": 50, "package": "svc-demo", "prefix": PREFIX,
               "out_file": str(outdir / "a.json")}

    # test=True: a plan. Each batch's states run with test=True on its minions; nothing is written anywhere.
    before = {h.name: tree(h) for h in tb.hosts}
    start = time.monotonic()
    planned = orchestrate(tb, dict(rollout, out_file=str(outdir / "test.json")), test=True)
    assert "pkgsrc-rollout-batch-3" not in planned  # host4 is not targeted
    timings["test_s"] = time.monotonic() - start
    assert sorted(planned) == ["pkgsrc-rollout-batch-1", "pkgsrc-rollout-batch-2", "pkgsrc-rollout-outcome"]
    assert "host1, host2 | host3" in planned["pkgsrc-rollout-outcome"]["comment"], planned
    minion_plans = planned["pkgsrc-rollout-batch-1"]["changes"]["ret"]
    packages = [r for tag, r in minion_plans["host1"].items() if "pkgsrc-app-demo-packages" in tag][0]
    assert packages["result"] is None and "svc-demo-1.1" in packages["comment"], packages
    assert {h.name: tree(h) for h in tb.hosts} == before
    assert not outdir.exists()
    for host in tb.hosts[:3]:
        assert "svc-demo 1.0" in answer(host, 8080)

    # For real: batch 1 = host1, host2 (host2 fails its check and is rolled back; 1 of 2 is allowed), batch 2 = host3.
    start = time.monotonic()
    done = orchestrate(tb, rollout)
    timings["rollout_s"] = time.monotonic() - start
    assert done["pkgsrc-rollout-batch-1"]["result"] is True, done["pkgsrc-rollout-batch-1"]
    assert done["pkgsrc-rollout-batch-2"]["result"] is True, done["pkgsrc-rollout-batch-2"]
    assert done["pkgsrc-rollout-outcome"]["result"] is False  # not clean: a host was rolled back
    written = json.loads((outdir / "a.json").read_text())
    assert written["app"] == "svc-demo" and written["check_mode"] is False
    outcome = written["hosts"]
    assert {h: (o["outcome"], o["version"]) for h, o in outcome.items()} == {
        "host1": ("upgraded", "1.1"), "host2": ("rolled back", "1.0"), "host3": ("upgraded", "1.1")}, outcome
    message = outcome["host2"]["message"]
    assert "UNHEALTHY" in message and "healthy again" in message and "restored " + ENV_FILE in message, message
    # The effects on the hosts: packages, configuration, service.
    for host in (host1, host3):
        assert "svc-demo-1.1" in installed(host)
        assert "svc-demo 1.1\ngreeting: release 1.1" in answer(host, 8080)
    assert "svc-demo-1.0" in installed(host2) and "svc-demo-1.1" not in installed(host2)
    assert "SVC_DEMO_GREETING='release 1.0'" in host2.get_file(ENV_FILE).decode()
    assert "svc-demo 1.0\ngreeting: release 1.0" in answer(host2, 8080)
    last = tb.salt(["host2", "pkgsrc.history", "count=1", "prefix=" + PREFIX])["host2"]["transactions"][0]
    assert last["kind"] == "rollback" and last["outcome"] == "ok", last

    # 1.2, given through the rollout's own pillar; batches of 2 may lose 30%: host2 fails again, the rollout stops.
    untouched = tree(host3)
    stop = dict(rollout, max_fail_percentage=30, out_file=str(outdir / "b.json"),
                pillar={"pkgsrc": {"apps": {"demo": {"packages": ["svc-demo-1.2"]}}}})
    start = time.monotonic()
    done = orchestrate(tb, stop)
    timings["stopped_rollout_s"] = time.monotonic() - start
    assert done["pkgsrc-rollout-batch-1"]["result"] is False
    assert "the rollout stops here" in done["pkgsrc-rollout-batch-1"]["changes"]["return"]["comment"]
    assert done["pkgsrc-rollout-batch-2"]["result"] is False  # its requisite failed: not run
    assert "requisite" in done["pkgsrc-rollout-batch-2"]["comment"].lower()
    outcome = json.loads((outdir / "b.json").read_text())
    assert {h: (o["outcome"], o["version"]) for h, o in outcome["hosts"].items()} == {
        "host1": ("upgraded", "1.2"), "host2": ("rolled back", "1.0"), "host3": ("not reached", "1.1")}, outcome
    assert outcome["rollout"]["stopped"] is True
    assert tree(host3) == untouched
    assert "svc-demo 1.2" in answer(host1, 8080)
    assert "svc-demo 1.0" in answer(host2, 8080) and "svc-demo-1.0" in installed(host2)
    assert "svc-demo 1.1" in answer(host3, 8080)
    print("timings:", {k: round(v, 1) for k, v in timings.items()})


# ----- the pieces, on this machine ---------------------------------------------------------------------
def _load(path: str) -> ModuleType:
    """A Salt loader module of salt_states/, imported as a plain module (the loader's globals are not set)."""
    spec = importlib.util.spec_from_file_location("rollout_test_" + Path(path).stem, REPO / path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("batch, total, size", [
    (1, 3, 1), (2, 3, 2), ("2", 5, 2), ("25%", 8, 2), ("25%", 3, 1), ("30%", 10, 3), ("100%", 4, 4), ("1%", 3, 1),
])
def test_batch_sizes_as_ansible_serial(batch: Any, total: int, size: int) -> None:
    assert _load("salt_states/_runners/pkgsrc_rollout.py")._batch_size(batch, total) == size


@pytest.mark.parametrize("batch", [0, "0", "-1", "abc", "0%", "150%", "x%"])
def test_wrong_batch_sizes_are_refused(batch: Any) -> None:
    with pytest.raises(ValueError, match="batch must be"):
        _load("salt_states/_runners/pkgsrc_rollout.py")._batch_size(batch, 4)


@pytest.mark.parametrize("size, percent, allowed", [
    (2, 50, 1), (2, 30, 0), (1, 30, 0), (1, 100, 1), (4, 25, 1), (10, 30, 3), (3, 0, 0), (3, 34, 1),
])
def test_a_batch_may_lose_what_max_fail_percentage_allows(size: int, percent: float, allowed: int) -> None:
    """Ansible stops when failed / batch * 100 > max_fail_percentage: so floor(size * percent / 100) may fail."""
    assert _load("salt_states/_runners/pkgsrc_rollout.py")._allowed(size, percent) == allowed


HEALTH = "pkgsrc_service_|-pkgsrc-app-demo-health_|-demo_|-healthy"
PACKAGES = "pkgsrc_|-pkgsrc-app-demo-packages_|-pkgsrc-app-demo-packages_|-installed"


@pytest.mark.parametrize("ret, outcome, words", [
    ({PACKAGES: {"result": True, "changes": {"svc-demo": {"old": "1.0", "new": "1.1"}}, "comment": "upgraded"},
      HEALTH: {"result": True, "changes": {}, "comment": "GET ... healthy after 1 attempt"}},
     "upgraded", ["changed: pkgsrc-app-demo-packages", "healthy after 1 attempt"]),
    ({PACKAGES: {"result": True, "changes": {}, "comment": "as asked"},
      HEALTH: {"result": True, "changes": {}, "comment": "this run changed nothing: GET ... not checked"}},
     "unchanged", ["nothing to change"]),
    ({PACKAGES: {"result": True, "changes": {"svc-demo": {}}, "comment": ""},
      HEALTH: {"result": False, "changes": {"rolled_back": {"files": ["/x"]}, "healthy_again": True},
               "comment": "UNHEALTHY.\nRolled back: restored /x.\nThe previous version is healthy again"}},
     "rolled back", ["UNHEALTHY. Rolled back: restored /x."]),
    ({HEALTH: {"result": False, "changes": {"rolled_back": {}, "healthy_again": False},
               "comment": "UNHEALTHY; STILL UNHEALTHY"}},
     "rolled back", ["STILL UNHEALTHY"]),
    ({HEALTH: {"result": False, "changes": {},
               "comment": "UNHEALTHY; nothing rolled back (rollback_on_failure is off)"}},
     "failed", ["rollback_on_failure is off"]),
    ({PACKAGES: {"result": False, "changes": {}, "comment": "svc-demo-9 is in no repository"},
      HEALTH: {"result": True, "changes": {}, "comment": "healthy"}},
     "failed", ["pkgsrc-app-demo-packages: svc-demo-9 is in no repository"]),
    (["Rendering SLS 'base:pkgsrc.app' failed: bad pillar"], "failed", ["did not run", "bad pillar"]),
])
def test_outcome_of_a_minion_state_run(ret: Any, outcome: str, words: list) -> None:
    got, message = _load("salt_states/_runners/pkgsrc_rollout.py")._classify(ret)
    assert got == outcome and all(w in message for w in words), (got, message)


def test_files_kept_at_the_checkpoint_are_restored_exactly(tmp_path: Path) -> None:
    states = _load("salt_states/_states/pkgsrc_service.py")
    conf, new = tmp_path / "app.env", tmp_path / "new.conf"
    conf.write_text("GREETING='old'\n")
    os.chmod(conf, 0o640)
    kept = {str(p): states._snapshot(str(p)) for p in (conf, new)}
    assert kept[str(new)] is None and kept[str(conf)]["mode"] == 0o640
    # The run rewrites one file (another mode too) and creates another.
    conf.write_text("GREETING='new'\n")
    os.chmod(conf, 0o644)
    new.write_text("x\n")
    assert states._restore(str(conf), kept[str(conf)]) == "restored %s" % conf
    assert conf.read_text() == "GREETING='old'\n" and (conf.stat().st_mode & 0o777) == 0o640
    assert states._restore(str(new), kept[str(new)]) == "removed %s (this run created it)" % new
    assert not new.exists()
    # Already as kept: nothing to do.
    assert states._restore(str(conf), kept[str(conf)]) is None and states._restore(str(new), None) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.env"]  # no temporary file left


@pytest.mark.parametrize("check", [{"url": "http://a/", "command": ["true"]}, {"body": "ok"}, ["http://a/"]])
def test_a_wrong_health_check_is_refused_when_rendering(tmp_path: Path, check: Any) -> None:
    pillar = {"pkgsrc": {"apps": {"x": {"prefix": "/opt/x", "bootstrap": False, "health_check": check}}}}
    out = _render(tmp_path, json.dumps(pillar))
    assert out["rc"] != 0
    assert "health_check must be a mapping with url" in json.dumps(out["local"]), out
