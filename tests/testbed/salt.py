"""Salt on the testbed as users run it: salt-ssh from the controller, a real salt-master in the
controller namespace with a real salt-minion in each host, and the host's own salt-call.

Nothing of the controller's checkout or virtualenv needs to be visible inside a host:

- salt-ssh ships the thin (Salt and its dependencies), plus ``thin_extra_mods: pkgsrc_core`` (the
  core package, found on the controller through PYTHONPATH), plus the single-file loader modules of
  ``_modules`` and ``_states`` from the file roots (``mod_data``). It runs on the host's python3.
- The master (the controller's Salt, in the controller namespace, auto_accept) serves
  ``salt_states/``: ``saltutil.sync_all`` copies ``_modules``, ``_states`` and the ``_utils/pkgsrc_core``
  package to the minions. Each minion is the host's own Salt (``rootfs.HOST_SALT_VENV``, a virtualenv
  of the host's python3 with salt from PyPI, baked into the root), started by systemd.
- ``Testbed.salt_call(...)`` runs the host's own ``salt-call --local`` (for the saltext-pkgsrc wheel
  installed into the host's Salt). The controller's Salt never runs inside a host.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml


REPO_ROOT = Path(__file__).resolve().parent.parent.parent
VENV_BIN = Path(sys.prefix) / "bin"
STATE_ROOT = REPO_ROOT / "salt_states"
# Where ``import pkgsrc_core`` resolves on the controller: salt-ssh packs it into the thin from there.
CORE_PARENT = REPO_ROOT / "plugins" / "module_utils"
THIN_EXTRA_MODS = "pkgsrc_core"
MASTER_PORTS = (4505, 4506)


def core_digest() -> str:
    """Hash of the core's files: a thin made from another version of the core must not be reused."""
    h = hashlib.sha256()
    top = CORE_PARENT / THIN_EXTRA_MODS
    for path in sorted(top.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(str(path.relative_to(top)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def salt_ssh_env(base: Mapping[str, str] | None = None, pythonpath: str | None = None) -> dict[str, str]:
    """The environment salt-ssh needs on the controller: ``pkgsrc_core`` importable (for thin_extra_mods).

    ``pythonpath`` replaces the checkout's core, e.g. with a folder the saltext-pkgsrc wheel was
    installed into (``pip install --target``): salt-ssh then also packs the installed extension.
    """
    env = dict(os.environ if base is None else base)
    first = pythonpath or str(CORE_PARENT)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (first, env.get("PYTHONPATH", "")) if p)
    return env


def _json_output(proc: subprocess.CompletedProcess[str], what: str) -> Any:
    """The JSON a Salt CLI printed with ``--out=json --static``; an AssertionError with the output if none."""
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"{what}: rc {proc.returncode}, no JSON\n--- stdout\n{proc.stdout[-4000:]}\n"
                             f"--- stderr\n{proc.stderr[-4000:]}") from None


def salt_ssh(config_dir: str, target: str, args: Sequence[str], timeout: float = 900,
             extra: Sequence[str] = (), pythonpath: str | None = None) -> tuple[Any, subprocess.CompletedProcess[str]]:
    """``salt-ssh -c CONFIG_DIR [EXTRA] TARGET ARGS`` (JSON out); returns (parsed output, the process)."""
    argv = [str(VENV_BIN / "salt-ssh"), "-c", config_dir, "--out=json", "--static", "--log-level=quiet",
            *extra, target, *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=salt_ssh_env(pythonpath=pythonpath), cwd=config_dir, check=False)
    return _json_output(proc, " ".join(argv)), proc


# ----- master and minions ----------------------------------------------------------------------------
def write_master(mdir: Path, interface: str, file_roots: Sequence[str], pillar_dir: Path) -> Path:
    """A salt-master configuration under ``mdir`` (keys auto-accepted: a throw-away test network)."""
    mdir.mkdir(parents=True, exist_ok=True)
    pillar_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "root_dir": str(mdir),
        "pki_dir": str(mdir / "pki"),
        "cachedir": str(mdir / "cache"),
        "sock_dir": str(mdir / "sock"),
        "pidfile": str(mdir / "salt-master.pid"),
        "log_file": str(mdir / "master.log"),
        "key_logfile": str(mdir / "key.log"),
        "interface": interface,
        "publish_port": MASTER_PORTS[0],
        "ret_port": MASTER_PORTS[1],
        "auto_accept": True,
        "worker_threads": 4,
        "file_roots": {"base": list(file_roots)},
        "pillar_roots": {"base": [str(pillar_dir)]},
        "fileserver_list_cache_time": 0,
        "log_level_logfile": "info",
    }
    (mdir / "master").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return mdir


def master_argv(ctl_netns_path: str, mdir: Path) -> list[str]:
    """salt-master in the controller's network namespace only (the rest of the machine as usual)."""
    return ["nsenter", f"--net={ctl_netns_path}", str(VENV_BIN / "salt-master"), "-c", str(mdir),
            "--log-level=warning"]


def wait_port(ctl_netns_path: str, ip: str, port: int, timeout: float = 60.0) -> None:
    """Wait until something listens on ip:port inside the controller namespace."""
    deadline = time.monotonic() + timeout
    probe = (f"import socket,sys; s=socket.socket(); s.settimeout(1); "
             f"sys.exit(s.connect_ex(({ip!r}, {port})))")
    while time.monotonic() < deadline:
        rc = subprocess.run(["nsenter", f"--net={ctl_netns_path}", sys.executable, "-c", probe],
                            capture_output=True, check=False).returncode
        if rc == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {ip}:{port} after {timeout:.0f}s")


def minion_config(name: str, master_ip: str, extra: Mapping[str, Any] | None = None) -> str:
    """/etc/salt/minion.d/testbed.conf for a host: its id, the master on the controller, and ``extra``."""
    return yaml.safe_dump({
        "master": master_ip,
        "id": name,
        "acceptance_wait_time": 1,
        "random_reauth_delay": 0,
        "log_level_logfile": "info",
        "fileserver_list_cache_time": 0,
        **(extra or {}),
    }, sort_keys=False)


def master_cli(ctl_netns_path: str, mdir: Path, tool: str, args: Sequence[str],
               timeout: float = 900) -> tuple[Any, subprocess.CompletedProcess[str]]:
    """``salt``/``salt-run``/``salt-key`` against the test master, JSON out; (parsed output, process)."""
    argv = ["nsenter", f"--net={ctl_netns_path}", str(VENV_BIN / tool), "-c", str(mdir), "--out=json",
            "--log-level=quiet", *(["--static"] if tool == "salt" else []), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    return _json_output(proc, " ".join(argv[2:])), proc
