"""Fixture content and testbed hosts for the roles' Molecule scenarios (roles/*/molecule/).

    python -m tests.molecule_support prepare-www DIR
    python -m tests.molecule_support create --www DIR --workdir DIR --platforms JSON \
        --instance-config FILE --ssh-config FILE
    python -m tests.molecule_support destroy --workdir DIR --instance-config FILE [--control-path-dir DIR]

``create`` (a scenario's create.yml) prepares the served folder, boots one testbed host per
Molecule platform with the testbed CLI (``python -m tests.testbed up``), and writes Molecule's
instance configuration (address, user from the platform's ``testbed_user``, key) and an ssh
configuration file whose ProxyCommand enters the testbed's network (molecule.yml passes it with
``-F``). ``destroy`` closes the ssh connection masters and runs ``python -m tests.testbed down``.

``prepare-www`` builds DIR once and reuses it while the sources it is made from stay the same (the key is a hash
of tests/fixtures, tests/sim, the core and this file). It prints one JSON line: ``changed``,
``dir``, ``seconds``. DIR holds, for hosts that reach it at ``http://10.213.0.1:8080/``:

    kits/<kit>.tar.gz, .sha256, .asc   signed kits for LAYOUTS["el"] (/usr/pkg, pkgdb /usr/pkg/.pkgdb) and
                                       LAYOUTS["sample"] (/opt/pkg, pkgdb /opt/pkg/pkgdb): two prefixes on a host
    pubkey.asc                         the signing key (armored)
    All/                               the demo repository for /usr/pkg (el layout)
    opt/All/                           the demo repository for /opt/pkg (sample layout)
    grid/All/                          the demo repository for /home/grid/pkg (pkgsrc's from-source layout)
    source/pkgsrc.tar.gz               a "pkgsrc source tree" whose bootstrap/bootstrap is a stand-in
                                       (tests/fixtures/source_tree.py, below)
    fixtures.json                      what the playbooks need: URLs, checksums, the key's fingerprint

The stand-in bootstrap script accepts exactly the arguments pkgsrc.deploy passes for an
unprivileged from-source bootstrap into /home/grid/pkg, and unpacks there the prefix a real
bootstrap would leave (a fixture kit for that layout): the stand-in pkg_install and pkgin tools
with their package database.
The stand-in tools log every run to the paths in ``fixtures.json`` (``sim_log``).
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parent.parent
# The fixture builders use the core as `pkgsrc_core` (pytest puts it on the path; a plain run does not).
CORE_PARENT = str(REPO_ROOT / "plugins" / "module_utils")
if CORE_PARENT not in sys.path:
    sys.path.insert(0, CORE_PARENT)

# pylint: disable=wrong-import-position
from tests.fixtures.demo import build_demo_repo  # noqa: E402
from tests.fixtures.gpg import make_signer  # noqa: E402
from tests.fixtures.kits import LAYOUTS, KitLayout, build_kit, source_layout  # noqa: E402
from tests.fixtures.source_tree import build_source_tree  # noqa: E402
HTTP_URL = "http://10.213.0.1:8080/"
GRID_HOME = "/home/grid"
GRID_PREFIX = GRID_HOME + "/pkg"
ROOT_SIM_LOG = "/var/tmp/pkgsrc-sim.log"
GRID_SIM_LOG = GRID_HOME + "/pkgsrc-sim.log"
KEY_FILE = ".fixture-key"

# The folders and files whose content the served folder is made from.
SOURCES = ("tests/fixtures", "tests/sim", "plugins/module_utils/pkgsrc_core", "tests/molecule_support.py")


def fixture_key() -> str:
    """A hash of every source file the served folder is built from."""
    digest = hashlib.sha256()
    for rel in SOURCES:
        top = REPO_ROOT / rel
        files = [top] if top.is_file() else sorted(
            p for p in top.rglob("*") if p.is_file() and p.suffix in (".py", ".sh"))
        for path in files:
            digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _kit_entry(www: Path, layout: KitLayout, repo_dir: str, signer: Any) -> Dict[str, Any]:
    """Build a signed kit for layout and its demo repository under www/repo_dir; describe them."""
    repo_url = HTTP_URL + (repo_dir + "/" if repo_dir else "") + "All"
    kit = build_kit(www / "kits", layout, [repo_url], signer=signer, sim_log=ROOT_SIM_LOG)
    build_demo_repo(www / repo_dir if repo_dir else www, prefix=layout.prefix, layout=layout, sim_log=ROOT_SIM_LOG)
    kit_url = HTTP_URL + "kits/" + kit.name
    return {"url": kit_url, "checksum": "sha256:" + kit.sha256, "signature_url": kit_url + ".asc",
            "gpg_key": HTTP_URL + "pubkey.asc", "fingerprint": signer.fingerprint, "prefix": layout.prefix,
            "pkg_dbdir": layout.pkg_dbdir, "repository": repo_url, "pkgnames": list(kit.pkgnames)}


def build_www(www: Path) -> Dict[str, Any]:
    """Build the served folder's content into www (an empty folder); return what fixtures.json says."""
    with tempfile.TemporaryDirectory(prefix="molecule-signer-") as home:
        signer = make_signer(home)
        try:
            kits = {"el": _kit_entry(www, LAYOUTS["el"], "", signer),
                    "sample": _kit_entry(www, LAYOUTS["sample"], "opt", signer)}
            shutil.copyfile(signer.public_key_asc, www / "pubkey.asc")
        finally:
            signer.close()
    grid_layout = source_layout(GRID_PREFIX)
    grid_repo_url = HTTP_URL + "grid/All"
    build_demo_repo(www / "grid", prefix=GRID_PREFIX, layout=grid_layout, sim_log=GRID_SIM_LOG)
    source_checksum = build_source_tree(www / "source" / "pkgsrc.tar.gz", grid_layout, [grid_repo_url],
                                        GRID_SIM_LOG, readme="A stand-in pkgsrc tree for the Molecule scenarios.\n")
    return {
        "http_url": HTTP_URL,
        "kits": kits,
        "sim_log": ROOT_SIM_LOG,
        "grid": {"prefix": GRID_PREFIX, "pkg_dbdir": grid_layout.pkg_dbdir, "repository": grid_repo_url,
                 "source_url": HTTP_URL + "source/pkgsrc.tar.gz", "source_checksum": source_checksum,
                 "sim_log": GRID_SIM_LOG},
    }


