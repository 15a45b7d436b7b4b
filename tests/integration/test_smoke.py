"""Smoke test of the testbed itself: two real systemd hosts fetch a repository's pkg_summary over real
HTTP, answer Ansible (ssh and nsenter connections) and Salt (salt-ssh from the controller, and the
host's own salt-call), see nothing of the controller's checkout or virtualenv, and teardown leaves
nothing behind.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.packages import PackageSpec
from tests.fixtures.repo import build_repo
from tests.testbed.inventory import COLLECTIONS_PATH, REPO_ROOT
from tests.testbed.testbed import Testbed

pytestmark = [pytest.mark.testbed, pytest.mark.slow]

VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin"

# Fetch a URL with the host's own python3, resuming from byte OFFSET with a Range request.
RANGE_FETCH = """\
import sys, urllib.request
url, offset = sys.argv[1], int(sys.argv[2])
req = urllib.request.Request(url, headers={"Range": "bytes=%d-" % offset})
with urllib.request.urlopen(req, timeout=10) as resp:
    sys.stdout.write("%d %s %d\\n" % (resp.status, resp.headers["Content-Range"], len(resp.read())))
"""

# Read the ssh banner of another host, by name.
SSH_BANNER = """\
import socket, sys
with socket.create_connection((sys.argv[1], 22), timeout=5) as conn:
    sys.stdout.write(conn.recv(64).decode())
