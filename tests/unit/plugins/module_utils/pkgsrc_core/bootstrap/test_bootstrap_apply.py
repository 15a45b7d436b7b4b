"""apply side of the bootstrap in temporary directories: a kit into an alternate root, a bootstrap
from a source tree (a stand-in bootstrap script, run for real), the upgrade sequence, removal."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap import plan as bs

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap.apply import bootstrap
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import (
    CommandError, LockError, PkgsrcError)
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.lock import PkgdbLock
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.runner import Result, Runner, SubprocessRunner


def linux_probe(home):
    return {"sysname": "Linux", "release": "6.1.0", "version": "#1", "machine": "x86_64",
            "os_release": 'ID=debian\nVERSION_ID="12"\n', "exists": {"/run/systemd/system": True},
            "euid": os.geteuid(), "home": str(home)}


def small_kit(path, prefix="/opt/pkg"):
    top = "." + prefix
    members = [
        (top + "/", None, 0o755, tarfile.DIRTYPE),
        (top + "/bin/", None, 0o755, tarfile.DIRTYPE),
        (top + "/bin/pkgin", b"#!/bin/sh\nexit 0\n", 0o755, tarfile.REGTYPE),
        (top + "/etc/", None, 0o755, tarfile.DIRTYPE),
        (top + "/etc/mk.conf", ("PKG_DBDIR=\t%s/pkgdb\nLOCALBASE=\t%s\nVARBASE=\t%s/var\n" % (prefix, prefix, prefix))
         .encode(), 0o644, tarfile.REGTYPE),
        (top + "/etc/pkg_install.conf", b"PKG_PATH=http://127.0.0.1:1/All\nVERIFIED_INSTALLATION=never\n", 0o644,
         tarfile.REGTYPE),
        (top + "/pkgdb/", None, 0o755, tarfile.DIRTYPE),
        (top + "/pkgdb/pkg_install-20170419/", None, 0o755, tarfile.DIRTYPE),
        (top + "/pkgdb/pkg_install-20170419/+COMMENT", b"tools\n", 0o444, tarfile.REGTYPE),
        (top + "/pkgdb/pkgin-26.4.0/", None, 0o755, tarfile.DIRTYPE),
        (top + "/pkgdb/pkgin-26.4.0/+COMMENT", b"pkgin\n", 0o444, tarfile.REGTYPE),
    ]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode, kind in members:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.size = kind, mode, len(data or b"")
            tar.addfile(info, io.BytesIO(data) if data else None)
    blob = gzip.compress(raw.getvalue())
    Path(path).write_bytes(blob)
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def tree(top):
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        for name in sorted(dirnames + filenames):
            out.append(os.path.relpath(os.path.join(dirpath, name), top))
    return sorted(out)


def test_kit_into_alternate_root(tmp_path):
    kit = tmp_path / "kit.tgz"
    checksum = small_kit(kit)
    root = tmp_path / "root"
    root.mkdir()
    req = bs.BootstrapRequest(method="kit", kit_url="file://%s" % kit, kit_checksum=checksum, prefix="/opt/pkg",
                              root=str(root), repositories=("https://pkgsrc.example/All",),
                              cache_dir=str(tmp_path / "cache"))
    probe = linux_probe(tmp_path / "home")
    checked = bootstrap(req, check_mode=True, probe=probe)
    assert checked.changed and tree(root) == []
    result = bootstrap(req, probe=probe)
    assert result.changed
    assert (root / "opt/pkg/bin/pkgin").stat().st_mode & 0o777 == 0o755
    assert (root / "opt/pkg/etc/pkgin/repositories.conf").read_text().endswith("https://pkgsrc.example/All\n")
    assert "PKG_PATH=https://pkgsrc.example/All\n" in (root / "opt/pkg/etc/pkg_install.conf").read_text()
    assert result.layout["pkg_dbdir"] == "/opt/pkg/pkgdb"  # read from the kit's mk.conf
    marker = json.loads((root / "opt/pkg/etc/pkgsrc-deploy.json").read_text())
    assert marker["method"] == "kit" and marker["roots"] == ["/opt/pkg"] and "root" not in marker["layout"]
    assert any("pkgin update skipped" in m for m in result.messages)
    assert not [n for n in os.listdir(root / "opt") if n.startswith(".pkgsrc-bootstrap-staging-")]
    again = bootstrap(req, probe=probe)
    assert again.changed is False and again.existing["pkgin"] == "26.4.0"
    gone = bootstrap(bs.BootstrapRequest(state="absent", prefix="/opt/pkg", root=str(root)), probe=probe)
    assert gone.changed and not (root / "opt/pkg").exists()
    assert not (root / "etc/profile.d/pkgsrc.sh").exists() or os.geteuid() != 0


def test_wrong_checksum_writes_nothing(tmp_path):
    kit = tmp_path / "kit.tgz"
    small_kit(kit)
    root = tmp_path / "root"
    root.mkdir()
    req = bs.BootstrapRequest(method="kit", kit_url=str(kit), kit_checksum="sha256:" + "0" * 64, prefix="/opt/pkg",
                              root=str(root), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(PkgsrcError) as err:
        bootstrap(req, probe=linux_probe(tmp_path))
    assert "does not match its checksum" in str(err.value)
    assert tree(root) == []


class FakeRunner(Runner):
    """Records argv; acts on a pkgdb the way the package tools would."""

    def __init__(self, pkgdb, effects=None):
        self.pkgdb = Path(pkgdb)
        self.calls = []
        self.effects = list(effects or [])

    def run(self, argv, env=None, cwd=None, stdin=None):
        self.calls.append(list(argv))
        if self.effects:
            for old, new in self.effects.pop(0):
                os.rename(self.pkgdb / old, self.pkgdb / new)
        return Result(tuple(argv), 0, "", "")


def _install(prefix, names):
    for name in names:
        (prefix / "pkgdb" / name).mkdir(parents=True)
    (prefix / "bin").mkdir(exist_ok=True)
    (prefix / "bin" / "pkgin").write_text("#!/bin/sh\n")


def test_upgrade_runs_pkgin_twice_when_it_upgraded_itself(tmp_path):
    prefix = tmp_path / "pkg"
    _install(prefix, ["pkg_install-20170419", "pkgin-26.4.0", "hello-1.0"])
    runner = FakeRunner(prefix / "pkgdb", [
        [("pkg_install-20170419", "pkg_install-20240101")],  # pkg_add -U
        [],                                                  # pkgin clean
        [("pkgin-26.4.0", "pkgin-26.5.0")],                  # first upgrade: pkgin itself
        [("hello-1.0", "hello-1.1")],                        # second upgrade: the rest
    ])
    req = bs.BootstrapRequest(state="upgraded", prefix=str(prefix), unprivileged=True)
    result = bootstrap(req, runner=runner, probe=linux_probe(tmp_path))
    p = str(prefix)
    assert runner.calls == [[p + "/sbin/pkg_add", "-U", "pkg_install", "pkgin", "libarchive"],
                            [p + "/bin/pkgin", "clean"], [p + "/bin/pkgin", "-y", "upgrade"],
                            [p + "/bin/pkgin", "-y", "upgrade"]]
    assert result.changed
    assert any("pkgin upgraded itself (26.4.0 -> 26.5.0)" in m for m in result.messages)
    assert any("hello-1.0 -> hello-1.1" in m for m in result.messages)
    assert result.diff[0]["after"] == "hello-1.1\npkg_install-20240101\npkgin-26.5.0\n"


def test_upgrade_with_nothing_to_do(tmp_path):
    prefix = tmp_path / "pkg"
    _install(prefix, ["pkg_install-20240101", "pkgin-26.5.0"])
    runner = FakeRunner(prefix / "pkgdb")
    result = bootstrap(bs.BootstrapRequest(state="upgraded", prefix=str(prefix), unprivileged=True),
                       runner=runner, probe=linux_probe(tmp_path))
    assert result.changed is False and len(runner.calls) == 3
    assert "everything was up to date" in result.messages


def test_upgrade_waits_for_the_package_database_lock(tmp_path):
    prefix = tmp_path / "pkg"
    _install(prefix, ["pkg_install-20240101", "pkgin-26.5.0"])
    runner = FakeRunner(prefix / "pkgdb")
    req = bs.BootstrapRequest(state="upgraded", prefix=str(prefix), unprivileged=True, lock_timeout=0.3)
    with PkgdbLock(str(prefix / "pkgdb")):  # a package run in progress
        with pytest.raises(LockError) as err:
            bootstrap(req, runner=runner, probe=linux_probe(tmp_path))
    assert "package database lock" in str(err.value) and "pid %d" % os.getpid() in str(err.value)
    assert runner.calls == []
    assert bootstrap(req, runner=runner, probe=linux_probe(tmp_path)).changed is False
    assert len(runner.calls) == 3


def test_repository_change_runs_pkgin_update_by_absolute_path(tmp_path):
    prefix = tmp_path / "pkg"
    _install(prefix, ["pkg_install-20240101", "pkgin-26.5.0"])
    runner = FakeRunner(prefix / "pkgdb")
    req = bs.BootstrapRequest(prefix=str(prefix), unprivileged=True, repositories=("https://r.example/All",),
                              manage_path=False)
    result = bootstrap(req, runner=runner, probe=linux_probe(tmp_path))
    assert runner.calls == [[str(prefix / "bin/pkgin"), "-f", "-y", "update"]]
    assert result.changed
    runner.calls.clear()
    assert bootstrap(req, runner=runner, probe=linux_probe(tmp_path)).changed is False
    assert runner.calls == []


STAND_IN_BOOTSTRAP = r"""#!/bin/sh
# Test stand-in for pkgsrc's bootstrap/bootstrap: records how it was run, makes a tiny install.
if [ -n "$PKG_PATH" ]; then echo "ERROR: Please unset PKG_PATH before running bootstrap." 1>&2; exit 1; fi
case "$SH" in /*) ;; *) echo "ERROR: The variable SH must contain an absolute path" 1>&2; exit 1 ;; esac
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift ;;
    --pkgdbdir) pkgdbdir=$2; shift ;;
    --sysconfdir) sysconfdir=$2; shift ;;
    --varbase) varbase=$2; shift ;;
    --workdir) workdir=$2; shift ;;
    --mk-fragment) fragment=$2; shift ;;
  esac
  shift
done
mkdir -p "$workdir" "$prefix/bin" "$pkgdbdir/pkg_install-20240101" "$pkgdbdir/bmake-20240101" "$sysconfdir"
{ printf 'PKG_DBDIR=\t%s\nLOCALBASE=\t%s\nVARBASE=\t%s\n' "$pkgdbdir" "$prefix" "$varbase"
  [ -n "$fragment" ] && cat "$fragment"; } > "$sysconfdir/mk.conf"
env | sort > "$prefix/bootstrap-env.txt"
pwd > "$prefix/bootstrap-cwd.txt"
echo "===> bootstrap complete"
"""


def _tree_with_script(tmp_path, text=STAND_IN_BOOTSTRAP):
    script = tmp_path / "pkgsrc" / "bootstrap" / "bootstrap"
    script.parent.mkdir(parents=True)
    script.write_text(text)
    script.chmod(0o755)
    return tmp_path / "pkgsrc"


def test_bootstrap_from_source(tmp_path, monkeypatch):
    monkeypatch.setenv("PKG_PATH", "http://should-not-leak/All")
    monkeypatch.setenv("SECRET_TOKEN", "do-not-pass")
    src = _tree_with_script(tmp_path)
    prefix = tmp_path / "pkg"
    req = bs.BootstrapRequest(source_path=str(src), prefix=str(prefix), unprivileged=True,
                              mk_fragment="PKG_DEVELOPER=yes\n", cache_dir=str(tmp_path / "cache"), manage_path=False)
    result = bootstrap(req, runner=SubprocessRunner(), probe=linux_probe(tmp_path))
    assert result.changed and result.method == "source"
    env = dict(line.split("=", 1) for line in (prefix / "bootstrap-env.txt").read_text().splitlines())
    assert "PKG_PATH" not in env and "SECRET_TOKEN" not in env
    assert env["LC_ALL"] == "C" and env["SH"].startswith("/")
    assert (prefix / "bootstrap-cwd.txt").read_text().strip() == str(src / "bootstrap")
    assert "PKG_DEVELOPER=yes" in (prefix / "etc/mk.conf").read_text()
    marker = json.loads((prefix / "etc/pkgsrc-deploy.json").read_text())
    assert marker["method"] == "source" and marker["roots"] == [str(prefix)]
    assert "--unprivileged" in marker["bootstrap_args"]
    assert not (tmp_path / "cache" / "bootstrap-work").exists()
    again = bootstrap(req, runner=SubprocessRunner(), probe=linux_probe(tmp_path))
    assert again.changed is False and again.existing["pkg_install"] == "20240101"


def test_failed_source_bootstrap_reports_and_leaves_no_marker(tmp_path):
    src = _tree_with_script(tmp_path, "#!/bin/sh\necho '===> building bmake'\necho broken 1>&2\nexit 3\n")
    prefix = tmp_path / "pkg"
    req = bs.BootstrapRequest(source_path=str(src), prefix=str(prefix), unprivileged=True,
                              cache_dir=str(tmp_path / "cache"), manage_path=False)
    with pytest.raises(CommandError) as err:
        bootstrap(req, runner=SubprocessRunner(), probe=linux_probe(tmp_path))
    assert err.value.rc == 3 and "bootstrap failed" in str(err.value) and "broken" in str(err.value)
    assert not (prefix / "etc/pkgsrc-deploy.json").exists()
    assert (tmp_path / "cache" / "bootstrap.log").is_file()


def test_source_path_through_a_symlink_is_refused(tmp_path):
    src = _tree_with_script(tmp_path)
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(str(real), str(tmp_path / "link"))
    req = bs.BootstrapRequest(source_path=str(src), prefix=str(tmp_path / "link" / "pkg"), unprivileged=True,
                              cache_dir=str(tmp_path / "cache"), manage_path=False)
    with pytest.raises(PkgsrcError) as err:
        bootstrap(req, runner=SubprocessRunner(), probe=linux_probe(tmp_path))
    assert "canonical" in str(err.value) and str(real) in str(err.value)


def test_unprivileged_profile_block_and_removal(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".profile").write_text("umask 022\n")
    os.chmod(home / ".profile", 0o600)
    src = _tree_with_script(tmp_path)
    prefix = home / "pkg"
    req = bs.BootstrapRequest(source_path=str(src), unprivileged=True, cache_dir=str(tmp_path / "cache"))
    result = bootstrap(req, runner=SubprocessRunner(), probe=linux_probe(home))
    assert result.layout["prefix"] == str(prefix)
    text = (home / ".profile").read_text()
    assert text.startswith("umask 022\n# BEGIN pkgsrc.deploy %s\n" % prefix)
    assert os.stat(home / ".profile").st_mode & 0o777 == 0o600  # the file's own mode is kept
    marker = json.loads((prefix / "etc/pkgsrc-deploy.json").read_text())
    assert marker["profile_blocks"] == [[str(home / ".profile"), "pkgsrc.deploy %s" % prefix]]
    gone = bootstrap(bs.BootstrapRequest(state="absent", unprivileged=True), runner=SubprocessRunner(),
                     probe=linux_probe(home))
    assert gone.changed and not prefix.exists()
    assert (home / ".profile").read_text() == "umask 022\n"


def test_bootstrap_from_a_source_tarball_url(tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode, kind in [("pkgsrc/", None, 0o755, tarfile.DIRTYPE),
                                       ("pkgsrc/bootstrap/", None, 0o755, tarfile.DIRTYPE),
                                       ("pkgsrc/bootstrap/bootstrap", STAND_IN_BOOTSTRAP.encode(), 0o755,
                                        tarfile.REGTYPE),
                                       ("pkgsrc/doc/", None, 0o755, tarfile.DIRTYPE),
                                       ("pkgsrc/doc/README", b"pkgsrc\n", 0o644, tarfile.REGTYPE)]:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.size = kind, mode, len(data or b"")
            tar.addfile(info, io.BytesIO(data) if data else None)
    blob = gzip.compress(raw.getvalue())
    source = tmp_path / "pkgsrc.tar.gz"
    source.write_bytes(blob)
    prefix = tmp_path / "pkg"
    req = bs.BootstrapRequest(source_url="file://%s" % source, source_checksum="sha512:" + hashlib.sha512(blob)
                              .hexdigest(), prefix=str(prefix), unprivileged=True, cache_dir=str(tmp_path / "cache"),
                              manage_path=False)
    result = bootstrap(req, runner=SubprocessRunner(), probe=linux_probe(tmp_path))
    assert result.changed and (prefix / "pkgdb" / "pkg_install-20240101").is_dir()
    assert any(a.startswith("unpacked ") for a in result.actions)
    cwd = (prefix / "bootstrap-cwd.txt").read_text().strip()
    assert cwd.startswith(str(tmp_path / "cache" / "src-")) and cwd.endswith("/pkgsrc/bootstrap")
