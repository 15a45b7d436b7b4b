"""Host detection (OS, release, arch, ABI, init system, illumos zone) and default layouts.

detect_host() is pure: it takes a probe dict (uname fields, /etc/os-release text, sw_vers output,
zonename, which init-system marker paths exist, euid and home) and returns HostFacts. probe_host()
collects that dict from the running host: os.uname() and files on Linux, NetBSD and macOS,
/usr/bin/zonename and /usr/bin/isainfo on illumos and /usr/bin/sw_vers on macOS through the Runner.

Probe keys: sysname, nodename, release, version, machine (os.uname fields), processor (uname -p,
optional), os_release (text or None), sw_vers (text or None), zonename (text or None),
isainfo_bits (text or None), exists (mapping of path -> bool for INIT_MARKERS), euid (int), home.
"""
from __future__ import annotations

import os
import posixpath
import pwd
import shlex
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from .errors import PkgsrcError
from .layout import Layout
from .runner import Runner, SubprocessRunner

#: Paths whose existence tells the init system (checked in this order, per OS below).
INIT_MARKERS = ("/run/systemd/system", "/sbin/launchd", "/lib/svc/bin/svc.startd", "/etc/rc.subr")

_REDHAT_IDS = ("rhel", "centos", "fedora", "rocky", "almalinux", "ol", "scientific", "amzn")
_DEBIAN_IDS = ("debian", "ubuntu", "raspbian", "linuxmint")


@dataclass(frozen=True)
class HostFacts:
    """What the bootstrap needs to know about a host."""

    opsys: str
    os_id: str
    os_family: str
    os_name: str
    os_release: str
    os_major: str
    kernel_release: str
    kernel_version: str
    machine: str
    arch: str
    abi: int
    init: str
    zonename: Optional[str] = None
    global_zone: Optional[bool] = None
    euid: int = 0
    home: str = "/root"
    hostname: str = ""

    @property
    def platform(self) -> str:
        """Kit platform key: illumos, smartos-gz, macos, el, linux, netbsd or the opsys lowercased."""
        if self.opsys == "SunOS":
            if self.os_id == "smartos" and self.global_zone:
                return "smartos-gz"
            return "illumos"
        if self.opsys == "Darwin":
            return "macos"
        if self.opsys == "Linux":
            return "el" if self.os_family == "redhat" else "linux"
        if self.opsys == "NetBSD":
            return "netbsd"
        return self.opsys.lower()

    @property
    def privileged(self) -> bool:
        """True when running as root."""
        return self.euid == 0

    def to_dict(self) -> Dict[str, Any]:
        """Plain data for results."""
        return {
            "opsys": self.opsys, "os_id": self.os_id, "os_family": self.os_family, "os_name": self.os_name,
            "os_release": self.os_release, "os_major": self.os_major, "kernel_release": self.kernel_release,
            "machine": self.machine, "arch": self.arch, "abi": self.abi, "init": self.init,
            "zonename": self.zonename, "global_zone": self.global_zone, "platform": self.platform,
            "euid": self.euid,
        }


def parse_os_release(text: Optional[str]) -> Dict[str, str]:
    """KEY=value pairs of os-release(5), shell quoting removed."""
    values: Dict[str, str] = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, raw = line.split("=", 1)
        key = key.strip()
        try:
            parts = shlex.split(raw, posix=True)
            value = " ".join(parts) if parts else ""
        except ValueError:
            value = raw.strip().strip("\"'")
        values[key] = value
    return values


def parse_sw_vers(text: Optional[str]) -> Dict[str, str]:
    """`sw_vers` output (ProductName, ProductVersion, BuildVersion) as a dict."""
    values: Dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    return values


def _normalize_arch(opsys: str, machine: str, processor: str, bits: int) -> str:
    m = machine.lower()
    if opsys == "Darwin":
        return "aarch64" if m in ("arm64", "aarch64") else m
    if opsys == "SunOS":
        if m.startswith("sun4"):
            return "sparc64" if bits == 64 else "sparc"
        return "x86_64" if bits == 64 else "i386"
    if opsys == "NetBSD":
        if m == "amd64":
            return "x86_64"
        if processor:
            return processor
        return m
    if m in ("amd64", "x86_64"):
        return "x86_64"
    if m in ("arm64", "aarch64"):
        return "aarch64"
    if len(m) == 4 and m[0] == "i" and m.endswith("86"):
        return "i386"
    return m


def _abi_of(arch: str) -> int:
    return 64 if arch in ("x86_64", "aarch64", "sparc64", "powerpc64", "powerpc64le", "riscv64", "mips64") else 32


