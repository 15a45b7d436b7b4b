"""Salt the three ways users run it, on test hosts that see nothing of the controller's checkout or
virtualenv (``bind_controller_python=False``): only Debian's python3 and sshd, plus (for the minion
and the wheel) Salt installed into the host itself (tests/testbed/rootfs.py: ``/opt/saltstack``).

1. salt-ssh: the thin carries ``pkgsrc_core`` (``thin_extra_mods``), the loader modules come from
   the file roots;
2. a real salt-master with a real salt-minion per host: ``saltutil.sync_all`` delivers the core and
   the modules from the master's file roots; the ``pkgsrc_report`` runner reports through the master;
3. the saltext-pkgsrc wheel pip-installed into the host's Salt: the formulas run with no sync and
   file roots that hold only the formulas.

Each deploys the same pillar-driven formula (``state.apply pkgsrc``: bootstrap from the signed
fixture kit, packages from the repository, the svc-demo service under systemd) on two hosts:
test=True first (nothing written), applied (changed, the service answers), applied again (nothing
changed). The time of each way is written to tests/output/salt_ways_timings.json.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.fixtures.gpg import make_signer
from tests.fixtures.www import prepare_www
from tests.integration.test_deploy_testbed import tree
from tests.integration.test_packaging import tracked_copy
from tests.testbed.hosts import Host
from tests.testbed.inventory import REPO_ROOT
from tests.testbed.rootfs import HOST_SALT_VENV

pytestmark = [pytest.mark.slow]

TIMINGS = REPO_ROOT / "tests" / "output" / "salt_ways_timings.json"
GREETING = "hello from salt"


def pillar(www):
    """The pillar of the formula ``pkgsrc``: the host-wide prefix, two packages and a service."""
    return {"pkgsrc": {
        "prefix": "/usr/pkg",
        "bootstrap": dict(www.kit_options()),
        "repositories": [www.repo_url],
        "packages": ["foo-tool", "svc-demo"],
        "services": {"svc-demo": {
            "command": ["/usr/pkg/bin/svc-demo"],
            "env": {"SVC_DEMO_PORT": "8080", "SVC_DEMO_GREETING": GREETING},
            "network": True,
        }},
    }}


def write_pillar(pillar_dir, data):
    pillar_dir = Path(pillar_dir)
    pillar_dir.mkdir(parents=True, exist_ok=True)
    (pillar_dir / "top.sls").write_text(yaml.safe_dump({"base": {"*": ["deploy"]}}))
    (pillar_dir / "deploy.sls").write_text(yaml.safe_dump(data))


@pytest.fixture()
def fleet(testbed, tmp_path_factory):
    """Two hosts without the controller's files, and the served kit, key and repository."""
    tb = testbed(2, bind_controller_python=False)
    for host in tb.hosts:
        for path in (REPO_ROOT, Path(sys.prefix).resolve()):
            assert host.run(["test", "-e", str(path)], check=False).returncode != 0, f"{host.name} sees {path}"
    signer = make_signer(tmp_path_factory.mktemp("signer"))
    try:
        www = prepare_www(tb.www_dir, tb.http_url, signer)
    finally:
        signer.close()
    return tb, www


def check(out, hosts, test=False, changed=None):
    """Every state of every host succeeded (test=True: None or True); ``changed``: some / no changes."""
    for host in hosts:
        ret = out.get(host.name) if isinstance(out, dict) else None
        assert isinstance(ret, dict) and ret, f"{host.name}: {json.dumps(out)[:3000]}"
        bad = {sid: r for sid, r in ret.items()
               if not isinstance(r, dict) or r.get("result") not in ((None, True) if test else (True,))}
        assert not bad, f"{host.name}: {json.dumps(bad, indent=1)[:4000]}"
        some = any(r.get("changes") for r in ret.values())
        if changed is not None:
            assert some == changed, f"{host.name} changes: {json.dumps(ret, indent=1)[:4000]}"
        assert any("svc-demo" in sid for sid in ret), sorted(ret)


