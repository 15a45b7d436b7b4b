"""The commands the pkgin backend builds, and when `pkgin update` is forced."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import CommandError, PkgsrcError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.converge import _run
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.plan import Installed, plan_packages
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.tools import (
    Command, not_available, pkgin_commands, pkgin_loaded, pkgin_update_command, record_pkgin_loaded)
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.runner import Result


def _layout(tmp_path, *urls):
    layout = Layout(prefix="/opt/pkg", pkg_dbdir="/opt/pkg/pkgdb", sysconfdir="/opt/pkg/etc",
                    varbase="/opt/pkg/var", root=str(tmp_path))
    conf = tmp_path / "opt/pkg/etc/pkgin/repositories.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("# repositories\n" + "".join(u + "\n" for u in urls))
    return layout, conf


def test_update_is_forced_until_the_loaded_list_is_known_then_when_it_changes(tmp_path):
    layout, conf = _layout(tmp_path, "http://a/All")
    pkgin = str(tmp_path / "opt/pkg/bin/pkgin")
    assert pkgin_loaded(layout) is None
    assert pkgin_update_command(layout).argv == (pkgin, "-f", "-y", "update")
    record_pkgin_loaded(layout)
    assert pkgin_loaded(layout) == ["http://a/All"]
    assert pkgin_update_command(layout).argv == (pkgin, "-y", "update")  # the cheap one
    conf.write_text("http://a/All\nhttp://b/All\n")  # a repository added beside the first
    assert pkgin_update_command(layout).argv == (pkgin, "-f", "-y", "update")
    record_pkgin_loaded(layout)
    assert pkgin_update_command(layout).argv == (pkgin, "-y", "update")
    assert pkgin_update_command(layout, force=True).argv == (pkgin, "-f", "-y", "update")
    mode = (tmp_path / "opt/pkg/var/db/pkgsrc-deploy/pkgin-repositories").stat().st_mode & 0o777
    assert mode == 0o644


def test_upgrade_all_installs_the_planned_pkgnames(tmp_path):
    layout, _conf = _layout(tmp_path, "http://a/All")
    have = {"hello": Installed("hello-1.2"), "libfoo": Installed("libfoo-2.0nb1", True, ("foo-tool-3.2",)),
            "foo-tool": Installed("foo-tool-3.2")}
    plan = plan_packages([], "present", have, ["hello-1.1", "libfoo-2.0nb2", "foo-tool-3.2"], upgrade_all=True)
    argvs = [c.argv[1:] for c in pkgin_commands(plan, layout)]
    # Never `pkgin upgrade`: it would take hello-1.2 back to 1.1.
    assert argvs == [("-y", "install", "libfoo-2.0nb2")]


def test_not_available_reads_pkgin_s_own_words():
    error = CommandError(["pkgin", "-y", "install", "big-1.0", "hello-1.1"], 1,
                         "calculating dependencies...done.\nnothing to do.\n",
                         "big-1.0 is not available in the repository\n")
    assert not_available(error) == ["big-1.0"]
    assert not_available(CommandError(["pkgin"], 1, "", "pkgin: Could not fetch URL: Not Found\n")) == []


def test_autoremove_removes_exactly_the_planned_orphans(tmp_path):
    layout, _conf = _layout(tmp_path, "http://a/All")
    have = {"libfoo": Installed("libfoo-2.0nb1", True), "hello": Installed("hello-1.0", True)}
    plan = plan_packages(["libfoo"], "present", have, None, autoremove=True)
    argvs = [c.argv[1:] for c in pkgin_commands(plan, layout)]
    assert argvs == [("-y", "keep", "libfoo"), ("-y", "remove", "hello")]


class _Refusing:
    """A pkgin that keeps saying "not available" for big-1.0 (a Runner, recording its calls)."""

    def __init__(self):
        self.calls = []

    def run(self, argv, env=None, cwd=None, stdin=None):  # pylint: disable=unused-argument
        self.calls.append(list(argv[1:]))
        if list(argv[1:3]) == ["-y", "install"]:
            return Result(list(argv), 1, "calculating dependencies...done.\nnothing to do.\n",
                          "big-1.0 is not available in the repository\n")
        if list(argv[1:3]) == ["-p", "search"]:
            return Result(list(argv), 0, "big-0.9;;an older big\n\n=: package is installed and up-to-date\n", "")
        return Result(list(argv), 0, "", "")


def test_a_package_pkgin_keeps_refusing_is_reloaded_once_then_named_with_both_views(tmp_path):
    layout, _conf = _layout(tmp_path, "http://a/All", "http://b/All")
    pkgin = str(tmp_path / "opt/pkg/bin/pkgin")
    runner = _Refusing()
    notes = []
    with pytest.raises(PkgsrcError) as err:
        _run([Command((pkgin, "-y", "install", "big-1.0"), "install")], runner, layout, notes, [])
    message = str(err.value)
    assert runner.calls == [["-y", "install", "big-1.0"], ["-f", "-y", "update"], ["-y", "install", "big-1.0"],
                            ["-p", "search", "^big-[0-9]"]]
    assert "reloaded it with pkgin -f update" in notes[0]
    assert "the summaries of http://a/All, http://b/All offer it" in message
    assert "pkgin's database lists for big-1.0: big-0.9" in message


@pytest.mark.parametrize("loaded,names,state,expected", [
    # pkgin install checks the repositories itself: no plain update before it.
    (True, ["hello"], "present", [["-y", "install", "hello-1.1"]]),
    # Nothing to install: update_cache is the update alone.
    (True, ["hello"], "absent", [["-y", "update"], ["-y", "remove", "hello"]]),
    # The loaded list is not the configured one: the forced update still goes first.
    (False, ["hello"], "present", [["-f", "-y", "update"], ["-y", "install", "hello-1.1"]]),
])
def test_update_cache_leaves_the_repository_check_to_pkgin_install(tmp_path, loaded, names, state, expected):
    layout, _conf = _layout(tmp_path, "http://a/All")
    if loaded:
        record_pkgin_loaded(layout)
    have = {"hello": Installed("hello-1.0")} if state == "absent" else {}
    plan = plan_packages(names, state, have, ["hello-1.1"])
    assert [list(c.argv[1:]) for c in pkgin_commands(plan, layout, update_cache=True)] == expected