def _init_system(opsys: str, exists: Mapping[str, bool]) -> str:
    order = {
        "Linux": (("/run/systemd/system", "systemd"),),
        "Darwin": (("/sbin/launchd", "launchd"),),
        "SunOS": (("/lib/svc/bin/svc.startd", "smf"),),
        "NetBSD": (("/etc/rc.subr", "rcd"),),
    }.get(opsys, ())
    for path, name in order:
        if exists.get(path):
            return name
    return "unknown"


def detect_host(probe: Mapping[str, Any]) -> HostFacts:
    """HostFacts from a probe dict (pure; see the module docstring for the keys)."""
    opsys = str(probe.get("sysname") or "")
    if not opsys:
        raise PkgsrcError("host probe has no uname sysname", "pass the os.uname() fields in the probe")
    release = str(probe.get("release") or "")
    version = str(probe.get("version") or "")
    machine = str(probe.get("machine") or "")
    processor = str(probe.get("processor") or "")
    exists = probe.get("exists") or {}
    osrel = parse_os_release(probe.get("os_release"))
    zonename = (probe.get("zonename") or "").strip() or None
    bits_text = (probe.get("isainfo_bits") or "").strip()
    bits = int(bits_text) if bits_text.isdigit() else 64

    os_id, family, name, os_release, major = opsys.lower(), opsys.lower(), opsys, release, release
    global_zone: Optional[bool] = None
    if opsys == "SunOS":
        family = "illumos"
        global_zone = None if zonename is None else zonename == "global"
        if version.startswith("joyent_"):
            os_id, name, os_release = "smartos", "SmartOS", version[len("joyent_"):]
            major = os_release[:4]
        elif version.startswith("omnios-"):
            os_id, name = "omnios", "OmniOS"
            os_release = version.split("-")[1] if "-" in version else version
            major = os_release
        else:
            os_id, name, os_release, major = "illumos", "illumos", version, version
        if osrel.get("ID"):
            os_id = osrel["ID"]
            name = osrel.get("NAME", name)
            os_release = osrel.get("VERSION_ID", os_release) or os_release
            major = os_release
    elif opsys == "Linux":
        os_id = osrel.get("ID", "linux") or "linux"
        likes = [os_id] + osrel.get("ID_LIKE", "").split()
        if any(i in _REDHAT_IDS for i in likes):
            family = "redhat"
        elif any(i in _DEBIAN_IDS for i in likes):
            family = "debian"
        else:
            family = "linux"
        name = osrel.get("PRETTY_NAME") or osrel.get("NAME") or "Linux"
        os_release = osrel.get("VERSION_ID", "")
        major = os_release.split(".")[0] if os_release else ""
    elif opsys == "Darwin":
        sw = parse_sw_vers(probe.get("sw_vers"))
        os_id, family = "macos", "darwin"
        name = sw.get("ProductName", "macOS")
        os_release = sw.get("ProductVersion", "")
        major = os_release.split(".")[0] if os_release else ""
        if not os_release:
            # Darwin kernel 20 is macOS 11, 21 is 12, ...: use it when sw_vers did not answer.
            kmajor = release.split(".", 1)[0]
            if kmajor.isdigit() and int(kmajor) >= 20:
                major = str(int(kmajor) - 9)
                os_release = major
    elif opsys == "NetBSD":
        os_id, family, name = "netbsd", "netbsd", "NetBSD"
        os_release = release
        major = release.split(".", 1)[0]

    arch = _normalize_arch(opsys, machine, processor, bits)
    return HostFacts(
        opsys=opsys, os_id=os_id, os_family=family, os_name=name, os_release=os_release, os_major=major,
        kernel_release=release, kernel_version=version, machine=machine, arch=arch, abi=_abi_of(arch),
        init=_init_system(opsys, exists), zonename=zonename, global_zone=global_zone,
        euid=int(probe.get("euid", 0)), home=str(probe.get("home") or "/root"),
        hostname=str(probe.get("nodename") or ""))


