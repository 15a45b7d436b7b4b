"""The testbed network: one controller namespace with a bridge, one namespace per host, veth pairs.

Every interface is created directly inside a namespace this run made (``ip -n NS link add ... peer
... netns OTHER``), so nothing is ever added to the root namespace: no address, no route, no link.

Addressing (one documented subnet, reused by every run because each run has its own namespaces)::

    10.213.0.0/24     controller bridge br0 = 10.213.0.1, host i (1-based) = 10.213.0.(10 + i)

A host has only the connected /24 route: it can talk to the controller and to the other hosts of
its own run, and to nothing else.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

NETNS_DIR = Path("/run/netns")
SUBNET_PREFIX = "10.213.0"
PREFIX_LEN = 24
CONTROLLER_IP = f"{SUBNET_PREFIX}.1"
FIRST_HOST_OCTET = 11
MAX_HOSTS = 240
BRIDGE = "br0"
HOST_IFACE = "eth0"


def host_ip(index: int) -> str:
    """Address of host ``index`` (0-based)."""
    if not 0 <= index < MAX_HOSTS:
        raise ValueError(f"host index {index} out of range: the testbed subnet holds {MAX_HOSTS} hosts")
    return f"{SUBNET_PREFIX}.{FIRST_HOST_OCTET + index}"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed (rc {proc.returncode}): {proc.stderr.strip()}")
    return proc


def netns_path(name: str) -> Path:
    """Where ``ip netns`` keeps the namespace ``name``."""
    return NETNS_DIR / name


def list_netns(prefix: str = "") -> list[str]:
    """Names of the named network namespaces starting with ``prefix``."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))


def add_netns(name: str) -> None:
    """Create namespace ``name`` with its loopback up."""
    _ip("netns", "add", name)
    _ip("-n", name, "link", "set", "lo", "up")


def delete_netns(name: str) -> None:
    """Delete namespace ``name`` (and with it every interface inside); a missing one is fine."""
    if netns_path(name).exists():
        _ip("netns", "delete", name, check=False)
    if netns_path(name).exists():
        # A half-created namespace (the bind mount failed): unmount and remove the file ourselves.
        subprocess.run(["umount", "-l", str(netns_path(name))], capture_output=True, check=False)
        try:
            netns_path(name).unlink()
        except FileNotFoundError:
            pass


def setup_controller(ctl: str) -> None:
    """Create the controller namespace with bridge ``br0`` holding the controller address."""
    add_netns(ctl)
    _ip("-n", ctl, "link", "add", BRIDGE, "type", "bridge")
    _ip("-n", ctl, "addr", "add", f"{CONTROLLER_IP}/{PREFIX_LEN}", "dev", BRIDGE)
    _ip("-n", ctl, "link", "set", BRIDGE, "up")


def controller_port_name(index: int) -> str:
    """Name of the controller-side veth end of host ``index`` (0-based)."""
    return f"vh{index + 1}"


def attach_host(ctl: str, host_ns: str, index: int) -> str:
    """Create host namespace ``host_ns``, wire it to the controller bridge; return the host's address.

    The host end is ``eth0``, left without an address: systemd-networkd inside the host sets the
    static one (``networkd_config``). Setting it from outside first makes networkd fail a second
    later ("Failed to configure address: Numerical result out of range") and mark the link failed.
    The controller end joins ``br0``.
    """
    ip = host_ip(index)
    add_netns(host_ns)
    port = controller_port_name(index)
    _ip("-n", ctl, "link", "add", port, "type", "veth", "peer", "name", HOST_IFACE, "netns", host_ns)
    _ip("-n", ctl, "link", "set", port, "master", BRIDGE)
    _ip("-n", ctl, "link", "set", port, "up")
    return ip


def has_address(host_ns: str, ip: str) -> bool:
    """Whether ``eth0`` in ``host_ns`` carries ``ip`` yet (looked at from outside, no nsenter)."""
    proc = _ip("-n", host_ns, "-o", "-4", "addr", "show", "dev", HOST_IFACE, check=False)
    return f" {ip}/" in proc.stdout


def networkd_config(ip: str) -> str:
    """The systemd-networkd .network file a host gets for its ``eth0`` (static, no gateway)."""
    return (
        "# Written by the pkgsrc.deploy testbed: static address on the veth to the controller.\n"
        "[Match]\n"
        f"Name={HOST_IFACE}\n\n"
        "[Network]\n"
        f"Address={ip}/{PREFIX_LEN}\n"
        "LinkLocalAddressing=no\n"
        "IPv6AcceptRA=no\n"
    )


def root_veths() -> list[str]:
    """veth links in the root namespace. The testbed never makes any there, so after a run a leftover
    is a bug (or another tool's); the leftovers check reports them."""
    proc = _ip("-o", "link", "show", "type", "veth", check=False)
    names = []
    for line in proc.stdout.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@", 1)[0])
    return names
