"""The cached root file system every testbed host boots from: Debian bookworm (minbase) with systemd.

Built by ``debootstrap`` from the Debian mirror this machine's apt sources name, customised, and
kept under ``/var/cache/pkgsrc-deploy/rootfs-<key>/`` where ``<key>`` hashes the package list, the
suite, ``SCRIPT_VERSION`` (bump it whenever ``_customise`` changes) and the host's Salt release. Hosts boot it with
``--volatile=overlay``, so it is never written to after the build and many hosts share it.

Built when missing (CI starts on a fresh machine), reused when present; built into a temporary folder
beside the final one and renamed into place, under a lock, so a crash never leaves a half root that
looks finished.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .mounts import unmount_under

CACHE_DIR = Path("/var/cache/pkgsrc-deploy")
SUITE = "bookworm"
SCRIPT_VERSION = "5"
FALLBACK_MIRROR = "http://deb.debian.org/debian"
UNPRIVILEGED_USER = "grid"
UNPRIVILEGED_UID = 1500
# Salt installed INTO the host, as a user installs it on a machine without Salt packages: a virtualenv
# of the host's own python3 with salt from PyPI. The hosts have no network, so the wheels are made on
# the build machine (pinned by requirements/dev.txt, the controller's set) and installed offline.
# The minion is not started at boot: a test writes /etc/salt/minion.d/ and starts salt-minion.service.
HOST_SALT_VERSION = "3008.3"
HOST_SALT_VENV = "/opt/saltstack"
REQUIREMENTS = Path(__file__).resolve().parent.parent.parent / "requirements" / "dev.txt"
SALT_MINION_UNIT = f"""\
[Unit]
Description=The Salt minion (pkgsrc.deploy testbed: salt {HOST_SALT_VERSION} in {HOST_SALT_VENV})
After=network.target

[Service]
Type=simple
ExecStart={HOST_SALT_VENV}/bin/salt-minion
KillMode=process
Restart=on-failure
LimitNOFILE=8192

[Install]
WantedBy=multi-user.target
"""

# Everything a managed host needs: systemd as init, sshd for Ansible/salt-ssh, python3 for both,
# the archivers and gpg the pkgsrc bootstrap uses, and a few tools that make debugging bearable.
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "dbus-user-session", "libpam-systemd",
    "python3", "openssh-server", "iproute2", "curl", "ca-certificates", "sudo", "procps", "less",
    "gpg", "gpgv", "xz-utils", "bzip2", "zstd", "python3-venv",
)

# Units that only make sense on a real machine, or would try to reach the network.
DISABLED_UNITS = (
    "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
    "fstrim.timer", "e2scrub_reap.service",
)
# systemd-networkd.socket: with socket activation, a poweroff right after boot stalls about one time
# in twenty (every shutdown job "waiting" until a timeout); networkd without it opens its own
# netlink socket and shuts down cleanly (0 stalls in 200 measured shutdowns).
MASKED_UNITS = ("systemd-firstboot.service", "systemd-networkd-wait-online.service", "systemd-networkd.socket")

SSHD_CONFIG = """\
# pkgsrc.deploy testbed: keys only, no DNS look-ups, many parallel connections.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxStartups 100:30:200
MaxSessions 100
"""


def cache_key(packages: tuple[str, ...] = PACKAGES) -> str:
    """Hash of what goes into the root: package list, suite and the customisation version."""
    text = "\n".join([SUITE, SCRIPT_VERSION, f"salt=={HOST_SALT_VERSION}", *sorted(packages)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def root_path(packages: tuple[str, ...] = PACKAGES, cache_dir: Path = CACHE_DIR) -> Path:
    """Where the finished root for ``packages`` lives."""
    return cache_dir / f"rootfs-{cache_key(packages)}"


def debian_mirror() -> str:
    """The Debian archive URI this machine's apt sources use for the main suite (never another host)."""
    sources: list[tuple[str, str]] = []  # (uri, suites)
    apt = Path("/etc/apt")
    files = [apt / "sources.list"] + sorted((apt / "sources.list.d").glob("*.list"))
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                sources.append((words[1], words[2]))
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                for uri in fields.get("uris", "").split():
                    sources.append((uri, fields.get("suites", "")))
    for uri, suites in sources:
        if SUITE in suites.split() and not uri.rstrip("/").endswith("-security"):
            return uri.rstrip("/")
    return FALLBACK_MIRROR


def _run(argv: list[str], log: Path | None = None) -> None:
    if log is None:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed (rc {proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"+ {' '.join(argv)}\n")
        fh.flush()
        proc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (rc {proc.returncode}); see {log}")


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def _install_salt(root: Path, log: Path) -> None:
    """Salt into a virtualenv of the host's python3, from wheels built here (the host has no network)."""
    wheels = root / "tmp" / "salt-wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    constraints = ["-c", str(REQUIREMENTS)] if REQUIREMENTS.is_file() else []
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--prefer-binary", *constraints, "-w", str(wheels),
          f"salt=={HOST_SALT_VERSION}"], log)
    chroot = ["chroot", str(root)]
    _run(chroot + ["python3", "-m", "venv", HOST_SALT_VENV], log)
    _run(chroot + [f"{HOST_SALT_VENV}/bin/python", "-m", "pip", "install", "-q", "--no-index",
                   "--find-links", "/tmp/salt-wheels", f"salt=={HOST_SALT_VERSION}"], log)
    shutil.rmtree(wheels)
    _write(root, "/etc/systemd/system/salt-minion.service", SALT_MINION_UNIT)
    (root / "etc/salt/minion.d").mkdir(parents=True, exist_ok=True)


