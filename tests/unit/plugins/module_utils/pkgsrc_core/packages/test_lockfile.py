"""Lock files: parsing and its errors, building from the real sample package databases, drift,
and the request that applies a lock; the kit's packages (kit.py) on the same databases."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages import kit, lockfile
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.converge import read_installed
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.pkgdb import read_pkgdb
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.plan import (
    PackageRequest, plan_packages)


def _samples() -> Path:
    env = os.environ.get("PKGSRC_SAMPLES")
    found = Path(env) if env else Path(__file__).resolve().parents[5] / "data" / "samples"
    if not (found / "pkgdb-final").is_dir():
        raise RuntimeError("real-tool samples not found in %s (see tests/data/README.md)" % found)
    return found


SAMPLES = _samples()
KIT_PKGNAMES = ["bmake-20150505", "bootstrap-mk-files-20170802", "cwrappers-20170611", "nawk-20121220nb1",
                "pkg_install-20170419", "pkgin-26.4.0"]

GOOD = {
    "lock_version": 1,
    "prefix": "/opt/pkg",
    "taken_at": "2026-12-05T12:00:00Z",
    "taken_from": "web1",
    "packages": [{"pkgname": "libfoo-2.0nb1", "automatic": True}, {"pkgname": "foo-tool-3.2", "automatic": False},
                 {"pkgname": "gtk2+-2.24.33nb5"}],
}


def _prefix(tmp_path, sample, marker=None):
    root = tmp_path / "root"
    shutil.copytree(SAMPLES / sample, root / "opt/pkg/pkgdb")
    if marker is not None:
        (root / "opt/pkg/etc").mkdir(parents=True)
        (root / "opt/pkg/etc/pkgsrc-deploy.json").write_text(json.dumps(marker))
    return Layout("/opt/pkg", "/opt/pkg/pkgdb", "/opt/pkg/etc", "/opt/pkg/var", root=str(root))


def test_parse_a_good_lock():
    lock = lockfile.parse_lock(GOOD)
    assert lock.pkgnames == ("foo-tool-3.2", "gtk2+-2.24.33nb5", "libfoo-2.0nb1")
    assert lock.automatic == ("libfoo-2.0nb1",)
    assert (lock.prefix, lock.taken_at, lock.taken_from, lock.version) == (
        "/opt/pkg", "2026-12-05T12:00:00Z", "web1", 1)
    again = lockfile.parse_lock(json.loads(json.dumps(lock.as_dict())))
    assert again == lock
    assert list(lock.as_dict()) == ["lock_version", "prefix", "taken_at", "taken_from", "packages"]


def test_a_minimal_lock_names_only_packages():
    lock = lockfile.parse_lock({"lock_version": 1, "packages": []})
    assert lock.packages == () and lock.prefix is None and lock.taken_at is None


BAD = [
    (None, "holds nothing, not a lock"),
    (["hello-1.0"], "holds a list, not a lock"),
    ({"packages": []}, "has no lock_version"),
    ({"lock_version": 2, "packages": []}, "reads lock_version 1 only"),
    ({"lock_version": "1", "packages": []}, "not a positive whole number"),
    ({"lock_version": True, "packages": []}, "not a positive whole number"),
    ({"lock_version": 1}, "packages is missing"),
    ({"lock_version": 1, "packages": {"hello": "1.0"}}, "packages is a dict, not a list"),
    ({"lock_version": 1, "packages": [], "pakages": []}, "unknown key pakages"),
    ({"lock_version": 1, "packages": ["hello-1.0"]}, "packages[0] is 'hello-1.0', not {pkgname"),
    ({"lock_version": 1, "packages": [{"automatic": True}]}, "packages[0] has no pkgname"),
    ({"lock_version": 1, "packages": [{"pkgname": "hello"}]}, "'hello' is not an exact PKGNAME"),
    ({"lock_version": 1, "packages": [{"pkgname": "hello>=1.0"}]}, "not an exact PKGNAME"),
    ({"lock_version": 1, "packages": [{"pkgname": "hello-1.*"}]}, "not an exact PKGNAME"),
    ({"lock_version": 1, "packages": [{"pkgname": "hello-1.0", "automatic": "yes"}]}, "automatic is 'yes'"),
    ({"lock_version": 1, "packages": [{"pkgname": "hello-1.0", "version": "1.0"}]}, "has unknown key version"),
    ({"lock_version": 1, "packages": [{"pkgname": "hello-1.0"}, {"pkgname": "hello-1.1"}]},
     "lists hello twice (hello-1.0 and hello-1.1)"),
    ({"lock_version": 1, "packages": [], "prefix": "opt/pkg"}, "prefix 'opt/pkg' is not an absolute path"),
    ({"lock_version": 1, "packages": [], "taken_at": 20261205}, "taken_at is 20261205, not a text"),
]


@pytest.mark.parametrize("data,words", BAD)
def test_bad_locks_say_what_is_wrong_and_what_to_do(data, words):
    with pytest.raises(lockfile.LockFileError) as err:
        lockfile.parse_lock(data, "web.lock.yml")
    assert "web.lock.yml" in err.value.message
    assert words in err.value.message
    assert err.value.hint


def test_lock_of_a_real_package_database(tmp_path):
    layout = _prefix(tmp_path, "pkgdb-after-foo-tool")
    lock = lockfile.prefix_lock(layout, "2026-12-05T12:00:00Z", "web1")
    assert lock.prefix == "/opt/pkg"
    assert lock.pkgnames == tuple(sorted(KIT_PKGNAMES + ["foo-tool-3.2", "libfoo-2.0nb1"]))
    assert lock.automatic == ("libfoo-2.0nb1",)  # pkgin pulled it in (samples/transcripts.md)
    assert lockfile.parse_lock(lock.as_dict()) == lock


def test_drift_of_the_same_set_is_clean(tmp_path):
    layout = _prefix(tmp_path, "pkgdb-after-foo-tool")
    pkgdb = read_pkgdb(layout.host(layout.pkg_dbdir))
    lock = lockfile.prefix_lock(layout)
    assert lockfile.compare(lock, ((p.pkgname, p.automatic) for p in pkgdb)).clean


def test_drift_names_every_difference():
    lock = lockfile.parse_lock(GOOD)
    have = [("foo-tool-3.1", False), ("libfoo-2.0nb1", False), ("hello-1.0", False), ("pkgin-26.4.0", False)]
    drift = lockfile.compare(lock, have, keep=["pkgin"])
    assert drift.missing == ("gtk2+-2.24.33nb5",)
    assert drift.wrong_version == (("foo-tool-3.2", "foo-tool-3.1"),)
    assert drift.extra == ("hello-1.0",)
    assert drift.automatic == (("libfoo-2.0nb1", True),)
    assert not drift.clean
    assert drift.as_dict() == {"missing": ["gtk2+-2.24.33nb5"],
                               "wrong_version": [{"locked": "foo-tool-3.2", "installed": "foo-tool-3.1"}],
                               "extra": ["hello-1.0"], "automatic": [{"pkgname": "libfoo-2.0nb1", "automatic": True}]}


def test_a_lock_applied_to_another_real_database_plans_the_difference(tmp_path):
    # Host A after `pkgin install foo-tool`; host B at the end of the scenario (foo-tool removed).
    lock = lockfile.prefix_lock(_prefix(tmp_path / "a", "pkgdb-after-foo-tool"))
    layout_b = _prefix(tmp_path / "b", "pkgdb-final")
    request = lockfile.lock_request(lock, update_cache=True)
    assert request.exact and request.state == "present" and request.update_cache
    plan = plan_packages(request.names, request.state, read_installed(layout_b.host(layout_b.pkg_dbdir)),
                         ["foo-tool-3.2", "libfoo-2.0nb1", "hello-1.1"], exact=True, automatic=request.automatic,
                         kit=kit.kit_packages(layout_b))
    assert [(c.action, c.pkgname) for c in plan.changes] == [
        ("install", "foo-tool-3.2"), ("install", "libfoo-2.0nb1"), ("unkeep", "libfoo-2.0nb1")]


def test_with_lock_takes_the_other_options_and_the_lock_prefix():
    base = PackageRequest(update_cache=True, clean=True, lock_timeout=5.0)
    request, prefix = lockfile.with_lock(base, GOOD)
    assert prefix == "/opt/pkg"
    assert (request.names, request.exact, request.automatic) == (
        ("foo-tool-3.2", "gtk2+-2.24.33nb5", "libfoo-2.0nb1"), True, ("libfoo-2.0nb1",))
    assert (request.update_cache, request.clean, request.lock_timeout) == (True, True, 5.0)
    assert lockfile.with_lock(base, GOOD, "/usr/pkg")[1] == "/usr/pkg"
    for other in (PackageRequest(names=("hello",)), PackageRequest(state="absent"), PackageRequest(upgrade=True)):
        with pytest.raises(lockfile.LockFileError) as err:
            lockfile.with_lock(other, GOOD)
        assert err.value.hint
    with pytest.raises(lockfile.LockFileError, match="the lock option has no lock_version"):
        lockfile.with_lock(base, {"packages": []})


@pytest.mark.parametrize("option", ["names", "state", "upgrade", "autoremove"])
def test_a_lock_refuses_options_that_contradict_it(option):
    with pytest.raises(lockfile.LockFileError) as err:
        lockfile.lock_request(lockfile.parse_lock(GOOD), **{option: ["x"] if option == "names" else "latest"
                                                            if option == "state" else True})
    assert option in err.value.message


# --- the kit's packages ---------------------------------------------------------------------

def test_kit_packages_of_the_real_kit_without_a_record(tmp_path):
    # No state file: the known kit names, the package tools and the +PRESERVE packages.
    layout = _prefix(tmp_path, "pkgdb-after-foo-tool")
    assert kit.kit_packages(layout) == ("bmake", "bootstrap-mk-files", "cwrappers", "nawk", "pkg_install", "pkgin")


def test_kit_packages_recorded_by_the_bootstrap_win(tmp_path):
    layout = _prefix(tmp_path, "pkgdb-after-foo-tool", {"tool": "pksrc.deploy", "kit_packages": [
        "pkgin-26.4.0", "cwrappers", "libfoo-2.0nb1"]})
    # recorded ones, plus pkg_install and the +PRESERVE ones (bmake, bootstrap-mk-files, nawk, pkg_install)
    assert kit.kit_packages(layout) == ("bmake", "bootstrap-mk-files", "cwrappers", "libfoo", "nawk",
                                        "pkg_install", "pkgin")


@pytest.mark.parametrize("text", [None, "", "not json", "[]", '{"kit_packages": "pkgin"}', '{"kit_packages": [1]}'])
def test_no_usable_record_means_derived_names(text):
    assert kit.recorded_kit_packages(text) is None
