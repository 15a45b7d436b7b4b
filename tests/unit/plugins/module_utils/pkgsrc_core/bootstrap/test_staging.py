"""staging.py: a staged tree is placed by renames, merged into existing directories, never over
files it does not own; the pkgdb subtree moves last; stale staging dirs are found by name."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap import staging


def make(path, text="x", mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


@pytest.fixture()
def staged(tmp_path):
    root = tmp_path / "root"
    (root / "opt").mkdir(parents=True)
    (root / "var" / "db").mkdir(parents=True)
    stage = staging.make_staging(str(root / "opt"))
    make(Path(stage, "opt/local/bin/pkgin"), "#!/bin/sh\n", 0o755)
    make(Path(stage, "opt/local/pkg/pkgin-26.4.0/+COMMENT"), "pkgin\n", 0o444)
    make(Path(stage, "var/db/pkgin/cache/.keep"), "")
    return root, stage


def test_fresh_tree_moves_as_two_renames_pkgdb_last(staged):
    root, stage = staged
    plan = staging.plan_placement(stage, str(root), last=("/opt/local/pkg",))
    assert [os.path.relpath(move[1], root) for move in plan.moves] == ["var/db/pkgin", "opt/local"]
    placed = staging.apply_placement(plan)
    assert (root / "opt/local/bin/pkgin").read_text() == "#!/bin/sh\n"
    assert (root / "var/db/pkgin/cache/.keep").exists()
    assert len(placed) == 2
    staging.discard(stage)
    assert not os.path.exists(stage)


def test_merge_into_existing_prefix_and_converge(staged):
    root, stage = staged
    make(root / "opt/local/bin/pkgin", "#!/bin/sh\n", 0o755)  # left by an interrupted run: identical
    plan = staging.plan_placement(stage, str(root), last=("/opt/local/pkg",))
    assert "/opt/local/bin/pkgin" in plan.kept
    assert os.path.relpath(plan.moves[-1][1], root) == "opt/local/pkg"


def test_conflicting_file_refused_and_nothing_moves(staged):
    root, stage = staged
    make(root / "opt/local/bin/pkgin", "someone else's\n")
    with pytest.raises(staging.PlacementConflict) as err:
        staging.plan_placement(stage, str(root))
    assert "/opt/local/bin/pkgin" in str(err.value) and "nothing was placed" in str(err.value)
    assert not (root / "var/db/pkgin").exists()


def test_replaceable_file_is_replaced(tmp_path):
    root = tmp_path / "root"
    make(root / "etc/paths.d/10-pkgsrc", "/old/bin\n")
    stage = staging.make_staging(str(tmp_path))
    make(Path(stage, "etc/paths.d/10-pkgsrc"), "/opt/pkg/sbin\n/opt/pkg/bin\n")
    plan = staging.plan_placement(stage, str(root), replaceable={"/etc/paths.d/10-pkgsrc"})
    assert plan.replaced == ("/etc/paths.d/10-pkgsrc",)
    staging.apply_placement(plan)
    assert (root / "etc/paths.d/10-pkgsrc").read_text() == "/opt/pkg/sbin\n/opt/pkg/bin\n"


def test_find_stale_only_matches_our_naming(tmp_path):
    ours = staging.make_staging(str(tmp_path))
    (tmp_path / ".pkgsrc-bootstrap-staging-x").mkdir()  # too short to be ours
    (tmp_path / "other").mkdir()
    os.symlink(str(tmp_path / "other"), str(tmp_path / ".pkgsrc-bootstrap-staging-symlink1"))
    assert staging.find_stale([str(tmp_path), str(tmp_path / "missing")]) == (ours,)


def test_staging_parent_is_nearest_existing(tmp_path):
    (tmp_path / "usr").mkdir()
    assert staging.staging_parent(str(tmp_path), "/usr/pkg") == str(tmp_path / "usr")
    assert staging.staging_parent(str(tmp_path), "/opt/pkg") == str(tmp_path)


def test_staging_dir_is_private(tmp_path):
    stage = staging.make_staging(str(tmp_path))
    assert os.stat(stage).st_mode & 0o777 == 0o700


def test_subtree_on_another_filesystem_is_copied_beside_then_renamed(tmp_path):
    other = "/dev/shm"
    if not os.path.isdir(other) or os.stat(other).st_dev == os.stat(str(tmp_path)).st_dev:
        pytest.skip("needs a second filesystem (/dev/shm as tmpfs)")
    import tempfile  # pylint: disable=import-outside-toplevel

    root = tempfile.mkdtemp(prefix="pkgsrc-staging-test-", dir=other)
    try:
        stage = staging.make_staging(str(tmp_path))
        make(Path(stage, "opt/pkg/bin/tool"), "#!/bin/sh\n", 0o755)
        os.symlink("tool", os.path.join(stage, "opt/pkg/bin/alias"))
        plan = staging.plan_placement(stage, root)
        staging.apply_placement(plan)
        assert Path(root, "opt/pkg/bin/tool").read_text() == "#!/bin/sh\n"
        assert os.stat(os.path.join(root, "opt/pkg/bin/tool")).st_mode & 0o777 == 0o755
        assert os.readlink(os.path.join(root, "opt/pkg/bin/alias")) == "tool"
        assert staging.find_stale([root]) == ()  # the copy's holder was removed
    finally:
        import shutil  # pylint: disable=import-outside-toplevel

        shutil.rmtree(root, ignore_errors=True)
