"""Running the real adapters from tests: ansible-playbook and salt-call --local, on this machine
or (through the testbed) on test hosts. Both are the real programs from the project's venv.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

REPO = Path(__file__).resolve().parent.parent.parent
VENV_BIN = Path(sys.executable).parent
COLLECTIONS = REPO / "build" / "collections"


def ansible_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "ANSIBLE_HOST_KEY_CHECKING": "False",
                "ANSIBLE_RETRY_FILES_ENABLED": "False",
                "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
                "PATH": "%s:%s" % (VENV_BIN, env.get("PATH", ""))})
    env.update(extra or {})
    return env


def play(tmp: Path, tasks: List[Dict[str, Any]], inventory: str = "localhost,", hosts: str = "localhost",
         check: bool = False, diff: bool = False, extra_vars: Optional[Dict[str, Any]] = None,
         env: Optional[Dict[str, str]] = None, connection: Optional[str] = "local") -> Dict[str, Any]:
    """Run a one-play playbook with ansible-playbook; return {"results": {host: [task results]}, "rc"}.

    Each task's result is registered and written, as JSON, to a file on the controller (even in
    check mode), so tests read exactly what the modules returned.
    """
    dump = tmp / ("results-%d" % len(list(tmp.glob("results-*"))))
    dump.mkdir()
    wrapped = []
    for index, task in enumerate(tasks):
        task = dict(task)
        task["register"] = "_r%d" % index
        task.setdefault("ignore_errors", True)
        wrapped.append(task)
    names = ", ".join("_r%d" % i for i in range(len(tasks)))
    wrapped.append({"ansible.builtin.copy": {"content": "{{ [%s] | to_json }}" % names,
                                             "dest": str(dump) + "/{{ inventory_hostname }}.json"},
                    "delegate_to": "localhost", "check_mode": False, "diff": False})
    playbook = [{"hosts": hosts, "gather_facts": False, "tasks": wrapped}]
    if connection:
        playbook[0]["connection"] = connection
    path = tmp / ("play-%d.yml" % len(list(tmp.glob("play-*.yml"))))
    path.write_text(yaml.safe_dump(playbook))
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", inventory, str(path)]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    run_env = ansible_env(env)
    if connection == "local":
        run_env["ANSIBLE_PYTHON_INTERPRETER"] = sys.executable
    proc = subprocess.run(argv, capture_output=True, text=True, env=run_env, timeout=900, check=False)
    results = {p.stem: json.loads(p.read_text()) for p in dump.glob("*.json")}
    if not results:
        raise AssertionError("ansible-playbook ran no task (rc %d):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return {"results": results, "rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


def task_results(out: Dict[str, Any], host: str = "localhost") -> List[Dict[str, Any]]:
    """Each task's result for host, in order."""
    return out["results"][host]


def salt_config(tmp: Path, extra: Optional[Dict[str, Any]] = None) -> Path:
    """A masterless minion configuration whose file_roots serve salt_states/ from this repository."""
    root = tmp / "salt"
    conf = root / "etc"
    conf.mkdir(parents=True, exist_ok=True)
    (root / "pillar").mkdir(exist_ok=True)
    states = root / "states"
    states.mkdir(exist_ok=True)
    minion = {
        "file_client": "local", "root_dir": str(root), "pki_dir": str(root / "pki"),
        "cachedir": str(root / "cache"), "sock_dir": str(root / "sock"), "log_file": str(root / "minion.log"),
        "file_roots": {"base": [str(states), str(REPO / "salt_states")]},
        "pillar_roots": {"base": [str(root / "pillar")]}, "fileserver_list_cache_time": 0,
        "id": "testminion", "enable_fqdns_grains": False,
    }
    minion.update(extra or {})
    (conf / "minion").write_text(yaml.safe_dump(minion))
    synced = salt_call(conf, "saltutil.sync_all")
    if synced["rc"] != 0 or "modules.pkgsrc" not in (synced["local"] or {}).get("modules", []):
        raise AssertionError("saltutil.sync_all did not sync the pkgsrc modules: %r" % synced)
    return conf


def salt_call(conf: Path, *args: str, test: bool = False) -> Dict[str, Any]:
    """salt-call --local ... --out=json; returns the parsed 'local' value and rc."""
    argv = [str(VENV_BIN / "salt-call"), "--local", "-c", str(conf), "--out=json", "--log-level=quiet"]
    argv += list(args)
    if test:
        argv.append("test=True")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False,
                          env=dict(os.environ, PATH="%s:%s" % (VENV_BIN, os.environ.get("PATH", ""))))
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("salt-call printed no JSON (rc %d):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])) from None
    return {"rc": proc.returncode, "local": out.get("local"), "stderr": proc.stderr}


def sls(conf: Path, name: str, text: str) -> None:
    """Write a state file into the minion's own state root."""
    states = conf.parent / "states"
    (states / (name + ".sls")).write_text(textwrap.dedent(text))