class _Locked:
    """An exclusive lock on a file next to the served folder (one builder at a time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Optional[Any] = None

    def __enter__(self) -> "_Locked":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a", encoding="utf-8")  # pylint: disable=consider-using-with
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def _make_readable(top: Path) -> None:
    """Make every folder and file under top readable by all (mkdtemp makes a 0700 folder)."""
    for path in [top, *top.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def prepare_www(www: Path) -> Dict[str, Any]:
    """Build www unless it already holds the content of the current sources; say what happened."""
    start = time.monotonic()
    www = www.resolve()
    key = fixture_key()
    with _Locked(www.with_name(www.name + ".lock")):
        if (www / KEY_FILE).is_file() and (www / KEY_FILE).read_text(encoding="utf-8").strip() == key:
            return {"changed": False, "dir": str(www), "seconds": round(time.monotonic() - start, 2)}
        fresh = Path(tempfile.mkdtemp(prefix=www.name + ".new-", dir=str(www.parent)))
        try:
            data = build_www(fresh)
            (fresh / "fixtures.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n",
                                                 encoding="utf-8")
            (fresh / KEY_FILE).write_text(key + "\n", encoding="utf-8")
            _make_readable(fresh)
            old = None
            if www.exists():
                old = Path(tempfile.mkdtemp(prefix=www.name + ".old-", dir=str(www.parent)))
                os.rename(www, old / "www")
            os.rename(fresh, www)
            if old is not None:
                shutil.rmtree(old)
        finally:
            if fresh.exists():
                shutil.rmtree(fresh)
    return {"changed": True, "dir": str(www), "seconds": round(time.monotonic() - start, 2)}


def _testbed_cli(args: List[str]) -> subprocess.CompletedProcess:
    """Run the testbed command line (python -m tests.testbed ...) from the repository root."""
    return subprocess.run([sys.executable, "-m", "tests.testbed", *args], cwd=str(REPO_ROOT), capture_output=True,
                          text=True, check=False, timeout=600)


def ssh_config_text(controller_netns: str) -> str:
    """An ssh configuration (for ssh -F) that reaches testbed hosts from the root network namespace."""
    return ("Host *\n"
            "  ProxyCommand nsenter --net=/run/netns/%s nc %%h %%p\n"
            "  GlobalKnownHostsFile /dev/null\n"
            "  BatchMode yes\n"
            "  ConnectTimeout 10\n" % controller_netns)


def instance_config(platforms: List[Dict[str, Any]], testbed: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Molecule's instance configuration: one entry per platform, from the testbed's description."""
    ips = {host["name"]: host["ip"] for host in testbed["hosts"]}
    return [{"instance": p["name"], "address": ips[p["name"]], "port": 22, "user": p.get("testbed_user", "root"),
             "identity_file": testbed["ssh_key"]} for p in platforms]