def default_layout(host: HostFacts, unprivileged: Optional[bool] = None, method: str = "kit",
                   root: str = "/") -> Layout:
    """The layout of the published kit for this host (CONTRACT.md §1), or the from-source default.

    unprivileged (default: not root) gives $HOME/pkg with pkgdb, etc and var inside the prefix.
    Layouts the publisher does not document (macOS and Linux VARBASE) are marked unconfirmed:
    the bootstrap reads the real values from the kit after extraction.
    """
    if unprivileged is None:
        unprivileged = not host.privileged
    if unprivileged:
        prefix = posixpath.join(host.home, "pkg")
        init = {"systemd": "systemd-user", "launchd": "launchd-user"}.get(host.init, "none")
        return Layout(prefix=prefix, pkg_dbdir=prefix + "/pkgdb", sysconfdir=prefix + "/etc",
                      varbase=prefix + "/var", init=init, root=root, name="unprivileged", unprivileged=True)
    if method == "source":
        return Layout(prefix="/usr/pkg", pkg_dbdir="/usr/pkg/pkgdb", sysconfdir="/usr/pkg/etc",
                      varbase="/usr/pkg/var", init=host.init, root=root, name="source")
    platform = host.platform
    if platform == "smartos-gz":
        return Layout(prefix="/opt/tools", pkg_dbdir="/opt/tools/var/db/pkg", sysconfdir="/opt/tools/etc",
                      varbase="/opt/tools/var", init="smf", root=root, name="smartos-gz", confirmed=False)
    if platform == "illumos":
        return Layout(prefix="/opt/local", pkg_dbdir="/opt/local/pkg", sysconfdir="/opt/local/etc",
                      varbase="/var", init="smf", root=root, name="illumos-zone")
    if platform == "macos":
        return Layout(prefix="/opt/pkg", pkg_dbdir="/opt/pkg/.pkgdb", sysconfdir="/opt/pkg/etc",
                      varbase="/opt/pkg/var", init="launchd", root=root, name="macos", confirmed=False,
                      extra_files=("/etc/paths.d/10-pkgsrc",), mandir="share/man")
    if platform in ("el", "linux"):
        return Layout(prefix="/usr/pkg", pkg_dbdir="/usr/pkg/.pkgdb", sysconfdir="/usr/pkg/etc",
                      varbase="/usr/pkg/var", init=host.init, root=root, name="linux", confirmed=False)
    if platform == "netbsd":
        return Layout(prefix="/usr/pkg", pkg_dbdir="/usr/pkg/pkgdb", sysconfdir="/usr/pkg/etc",
                      varbase="/var", init="rcd", root=root, name="netbsd")
    return Layout(prefix="/usr/pkg", pkg_dbdir="/usr/pkg/pkgdb", sysconfdir="/usr/pkg/etc",
                  varbase="/usr/pkg/var", init=host.init, root=root, name="generic", confirmed=False)


def pkgdb_candidates(layout: Layout, host: Optional[HostFacts] = None) -> tuple:
    """Logical paths where an existing package database may be, most likely first."""
    prefix = layout.prefix
    cands = [layout.pkg_dbdir, prefix + "/pkgdb", prefix + "/.pkgdb", prefix + "/pkg", prefix + "/var/db/pkg"]
    if host is not None and host.opsys == "NetBSD":
        cands.append("/var/db/pkg")  # NetBSD before 2020 (elsewhere /var/db/pkg may be Gentoo's)
    seen = []
    for c in cands:
        if c not in seen:
            seen.append(c)
    return tuple(seen)


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _run_text(runner: Runner, argv: list) -> Optional[str]:
    if not os.path.exists(argv[0]):
        return None
    try:
        result = runner.run(argv)
    except PkgsrcError:
        return None
    return result.stdout if result.rc == 0 else None


def probe_host(runner: Optional[Runner] = None) -> Dict[str, Any]:
    """Collect the probe dict of the running host (see the module docstring)."""
    runner = runner or SubprocessRunner(timeout=30)
    uts = os.uname()
    probe: Dict[str, Any] = {
        "sysname": uts.sysname, "nodename": uts.nodename, "release": uts.release,
        "version": uts.version, "machine": uts.machine,
        "os_release": _read("/etc/os-release") or _read("/usr/lib/os-release"),
        "exists": {p: os.path.exists(p) for p in INIT_MARKERS},
        "euid": os.geteuid(),
    }
    try:
        probe["home"] = os.environ.get("HOME") or pwd.getpwuid(os.geteuid()).pw_dir
    except KeyError:
        probe["home"] = "/"
    if uts.sysname == "SunOS":
        probe["zonename"] = _run_text(runner, ["/usr/bin/zonename"])
        probe["isainfo_bits"] = _run_text(runner, ["/usr/bin/isainfo", "-b"])
    elif uts.sysname == "Darwin":
        probe["sw_vers"] = _run_text(runner, ["/usr/bin/sw_vers"])
    elif uts.sysname == "NetBSD":
        probe["processor"] = _run_text(runner, ["/usr/bin/uname", "-p"]) or ""
        probe["processor"] = probe["processor"].strip()
    return probe
