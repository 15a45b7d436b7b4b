"""The planner with exact: tables of (request, installed, kit, lock flags) -> plan."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.plan import (
    CatalogueNeeded, Installed, plan_packages)
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.tools import (
    pkg_add_commands, pkgin_commands)

# The demo repository of the real-tool samples.
AVAILABLE = ["hello-1.0", "hello-1.1", "libfoo-2.0nb1", "foo-tool-3.2", "svc-demo-1.0", "pkgin-26.4.0"]

KIT = ("bmake", "bootstrap-mk-files", "cwrappers", "nawk", "pkg_install", "pkgin")
# The real kit's packages (samples/pkgdb-final): bmake needs bootstrap-mk-files.
KIT_INSTALLED = ["bmake-20150505", "bootstrap-mk-files-20170802:bmake-20150505", "cwrappers-20170611",
                 "nawk-20121220nb1", "pkg_install-20170419", "pkgin-26.4.0"]


def installed(*entries):
    """Installed packages: 'pkgname', or 'pkgname*' for automatic, with ':a,b' required_by."""
    out = {}
    for entry in entries:
        spec, _sep, req = entry.partition(":")
        pkg = Installed(spec.rstrip("*"), spec.endswith("*"), tuple(r for r in req.split(",") if r))
        out[pkg.name] = pkg
    return out


def actions(plan):
    return sorted((c.action, c.pkgname, c.current) for c in plan.changes)


EXACT = [
    # (names, installed besides the kit, automatic PKGNAMEs of the lock, expected changes)
    pytest.param(["hello-1.0"], [], [], [("install", "hello-1.0", None)], id="install-into-a-bare-kit"),
    pytest.param(["hello-1.0"], ["hello-1.0"], [], [], id="converged"),
    pytest.param(["hello-1.0"], ["hello-1.1"], [], [("downgrade", "hello-1.0", "hello-1.1")], id="pins-the-version"),
    pytest.param(["hello-1.0"], ["hello-1.0", "svc-demo-1.0"], [],
                 [("remove", "svc-demo-1.0", None)], id="removes-what-is-not-listed"),
    pytest.param(["foo-tool-3.2"], ["foo-tool-3.2", "libfoo-2.0nb1*:foo-tool-3.2"], [], [],
                 id="keeps-an-automatic-dependency"),
    pytest.param(["foo-tool-3.2"], ["foo-tool-3.2", "libfoo-2.0nb1:foo-tool-3.2"], [],
                 [("unkeep", "libfoo-2.0nb1", None)], id="a-dependency-installed-by-hand-becomes-automatic"),
    pytest.param(["hello-1.1"], ["foo-tool-3.2", "libfoo-2.0nb1*:foo-tool-3.2"], [],
                 [("install", "hello-1.1", None), ("remove", "foo-tool-3.2", None), ("remove", "libfoo-2.0nb1", None)],
                 id="removes-a-package-with-its-dependencies"),
    pytest.param(["hello-1.1"], ["libfoo-2.0nb1*"], [],
                 [("install", "hello-1.1", None), ("remove", "libfoo-2.0nb1", None)], id="removes-an-orphan"),
    # A lock: every package listed, the automatic ones marked.
    pytest.param(["foo-tool-3.2", "libfoo-2.0nb1"], [], ["libfoo-2.0nb1"],
                 [("install", "foo-tool-3.2", None), ("install", "libfoo-2.0nb1", None),
                  ("unkeep", "libfoo-2.0nb1", None)], id="lock-on-a-bare-kit"),
    pytest.param(["foo-tool-3.2", "libfoo-2.0nb1"], ["foo-tool-3.2", "libfoo-2.0nb1*:foo-tool-3.2"], ["libfoo-2.0nb1"],
                 [], id="lock-converged"),
    pytest.param(["foo-tool-3.2", "libfoo-2.0nb1"], ["foo-tool-3.2", "libfoo-2.0nb1:foo-tool-3.2"], ["libfoo-2.0nb1"],
                 [("unkeep", "libfoo-2.0nb1", None)], id="lock-flag-to-automatic"),
    pytest.param(["foo-tool-3.2", "libfoo-2.0nb1"], ["foo-tool-3.2", "libfoo-2.0nb1*:foo-tool-3.2"], [],
                 [("keep", "libfoo-2.0nb1", None)], id="lock-flag-to-user-installed"),
    pytest.param(["hello-1.0"], ["hello-1.1*"], ["hello-1.0"],
                 [("downgrade", "hello-1.0", "hello-1.1"), ("unkeep", "hello-1.0", None)],
                 id="lock-automatic-replaced-stays-automatic"),
    pytest.param(["pkgin-26.4.0", "hello-1.0"], ["hello-1.0"], [], [], id="the-lock-may-list-kit-packages"),
]


@pytest.mark.parametrize("names,have,automatic,expected", EXACT)
def test_exact(names, have, automatic, expected):
    plan = plan_packages(names, "present", installed(*(KIT_INSTALLED + have)), AVAILABLE, exact=True,
                         automatic=automatic, kit=KIT)
    assert actions(plan) == sorted(expected)
    assert plan.changed is bool(expected)


def test_the_kit_and_what_it_needs_always_stay():
    have = KIT_INSTALLED + ["libarchive-3.7.2*:pkgin-26.4.0", "hello-1.0"]
    plan = plan_packages([], "present", installed(*have), AVAILABLE, exact=True, kit=KIT)
    assert actions(plan) == [("remove", "hello-1.0", None)]


def test_without_kit_names_the_kit_goes_too():
    # The caller always passes the kit's names (kit.kit_packages): this shows why.
    plan = plan_packages(["hello-1.0"], "present", installed(*(KIT_INSTALLED + ["hello-1.0"])), AVAILABLE,
                         exact=True)
    assert {c.pkgname for c in plan.of("remove")} == {p.split(":", maxsplit=1)[0] for p in KIT_INSTALLED}


def test_a_kit_package_named_by_the_lock_gets_its_version():
    have = installed(*KIT_INSTALLED)
    plan = plan_packages(["pkgin-26.5.0"], "present", have, AVAILABLE + ["pkgin-26.5.0"], exact=True, kit=KIT)
    assert actions(plan) == [("upgrade", "pkgin-26.5.0", "pkgin-26.4.0")]


def test_a_replaced_package_keeps_its_dependencies_until_the_tool_decides():
    # hello is upgraded; what the installed hello needs is not removed under it.
    have = installed(*(KIT_INSTALLED + ["hello-1.0", "libfoo-2.0nb1*:hello-1.0"]))
    plan = plan_packages(["hello-1.1"], "present", have, AVAILABLE, exact=True, kit=KIT)
    assert actions(plan) == [("upgrade", "hello-1.1", "hello-1.0")]


def test_exact_latest_brings_the_names_up_and_removes_the_rest():
    have = installed(*(KIT_INSTALLED + ["hello-1.0", "svc-demo-1.0"]))
    plan = plan_packages(["hello"], "latest", have, AVAILABLE, exact=True, kit=KIT)
    assert actions(plan) == [("remove", "svc-demo-1.0", None), ("upgrade", "hello-1.1", "hello-1.0")]


def test_a_converged_exact_set_needs_no_catalogue():
    have = installed(*(KIT_INSTALLED + ["foo-tool-3.2", "libfoo-2.0nb1*:foo-tool-3.2"]))
    plan = plan_packages(["foo-tool-3.2", "libfoo-2.0nb1"], "present", have, None, exact=True,
                         automatic=["libfoo-2.0nb1"], kit=KIT)
    assert not plan.changed
    with pytest.raises(CatalogueNeeded):
        plan_packages(["hello-1.0"], "present", have, None, exact=True, kit=KIT)


def test_removals_come_first_and_flags_last():
    have = installed(*(KIT_INSTALLED + ["svc-demo-1.0"]))
    plan = plan_packages(["foo-tool-3.2", "libfoo-2.0nb1"], "present", have, AVAILABLE, exact=True,
                         automatic=["libfoo-2.0nb1"], kit=KIT)
    assert [c.action for c in plan.changes] == ["remove", "install", "install", "unkeep"]
    assert "unkeep libfoo-2.0nb1" in plan.summary_lines()


@pytest.mark.parametrize("state,options,word", [
    ("absent", {}, "state present or latest"),
    ("present", {"upgrade_all": True}, "upgrade"),
    ("present", {"autoremove": True}, "autoremove"),
])
def test_exact_refuses_what_contradicts_it(state, options, word):
    with pytest.raises(PkgsrcError) as err:
        plan_packages(["hello-1.0"], state, installed(*KIT_INSTALLED), AVAILABLE, exact=True, kit=KIT, **options)
    assert word in str(err.value)
    assert err.value.hint


def test_both_backends_mark_automatic_last():
    layout = Layout("/opt/pkg", "/opt/pkg/pkgdb", "/opt/pkg/etc", "/opt/pkg/var")
    plan = plan_packages(["foo-tool-3.2", "libfoo-2.0nb1"], "present", installed(*KIT_INSTALLED), AVAILABLE,
                         exact=True, automatic=["libfoo-2.0nb1"], kit=KIT)
    pkgin = [c.argv for c in pkgin_commands(plan, layout)]
    assert pkgin == [("/opt/pkg/bin/pkgin", "-y", "install", "foo-tool-3.2", "libfoo-2.0nb1"),
                     ("/opt/pkg/bin/pkgin", "-y", "unkeep", "libfoo")]
    pkg_add = [c.argv for c in pkg_add_commands(plan, layout)]
    assert pkg_add[-1] == ("/opt/pkg/sbin/pkg_admin", "-K", "/opt/pkg/pkgdb", "set", "automatic=YES", "libfoo-2.0nb1")