def _customise(root: Path, log: Path) -> None:
    """Turn a fresh debootstrap into a bootable, shareable test host image."""
    chroot = ["chroot", str(root)]
    _install_salt(root, log)
    user = UNPRIVILEGED_USER
    uid = str(UNPRIVILEGED_UID)
    _run(chroot + ["useradd", "--uid", uid, "--user-group", "--create-home", "--shell", "/bin/bash",
                   "--comment", "testbed unprivileged user", user], log)
    # "*": no password, but not "locked" (sshd refuses key logins to locked accounts).
    _run(chroot + ["usermod", "--password", "*", user], log)
    # Authorized keys are bind-mounted per run; only the folders are baked in.
    (root / "root/.ssh").mkdir(mode=0o700, exist_ok=True)
    (root / "root/.ssh").chmod(0o700)
    home_ssh = root / "home" / user / ".ssh"
    home_ssh.mkdir(mode=0o700, exist_ok=True)
    home_ssh.chmod(0o700)
    os.chown(home_ssh, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    # Lingering: the user's systemd instance starts at boot (for systemd --user services).
    linger = root / "var/lib/systemd/linger"
    linger.mkdir(parents=True, exist_ok=True)
    (linger / user).touch()
    _write(root, "/etc/default/locale", "LANG=C.UTF-8\n")
    _write(root, "/etc/locale.conf", "LANG=C.UTF-8\n")
    _write(root, "/etc/ssh/sshd_config.d/testbed.conf", SSHD_CONFIG)
    _write(root, "/etc/resolv.conf", "# pkgsrc.deploy testbed: no DNS; hosts reach only the controller.\n")
    _write(root, "/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    _write(root, "/etc/apt/sources.list", f"deb {FALLBACK_MIRROR} {SUITE} main\n")
    # No hostname in the image: systemd keeps the one nspawn sets (--hostname).
    (root / "etc/hostname").unlink(missing_ok=True)
    # An empty machine-id: each host gets its own from nspawn's --uuid at boot.
    _write(root, "/etc/machine-id", "", 0o444)
    dbus_id = root / "var/lib/dbus/machine-id"
    dbus_id.unlink(missing_ok=True)
    dbus_id.parent.mkdir(parents=True, exist_ok=True)
    dbus_id.symlink_to("/etc/machine-id")
    _run(chroot + ["systemctl", "enable", "systemd-networkd.service", "ssh.service"], log)
    _run(chroot + ["systemctl", "disable", *DISABLED_UNITS], log)
    _run(chroot + ["systemctl", "mask", *MASKED_UNITS], log)
    # Nothing on the hosts can reach a package archive: drop the downloaded .debs and lists.
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (root / sub).glob("*"):
            if entry.is_file():
                entry.unlink()
    for entry in (root / "var/log").rglob("*"):
        if entry.is_file():
            entry.unlink()


def _clean_stale_builds(cache_dir: Path) -> None:
    """Remove temporary build folders whose builder process is gone (call with the lock held)."""
    for tmp in cache_dir.glob(".rootfs-*.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            continue
        unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def _prune_old_roots(cache_dir: Path, keep: Path) -> None:
    """Remove finished roots of other keys that no running nspawn uses (call with the lock held)."""
    in_use = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        in_use.update(a.decode("utf-8", "replace") for a in argv if b"/rootfs-" in a)
    for old in cache_dir.glob("rootfs-*"):
        if old == keep or not old.is_dir() or any(str(old) in arg for arg in in_use):
            continue
        unmount_under(old)
        shutil.rmtree(old, ignore_errors=True)
        (cache_dir / f"{old.name}.build.log").unlink(missing_ok=True)


def build_root(packages: tuple[str, ...] = PACKAGES, force: bool = False,
               cache_dir: Path = CACHE_DIR) -> tuple[Path, float]:
    """Make sure the root for ``packages`` exists; return (its path, seconds spent building; 0 if cached).

    ``force`` rebuilds and swaps the new root in; never use it while testbeds boot from the old one
    (their overlays sit on it). To time a cold build, pass another ``cache_dir`` instead.
    """
    final = root_path(packages, cache_dir)
    if final.is_dir() and not force:
        return final, 0.0
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".rootfs.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if final.is_dir() and not force:  # another process built it while we waited
            return final, 0.0
        _clean_stale_builds(cache_dir)
        start = time.monotonic()
        tmp = cache_dir / f".{final.name}.tmp-{os.getpid()}"
        log = cache_dir / f"{final.name}.build.log"
        log.write_text("", encoding="utf-8")
        mirror = debian_mirror()
        try:
            _run(["debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
                  "--components=main", SUITE, str(tmp), mirror], log)
            _customise(tmp, log)
            seconds = round(time.monotonic() - start, 1)
            stamp = {"key": cache_key(packages), "suite": SUITE, "script_version": SCRIPT_VERSION,
                     "mirror": mirror, "packages": list(packages), "build_seconds": seconds,
                     "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            _write(tmp, "/etc/pkgsrc-deploy-testbed.json", json.dumps(stamp, indent=2) + "\n")
            unmount_under(tmp)
            if final.exists():  # force: move the old one aside, then swap
                old = cache_dir / f".{final.name}.old-{os.getpid()}"
                os.replace(final, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, final)
            _prune_old_roots(cache_dir, final)
        except BaseException:
            unmount_under(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final, seconds


def ensure_root(packages: tuple[str, ...] = PACKAGES) -> Path:
    """Path of a finished root, building it first if needed."""
    return build_root(packages)[0]


def root_info(root: Path) -> dict[str, object]:
    """The stamp the build wrote into the root (key, packages, mirror, build time)."""
    data: dict[str, object] = json.loads((root / "etc/pkgsrc-deploy-testbed.json").read_text(encoding="utf-8"))
    return data
