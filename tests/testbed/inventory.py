"""Access material for a testbed run: the ssh key pair, Ansible inventories, and the salt-ssh set-up.

The hosts are reachable only inside the run's network namespaces, so ssh goes through
``ProxyCommand=nsenter --net=/run/netns/<controller ns> nc %h %p``: only that one ``nc`` enters the
controller namespace; ssh, Ansible and Salt themselves run in the root namespace as usual.

Files written into the run's work folder::

    ssh/id_ed25519, ssh/id_ed25519.pub, ssh/authorized_keys    key pair made for this run only
    cp/                                                         ssh ControlPersist sockets (closed at teardown)
    ansible/inventory.yml          ssh as root
    ansible/inventory-nsenter.yml  community.docker.nsenter (ansible_nsenter_pid), no ssh at all
    ansible/inventory-grid.yml     ssh as the unprivileged user ``grid``
    ansible/ansible.cfg            collections path, no host key checking, no retry files
    salt/master, salt/roster       salt-ssh: ``salt-ssh -c WORKDIR/salt '*' test.ping`` (with
                                   ``PYTHONPATH=plugins/module_utils``, see salt.salt_ssh_env, so the
                                   thin carries pkgsrc_core: ``thin_extra_mods``)
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Sequence

import yaml

from .rootfs import UNPRIVILEGED_UID, UNPRIVILEGED_USER
from .salt import THIN_EXTRA_MODS, core_digest

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
COLLECTIONS_PATH = REPO_ROOT / "build" / "collections"
SSH_KEY = "ssh/id_ed25519"
HOST_PYTHON = "/usr/bin/python3"
THIN_CACHE = Path("/var/cache/pkgsrc-deploy/salt-thin")


def proxy_command(ctl_netns: str) -> str:
    """The ssh ProxyCommand that reaches a host from the root namespace."""
    return f"nsenter --net=/run/netns/{ctl_netns} nc %h %p"


def ssh_options(ctl_netns: str) -> list[str]:
    """ssh ``-o`` options (without the ``-o``) shared by every ssh, Ansible and salt-ssh connection."""
    return [
        f"ProxyCommand={proxy_command(ctl_netns)}",
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        "GlobalKnownHostsFile=/dev/null",
        "LogLevel=ERROR",
        "IdentitiesOnly=yes",
        "BatchMode=yes",
        "ConnectTimeout=10",
    ]


def make_ssh_key(workdir: Path, comment: str) -> Path:
    """Generate the run's ed25519 key pair and the authorized_keys file hosts get bind-mounted."""
    key = workdir / SSH_KEY
    key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)],
                       check=True, capture_output=True)
    auth = key.parent / "authorized_keys"
    auth.write_text(key.with_suffix(".pub").read_text(encoding="utf-8"), encoding="utf-8")
    auth.chmod(0o644)
    (workdir / "cp").mkdir(mode=0o700, exist_ok=True)
    return key


def ssh_argv(workdir: Path, ctl_netns: str, ip: str, argv: Sequence[str], user: str = "root") -> list[str]:
    """argv that runs ``argv`` on a host over ssh (a shared ControlPersist master per host and user)."""
    opts: list[str] = []
    master = ["ControlMaster=auto", f"ControlPath={workdir}/cp/%C", "ControlPersist=60s"]
    for opt in ssh_options(ctl_netns) + master:
        opts += ["-o", opt]
    return ["ssh", "-i", str(workdir / SSH_KEY), *opts, "-l", user, ip, "--", *argv]


def _quote_for_ssh_args(opts: list[str]) -> str:
    # ansible splits ansible_ssh_common_args with shlex: quote each -o value that has spaces.
    return " ".join(f"-o '{o}'" if " " in o else f"-o {o}" for o in opts)


def _shell_quote_value(opt: str) -> str:
    key, sep, value = opt.partition("=")
    return f"{key}{sep}'{value}'" if " " in value else opt


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, default_flow_style=False, sort_keys=False, width=100000), encoding="utf-8")


def write_ansible(workdir: Path, ctl_netns: str, hosts: Sequence[dict[str, Any]], http_url: str) -> dict[str, str]:
    """Write the three inventories and an ansible.cfg; return their paths by kind."""
    adir = workdir / "ansible"
    key = str(workdir / SSH_KEY)
    common_vars = {
        "ansible_python_interpreter": HOST_PYTHON,
        "testbed_http_url": http_url,
        "testbed_unprivileged_user": UNPRIVILEGED_USER,
        "testbed_unprivileged_uid": UNPRIVILEGED_UID,
        "testbed_unprivileged_home": f"/home/{UNPRIVILEGED_USER}",
    }
    ssh_vars = {
        "ansible_connection": "ssh",
        "ansible_ssh_private_key_file": key,
        "ansible_ssh_common_args": _quote_for_ssh_args(ssh_options(ctl_netns)),
        "ansible_ssh_pipelining": True,
        "ansible_control_path_dir": str(workdir / "cp"),
    }

    variants = {
        "inventory.yml": {**ssh_vars, "ansible_user": "root"},
        "inventory-nsenter.yml": {"ansible_connection": "community.docker.nsenter"},
        "inventory-grid.yml": {**ssh_vars, "ansible_user": UNPRIVILEGED_USER},
    }
    paths = {}
    for name, group_vars in variants.items():
        hostvars = {}
        for h in hosts:
            entry = {"ansible_host": h["ip"], "testbed_leader_pid": h["leader_pid"], "testbed_machine": h["machine"]}
            if group_vars["ansible_connection"] == "community.docker.nsenter":
                entry["ansible_nsenter_pid"] = h["leader_pid"]
            hostvars[h["name"]] = entry
        _dump(adir / name, {"all": {"vars": {**common_vars, **group_vars},
                                    "children": {"testbed": {"hosts": hostvars}}}})
        kind = "ssh" if name == "inventory.yml" else name[len("inventory-"):-len(".yml")]
        paths[kind] = str(adir / name)
    cfg = adir / "ansible.cfg"
    cfg.write_text(
        "[defaults]\n"
        f"inventory = {paths['ssh']}\n"
        f"collections_path = {COLLECTIONS_PATH}\n"
        "host_key_checking = False\n"
        "retry_files_enabled = False\n"
        "interpreter_python = /usr/bin/python3\n"
        "forks = 20\n"
        "[ssh_connection]\n"
        "pipelining = True\n"
        f"control_path_dir = {workdir / 'cp'}\n",
        encoding="utf-8")
    paths["config"] = str(cfg)
    return paths


