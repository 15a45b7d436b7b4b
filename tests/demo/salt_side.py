"""The Salt half of the demo: a real salt-master in the testbed's controller namespace (the repository's
salt_states/ on its file_roots, a pillar per node in the shape of salt_states/pkgsrc/pillar.example on its
pillar_roots) and each Salt node's own salt-minion (Salt installed in the host, /opt/saltstack; the hosts
see nothing of the controller's checkout). ``saltutil.sync_all`` delivers the modules and the core, then
``salt NODE state.apply pkgsrc`` deploys, and ``salt NODE pkgsrc.facts`` gives the facts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Sequence, Tuple

from tests.demo.artifacts import CANARY_PREFIX, Artifacts
from tests.demo.fleet import App, Node
from tests.testbed.hosts import Host
from tests.testbed.testbed import Testbed


@dataclass(frozen=True)
class ApplyResult:
    """What state.apply did: rc and, per state id in run order, (result, changed, comment)."""

    rc: int
    states: Tuple[Tuple[str, Any, bool, str], ...]
    output: str

    @property
    def failed(self) -> Tuple[str, ...]:
        """Ids of the states that failed."""
        return tuple(sid for sid, result, _changed, _comment in self.states if result is False)

    @property
    def changed(self) -> Tuple[str, ...]:
        """Ids of the states that changed something."""
        return tuple(sid for sid, _result, changed, _comment in self.states if changed)


def _app_pillar(app: App, artifacts: Artifacts) -> Dict[str, Any]:
    if app.prefix == CANARY_PREFIX:
        bootstrap: Dict[str, Any] = dict(artifacts.canary_kit)
        repos = [artifacts.canary_repo]
    else:
        bootstrap = artifacts.main_kit
        repos = [artifacts.main_repo]
    return {
        "prefix": app.prefix,
        "bootstrap": bootstrap,
        "repositories": repos,
        "packages": ["svc-demo"],
        "config_files": [{"dest": "etc/%s/%s.env" % (app.name, app.name),
                          "env": {"SVC_DEMO_PORT": app.port, "SVC_DEMO_GREETING": app.greeting}}],
        "service": {"command": ["/bin/sh", "-ac", ". {prefix}/etc/%s/%s.env && exec {prefix}/bin/svc-demo"
                                % (app.name, app.name)],
                    "network": True, "restart": "on-failure"},
    }


def pillar(node: Node, artifacts: Artifacts) -> Dict[str, Any]:
    """The node's pillar: one entry of pkgsrc:apps per application."""
    return {"pkgsrc": {"apps": {app.name: _app_pillar(app, artifacts) for app in node.apps}}}


def _call(tb: Testbed, host: Host, args: Any, timeout: float = 600) -> Tuple[int, Any, str]:
    """``salt HOST ARGS`` through the master: (rc, the host's return, the output)."""
    out, proc = tb.salt_cli([host.name] + list(args), timeout=timeout)
    local = out.get(host.name) if isinstance(out, dict) else None
    return proc.returncode, local, proc.stdout + proc.stderr


def start(tb: Testbed, hosts: Sequence[Host]) -> None:
    """Start the master and the minions of ``hosts`` (their keys accepted; each answers test.ping)."""
    tb.start_salt_master()
    tb.start_minions(hosts)


def prepare(tb: Testbed, host: Host, data: Dict[str, Any], sync: bool = True) -> None:
    """Write the host's pillar on the master (top.sls maps each minion to its own file), and (sync) sync
    the extension modules and the core to its minion."""
    pillar_dir = Path(tb.files["salt_master"]["pillar_dir"])
    pillar_dir.mkdir(parents=True, exist_ok=True)
    (pillar_dir / ("node_%s.sls" % host.name)).write_text(json.dumps(data, indent=1) + "\n")
    nodes = sorted(p.stem[len("node_"):] for p in pillar_dir.glob("node_*.sls"))
    (pillar_dir / "top.sls").write_text(json.dumps({"base": {n: ["node_" + n] for n in nodes}}, indent=1) + "\n")
    if not sync:
        return
    rc, local, output = _call(tb, host, ["saltutil.sync_all"])
    if rc != 0 or "states.pkgsrc" not in (local or {}).get("states", []):
        raise RuntimeError("saltutil.sync_all on %s did not sync the pkgsrc modules:\n%s" % (host.name, output[-2000:]))


def apply(tb: Testbed, host: Host) -> ApplyResult:
    """salt HOST state.apply pkgsrc (through the master)."""
    rc, local, output = _call(tb, host, ["state.apply", "pkgsrc"])
    states = []
    if isinstance(local, dict):
        for tag, ret in sorted(local.items(), key=lambda item: item[1].get("__run_num__", 0)):
            states.append((tag.split("_|-")[1], ret.get("result"), bool(ret.get("changes")), ret.get("comment", "")))
    else:
        states.append(("state.apply", False, False, str(local)))
    return ApplyResult(rc, tuple(states), output)


def facts(tb: Testbed, host: Host, node: Node) -> Dict[str, Any]:
    """pkgsrc.facts with the node's prefixes."""
    prefixes = json.dumps(sorted({app.prefix for app in node.apps}))
    rc, local, output = _call(tb, host, ["pkgsrc.facts", "prefixes=" + prefixes], timeout=120)
    if rc != 0 or not isinstance(local, dict):
        return {"errors": ["pkgsrc.facts failed: %s" % output[-500:]]}
    return local
