"""A testbed run: N hosts, their network, an HTTP server, access files, and a teardown that leaves nothing.

Everything a run creates is named ``pdtb-<run id>-...`` and recorded in ``WORKDIR/testbed.json``
*before* it is created, so ``down`` (in this process or another one) can undo a run that came up
only halfway. ``leftovers()`` lists whatever of a run still exists: processes, mounts, namespaces,
veths, cgroup folders, nspawn's runtime folders, the work folder.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from . import cgroups, hosts, inventory, netns
from . import salt as salt_tools
from .hosts import Host
from .mounts import mount_points, unmount_under
from .rootfs import HOST_SALT_VENV, UNPRIVILEGED_USER, ensure_root

RUN_PREFIX = "pdtb-"
STATE_FILE = "testbed.json"
HTTP_PORT = 8080
NSPAWN_RUNTIME = Path("/run/systemd/nspawn/propagate")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def _ancestors() -> set[int]:
    """This process and its ancestors: they may mention the work folder but are never leftovers."""
    found = set()
    pid = os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return found


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _live_inodes(recorded: dict[str, int]) -> set[int]:
    """Inodes of the run's namespaces that still exist under their names.

    A deleted namespace's inode number can be handed to a new namespace (another run's), so an inode
    counts only while /run/netns/<name> still carries it.
    """
    live = set()
    for name, inode in recorded.items():
        try:
            if os.stat(netns.netns_path(name)).st_ino == inode:
                live.add(inode)
        except OSError:
            continue
    return live


def _terminate(pids: Sequence[int], grace: float = 3.0) -> None:
    """SIGTERM, wait up to ``grace`` seconds, SIGKILL the rest; reap our own children."""
    live = [p for p in pids if _signal(p, signal.SIGTERM)]
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        for pid in live:
            _reap(pid)
        live = [p for p in live if _alive(p)]
        if live:
            time.sleep(0.05)
    for pid in live:
        _signal(pid, signal.SIGKILL)
    end = time.monotonic() + 3
    while live and time.monotonic() < end:
        for pid in live:
            _reap(pid)
        live = [p for p in live if _alive(p)]
        if live:
            time.sleep(0.05)


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Testbed:
    """N systemd hosts, each in its own network namespace, wired to a controller namespace serving HTTP.

    Usage::

        tb = Testbed(workdir)
        hosts = tb.up(2)                     # host1, host2; tb.http_url, tb.www_dir, tb.inventory
        hosts[0].run(["systemctl", "is-system-running"])
        tb.down()                            # idempotent; tb.leftovers() == [] afterwards

    ``serve`` is the folder the HTTP server publishes (default ``WORKDIR/www``). The hosts see nothing
    of the controller's checkout or Python: Salt reaches them as users run it (salt-ssh, the run's
    salt-master and the hosts' own minions, or the hosts' own salt-call; see salt.py), and Ansible
    ships its modules itself.
    """

    __test__ = False  # a class named Test* that pytest must not collect

    def __init__(self, workdir: Path | str, run_id: str | None = None, serve: Path | str | None = None,
                 root: Path | None = None, bind_controller_python: bool = False,
                 extra_binds: Sequence[tuple[str, str, bool]] = ()) -> None:
        self.workdir = Path(workdir).resolve()
        self.run_id = run_id or secrets.token_hex(3)
        self.prefix = f"{RUN_PREFIX}{self.run_id}"
        self.ctl_netns = f"{self.prefix}-ctl"
        self.serve = Path(serve).resolve() if serve else self.workdir / "www"
        self.root = root
        if bind_controller_python:
            raise ValueError("bind_controller_python was removed: test hosts never see the controller's checkout "
                             "or virtualenv (use tb.salt_ssh, tb.start_minions/tb.salt, or tb.salt_call)")
        self.extra_binds = list(extra_binds)
        self.hosts: list[Host] = []
        self.http_url = ""
        self.timings: dict[str, float] = {}
        self.files: dict[str, Any] = {}
        self._state: dict[str, Any] = {}
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # ----- state -------------------------------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        """The run's state file."""
        return self.workdir / STATE_FILE

    @property
    def www_dir(self) -> Path:
        """The folder served at ``http_url``."""
        return self.serve

    def _save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._state, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.state_path)

    @classmethod
    def load(cls, workdir: Path | str) -> Testbed:
        """The testbed recorded in ``workdir`` (for ``down`` from another process)."""
        state = json.loads((Path(workdir) / STATE_FILE).read_text(encoding="utf-8"))
        tb = cls(workdir, run_id=state["run_id"], serve=state.get("serve"))
        tb._state = state
        tb.http_url = state.get("http", {}).get("url", "")
        tb.files = state.get("files", {})
        tb.timings = state.get("timings", {})
        tb.hosts = [Host(**h) for h in state.get("hosts", []) if h.get("leader_pid")]
        return tb

    def describe(self) -> dict[str, Any]:
        """What a caller needs to use the run (the CLI prints this as JSON)."""
        return {
            "run_id": self.run_id,
            "workdir": str(self.workdir),
            "controller_netns": self.ctl_netns,
            "controller_ip": netns.CONTROLLER_IP,
            "http_url": self.http_url,
            "www_dir": str(self.www_dir),
            "hosts": [{"name": h.name, "ip": h.ip, "leader_pid": h.leader_pid, "machine": h.machine,
                       "share_dir": h.share_dir} for h in self.hosts],
            **self.files,
            "timings": self.timings,
        }

    # ----- up ----------------------------------------------------------------------------------------
    def up(self, n: int, names: Sequence[str] | None = None) -> list[Host]:
        """Boot ``n`` hosts (named ``names`` or host1..hostN); on any failure tear down what was made."""
        names = list(names) if names else [f"host{i + 1}" for i in range(n)]
        if len(names) != n or len(set(names)) != n or not all(_NAME.match(x) for x in names):
            raise ValueError(f"need {n} distinct host names matching {_NAME.pattern}, got {names!r}")
        if n > netns.MAX_HOSTS:
            raise ValueError(f"at most {netns.MAX_HOSTS} hosts per testbed")
        if self.state_path.exists():
            raise RuntimeError(f"{self.workdir} already holds a testbed; run down first")
        start = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._state = {"run_id": self.run_id, "workdir": str(self.workdir), "serve": str(self.serve),
                       "controller_netns": self.ctl_netns, "netns_inodes": {}, "hosts": [], "http": {},
                       "phase": "starting",
                       "pid": os.getpid()}
        self._save()
        try:
            self._up(names)
        except BaseException:
            self.down(remove_workdir=False)
            raise
        self.timings["up_s"] = round(time.monotonic() - start, 3)
        self._state["timings"] = self.timings
        self._state["phase"] = "up"
        self._save()
        return self.hosts

    def _up(self, names: list[str]) -> None:
        t0 = time.monotonic()
        root = self.root or ensure_root()
        self.root = root
        self.timings["root_s"] = round(time.monotonic() - t0, 3)
        key = inventory.make_ssh_key(self.workdir, f"pkgsrc-deploy-testbed-{self.run_id}")
        self.serve.mkdir(parents=True, exist_ok=True)
        (self.workdir / "etc-hosts").write_text(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            f"{netns.CONTROLLER_IP}\tcontroller\n"
            + "".join(f"{netns.host_ip(i)}\t{name}\n" for i, name in enumerate(names)), encoding="utf-8")

        t0 = time.monotonic()
        netns.setup_controller(self.ctl_netns)
        self._state["netns_inodes"][self.ctl_netns] = os.stat(netns.netns_path(self.ctl_netns)).st_ino
        self._save()
        self._start_http()
        self.timings["controller_s"] = round(time.monotonic() - t0, 3)

        t0 = time.monotonic()
        planned = []
        for index, name in enumerate(names):
            machine = f"{self.prefix}-{name}"
            hdir = self.workdir / "hosts" / name
            (hdir / "share").mkdir(parents=True, exist_ok=True)
            data: dict[str, Any] = {
                "name": name, "ip": netns.host_ip(index), "machine": machine, "netns": machine,
                "launcher_pid": 0, "leader_pid": 0, "cgroup": machine, "share_dir": str(hdir / "share"),
                "console_log": str(hdir / "console.log"),
            }
            self._state["hosts"].append(data)
            self._save()
            netns.attach_host(self.ctl_netns, machine, index)
            self._state["netns_inodes"][machine] = os.stat(netns.netns_path(machine)).st_ino
            (hdir / "10-testbed.network").write_text(netns.networkd_config(data["ip"]), encoding="utf-8")
            cgroups.create(machine)
            self._save()
            binds = self._binds(hdir, key)
            proc = hosts.launch(machine, name, root, machine, machine, uuid.uuid4().hex, binds,
                                Path(data["console_log"]))
            self._children[proc.pid] = proc
            data["launcher_pid"] = proc.pid
            self._save()
            planned.append(data)
        for data in planned:
            data["leader_pid"] = hosts.wait_leader(data["launcher_pid"], Path(data["console_log"]))
            self._save()
        self.hosts = [Host(**d) for d in planned]
        with ThreadPoolExecutor(max_workers=min(16, len(self.hosts))) as pool:
            states = list(pool.map(hosts.wait_running, self.hosts))
        bad = [(h, s) for h, s in zip(self.hosts, states) if s != "running"]
        if bad:
            detail = "; ".join(f"{h.name}: {s}, failed units {h.failed_units()}" for h, s in bad)
            raise RuntimeError(f"hosts did not boot cleanly ({detail}); fix the root in rootfs.py")
        self._wait_addresses()
        self.timings["boot_s"] = round(time.monotonic() - t0, 3)

        host_dicts = [h.to_dict() for h in self.hosts]
        self.files = {
            "ssh_key": str(key),
            "inventory": inventory.write_ansible(self.workdir, self.ctl_netns, host_dicts, self.http_url),
            "salt": inventory.write_salt(self.workdir, self.ctl_netns, host_dicts),
        }
        self._state["files"] = self.files

    def _wait_addresses(self, timeout: float = 30.0) -> None:
        """Wait until systemd-networkd in every host has put the host's address on eth0."""
        deadline = time.monotonic() + timeout
        waiting = list(self.hosts)
        while waiting:
            waiting = [h for h in waiting if not netns.has_address(h.netns, h.ip)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                detail = {h.name: h.run(["networkctl", "--no-pager", "status", netns.HOST_IFACE], check=False).stdout
                          for h in waiting}
                raise RuntimeError(f"systemd-networkd did not configure eth0 in {timeout:.0f}s: {detail}")
            time.sleep(0.02)

    def _binds(self, hdir: Path, key: Path) -> list[tuple[str, str, bool]]:
        auth = str(key.parent / "authorized_keys")
        binds = [
            (auth, "/root/.ssh/authorized_keys", True),
            (auth, f"/home/{UNPRIVILEGED_USER}/.ssh/authorized_keys", True),
            (str(hdir / "10-testbed.network"), "/etc/systemd/network/10-testbed.network", True),
            (str(self.workdir / "etc-hosts"), "/etc/hosts", True),
            (str(hdir / "share"), Host.SHARE_MOUNT, False),
        ]
        return binds + self.extra_binds

    def _start_http(self) -> None:
        ready = self.workdir / "http.json"
        argv = ["nsenter", f"--net={netns.netns_path(self.ctl_netns)}", sys.executable, "-m", "tests.testbed.httpd",
                "--dir", str(self.serve), "--port", str(HTTP_PORT), "--ready-file", str(ready),
                "--request-log", str(self.workdir / "http-requests.jsonl")]
        with open(self.workdir / "http.log", "ab") as log:
            proc = subprocess.Popen(argv, cwd=inventory.REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self._children[proc.pid] = proc
        self._state["http"] = {"pid": proc.pid}
        self._save()
        deadline = time.monotonic() + 15
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                log_text = (self.workdir / "http.log").read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(f"HTTP server did not start (rc {proc.returncode}):\n{log_text[-2000:]}")
            time.sleep(0.02)
        info = json.loads(ready.read_text(encoding="utf-8"))
        self.http_url = f"http://{netns.CONTROLLER_IP}:{info['port']}/"
        self._state["http"] = {"pid": proc.pid, "port": info["port"], "url": self.http_url}
        self._save()

    # ----- use ---------------------------------------------------------------------------------------
    def host(self, name: str) -> Host:
        """The host called ``name``."""
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(f"no host {name!r} in this testbed ({[h.name for h in self.hosts]})")

    def ssh_argv(self, host: Host, argv: Sequence[str], user: str = "root") -> list[str]:
        """argv that runs ``argv`` on ``host`` over real ssh (through the controller namespace)."""
        return inventory.ssh_argv(self.workdir, self.ctl_netns, host.ip, argv, user=user)

    def salt_call(self, host: Host, args: Sequence[str], file_roots: Sequence[str] | None = None,
                  check: bool = True, timeout: float | None = 300,
                  minion: dict[str, Any] | None = None, host_salt: bool = True) -> subprocess.CompletedProcess[Any]:
        """Run the host's own masterless ``salt-call --local ARGS --out=json`` (``rootfs.HOST_SALT_VENV``).

        ``file_roots`` are paths inside the host (default ``/srv/salt``); the pillar is read from
        ``<share>/salt/pillar`` (``Host.SHARE_MOUNT`` inside the host). The minion config lives in the
        host's share folder; Salt's cache and pki go to /var/tmp inside the host (gone at teardown).
        ``minion`` adds options to the minion configuration (e.g. ``providers``). ``host_salt`` is
        accepted for older callers and must be true: the controller's Salt is never visible in a host.
        """
        if not host_salt:
            raise ValueError("the controller's salt-call is not visible in test hosts any more: use the host's own")
        roots = list(file_roots) if file_roots else ["/srv/salt"]
        conf_dir = Path(host.share_dir) / "salt"
        conf_dir.mkdir(exist_ok=True)
        (conf_dir / "minion").write_text(json.dumps({
            "file_client": "local", "id": host.name, "root_dir": "/var/tmp/pdtb-salt",
            "pki_dir": "/var/tmp/pdtb-salt/pki", "cachedir": "/var/tmp/pdtb-salt/cache",
            "log_file": "/var/tmp/pdtb-salt/minion.log", "file_roots": {"base": roots},
            "pillar_roots": {"base": [f"{Host.SHARE_MOUNT}/salt/pillar"]}, "fileserver_list_cache_time": 0,
            **(minion or {}),
        }), encoding="utf-8")
        (conf_dir / "pillar").mkdir(exist_ok=True)
        argv = [f"{HOST_SALT_VENV}/bin/salt-call", "--local", "-c", f"{Host.SHARE_MOUNT}/salt", "--out=json",
                "--log-level=quiet", *args]
        return host.run(argv, check=check, timeout=timeout)

    # ----- Salt as users run it (see salt.py) ------------------------------------------------------------
    def salt_ssh(self, args: Sequence[str], target: str = "*", timeout: float = 900,
                 extra: Sequence[str] = (), pythonpath: str | None = None) -> Any:
        """``salt-ssh [EXTRA] TARGET ARGS`` with the run's roster and master config; the parsed JSON output.

        The thin carries the Salt it needs and ``pkgsrc_core`` (``thin_extra_mods``); the loader modules
        come from the file roots. The hosts need only python3 and sshd.
        ``pythonpath``: where salt-ssh imports the core from (default the checkout's plugins/module_utils).
        """
        out, _proc = salt_tools.salt_ssh(self.files["salt"]["config_dir"], target, args, timeout=timeout,
                                         extra=extra, pythonpath=pythonpath)
        return out

    def start_salt_master(self, file_roots: Sequence[str] | None = None) -> dict[str, str]:
        """Start a real salt-master (the controller's Salt) in the controller namespace; return its paths.

        It listens on the controller address (4505/4506), accepts every minion key (a throw-away
        network), and serves ``file_roots`` (default: ``salt_states/`` of the checkout) and the pillar
        in ``files["salt_master"]["pillar_dir"]``. Stopped by ``down()`` with every process of the run.
        """
        if "salt_master" in self.files:
            return dict(self.files["salt_master"])
        mdir = self.workdir / "salt-master"
        roots = list(file_roots) if file_roots else [str(salt_tools.STATE_ROOT)]
        salt_tools.write_master(mdir, netns.CONTROLLER_IP, roots, mdir / "pillar")
        ns_path = str(netns.netns_path(self.ctl_netns))
        with open(self.workdir / "salt-master.out", "ab") as log:
            proc = subprocess.Popen(salt_tools.master_argv(ns_path, mdir), cwd=self.workdir,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self._children[proc.pid] = proc
        self._state["salt_master"] = {"pid": proc.pid}
        self._save()
        for port in salt_tools.MASTER_PORTS:
            salt_tools.wait_port(ns_path, netns.CONTROLLER_IP, port)
        self.files["salt_master"] = {"config_dir": str(mdir), "pillar_dir": str(mdir / "pillar")}
        self._state["files"] = self.files
        self._save()
        return dict(self.files["salt_master"])

    def start_minions(self, hosts_: Sequence[Host] | None = None, timeout: float = 90.0,
                      minion: dict[str, Any] | None = None) -> None:
        """Start the host's own salt-minion (``rootfs.HOST_SALT_VENV``) on each host, pointed at the
        master; wait until every one answers ``test.ping`` through the master. ``minion`` adds options
        to each minion's configuration (e.g. ``providers``)."""
        self.start_salt_master()
        chosen = list(hosts_) if hosts_ else list(self.hosts)
        for host in chosen:
            host.put_file("/etc/salt/minion.d/testbed.conf",
                          salt_tools.minion_config(host.name, netns.CONTROLLER_IP, extra=minion))
            host.run(["systemctl", "start", "salt-minion.service"])
        deadline = time.monotonic() + timeout
        out: Any = None
        while time.monotonic() < deadline:
            out = self.salt(["-t", "5", "-L", ",".join(h.name for h in chosen), "test.ping"])
            if isinstance(out, dict) and all(out.get(h.name) is True for h in chosen):
                return
            time.sleep(0.5)
        logs = {h.name: h.run(["journalctl", "-u", "salt-minion", "--no-pager", "-n", "30"], check=False).stdout
                for h in chosen}
        raise RuntimeError(f"minions did not answer the master in {timeout:.0f}s (last: {out!r}): {logs}")

    def salt(self, args: Sequence[str], tool: str = "salt", timeout: float = 900) -> Any:
        """``salt ARGS`` (or ``salt-run``, ``salt-key``) against the run's master; the parsed JSON output."""
        return self.salt_cli(args, tool=tool, timeout=timeout)[0]

    def salt_cli(self, args: Sequence[str], tool: str = "salt",
                 timeout: float = 900) -> tuple[Any, subprocess.CompletedProcess[str]]:
        """Like ``salt()``, also returning the process (``salt --static`` exits 1 when a minion's retcode is not 0)."""
        mdir = Path(self.start_salt_master()["config_dir"])
        return salt_tools.master_cli(str(netns.netns_path(self.ctl_netns)), mdir, tool, args, timeout=timeout)

    def http_requests(self) -> list[dict[str, Any]]:
        """Every request the HTTP server answered so far (one dict per request)."""
        path = self.workdir / "http-requests.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def __enter__(self) -> Testbed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # ----- down --------------------------------------------------------------------------------------
    def _markers(self) -> list[str]:
        return [f"/run/netns/{self.prefix}-", str(self.workdir) + "/", f"{self.prefix}-"]

    def down(self, remove_workdir: bool = True) -> list[str]:
        """Stop and remove everything of this run; return what could not be removed (empty when clean).

        Idempotent, and works from the state file alone, so it also cleans a half-failed ``up``.
        """
        start = time.monotonic()
        if not self._state and self.state_path.exists():
            self._state = json.loads(self.state_path.read_text(encoding="utf-8"))
        state = self._state
        host_data = list(state.get("hosts", []))
        # 1. ssh ControlPersist masters (ours and Ansible's) share one socket folder.
        cp = self.workdir / "cp"
        if cp.is_dir():
            for sock in cp.iterdir():
                subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "testbed"],
                               capture_output=True, check=False, timeout=10)
        # 2. hosts, in parallel.
        if host_data:
            with ThreadPoolExecutor(max_workers=min(16, len(host_data))) as pool:
                list(pool.map(hosts.stop, host_data))
        # 3. the HTTP server and any other process of this run (ssh proxies, stray nsenters).
        http_pid = int(state.get("http", {}).get("pid") or 0)
        if http_pid and hosts.owns(http_pid, str(self.workdir / "http.json")):
            _terminate([http_pid])
        _terminate(self._run_processes(state))
        for proc in self._children.values():
            proc.poll()
        # 4. namespaces, cgroups, nspawn's runtime folders, mounts, the work folder.
        for name in [h["netns"] for h in host_data] + [self.ctl_netns]:
            netns.delete_netns(name)
        for data in host_data:
            for _attempt in range(50):
                if not cgroups.remove(data["cgroup"]):
                    break
                _terminate(cgroups.pids(data["cgroup"]), grace=0.5)
                time.sleep(0.1)
            shutil.rmtree(NSPAWN_RUNTIME / data["machine"], ignore_errors=True)
        unmount_under(self.workdir)
        try:
            inventory.save_salt_thin(self.workdir / "salt")
        except OSError:
            pass  # only a cache
        if remove_workdir and self.workdir.exists():
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.hosts = []
        self.timings["down_s"] = round(time.monotonic() - start, 3)
        return self.leftovers(include_workdir=remove_workdir)

    def _run_processes(self, state: dict[str, Any]) -> list[int]:
        """Processes of this run still alive: by argv, by network namespace, by cgroup."""
        markers = self._markers()
        inodes = _live_inodes(state.get("netns_inodes", {}))
        skip = _ancestors()
        found = set()
        for pid in _all_pids():
            if pid in skip or not _alive(pid):
                continue
            if any(m in arg for arg in hosts.read_cmdline(pid) for m in markers):
                found.add(pid)
            elif inodes and _netns_inode(pid) in inodes:
                found.add(pid)
        for data in state.get("hosts", []):
            found.update(p for p in cgroups.pids(data["cgroup"]) if p not in skip)
        return sorted(found)

    def leftovers(self, include_workdir: bool = True) -> list[str]:
        """Everything of this run that still exists, one line each; empty after a clean ``down``."""
        if not self._state and self.state_path.exists():
            self._state = json.loads(self.state_path.read_text(encoding="utf-8"))
        found = []
        for pid in self._run_processes(self._state):
            found.append(f"process {pid}: {' '.join(hosts.read_cmdline(pid))[:200]}")
        for point in mount_points():
            if point.startswith(str(self.workdir)) or point.startswith(f"/run/netns/{self.prefix}-"):
                found.append(f"mount {point}")
        found += [f"netns {n}" for n in netns.list_netns(f"{self.prefix}-")]
        found += [f"root-namespace veth {n}" for n in netns.root_veths()]
        found += [f"cgroup {c}" for c in cgroups.find(f"{self.prefix}-")]
        if NSPAWN_RUNTIME.is_dir():
            found += [f"nspawn runtime {NSPAWN_RUNTIME / e}" for e in os.listdir(NSPAWN_RUNTIME)
                      if e.startswith(f"{self.prefix}-")]
        if include_workdir and self.workdir.exists():
            found.append(f"workdir {self.workdir}")
        return found


def down_all() -> list[str]:
    """Clean every testbed run on this machine (crashed sessions included), by the ``pdtb-`` prefix.

    Kills the hosts' systemd and nspawn, HTTP servers and ssh proxies of any run; deletes the
    namespaces, cgroup folders and nspawn runtime folders. Work folders are not known here (they are
    wherever the runs put them); pass ``--dir`` to ``down`` to remove one. Returns what is left.
    """
    skip = _ancestors()
    victims: set[int] = set()
    inodes = {os.stat(netns.netns_path(n)).st_ino for n in netns.list_netns(RUN_PREFIX)}
    for pid in _all_pids():
        if pid in skip or not _alive(pid):
            continue
        if any(f"/run/netns/{RUN_PREFIX}" in arg for arg in hosts.read_cmdline(pid)):
            victims.add(pid)
            leader = hosts.find_leader(pid)
            if leader:
                hosts.kill(leader)
        elif _netns_inode(pid) in inodes:
            victims.add(pid)
    for path in cgroups.find(RUN_PREFIX):
        name = Path(path).name
        victims.update(p for p in cgroups.pids(name) if p not in skip)
    _terminate(sorted(victims), grace=2.0)
    for name in netns.list_netns(RUN_PREFIX):
        netns.delete_netns(name)
    for path in cgroups.find(RUN_PREFIX):
        cgroups.remove(Path(path).name)
    if NSPAWN_RUNTIME.is_dir():
        for entry in os.listdir(NSPAWN_RUNTIME):
            if entry.startswith(RUN_PREFIX):
                shutil.rmtree(NSPAWN_RUNTIME / entry, ignore_errors=True)
    left = [f"netns {n}" for n in netns.list_netns(RUN_PREFIX)]
    left += [f"cgroup {c}" for c in cgroups.find(RUN_PREFIX)]
    return left