def create(www: Path, workdir: Path, platforms: List[Dict[str, Any]], instance_file: Path,
           ssh_config_file: Path) -> Dict[str, Any]:
    """Prepare www, boot one host per platform serving it, write the instance and ssh configurations."""
    prepared = prepare_www(www)
    names = [p["name"] for p in platforms]
    proc = _testbed_cli(["up", "--hosts", str(len(names)), "--names", ",".join(names), "--dir", str(workdir),
                         "--serve", str(www)])
    if proc.returncode != 0:
        raise RuntimeError("testbed up failed (%d):\n%s%s" % (proc.returncode, proc.stdout, proc.stderr))
    testbed = json.loads(proc.stdout)
    ssh_config_file.write_text(ssh_config_text(testbed["controller_netns"]), encoding="utf-8")
    ssh_config_file.chmod(0o600)
    instance_file.write_text(json.dumps(instance_config(platforms, testbed), indent=2) + "\n", encoding="utf-8")
    return {"www": prepared, "testbed": testbed}


def destroy(workdir: Path, instance_file: Path, control_path_dir: Optional[Path]) -> Dict[str, Any]:
    """Close the ssh masters in control_path_dir, take the testbed down, forget the instances."""
    closed = []
    if control_path_dir is not None and control_path_dir.is_dir():
        for sock in sorted(control_path_dir.iterdir()):
            subprocess.run(["ssh", "-o", "ControlPath=%s" % sock, "-O", "exit", "testbed"], capture_output=True,
                           check=False, timeout=30)
            closed.append(sock.name)
    proc = _testbed_cli(["down", "--dir", str(workdir)])
    if proc.returncode != 0:
        raise RuntimeError("testbed down failed (%d):\n%s%s" % (proc.returncode, proc.stdout, proc.stderr))
    if instance_file.parent.is_dir():
        instance_file.write_text("[]\n", encoding="utf-8")
    return {"closed_masters": closed, "down": True}


def main(argv: Optional[List[str]] = None) -> int:
    """Command line: prepare-www, create, destroy (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m tests.molecule_support", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare-www", help="build (or reuse) the folder the Molecule testbeds serve")
    prep.add_argument("dir", type=Path)
    make = sub.add_parser("create", help="boot testbed hosts for Molecule platforms")
    make.add_argument("--www", type=Path, required=True, help="the folder to serve (prepared first)")
    make.add_argument("--workdir", type=Path, required=True, help="the testbed's work folder")
    make.add_argument("--platforms", required=True, help="Molecule's platforms as JSON (name, testbed_user)")
    make.add_argument("--instance-config", type=Path, required=True)
    make.add_argument("--ssh-config", type=Path, required=True)
    stop = sub.add_parser("destroy", help="take the testbed down")
    stop.add_argument("--workdir", type=Path, required=True)
    stop.add_argument("--instance-config", type=Path, required=True)
    stop.add_argument("--control-path-dir", type=Path, help="ssh ControlPersist sockets to close first")
    args = parser.parse_args(argv)
    if args.command == "prepare-www":
        result = prepare_www(args.dir)
    elif args.command == "create":
        result = create(args.www, args.workdir, json.loads(args.platforms), args.instance_config, args.ssh_config)
    else:
        result = destroy(args.workdir, args.instance_config, args.control_path_dir)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
