"""lock.py: one holder at a time, a timeout that names the holder, and per-prefix bootstrap locks."""
from __future__ import annotations

import os

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core import lock
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import LockError


def test_second_holder_times_out_naming_the_first(tmp_path):
    path = str(tmp_path / "x.lock")
    with lock.FileLock(path, "bootstrap"):
        with pytest.raises(LockError) as err:
            with lock.FileLock(path, "bootstrap", timeout=0.2, poll=0.05):
                pass
    assert "pid %d" % os.getpid() in str(err.value)
    assert "bootstrap lock %s" % path in str(err.value)


def test_lock_is_free_again_after_the_block(tmp_path):
    path = str(tmp_path / "x.lock")
    with lock.FileLock(path, "bootstrap"):
        pass
    with lock.FileLock(path, "bootstrap", timeout=0.2) as held:
        assert held.waited < 0.2
    assert open(path).read() == ""  # the pid is cleared on release


def test_pkgdb_lock_sits_beside_the_pkgdb(tmp_path):
    dbdir = tmp_path / "pkgdb"
    dbdir.mkdir()
    with lock.PkgdbLock(str(dbdir)) as held:
        assert held.path == str(tmp_path / "pkgdb.pkgsrc-deploy.lock")
        assert open(held.path).read().strip() == str(os.getpid())
    assert os.listdir(dbdir) == []


@pytest.mark.parametrize("root,prefix,readable", [
    ("/", "/opt/pkg", "opt-pkg"),
    ("/srv/alt root", "/opt/pkg", "srv-alt-root-opt-pkg"),
    ("/", "/home/grid/pkg", "home-grid-pkg"),
])
def test_bootstrap_lock_names(root, prefix, readable):
    path = lock.bootstrap_lock_path("/var/tmp/pkgsrc-deploy", root, prefix)
    name = os.path.basename(path)
    assert os.path.dirname(path) == "/var/tmp/pkgsrc-deploy"
    assert name.startswith("bootstrap-%s-" % readable) and name.endswith(".lock")


def test_bootstrap_locks_differ_per_place():
    places = [("/", "/opt/pkg"), ("/", "/opt/pkg2"), ("/a", "/opt/pkg"), ("/", "/opt-pkg")]
    names = {lock.bootstrap_lock_path("/c", root, prefix) for root, prefix in places}
    assert len(names) == 4
