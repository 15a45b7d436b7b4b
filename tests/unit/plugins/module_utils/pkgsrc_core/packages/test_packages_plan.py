"""The package planner on tables of (request, installed, available) -> plan."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.plan import (
    CatalogueNeeded, DependantsError, Installed, PackageNotFoundError, plan_packages, validate_names)

# The demo repository of the real-tool samples, plus versions for pattern tests.
AVAILABLE = ["hello-1.0", "hello-1.1", "libfoo-2.0nb1", "foo-tool-3.2", "svc-demo-1.0",
             "php-8.0.30", "php-8.1.29", "php-8.2.20", "gtk2+-2.24.33nb1", "py311-requests-2.31.0",
             "nginx-1.25.3", "apache-2.4.58"]


def installed(*entries):
    """Installed packages: 'pkgname', or 'pkgname*' for automatic, with ':a,b' required_by."""
    out = {}
    for entry in entries:
        spec, _sep, req = entry.partition(":")
        auto = spec.endswith("*")
        pkg = Installed(spec.rstrip("*"), auto, tuple(r for r in req.split(",") if r))
        out[pkg.name] = pkg
    return out


def actions(plan):
    return [(c.action, c.pkgname, c.current) for c in plan.changes]


PLANS = [
    # (names, state, installed, expected changes)
    (["hello"], "present", [], [("install", "hello-1.1", None)]),
    (["hello"], "present", ["hello-1.0"], []),
    (["hello"], "latest", ["hello-1.0"], [("upgrade", "hello-1.1", "hello-1.0")]),
    (["hello"], "latest", ["hello-1.1"], []),
    (["hello-1.0"], "present", ["hello-1.1"], [("downgrade", "hello-1.0", "hello-1.1")]),
    (["hello<1.1"], "present", ["hello-1.1"], [("downgrade", "hello-1.0", "hello-1.1")]),
    (["php>=8.1<8.2"], "present", [], [("install", "php-8.1.29", None)]),
    (["php>=8.1<8.2"], "present", ["php-8.2.20"], [("downgrade", "php-8.1.29", "php-8.2.20")]),
    (["php>=8.1<8.2"], "latest", ["php-8.1.29"], []),
    (["php"], "latest", ["php-8.0.30"], [("upgrade", "php-8.2.20", "php-8.0.30")]),
    (["gtk2+"], "present", [], [("install", "gtk2+-2.24.33nb1", None)]),
    (["py3*-requests-[0-9]*"], "present", [], [("install", "py311-requests-2.31.0", None)]),
    (["{nginx,apache}-[0-9]*"], "present", ["apache-2.4.58"], []),
    (["foo-tool", "hello"], "present", [], [("install", "foo-tool-3.2", None), ("install", "hello-1.1", None)]),
    (["libfoo"], "present", ["libfoo-2.0nb1*:foo-tool-3.2", "foo-tool-3.2"], [("keep", "libfoo-2.0nb1", None)]),
    (["hello"], "absent", ["hello-1.1"], [("remove", "hello-1.1", None)]),
    (["hello"], "absent", [], []),
    (["hello", "hello-1.1"], "absent", ["hello-1.1"], [("remove", "hello-1.1", None)]),
    (["foo-tool"], "absent", ["libfoo-2.0nb1*:foo-tool-3.2", "foo-tool-3.2"], [("remove", "foo-tool-3.2", None)]),
]


@pytest.mark.parametrize("names,state,have,expected", PLANS)
def test_plan(names, state, have, expected):
    plan = plan_packages(names, state, installed(*have), AVAILABLE)
    assert actions(plan) == expected
    assert plan.changed is bool(expected)


def test_present_and_installed_needs_no_catalogue():
    # A converged host is planned without the repositories' summary at all.
    plan = plan_packages(["hello", "libfoo>=2"], "present", installed("hello-1.0", "libfoo-2.0nb1"), None)
    assert not plan.changed
    assert plan.satisfied == (("hello", "hello-1.0"), ("libfoo>=2", "libfoo-2.0nb1"))


def test_missing_package_asks_for_the_catalogue():
    with pytest.raises(CatalogueNeeded):
        plan_packages(["hello"], "present", installed(), None)


@pytest.mark.parametrize("name", ["does-not-exist", "php>=9", "hello>1.1"])
def test_unknown_or_unsatisfiable_is_an_error_before_anything(name):
    with pytest.raises(PackageNotFoundError) as err:
        plan_packages(["hello", name], "present", installed(), AVAILABLE)
    assert name in str(err.value)


def test_removing_a_package_with_dependants_is_refused():
    have = installed("libfoo-2.0nb1*:foo-tool-3.2", "foo-tool-3.2")
    with pytest.raises(DependantsError) as err:
        plan_packages(["libfoo"], "absent", have, AVAILABLE)
    assert "foo-tool-3.2" in str(err.value) and "remove_dependants" in str(err.value)


def test_remove_dependants_removes_them_too():
    have = installed("libfoo-2.0nb1*:foo-tool-3.2", "foo-tool-3.2")
    plan = plan_packages(["libfoo"], "absent", have, AVAILABLE, remove_dependants=True)
    assert sorted(c.pkgname for c in plan.of("remove")) == ["foo-tool-3.2", "libfoo-2.0nb1"]


def test_removing_a_package_and_its_dependants_together_is_fine():
    have = installed("libfoo-2.0nb1*:foo-tool-3.2", "foo-tool-3.2")
    plan = plan_packages(["libfoo", "foo-tool"], "absent", have, AVAILABLE)
    assert sorted(c.pkgname for c in plan.of("remove")) == ["foo-tool-3.2", "libfoo-2.0nb1"]


def test_upgrade_all_and_autoremove():
    have = installed("hello-1.0", "libfoo-2.0nb1*", "php-8.1.29")
    plan = plan_packages([], "present", have, AVAILABLE, upgrade_all=True, autoremove=True)
    assert [(c.current, c.pkgname) for c in plan.upgrade_all] == [("hello-1.0", "hello-1.1"),
                                                                  ("php-8.1.29", "php-8.2.20")]
    assert plan.autoremove == ("libfoo-2.0nb1",)


def test_autoremove_keeps_required_automatic_packages():
    have = installed("libfoo-2.0nb1*:foo-tool-3.2", "foo-tool-3.2")
    assert plan_packages([], "present", have, None, autoremove=True).autoremove == ()


@pytest.mark.parametrize("bad", ["-rf", "foo;rm", "$(id)", "a b", "x\ny", "`id`", "", "{a,b"])
def test_hostile_names_are_refused(bad):
    with pytest.raises(PkgsrcError):
        validate_names([bad])


def test_unknown_state():
    with pytest.raises(PkgsrcError) as err:
        plan_packages(["hello"], "installed", installed(), AVAILABLE)
    assert "present" in str(err.value)


# install_upgrades: pkgin's (and Salt's pkg.install) meaning of "install NAME".
INSTALL_UPGRADES = [
    (["hello"], ["hello-1.0"], [("upgrade", "hello-1.1", "hello-1.0")]),  # a bare installed name: latest
    (["hello"], ["hello-1.1"], []),
    (["hello"], ["hello-1.2"], []),  # newer than anything offered: never a downgrade
    (["hello"], [], [("install", "hello-1.1", None)]),
    (["hello-1.0"], ["hello-1.0"], []),  # a PKGNAME keeps its meaning
    (["hello>=1.0"], ["hello-1.0"], []),  # so does a pattern
    (["hello<1.1"], ["hello-1.1"], [("downgrade", "hello-1.0", "hello-1.1")]),
    (["gtk2+"], ["gtk2+-2.24.33"], [("upgrade", "gtk2+-2.24.33nb1", "gtk2+-2.24.33")]),
]


@pytest.mark.parametrize("names,have,expected", INSTALL_UPGRADES)
def test_install_upgrades_bare_names(names, have, expected):
    plan = plan_packages(names, "present", installed(*have), AVAILABLE, install_upgrades=True)
    assert actions(plan) == expected
    # Without it, "present" keeps what is installed.
    if have and not any(a == "downgrade" for a, _p, _c in expected):
        assert actions(plan_packages(names, "present", installed(*have), AVAILABLE)) == []


def test_install_upgrades_needs_the_catalogue_for_an_installed_bare_name():
    with pytest.raises(CatalogueNeeded):
        plan_packages(["hello"], "present", installed("hello-1.0"), None, install_upgrades=True)


def test_upgrade_all_never_downgrades():
    have = installed("hello-1.2", "libfoo-2.0nb1*:foo-tool-3.2", "foo-tool-3.2", "php-8.1.29*")
    available = ["hello-1.1", "libfoo-2.0nb2", "foo-tool-3.2", "php-8.2.20"]
    plan = plan_packages([], "present", have, available, upgrade_all=True)
    assert [(c.current, c.pkgname) for c in plan.upgrade_all] == [("libfoo-2.0nb1", "libfoo-2.0nb2"),
                                                                  ("php-8.1.29", "php-8.2.20")]
    # The plan says why hello-1.2 stays.
    assert plan.messages == ("hello-1.2 is newer than anything the repositories offer (hello-1.1): left as it is",)
    assert plan.messages[0] in plan.summary_lines() and plan.changed


def test_autoremove_never_takes_what_the_same_run_keeps():
    have = installed("libfoo-2.0nb1*", "hello-1.0*")
    plan = plan_packages(["libfoo"], "present", have, AVAILABLE, autoremove=True)
    assert actions(plan) == [("keep", "libfoo-2.0nb1", None)]
    assert plan.autoremove == ("hello-1.0",)
