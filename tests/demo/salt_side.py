"""The Salt half of the demo: a pillar per node in the shape of salt_states/pkgsrc/pillar.example, the
formulas applied with the real salt-call (masterless, inside the host, the formulas and extension modules
from the repository's salt_states/ on file_roots), and the pkgsrc facts through pkgsrc.facts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Tuple

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
    proc = tb.salt_call(host, list(args), check=False, timeout=timeout)
    try:
        local = json.loads(proc.stdout)["local"]
    except (ValueError, KeyError):
        local = None
    return proc.returncode, local, proc.stdout + proc.stderr


def prepare(tb: Testbed, host: Host, data: Dict[str, Any], sync: bool = True) -> None:
    """Write the pillar where the host's minion reads it, and (sync) sync the extension modules."""
    pillar_dir = Path(host.share_dir) / "salt" / "pillar"
    pillar_dir.mkdir(parents=True, exist_ok=True)
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - demo\n")
    (pillar_dir / "demo.sls").write_text(json.dumps(data, indent=1) + "\n")
    if not sync:
        return
    rc, local, output = _call(tb, host, ["saltutil.sync_all"])
    if rc != 0 or "states.pkgsrc" not in (local or {}).get("states", []):
        raise RuntimeError("saltutil.sync_all on %s did not sync the pkgsrc modules:\n%s" % (host.name, output[-2000:]))


def apply(tb: Testbed, host: Host) -> ApplyResult:
    """salt-call --local state.apply pkgsrc."""
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
