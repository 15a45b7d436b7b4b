"""The Ansible half of the demo: an inventory of the Ansible nodes (root over ssh, or the unprivileged
user over ssh; the real-tools node in the group real_tools), tests/demo/playbook.yml run with the real
ansible-playbook, and the pkgsrc facts of each node through the module pkgsrc.deploy.facts.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import yaml

from tests.demo.artifacts import Artifacts
from tests.demo.fleet import Node
from tests.testbed.inventory import COLLECTIONS_PATH
from tests.testbed.testbed import Testbed

PLAYBOOK = Path(__file__).resolve().parent / "playbook.yml"
VENV_BIN = Path(sys.executable).parent
_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")
_TASK = re.compile(r"^(TASK|RUNNING HANDLER) \[(.*)\]")
_STATUS = re.compile(r"^(ok|changed|fatal|skipping): \[([^\]]+)\]")


@dataclass(frozen=True)
class PlayResult:
    """What ansible-playbook did: rc, per-host recap, and per-task (name, {host: status})."""

    rc: int
    recap: Dict[str, Dict[str, int]]
    tasks: Tuple[Tuple[str, Dict[str, str]], ...]
    output: str


def host_vars(node: Node, artifacts: Artifacts) -> Dict[str, Any]:
    """The playbook's demo_* variables for one node: the local kit or source tree and repositories."""
    app = node.apps[0]
    if node.real:
        if artifacts.real is None:
            raise RuntimeError("%s needs the real kit, which is not served" % node.name)
        bootstrap: Dict[str, Any] = artifacts.real.bootstrap_options()
        repos = [artifacts.real.repo_url]
    elif node.user == "root":
        bootstrap = artifacts.main_kit
        repos = [artifacts.main_repo]
    else:
        bootstrap = {"from_source": dict(artifacts.grid_source)}
        repos = [artifacts.grid_repo]
    return {"demo_prefix": app.prefix, "demo_port": app.port, "demo_greeting": app.greeting, "demo_scope": app.scope,
            "demo_bootstrap": bootstrap, "demo_repositories": repos, "ansible_user": node.user}


def write_inventory(tb: Testbed, nodes: Sequence[Node], artifacts: Artifacts, path: Path) -> Path:
    """An inventory of the nodes, with the testbed's connection settings (ssh through its network); the
    real-tools node (if any) in the group real_tools, which playbook.yml's second play deploys."""
    testbed_inv = yaml.safe_load(Path(tb.files["inventory"]["ssh"]).read_text())
    common = dict(testbed_inv["all"]["vars"])
    common.pop("ansible_user", None)
    addresses = {h.name: h.ip for h in tb.hosts}
    hosts: Dict[str, Any] = {}
    real: Dict[str, Any] = {}
    for node in nodes:
        (real if node.real else hosts)[node.name] = dict(host_vars(node, artifacts), ansible_host=addresses[node.name])
    path.write_text(yaml.safe_dump({"all": {"vars": common, "hosts": hosts,
                                            "children": {"real_tools": {"hosts": real}}}}, sort_keys=False))
    return path


def _env(tb: Testbed) -> Dict[str, str]:
    env = dict(os.environ)
    env.update({"ANSIBLE_CONFIG": tb.files["inventory"]["config"], "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_DEPRECATION_WARNINGS": "False",
                "PATH": "%s:%s" % (VENV_BIN, env.get("PATH", "/usr/bin:/bin"))})
    return env


def parse_output(text: str) -> Tuple[Dict[str, Dict[str, int]], Tuple[Tuple[str, Dict[str, str]], ...]]:
    """PLAY RECAP numbers per host and the status of every task per host, from the default output."""
    recap: Dict[str, Dict[str, int]] = {}
    tasks: List[Tuple[str, Dict[str, str]]] = []
    for line in text.splitlines():
        match = _RECAP.match(line)
        if match:
            recap[match.group(1)] = {"ok": int(match.group(2)), "changed": int(match.group(3)),
                                     "unreachable": int(match.group(4)), "failed": int(match.group(5))}
            continue
        match = _TASK.match(line)
        if match:
            prefix = "handler: " if match.group(1) == "RUNNING HANDLER" else ""
            tasks.append((prefix + match.group(2), {}))
            continue
        match = _STATUS.match(line)
        if match and tasks:
            tasks[-1][1][match.group(2)] = match.group(1)
    return recap, tuple(tasks)


def deploy(tb: Testbed, inventory: Path) -> PlayResult:
    """ansible-playbook tests/demo/playbook.yml on every host of the inventory."""
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK)],
                          env=_env(tb), capture_output=True, text=True, timeout=900, check=False)
    recap, tasks = parse_output(proc.stdout)
    return PlayResult(proc.returncode, recap, tasks, proc.stdout + proc.stderr)


def facts(tb: Testbed, inventory: Path, workdir: Path) -> Dict[str, Dict[str, Any]]:
    """pkgsrc.deploy.facts on every host (ad hoc, one JSON file per host); {host: ansible_facts.pkgsrc}."""
    tree = workdir / "facts"
    argv = [str(VENV_BIN / "ansible"), "all", "-i", str(inventory), "-m", "pkgsrc.deploy.facts",
            "-a", "prefixes={{ [demo_prefix] }}", "-t", str(tree)]
    proc = subprocess.run(argv, env=_env(tb), capture_output=True, text=True, timeout=300, check=False)
    out: Dict[str, Dict[str, Any]] = {}
    for path in sorted(tree.glob("*")) if tree.is_dir() else []:
        result = json.loads(path.read_text())
        out[path.name] = result.get("ansible_facts", {}).get("pkgsrc", {"errors": [result.get("msg", "failed")]})
    if proc.returncode != 0 and not out:
        raise RuntimeError("ansible pkgsrc.deploy.facts failed:\n%s\n%s" % (proc.stdout[-2000:], proc.stderr[-2000:]))
    return out