def answers(host):
    return host.run(["curl", "-fsS", "--retry", "20", "--retry-connrefused", "--retry-delay", "0",
                     "--max-time", "5", "http://127.0.0.1:8080/"]).stdout


def three_runs(hosts, apply):
    """test=True (nothing written), then changed (the service answers), then not changed; timings."""
    timings = {}
    before = {h.name: tree(h) for h in hosts}
    start = time.monotonic()
    check(apply(test=True), hosts, test=True)
    timings["test_s"] = round(time.monotonic() - start, 2)
    assert {h.name: tree(h) for h in hosts} == before, "test=True wrote on a host"
    start = time.monotonic()
    check(apply(), hosts, changed=True)
    timings["first_s"] = round(time.monotonic() - start, 2)
    for host in hosts:
        assert GREETING in answers(host)
        assert host.run(["systemctl", "is-active", "svc-demo.service"]).stdout.strip() == "active"
    start = time.monotonic()
    check(apply(), hosts, changed=False)
    timings["again_s"] = round(time.monotonic() - start, 2)
    return timings


def record(way, timings):
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    data[way] = dict(timings, hosts=2)
    TIMINGS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(way, json.dumps(timings))


@pytest.mark.parametrize("core_from", ["checkout", "controller-wheel"])
def test_salt_ssh(fleet, core_from, request, tmp_path):
    """checkout: file_roots hold salt_states/ (the formulas and the loader modules salt-ssh ships), the
    core is imported from plugins/module_utils. controller-wheel: saltext-pkgsrc is installed next to
    salt-ssh on the controller; salt-ssh packs the installed extension into the thin, file_roots hold
    only the formulas."""
    tb, www = fleet
    config_dir = Path(tb.files["salt"]["config_dir"])
    write_pillar(config_dir / "pillar", pillar(www))
    pythonpath, extra = None, []
    if core_from == "controller-wheel":
        site = tmp_path / "site-packages"  # as `pip install saltext-pkgsrc` into salt-ssh's Python
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                               str(site), str(request.getfixturevalue("wheel"))],
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        formulas = tmp_path / "formulas"
        shutil.copytree(REPO_ROOT / "salt_states" / "pkgsrc", formulas / "pkgsrc")
        master = yaml.safe_load((config_dir / "master").read_text())
        master["file_roots"] = {"base": [str(formulas)]}
        (config_dir / "master").write_text(yaml.safe_dump(master))
        pythonpath, extra = str(site), ["--regen-thin"]  # not the thin a checkout run cached
    start = time.monotonic()
    # The thin (Salt, its dependencies and pkgsrc_core) and the extension modules reach the hosts.
    shipped = tb.salt_ssh(["pkgsrc.version_cmp", "1.0", "1.1"], extra=extra, pythonpath=pythonpath)
    assert shipped == {h.name: -1 for h in tb.hosts}
    timings = {"ship_s": round(time.monotonic() - start, 2)}
    timings.update(three_runs(tb.hosts, lambda test=False: tb.salt_ssh(
        ["state.apply", "pkgsrc"] + (["test=True"] if test else []), pythonpath=pythonpath)))
    record("salt-ssh" if core_from == "checkout" else "salt-ssh, wheel on the controller", timings)


