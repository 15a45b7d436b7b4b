"""The Salt formulas (salt_states/pkgsrc/*.sls): pillar.example renders to the states it documents (on this
machine, nothing applied); and on a real test host that sees nothing of the controller's files, through a
real salt-master (the formulas and salt_states/ on its file_roots, the pillar on its pillar_roots) and the
host's own salt-minion (Salt installed in the host; saltutil.sync_all delivers the modules and the core),
with a pillar like pillar.example's: the host-wide prefix (bootstrap, packages) and
two applications, one sharing that prefix and one in its own prefix from its own kit. Applied with
test=True on a fresh host (nothing written), for real (changed, both services answer), again (nothing
changed), and after a pillar change: test=True (nothing written, the service not restarted), then for
real (the watched config file restarts that service, and only that one).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.fixtures.demo import build_demo_repo
from tests.fixtures.gpg import make_signer
from tests.fixtures.kits import build_kit
from tests.fixtures.layouts import source_layout
from tests.fixtures.www import prepare_www
from tests.integration.adapters import REPO, salt_call, salt_config
from tests.testbed.hosts import Host

CANARY = "/opt/canary"
# What test=True must leave alone (paths on the host).
WATCHED = ["/usr/pkg", CANARY, "/etc/profile.d", "/etc/systemd/system"]
TREE = """\
import hashlib, json, os, sys
out = {}
for top in sys.argv[1:]:
    for base, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(base, name)
            if path.endswith(".pkgsrc-deploy.lock"):
                continue  # the run lock beside the pkgdb: every run takes it, and writes its pid in it
            info = os.lstat(path)
            digest = ""
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            out[path] = "%o %d %d %s" % (info.st_mode, info.st_size, info.st_mtime_ns, digest)
print(json.dumps(out))
"""
SERVICE_COMMAND = ["/bin/sh", "-ac", ". {prefix}/etc/svc-demo/svc-demo.env && exec {prefix}/bin/svc-demo"]


def tree(host: Host) -> Dict[str, str]:
    """Every path under WATCHED on the host -> its mode, size, mtime and content hash."""
    return json.loads(host.run(["python3", "-c", TREE] + WATCHED).stdout)


def same_tree(before: Dict[str, str], after: Dict[str, str]) -> bool:
    """True when nothing under WATCHED changed; otherwise fail naming what did."""
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    details = ["%s: %s -> %s" % (p, before.get(p), after.get(p)) for p in changed[:20]]
    assert not changed, "written under %s: %s" % (WATCHED, details)
    return True


def main_pid(host: Host, unit: str) -> str:
    return host.run(["systemctl", "show", "-p", "MainPID", "--value", unit]).stdout.strip()


def answer(host: Host, port: int) -> str:
    return host.run(["curl", "-fsS", "--retry", "30", "--retry-connrefused", "--retry-delay", "0",
                     "--max-time", "5", "http://127.0.0.1:%d/" % port]).stdout


def app(prefix: str, port: int, greeting: str, bootstrap: Any, repositories: List[str]) -> Dict[str, Any]:
    """One entry of pkgsrc:apps: svc-demo configured by an env file it reads through sh -a."""
    return {
        "prefix": prefix, "bootstrap": bootstrap, "repositories": repositories, "packages": ["svc-demo"],
        "config_files": [{"dest": "etc/svc-demo/svc-demo.env",
                          "env": {"SVC_DEMO_PORT": port, "SVC_DEMO_GREETING": greeting}}],
        "service": {"name": "svc-demo-%d" % port, "command": SERVICE_COMMAND, "network": True},
    }


def apply(tb: Any, host: Host, pillar: Dict[str, Any], test: bool = False) -> Dict[str, Dict[str, Any]]:
    """salt HOST state.apply pkgsrc with this pillar (on the master); returns {state id: result}, failing on
    any False result."""
    pillar_dir = Path(tb.files["salt_master"]["pillar_dir"])
    pillar_dir.mkdir(parents=True, exist_ok=True)
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - deploy\n")
    (pillar_dir / "deploy.sls").write_text(json.dumps(pillar, indent=1))
    out, proc = tb.salt_cli([host.name, "state.apply", "pkgsrc"] + (["test=True"] if test else []), timeout=600)
    ret = out.get(host.name) if isinstance(out, dict) else None
    assert isinstance(ret, dict) and all(isinstance(v, dict) for v in ret.values()), out
    results = {tag.split("_|-")[1]: r for tag, r in ret.items()}
    failed = {k: v["comment"] for k, v in results.items() if v["result"] is False}
    assert not failed and proc.returncode == 0, failed or proc.stderr
    return results


@pytest.fixture()
def deployment(testbed, tmp_path_factory):
    """One host with its own minion of the test master, the served artifacts, and the pillar that deploys them."""
    tb = testbed(1)
    assert tb.hosts[0].run(["test", "-e", str(REPO)], check=False).returncode != 0, "the host sees the checkout"
    signer = make_signer(tmp_path_factory.mktemp("signer"))
    try:
        www = prepare_www(tb.www_dir, tb.http_url, signer)
        canary_layout = source_layout(CANARY)
        build_demo_repo(tb.www_dir / "canary", CANARY, layout=canary_layout, bootstrap=False)
        kit = build_kit(tb.www_dir / "kits", canary_layout, [tb.http_url + "canary/All"], signer=signer,
                        name="bootstrap-canary.tar.gz")
        canary_kit = {"url": tb.http_url + "kits/" + kit.name, "checksum": "sha256:" + kit.sha256,
                      "signature_url": tb.http_url + "kits/" + kit.name + ".asc",
                      "gpg_key": tb.http_url + "pkgsrc-signing.asc"}
        pillar = {"pkgsrc": {
            "prefix": "/usr/pkg", "bootstrap": www.kit_options(), "repositories": [www.repo_url],
            "packages": ["foo-tool"],
            "apps": {
                # shares the host-wide prefix (bootstrapped above), so no bootstrap of its own
                "main": app("/usr/pkg", 8080, "hello from main", False, [www.repo_url]),
                "canary": app(CANARY, 8081, "hello from canary", canary_kit, [tb.http_url + "canary/All"]),
            },
        }}
        tb.start_salt_master()  # file_roots: the checkout's salt_states/ (formulas, _modules, _states, _utils)
        tb.start_minions()
        host = tb.hosts[0]
        synced = tb.salt([host.name, "saltutil.sync_all"])[host.name]
        assert "states.pkgsrc_service" in synced["states"], synced
        assert "utils.pkgsrc_core.__init__" in synced["utils"], synced
        yield tb, host, pillar
    finally:
        signer.close()


def _render(tmp_path: Path, pillar_text: str) -> Dict[str, Any]:
    """state.show_sls pkgsrc with this pillar, on this machine (renders, applies nothing)."""
    conf = salt_config(tmp_path)
    pillar_dir = conf.parent / "pillar"
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - example\n")
    (pillar_dir / "example.sls").write_text(pillar_text)
    return salt_call(conf, "state.show_sls", "pkgsrc")


def _args(high: Dict[str, Any], sid: str) -> Dict[str, Any]:
    """The arguments of state sid in show_sls output, as one mapping (plus 'fun': module.function)."""
    state = high[sid]
    module = [k for k in state if not k.startswith("__")][0]
    out: Dict[str, Any] = {}
    for item in state[module]:
        if isinstance(item, dict):
            out.update(item)
        else:
            out["fun"] = "%s.%s" % (module, item)
    return out


def test_pillar_example_renders_to_the_documented_states(tmp_path: Path) -> None:
    out = _render(tmp_path, (REPO / "salt_states" / "pkgsrc" / "pillar.example").read_text())
    assert out["rc"] == 0, out
    high = out["local"]
    assert sorted(k for k in high if not k.startswith("__")) == sorted([
        "pkgsrc-bootstrap", "pkgsrc-packages", "pkgsrc-packages-absent", "pkgsrc-config-1",
        "pkgsrc-service-nginx", "pkgsrc-service-webapp",
        "pkgsrc-app-shop-bootstrap", "pkgsrc-app-shop-packages", "pkgsrc-app-shop-config-1", "pkgsrc-app-shop-service",
        "pkgsrc-app-svc-demo-checkpoint", "pkgsrc-app-svc-demo-bootstrap", "pkgsrc-app-svc-demo-packages",
        "pkgsrc-app-svc-demo-config-1", "pkgsrc-app-svc-demo-service", "pkgsrc-app-svc-demo-health"])
    boot = _args(high, "pkgsrc-bootstrap")
    assert boot == {"fun": "pkgsrc.bootstrapped", "prefix": "/opt/local", "branch": "trunk",
                    "repositories": ["https://pkgsrc.smartos.org/packages/SmartOS/{branch}/x86_64/All"],
                    "verified_installation": "always", "order": boot["order"]}
    pkgs = _args(high, "pkgsrc-packages")
    assert pkgs["fun"] == "pkgsrc.installed" and pkgs["pkgs"] == ["nginx", "php>=8.1<8.2", {"redis": "7.2.5"}]
    assert pkgs["require"] == ["pkgsrc-bootstrap"] and pkgs["prefix"] == "/opt/local"
    assert _args(high, "pkgsrc-packages-absent")["fun"] == "pkgsrc.removed"
    webapp = _args(high, "pkgsrc-service-webapp")
    assert webapp["fun"] == "pkgsrc_service.running" and webapp["name"] == "webapp"
    assert webapp["command"] == ["/opt/local/bin/webapp", "--port", "8080"]
    assert webapp["watch"] == ["pkgsrc-config-1", "pkgsrc-packages"]
    nginx = _args(high, "pkgsrc-service-nginx")
    assert nginx["source"] == "package" and nginx["prefix"] == "/opt/local"

    # An application: its own prefix, kept off the login PATH, from-source bootstrap, env file, restart on change.
    boot = _args(high, "pkgsrc-app-svc-demo-bootstrap")
    assert boot["prefix"] == "/opt/svc-demo" and boot["manage_path"] is False and boot["from_source"]["make_jobs"] == 4
    conf = _args(high, "pkgsrc-app-svc-demo-config-1")
    assert conf["name"] == "/opt/svc-demo/etc/svc-demo/svc-demo.env"
    assert conf["source"] == "salt://pkgsrc/files/env.jinja" and conf["context"]["env"]["SVC_DEMO_PORT"] == 8080
    assert conf["context"]["env"]["SVC_DEMO_GREETING"] == "hello from testminion"  # pillar's own jinja
    svc = _args(high, "pkgsrc-app-svc-demo-service")
    assert svc["name"] == "svc-demo" and svc["command"][2].startswith(". /opt/svc-demo/etc/svc-demo/svc-demo.env &&")
    assert svc["require"] == ["pkgsrc-app-svc-demo-packages"]
    assert svc["watch"] == ["pkgsrc-app-svc-demo-config-1", "pkgsrc-app-svc-demo-packages"]
    # Its health check: a checkpoint first (prefix, the config files), the check last, with the service to restart.
    point = _args(high, "pkgsrc-app-svc-demo-checkpoint")
    assert point == {"fun": "pkgsrc_service.checkpoint", "name": "svc-demo", "prefix": "/opt/svc-demo",
                     "files": ["/opt/svc-demo/etc/svc-demo/svc-demo.env"], "order": point["order"]}
    health = _args(high, "pkgsrc-app-svc-demo-health")
    assert health["fun"] == "pkgsrc_service.healthy" and health["url"] == "http://127.0.0.1:8080/health"
    assert health["rollback_on_failure"] is True and health["checkpoint"] == "svc-demo"
    assert health["service"]["name"] == "svc-demo" and health["service"]["command"] == svc["command"]
    assert point["order"] < boot["order"] < svc["order"] < health["order"]
    shop = _args(high, "pkgsrc-app-shop-config-1")
    assert shop["name"] == "/opt/local/etc/nginx/nginx.conf" and shop["template"] == "jinja"
    assert _args(high, "pkgsrc-app-shop-service")["name"] == "nginx"


@pytest.mark.parametrize("dest", ["/etc/passwd", "etc/../../etc/passwd", ""])
def test_config_files_stay_inside_the_prefix(tmp_path: Path, dest: str) -> None:
    pillar = {"pkgsrc": {"apps": {"x": {"prefix": "/opt/x", "bootstrap": False,
                                        "config_files": [{"dest": dest, "content": "x"}]}}}}
    out = _render(tmp_path, json.dumps(pillar))
    assert out["rc"] != 0
    assert "must be a path relative to the prefix" in json.dumps(out["local"]), out


@pytest.mark.testbed
@pytest.mark.slow
def test_formulas_apply_converge_and_test_mode(deployment):
    tb, host, pillar = deployment

    # test=True on a fresh host: every state plans, nothing is written.
    before = tree(host)
    planned = apply(tb, host, pillar, test=True)
    assert same_tree(before, tree(host))
    assert not host.run(["test", "-e", "/usr/pkg"], check=False).returncode == 0
    assert planned["pkgsrc-bootstrap"]["result"] is None and planned["pkgsrc-bootstrap"]["changes"]
    assert planned["pkgsrc-app-canary-bootstrap"]["result"] is None
    assert planned["pkgsrc-app-canary-service"]["result"] is None

    # For real: bootstrap both prefixes, install, configure, start both services.
    first = apply(tb, host, pillar)
    changed = sorted(k for k, v in first.items() if v["changes"])
    assert changed == sorted(first), "every state changes something on a fresh host: %s" % changed
    assert first["pkgsrc-packages"]["changes"]["foo-tool"]["new"] == "3.2"
    assert first["pkgsrc-app-canary-packages"]["changes"]["svc-demo"]["new"] == "1.0"
    assert "greeting: hello from main" in answer(host, 8080)
    assert "greeting: hello from canary" in answer(host, 8081)
    env = host.get_file(CANARY + "/etc/svc-demo/svc-demo.env").decode()
    assert "SVC_DEMO_GREETING='hello from canary'\nSVC_DEMO_PORT='8081'\n" in env
    pkgs = tb.salt([host.name, "pkgsrc.list_pkgs", "prefix=" + CANARY])[host.name]
    assert pkgs["svc-demo"] == "1.0" and "foo-tool" not in pkgs  # the two prefixes are separate
    assert host.run(["test", "-e", "/usr/pkg/bin/foo-tool"], check=False).returncode == 0
    # An application's prefix (manage_path false by default) does not take over the login PATH.
    assert "/usr/pkg/bin" in host.get_file("/etc/profile.d/pkgsrc.sh").decode()

    # Again: nothing changes, nothing is written, no service restarts.
    pids = {port: main_pid(host, "svc-demo-%d.service" % port) for port in (8080, 8081)}
    before = tree(host)
    second = apply(tb, host, pillar)
    assert {k: v["changes"] for k, v in second.items() if v["changes"]} == {}
    assert same_tree(before, tree(host))
    assert {port: main_pid(host, "svc-demo-%d.service" % port) for port in (8080, 8081)} == pids

    # A new greeting for the canary: test=True plans the file change and a restart, writes nothing.
    pillar["pkgsrc"]["apps"]["canary"]["config_files"][0]["env"]["SVC_DEMO_GREETING"] = "it's a new greeting"
    planned = apply(tb, host, pillar, test=True)
    assert planned["pkgsrc-app-canary-config-1"]["result"] is None
    assert planned["pkgsrc-app-canary-service"]["result"] is None
    assert "would restart" in planned["pkgsrc-app-canary-service"]["comment"]
    assert planned["pkgsrc-app-main-service"]["result"] is True
    assert same_tree(before, tree(host))
    assert main_pid(host, "svc-demo-8081.service") == pids[8081]

    # For real: the watched file changed, so the canary restarts (mod_watch) with the new greeting.
    third = apply(tb, host, pillar)
    assert third["pkgsrc-app-canary-config-1"]["changes"]
    assert third["pkgsrc-app-canary-service"]["changes"]["actions"] == ["restart svc-demo-8081.service"]
    assert main_pid(host, "svc-demo-8081.service") != pids[8081]
    assert "greeting: it's a new greeting" in answer(host, 8081)
    assert main_pid(host, "svc-demo-8080.service") == pids[8080]
    assert not [k for k, v in third.items() if v["changes"] and "canary" not in k]
