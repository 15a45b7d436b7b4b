"""The two release artifacts, built from the same files as everything else:

- the saltext-pkgsrc wheel (pyproject.toml): installed into a fresh virtualenv, Salt finds its execution
  and state modules through the salt.loader entry point, with no file_roots and no saltutil.sync;
- the pkgsrc.deploy collection tarball (galaxy.yml): built from the git-tracked files plus the kind of
  clutter a working tree has (which build_ignore must keep out), installed offline, and ansible-doc
  renders every module from the installed copy.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
MODULES = ("bootstrap", "package", "service", "facts", "repository", "audit", "history", "health")
# What a working tree holds besides the sources, and build_ignore must keep out of the tarball.
CLUTTER = (".venv/bin/python", ".venv-py38/pyvenv.cfg", "build/collections/x", "tests/output/junit.xml",
           ".ansible/collections/x", ".pytest_cache/README.md", "benchmarks/results/x.json",
           "plugins/modules/__pycache__/x.cpython-311.pyc", "saltext_pkgsrc.egg-info/PKG-INFO",
           "dist/saltext_pkgsrc-0.1.0-py3-none-any.whl", "pkgsrc-deploy-0.0.1.tar.gz")
CLUTTER_DIRS = (".venv", ".venv-py38", "build", "tests/output", ".ansible", ".pytest_cache", "benchmarks",
                "saltext_pkgsrc.egg-info")

pytestmark = pytest.mark.slow


def run(argv: List[str], cwd: Path | None = None, env: Dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    detail = (argv, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    assert proc.returncode == 0, "%s failed (rc %d):\n%s\n%s" % detail
    return proc


def tracked_copy(dest: Path) -> Path:
    """The files git tracks (symlinks kept as symlinks), plus untracked files git does not ignore
    (new files not committed yet), copied to dest."""
    listing = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO).stdout
    for rel in sorted(set(p for p in listing.split("\0") if p)):
        src = REPO / rel
        if not os.path.lexists(src):
            continue  # deleted in the working tree, not committed yet
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), target)
        elif src.is_file():
            shutil.copy2(src, target)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """saltext-pkgsrc built with pip from a copy of the tree (the build writes build/ and *.egg-info)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tracked_copy(tmp / "src")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w", str(tmp / "out"),
         str(src)], timeout=600)
    wheels = list((tmp / "out").glob("saltext_pkgsrc-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_the_same_files_as_the_tree(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        entry_points = whl.read("saltext_pkgsrc-0.1.0.dist-info/entry_points.txt").decode()
        contents = {name: whl.read(name) for name in names if name.endswith(".py")}
    assert "[salt.loader]\nsaltext.pkgsrc = saltext.pkgsrc\n" in entry_points
    expected = {
        "saltext/pkgsrc/modules/": REPO / "salt_states" / "_modules",
        "saltext/pkgsrc/states/": REPO / "salt_states" / "_states",
        "saltext/pkgsrc/runners/": REPO / "salt_states" / "_runners",
        "pkgsrc_core/": REPO / "plugins" / "module_utils" / "pkgsrc_core",
    }
    for prefix, folder in expected.items():
        sources = {prefix + str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.py")
                   if "__pycache__" not in p.parts}
        assert sources, folder
        shipped = {name: data for name, data in contents.items() if name.startswith(prefix)}
        assert shipped == sources, "the wheel's %s is not %s" % (prefix, folder)
    assert "saltext/pkgsrc/__init__.py" in names
    assert not [n for n in names if n.startswith(("saltext/__init__", "tests/", "salt_states/", "plugins/"))]


def _venv_with(tmp: Path, wheel: Path | None) -> Path:
    """A fresh virtualenv that sees the project's Salt (a .pth line) and, if given, has the wheel installed."""
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    site = next((venv / "lib").glob("python3*/site-packages"))
    project_site = next(Path(p) for p in sys.path if p.endswith("site-packages") and Path(p, "salt").is_dir())
    (site / "project-salt.pth").write_text(str(project_site) + "\n")
    if wheel is not None:
        run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
             "--no-index", "--disable-pip-version-check", str(wheel)])
    return venv


def _salt_call(tmp: Path, venv: Path, *args: str) -> object:
    """salt-call --local in venv, with empty file_roots: nothing can come from a sync."""
    root = tmp / "salt"
    (root / "roots").mkdir(parents=True, exist_ok=True)
    conf = root / "etc"
    conf.mkdir(exist_ok=True)
    (conf / "minion").write_text(json.dumps({
        "file_client": "local", "root_dir": str(root), "pki_dir": str(root / "pki"), "cachedir": str(root / "cache"),
        "log_file": str(root / "minion.log"), "file_roots": {"base": [str(root / "roots")]},
        "pillar_roots": {"base": [str(root / "roots")]}, "id": "wheel-test", "enable_fqdns_grains": False,
    }))
    code = "import sys; from salt.scripts import salt_call; sys.argv[0] = 'salt-call'; salt_call()"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "LC_ALL": "C.UTF-8"}  # no PYTHONPATH: only the venv
    proc = run([str(venv / "bin" / "python"), "-W", "ignore", "-c", code, "--local", "-c", str(conf), "--out=json",
                "--log-level=quiet"] + list(args), cwd=tmp, env=env)
    assert not (root / "cache" / "extmods").exists(), "salt-call synced extension modules"
    return json.loads(proc.stdout)["local"]