def test_master_and_minions(fleet, tmp_path):
    tb, www = fleet
    start = time.monotonic()
    master = tb.start_salt_master()
    write_pillar(master["pillar_dir"], pillar(www))
    tb.start_minions()
    timings = {"master_and_minions_s": round(time.monotonic() - start, 2)}
    for host in tb.hosts:  # each minion is the host's own Salt, not the controller's
        cmd = host.run(["systemctl", "show", "-p", "ExecStart", "--value", "salt-minion.service"]).stdout
        assert HOST_SALT_VENV + "/bin/salt-minion" in cmd
    unsynced = tb.salt(["*", "pkgsrc.version_cmp", "1.0", "1.1"])
    assert all(v != -1 for v in unsynced.values()), unsynced  # nothing of ours on a fresh minion
    start = time.monotonic()
    synced = tb.salt(["*", "saltutil.sync_all"])
    timings["sync_s"] = round(time.monotonic() - start, 2)
    for host in tb.hosts:
        assert "modules.pkgsrc" in synced[host.name]["modules"], synced
        assert "utils.pkgsrc_core.__init__" in synced[host.name]["utils"], synced
    assert tb.salt(["*", "pkgsrc.version_cmp", "1.0", "1.1"]) == {h.name: -1 for h in tb.hosts}
    timings.update(three_runs(tb.hosts, lambda test=False: tb.salt(
        ["*", "state.apply", "pkgsrc"] + (["test=True"] if test else []))))

    # The fleet report through the master: the runner (synced to the master) asks the minions.
    synced = tb.salt(["saltutil.sync_all"], tool="salt-run")
    assert "runners.pkgsrc_report" in synced["runners"], synced
    out_dir = tmp_path / "report"
    report = tb.salt(["pkgsrc_report.render", f"out_dir={out_dir}", "timeout=60"], tool="salt-run")
    assert report["summary"]["hosts"] == 2 and report["summary"]["unreachable"] == 0, report
    hosts = {h["host"]: h for h in json.loads((out_dir / "report.json").read_text())["hosts"]}
    assert set(hosts) == {h.name for h in tb.hosts}
    for entry in hosts.values():
        assert entry["bootstrapped"] is True, entry
        assert "/usr/pkg" in [p["prefix"] for p in entry["prefixes"]], entry
    record("master-minion", timings)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """saltext-pkgsrc, built with pip from a copy of the tree, as tests/integration/test_packaging.py does."""
    tmp = tmp_path_factory.mktemp("saltext-wheel")
    src = tracked_copy(tmp / "src")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
                           "-w", str(tmp / "out"), str(src)], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    found = list((tmp / "out").glob("saltext_pkgsrc-*.whl"))
    assert len(found) == 1, found
    return found[0]


def test_wheel_on_the_minion(fleet, wheel):
    tb, www = fleet
    states = "/srv/salt"  # only the formulas: no _modules, _states or _utils anywhere on the host
    start = time.monotonic()
    for host in tb.hosts:
        share = Path(host.share_dir)
        shutil.copy(wheel, share / wheel.name)  # as scp would; the share is mounted at Host.SHARE_MOUNT
        host.run([f"{HOST_SALT_VENV}/bin/python", "-m", "pip", "install", "--no-index", "--no-deps", "-q",
                  f"{Host.SHARE_MOUNT}/{wheel.name}"])
        host.run(["mkdir", "-p", states])
        shutil.copytree(REPO_ROOT / "salt_states" / "pkgsrc", share / "formulas" / "pkgsrc")
        host.run(["cp", "-r", f"{Host.SHARE_MOUNT}/formulas/pkgsrc", states + "/"])
        write_pillar(share / "salt" / "pillar", pillar(www))
        found = host.run(["find", states, "-name", "_*"]).stdout.strip()
        assert not found, found
    timings = {"install_s": round(time.monotonic() - start, 2)}

    def call(host, args):
        proc = tb.salt_call(host, args, file_roots=[states], host_salt=True, check=False, timeout=600)
        try:
            return json.loads(proc.stdout)["local"]
        except (ValueError, KeyError):
            detail = f"rc {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            raise AssertionError(f"{host.name}: {detail}") from None

    for host in tb.hosts:
        assert call(host, ["pkgsrc.version_cmp", "1.0", "1.1"]) == -1

    def apply(test=False):
        args = ["state.apply", "pkgsrc"] + (["test=True"] if test else [])
        with ThreadPoolExecutor(max_workers=len(tb.hosts)) as pool:
            results = list(pool.map(lambda h: call(h, args), tb.hosts))
        return {h.name: r for h, r in zip(tb.hosts, results)}

    timings.update(three_runs(tb.hosts, apply))
    record("wheel", timings)