def write_salt(workdir: Path, ctl_netns: str, hosts: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Write a salt-ssh master config and roster; return their paths (``config_dir`` is for ``salt-ssh -c``)."""
    sdir = workdir / "salt"
    roster = {}
    for h in hosts:
        roster[h["name"]] = {
            "host": h["ip"],
            "user": "root",
            "priv": str(workdir / SSH_KEY),
            # salt-ssh joins these as "-o OPT" and shlex-splits the result: quote values with spaces.
            "ssh_options": [_shell_quote_value(o) for o in ssh_options(ctl_netns)],
            "timeout": 30,
        }
    _dump(sdir / "roster", roster)
    state_root = REPO_ROOT / "salt_states"
    # Salt puts root_dir in front of every path not already below it: keep them all below it.
    master = {
        "root_dir": str(sdir),
        "pki_dir": str(sdir / "pki"),
        "cachedir": str(sdir / "cache"),
        "sock_dir": str(sdir / "sock"),
        "log_file": str(sdir / "master.log"),
        "ssh_log_file": str(sdir / "ssh.log"),
        "roster_file": str(sdir / "roster"),
        "file_roots": {"base": [str(state_root)]},
        "pillar_roots": {"base": [str(sdir / "pillar")]},
        "fileserver_list_cache_time": 0,
        "ssh_use_home_key": False,
        "no_host_keys": True,
        "ignore_host_keys": True,
        "ssh_minion_opts": {"log_level": "warning"},
        # salt-ssh ships only single files of _modules/_states/_utils; the core package goes in the thin.
        "thin_extra_mods": THIN_EXTRA_MODS,
    }
    _dump(sdir / "master", master)
    (sdir / "pillar").mkdir(exist_ok=True)
    seed_salt_thin(sdir)
    return {"config_dir": str(sdir), "roster": str(sdir / "roster"), "master": str(sdir / "master")}


def _thin_cache() -> Path:
    """Shared cache of salt-ssh's thin tarball, keyed by the Salt release and the controller's Python."""
    try:
        salt_version = importlib.metadata.version("salt")
    except importlib.metadata.PackageNotFoundError:
        salt_version = "none"
    # The thin carries pkgsrc_core (thin_extra_mods) and is regenerated only when Salt's version changes:
    # a thin made from another version of the core must not be seeded.
    text = f"{salt_version}\n{sys.version}\n{sys.prefix}\n{THIN_EXTRA_MODS}\n{core_digest()}"
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    return THIN_CACHE / f"{salt_version}-{key}"


def seed_salt_thin(sdir: Path) -> None:
    """Copy a thin made by an earlier run into this run's salt cache (saves 4-8 s on the first salt-ssh)."""
    cached = _thin_cache()
    # The key of the core as it is now: the thin this run makes is saved under it, even if the core
    # is edited while the run lasts.
    (sdir / "thin-cache").write_text(str(cached), encoding="utf-8")
    if (cached / "thin.tgz").is_file():
        shutil.copytree(cached, sdir / "cache" / "thin", dirs_exist_ok=True)


def _thin_has_core(thin: Path) -> bool:
    """Whether salt-ssh packed pkgsrc_core (it does not when run without salt.salt_ssh_env) and no
    installed saltext-pkgsrc (a run that put the wheel on salt-ssh's path): only such a thin is shared."""
    try:
        with tarfile.open(thin) as tar:
            names = tar.getnames()
    except (OSError, tarfile.TarError):
        return False
    return (any(n.endswith(f"/{THIN_EXTRA_MODS}/__init__.py") for n in names)
            and not any("/saltext/pkgsrc/" in n for n in names))


def save_salt_thin(sdir: Path) -> None:
    """Keep the thin this run's salt-ssh built, for the next runs (atomically; first one wins)."""
    made = sdir / "cache" / "thin"
    key_file = sdir / "thin-cache"
    cached = Path(key_file.read_text(encoding="utf-8")) if key_file.is_file() else _thin_cache()
    if not (made / "thin.tgz").is_file() or cached.exists() or not _thin_has_core(made / "thin.tgz"):
        return
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cached.parent, prefix=".thin-"))
    shutil.copytree(made, tmp, dirs_exist_ok=True)
    try:
        os.rename(tmp, cached)
    except OSError:  # another run saved it first
        shutil.rmtree(tmp, ignore_errors=True)
