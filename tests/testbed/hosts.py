"""One testbed host: a systemd-nspawn container with systemd as PID 1, and how to run things in it.

Commands enter the host with ``nsenter -t <leader pid> -a`` (all its namespaces: mount, pid, net,
uts, ipc, cgroup), then run with a clean environment (``env -i``), optionally as another user
(``runuser``). Only argv lists are accepted; a caller who wants a shell passes ["sh", "-c", ...].
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from . import cgroups

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BOOT_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0
POKE_AFTER = 5.0


class HostCommandError(subprocess.CalledProcessError):
    """A command in a testbed host failed; the message carries its output, so pytest shows why."""

    def __init__(self, host: str, proc: subprocess.CompletedProcess[Any], argv: Sequence[str] | None = None) -> None:
        super().__init__(proc.returncode, list(argv) if argv is not None else proc.args, proc.stdout, proc.stderr)
        self.host = host

    def __str__(self) -> str:
        def tail(data: Any) -> str:
            if data is None:
                return ""
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
            return text[-3000:].strip()

        return (f"on {self.host}: {self.cmd!r} exited {self.returncode}\n"
                f"--- stdout\n{tail(self.stdout)}\n--- stderr\n{tail(self.stderr)}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_cmdline(pid: int) -> list[str]:
    """argv of process ``pid`` (empty when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text(encoding="ascii")
            kids.extend(int(k) for k in text.split())
    except OSError:
        return []
    return kids


def _is_pid_ns_init(pid: int) -> bool:
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("NSpid:"):
                ids = line.split()[1:]
                return len(ids) > 1 and ids[-1] == "1"
    except OSError:
        return False
    return False


def find_leader(launcher_pid: int) -> int | None:
    """The container's PID 1 (systemd) as seen from here: the launcher's descendant that is a pid-ns init."""
    queue = [launcher_pid]
    seen = set()
    while queue:
        pid = queue.pop(0)
        if pid in seen:
            continue
        seen.add(pid)
        if pid != launcher_pid and _is_pid_ns_init(pid):
            return pid
        queue.extend(_children(pid))
    return None


@dataclass
class Host:
    """A running testbed host.

    ``name`` is its hostname and inventory name, ``ip`` its address on the testbed subnet,
    ``leader_pid`` the host's systemd (PID 1 inside) as seen from the controller, for
    ``nsenter -t``; ``machine`` the nspawn machine name (unique per run), ``netns`` its network
    namespace, ``share_dir`` a controller folder mounted read-write at ``/srv/testbed`` inside.
    """

    name: str
    ip: str
    machine: str
    netns: str
    launcher_pid: int
    leader_pid: int
    cgroup: str
    share_dir: str
    console_log: str

    SHARE_MOUNT = "/srv/testbed"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the state file and the CLI's JSON."""
        return asdict(self)

    def _user_env(self, user: str | None) -> tuple[list[str], str]:
        """(environment assignments, home) for ``user`` inside the host."""
        name = user or "root"
        uid, home = 0, "/root"
        passwd = Path(f"/proc/{self.leader_pid}/root/etc/passwd").read_text(encoding="utf-8")
        for line in passwd.splitlines():
            fields = line.split(":")
            if len(fields) >= 7 and fields[0] == name:
                uid, home = int(fields[2]), fields[5]
                break
        else:
            raise KeyError(f"no user {name!r} in {self.name}'s /etc/passwd")
        env = [f"PATH={DEFAULT_PATH}", f"HOME={home}", f"USER={name}", f"LOGNAME={name}", "LANG=C.UTF-8",
               "TERM=dumb"]
        if uid != 0:
            env += [f"XDG_RUNTIME_DIR=/run/user/{uid}", f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus"]
        return env, home

    def command(self, argv: Sequence[str], user: str | None = None, cwd: str | None = None,
                env: dict[str, str] | None = None) -> list[str]:
        """The controller-side argv that runs ``argv`` inside this host (as ``user``, in ``cwd``)."""
        if isinstance(argv, (str, bytes)):
            raise TypeError("Host.run takes an argv list; pass ['sh', '-c', script] to use a shell")
        assignments, home = self._user_env(user)
        assignments += [f"{k}={v}" for k, v in (env or {}).items()]
        inner = ["env", "-i", "-C", cwd or home, *assignments, *argv]
        if user and user != "root":
            inner = ["runuser", "-u", user, "--", *inner]
        return ["nsenter", "-t", str(self.leader_pid), "-a", "--", *inner]

    def run(self, argv: Sequence[str], user: str | None = None, check: bool = True,
            input: str | bytes | None = None, env: dict[str, str] | None = None,  # noqa: A002
            cwd: str | None = None, timeout: float | None = None,
            text: bool = True) -> subprocess.CompletedProcess[Any]:
        """Run ``argv`` inside the host and capture its output; raise HostCommandError if ``check`` and it fails."""
        if text and isinstance(input, bytes):
            text = False
        if not text and isinstance(input, str):
            input = input.encode()
        proc = subprocess.run(self.command(argv, user=user, cwd=cwd, env=env), input=input,
                              capture_output=True, text=text, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise HostCommandError(self.name, proc, argv)
        return proc

    def put_file(self, path: str, data: str | bytes, mode: int = 0o644, owner: str = "root",
                 group: str | None = None) -> None:
        """Write ``data`` to ``path`` inside the host (parents created), with mode and owner."""
        if isinstance(data, str):
            data = data.encode()
        self.run(["install", "-D", "-m", format(mode, "o"), "-o", owner, "-g", group or owner, "/dev/stdin", path],
                 input=data, text=False)

    def get_file(self, path: str) -> bytes:
        """The bytes of ``path`` inside the host."""
        return bytes(self.run(["cat", "--", path], text=False).stdout)

    def system_state(self, wait: bool = False, timeout: float = 30.0) -> str:
        """``systemctl is-system-running`` inside the host (optionally with ``--wait``)."""
        argv = ["systemctl", "is-system-running"] + (["--wait"] if wait else [])
        return str(self.run(argv, check=False, timeout=timeout).stdout).strip()

    def failed_units(self) -> list[str]:
        """Units systemd lists as failed."""
        out = self.run(["systemctl", "list-units", "--failed", "--plain", "--no-legend"], check=False).stdout
        return [line.split()[0] for line in str(out).splitlines() if line.strip()]


def launch(machine: str, hostname: str, root: Path, netns: str, cgroup: str, uuid: str,
           binds: Sequence[tuple[str, str, bool]], console_log: Path) -> subprocess.Popen[bytes]:
    """Start systemd-nspawn for one host, inside its own cgroup; return the launcher process.

    The launcher (a tiny ``sh``) writes its own pid into the host's cgroup in both the name=systemd
    and the unified hierarchy, then execs nspawn, so each container gets a cgroup subtree of its own.
    """
    argv = ["systemd-nspawn", "-D", str(root), "-b", "-M", machine, f"--hostname={hostname}",
            "--register=no", "--keep-unit", "--console=passive", "--volatile=overlay",
            f"--network-namespace-path=/run/netns/{netns}", "--capability=CAP_NET_ADMIN",
            "--link-journal=no", "--resolv-conf=off", "--timezone=off", f"--uuid={uuid}"]
    for src, dst, read_only in binds:
        argv.append(f"--bind-ro={src}:{dst}" if read_only else f"--bind={src}:{dst}")
    procs_files = [str(p / "cgroup.procs") for p in cgroups.paths(cgroup)]
    script = 'for f in "$1" "$2"; do echo $$ > "$f" || exit 1; done; shift 2; exec "$@"'
    with open(console_log, "ab") as log:
        proc = subprocess.Popen(["sh", "-c", script, "pdtb-launch", *procs_files, *argv],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    return proc


def wait_leader(launcher_pid: int, console_log: Path, timeout: float = BOOT_TIMEOUT) -> int:
    """Wait for the container's PID 1 to appear; return its pid as seen from here."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leader = find_leader(launcher_pid)
        if leader is not None:
            return leader
        if not _pid_alive(launcher_pid) or _is_zombie(launcher_pid):
            break
        time.sleep(0.05)
    raise RuntimeError(f"systemd-nspawn (pid {launcher_pid}) started no container; console log "
                       f"{console_log}:\n{_tail(console_log)}")


def wait_running(host: Host, timeout: float = BOOT_TIMEOUT) -> str:
    """Wait until the host's systemd finished starting up; return the state ("running" when all is well)."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        if not _pid_alive(host.leader_pid):
            raise RuntimeError(f"{host.name} died while booting; console log:\n{_tail(Path(host.console_log))}")
        try:
            state = host.system_state(wait=True, timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            break
        if state in ("running", "degraded", "maintenance", "stopping"):
            return state
        time.sleep(0.05)  # "offline"/"unknown": the bus is not up yet
    raise RuntimeError(f"{host.name} did not finish booting in {timeout:.0f}s (state {state!r}); console log:\n"
                       f"{_tail(Path(host.console_log))}")


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console log)"


def owns(pid: int, needle: str) -> bool:
    """Whether process ``pid`` is still ours: its argv mentions ``needle`` (guards against pid reuse)."""
    return any(needle in arg for arg in read_cmdline(pid))


def in_cgroup(pid: int, cgroup: str) -> bool:
    """Whether process ``pid`` lives in (or below) testbed cgroup ``cgroup``."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text(encoding="ascii")
    except OSError:
        return False
    return any(line.split(":", 2)[-1].startswith(f"/{cgroup}") for line in text.splitlines())


def stop(host_data: dict[str, Any], timeout: float = STOP_TIMEOUT) -> None:
    """Power a host off (SIGRTMIN+4 to its systemd), wait, then SIGKILL whatever is left.

    Works from recorded state only (the ``Host`` fields as a dict), so ``down`` can stop hosts of a
    testbed brought up by another process, or half brought up.
    """
    launcher = int(host_data.get("launcher_pid") or 0)
    leader = int(host_data.get("leader_pid") or 0)
    cgroup = str(host_data["cgroup"])
    netns = str(host_data["netns"])
    launcher_ours = launcher > 0 and owns(launcher, f"/run/netns/{netns}")
    if leader > 0 and in_cgroup(leader, cgroup) and _is_pid_ns_init(leader):
        try:
            os.kill(leader, signal.SIGRTMIN + 4)
        except ProcessLookupError:
            pass
    start = time.monotonic()
    deadline = start + timeout
    poked = False
    while time.monotonic() < deadline:
        if launcher_ours:
            _reap(launcher)
        if not poked and time.monotonic() - start > POKE_AFTER and leader > 0 and in_cgroup(leader, cgroup):
            # A stalled shutdown (every job "waiting") resumes when the manager gets any request.
            try:
                subprocess.run(["nsenter", "-t", str(leader), "-a", "systemctl", "list-jobs", "--no-pager"],
                               capture_output=True, timeout=5, check=False)
            except subprocess.TimeoutExpired:
                pass
            poked = True
        if not cgroups.pids(cgroup) and not (launcher_ours and _pid_alive(launcher) and not _is_zombie(launcher)):
            break
        time.sleep(0.05)
    else:
        # Killing the container's init kills its whole pid namespace; then the launcher.
        if leader > 0 and in_cgroup(leader, cgroup):
            kill(leader)
        if launcher_ours:
            kill(launcher)
        for pid in cgroups.pids(cgroup):
            kill(pid)
        end = time.monotonic() + 5
        while cgroups.pids(cgroup) and time.monotonic() < end:
            time.sleep(0.05)
    _reap(launcher)


def kill(pid: int) -> None:
    """SIGKILL ``pid`` if it still exists."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    """Collect the launcher's exit status if it is our child (no zombie left behind)."""
    if pid <= 0:
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