def test_salt_finds_the_installed_wheel_without_file_roots(wheel: Path, tmp_path: Path) -> None:
    venv = _venv_with(tmp_path, wheel)
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert (site / "saltext" / "pkgsrc" / "states" / "pkgsrc_service.py").is_file()
    assert _salt_call(tmp_path, venv, "pkgsrc.version_cmp", "1.0rc1", "1.0") == -1
    assert _salt_call(tmp_path, venv, "pkgsrc.version_cmp", "1.0nb1", "1.0") == 1
    states = _salt_call(tmp_path, venv, "sys.list_state_functions", "pkgsrc", "pkgsrc_service")
    assert states == ["pkgsrc.bootstrapped", "pkgsrc.installed", "pkgsrc.latest", "pkgsrc.removed",
                      "pkgsrc.rolled_back", "pkgsrc_service.absent", "pkgsrc_service.checkpoint", "pkgsrc_service.dead",
                      "pkgsrc_service.healthy", "pkgsrc_service.mod_watch", "pkgsrc_service.registered",
                      "pkgsrc_service.running"]
    functions = _salt_call(tmp_path, venv, "sys.list_functions", "pkgsrc_service")
    assert functions == ["pkgsrc_service.health", "pkgsrc_service.manage"]
    runners = _salt_call(tmp_path, venv, "sys.list_runner_functions", "pkgsrc_report")
    assert runners and all(name.startswith("pkgsrc_report.") for name in runners)
    rollout = _salt_call(tmp_path, venv, "sys.list_runner_functions", "pkgsrc_rollout")
    assert rollout == ["pkgsrc_rollout.batch", "pkgsrc_rollout.finish", "pkgsrc_rollout.plan"]


def test_without_the_wheel_salt_has_no_pkgsrc_modules(tmp_path: Path) -> None:
    """The control: the same virtualenv and configuration, minus the wheel."""
    venv = _venv_with(tmp_path, None)
    assert _salt_call(tmp_path, venv, "sys.list_state_functions", "pkgsrc_service") == []
    assert _salt_call(tmp_path, venv, "sys.list_functions", "pkgsrc") == []


def test_collection_tarball_installs_offline_and_documents_every_module(tmp_path: Path) -> None:
    src = tracked_copy(tmp_path / "src")
    for rel in CLUTTER:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text("clutter\n")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "installed"),
               PATH="%s:%s" % (VENV_BIN, os.environ.get("PATH", "")))
    env.pop("ANSIBLE_CONFIG", None)
    run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path / "out"), str(src)],
        env=env)
    tarballs = list((tmp_path / "out").glob("pkgsrc-deploy-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    with tarfile.open(tarballs[0]) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("MANIFEST.json").read())  # type: ignore[union-attr]
    assert manifest["collection_info"]["namespace"] == "pkgsrc" and manifest["collection_info"]["name"] == "deploy"
    leaked = [rel for rel in CLUTTER if rel in names] + [d for d in CLUTTER_DIRS if d in names]
    assert leaked == [], "build_ignore let these in: %s" % leaked
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".whl"))]
    assert {"plugins/modules/%s.py" % m for m in MODULES} <= names
    assert "plugins/module_utils/pkgsrc_core/versions.py" in names

    run([str(VENV_BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(tmp_path / "installed"),
         str(tarballs[0])], env=env)
    installed = tmp_path / "installed" / "ansible_collections" / "pkgsrc" / "deploy"
    assert (installed / "MANIFEST.json").is_file()
    docs = json.loads(run([str(VENV_BIN / "ansible-doc"), "-t", "module", "--json"]
                          + ["pkgsrc.deploy." + m for m in MODULES], env=env).stdout)
    assert sorted(docs) == sorted("pkgsrc.deploy." + m for m in MODULES)
    for name, entry in docs.items():
        doc = entry["doc"]
        assert doc["filename"].startswith(str(installed)), (name, doc["filename"])
        assert doc["short_description"] and doc["options"], name
        assert entry["examples"] and entry["return"] is not None, name
    for module in MODULES:  # the text renderer too, as a user runs it
        text = run([str(VENV_BIN / "ansible-doc"), "pkgsrc.deploy." + module], env=env).stdout
        assert "pkgsrc.deploy." + module in text and "OPTIONS" in text and "EXAMPLES" in text