"""


def _tool_env(tb: Testbed) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PATH": f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
        "ANSIBLE_CONFIG": tb.files["inventory"]["config"],
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_NOCOLOR": "1",
    })
    return env


_RESULT = re.compile(r"^(\S+) \| (SUCCESS|CHANGED|FAILED!|UNREACHABLE!)(?: \| rc=-?\d+)? (=>|>>)(.*)$")


def _ansible(tb: Testbed, inventory: str, *args: str) -> dict[str, tuple[str, str]]:
    """Run an ad-hoc ``ansible all``; return {host: (status, result body)} parsed from its output."""
    proc = subprocess.run([str(VENV_BIN / "ansible"), "all", "-i", tb.files["inventory"][inventory], *args],
                          env=_tool_env(tb), capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, f"ansible ({inventory}) failed:\n{proc.stdout}\n{proc.stderr}"
    results: dict[str, tuple[str, str]] = {}
    current = None
    for line in proc.stdout.splitlines():
        match = _RESULT.match(line)
        if match:
            current = match.group(1)
            results[current] = (match.group(2), match.group(4).strip())
        elif current is not None:
            status, body = results[current]
            results[current] = (status, f"{body}\n{line}".strip())
    return results


def test_two_hosts_fetch_over_http_and_answer_ansible_and_salt(testbed) -> None:  # type: ignore[no-untyped-def]
    tb = testbed(2)
    names = [h.name for h in tb.hosts]
    assert names == ["host1", "host2"]

    # A real repository: one package and its gzip'd pkg_summary, published at <url>/All/.
    spec = PackageSpec("hello", "1.0", files={"bin/hello": "#!/bin/sh\necho hello\n"})
    all_dir = build_repo(tb.www_dir, [spec], formats=("gz",))
    summary = all_dir / "pkg_summary.gz"
    served = summary.read_bytes()
    assert b"PKGNAME=hello-1.0\n" in gzip.decompress(served)
    want = hashlib.sha256(served).hexdigest()
    url = f"{tb.http_url}All/pkg_summary.gz"

    for host in tb.hosts:
        # Nothing of the controller's checkout or Python is visible in a host.
        for path in (REPO_ROOT, Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()):
            assert host.run(["test", "-e", str(path)], check=False).returncode != 0, f"{host.name} sees {path}"
        # Real systemd as PID 1, booted cleanly.
        assert host.system_state() == "running", host.failed_units()
        assert host.run(["cat", "/proc/1/comm"]).stdout.strip() == "systemd"
        assert host.run(["hostname"]).stdout.strip() == host.name
        # Real HTTP from inside the host, with the host's curl.
        host.run(["curl", "-fsS", "-o", "/tmp/pkg_summary.gz", url])
        assert host.run(["sha256sum", "/tmp/pkg_summary.gz"]).stdout.split()[0] == want
        assert host.get_file("/tmp/pkg_summary.gz") == served
        # A resumed download: the server answers a Range request with 206 and the rest of the file.
        out = host.run(["python3", "-c", RANGE_FETCH, url, "10"]).stdout.split()
        assert out == ["206", "bytes", f"10-{len(served) - 1}/{len(served)}", str(len(served) - 10)]
        # The unprivileged user exists, with its own systemd instance (lingering).
        assert host.run(["id", "-u"], user="grid").stdout.strip() == "1500"
        assert host.run(["systemctl", "--user", "is-system-running"], user="grid", check=False).stdout.strip() \
            in ("running", "degraded")
        # systemd-networkd manages eth0 with the static address; no route anywhere but the testbed subnet.
        link = host.run(["networkctl", "--no-legend", "list", "eth0"]).stdout.split()
        assert link[-2:] == ["routable", "configured"], link
        routes = host.run(["ip", "-4", "route", "show"]).stdout
        assert "default" not in routes and "10.213.0.0/24" in routes
        # Hosts reach each other by name (the run's /etc/hosts) on the bridge.
        other = tb.hosts[1 - tb.hosts.index(host)]
        banner = host.run(["python3", "-c", SSH_BANNER, other.name]).stdout
        assert banner.startswith("SSH-2.0-OpenSSH"), banner

    requests = [r for r in tb.http_requests() if r["path"] == "/All/pkg_summary.gz"]
    assert {r["client"] for r in requests} == {h.ip for h in tb.hosts}
    assert sorted({r["status"] for r in requests}) == [200, 206]

    # put_file / get_file round trip with mode and owner.
    tb.hosts[0].put_file("/home/grid/note.txt", "hello grid\n", mode=0o600, owner="grid")
    assert tb.hosts[0].run(["stat", "-c", "%U %a", "/home/grid/note.txt"]).stdout.split() == ["grid", "600"]
    assert tb.hosts[0].get_file("/home/grid/note.txt") == b"hello grid\n"

    # Ansible: ssh as root, nsenter, and ssh as the unprivileged user.
    for inventory in ("ssh", "nsenter"):
        results = _ansible(tb, inventory, "-m", "ansible.builtin.ping")
        assert sorted(results) == names, results
        for status, body in results.values():
            assert status == "SUCCESS" and json.loads(body)["ping"] == "pong", results
    results = _ansible(tb, "grid", "-m", "ansible.builtin.command", "-a", "id -un")
    assert results == {name: ("CHANGED", "grid") for name in names}

    # Salt: salt-ssh from the controller (ships its thin, with pkgsrc_core, over ssh; runs on the
    # host's python3), and the host's own salt-call (Salt installed in the host, rootfs.HOST_SALT_VENV).
    assert tb.salt_ssh(["test.ping"]) == {name: True for name in names}
    grains = tb.salt_ssh(["grains.item", "init", "os", "host"])
    assert grains == {h.name: {"init": "systemd", "os": "Debian", "host": h.name} for h in tb.hosts}, grains
    assert tb.salt_ssh(["pkgsrc.version_cmp", "1.0", "1.0nb1"]) == {name: -1 for name in names}
    for host in tb.hosts:
        out = tb.salt_call(host, ["grains.item", "init", "os", "host"]).stdout
        assert json.loads(out)["local"] == {"init": "systemd", "os": "Debian", "host": host.name}

    # Teardown leaves nothing: no process, mount, namespace, veth, cgroup folder, runtime dir, workdir.
    assert tb.down() == []
    assert tb.leftovers() == []
    assert tb.down() == []  # idempotent


def test_down_cleans_up_after_a_failed_up(testbed_root, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    not_an_os = tmp_path / "not-an-os"
    not_an_os.mkdir()
    tb = Testbed(tmp_path / "tb", root=not_an_os)
    with pytest.raises(RuntimeError, match="started no container"):
        tb.up(2)
    # up() already tore down what it made, but kept the work folder (logs) for inspection.
    assert tb.leftovers() == [f"workdir {tb.workdir}"]
    assert (tb.workdir / "hosts" / "host1" / "console.log").is_file()
    assert Testbed.load(tb.workdir).down() == []
    assert not tb.workdir.exists()
