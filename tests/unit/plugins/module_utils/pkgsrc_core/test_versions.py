"""versions.py against the real pkg_install: every case of samples/dewey-cases.tsv plus tables."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core import versions
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PatternError, PkgsrcError


def _samples() -> Path:
    """tests/data/samples/dewey-cases.tsv (tests/data/README.md), or in $PKGSRC_SAMPLES if set."""
    env = os.environ.get("PKGSRC_SAMPLES")
    found = (Path(env) if env else Path(__file__).resolve().parents[4] / "data" / "samples") / "dewey-cases.tsv"
    if not found.is_file():
        raise RuntimeError("%s not found (see tests/data/README.md)" % found)
    return found


def _real_cases():
    with open(_samples(), newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [(r["pattern"], r["pkgname"], r["match"] == "yes") for r in rows]


REAL_CASES = _real_cases()


def test_real_table_is_complete():
    # The sample holds 220 answers from the real pkg_admin pmatch; all of them are checked.
    assert len(REAL_CASES) >= 200
    assert {case[2] for case in REAL_CASES} == {True, False}


@pytest.mark.parametrize("pattern,pkgname,expected", REAL_CASES,
                         ids=["%s~%s" % case[:2] for case in REAL_CASES])
def test_pkg_match_real_pkg_install(pattern, pkgname, expected):
    assert versions.pkg_match(pattern, pkgname) is expected


# (a, b, dewey_cmp(a, b)) from the rules in CONTRACT.md §4 and pkg_install's dewey.c.
DEWEY = [
    ("1", "1.0", 0),
    ("1.0", "1.0.0", 0),
    ("1.0alpha1", "1.0beta1", -1),
    ("1.0beta1", "1.0rc1", -1),
    ("1.0rc1", "1.0", -1),
    ("1.0", "1.0pl1", -1),
    ("1.0pl1", "1.0.1", 0),
    ("1.2nb1", "1.2.1", -1),
    ("1.2nb1", "1.2", 1),
    ("1.2e", "1.2.5", 0),
    ("1.2a", "1.2", 1),
    ("1.0pre1", "1.0rc1", 0),
    ("1.0RC1", "1.0rc1", 0),
    ("1.0ALPHA", "1.0alpha", 0),
    ("1.10", "1.9", 1),
    ("2.0_1", "2.0.1", 0),
    ("2.0_1", "2.0", 1),
    ("1.0nb12", "1.0nb2", 1),
    ("1.0nb1", "1.0.0.0.1", -1),
    ("3.12.0rc1", "3.11.7nb1", 1),
    ("20170419", "20150505", 1),
    ("26.4.0", "26.4", 0),
    ("0.9.9", "1.0", -1),
    ("1.0alpha", "1.0alpha1", -1),
    ("1.0beta", "1.0alpha9", 1),
    ("1.0", "1.0nb0", 0),
    ("8.1.29", "8.2.0", -1),
    ("2.4.59nb3", "2.4.59nb2", 1),
    ("1.0+git", "1.0", 1),
    ("1b", "1.2", 0),
    ("1.b", "1.2", -1),
]


@pytest.mark.parametrize("left,right,expected", DEWEY)
def test_dewey_cmp(left, right, expected):
    assert versions.dewey_cmp(left, right) == expected
    assert versions.dewey_cmp(right, left) == -expected


# Pattern cases beyond the real table: ranges, nesting, names with + and other characters.
PATTERNS = [
    ("php>=8.1<8.2", "php-8.1.29", True),
    ("php>=8.1<8.2", "php-8.2.0", False),
    ("php>=8.1<8.2", "php-8.0.30", False),
    ("php>8.1<8.2", "php-8.1", False),
    ("php>8.1<=8.2", "php-8.2", True),
    ("php>=8.1<8.2", "php-fpm-8.1.29", False),
    ("py3*-requests-[0-9]*", "py311-requests-2.31.0", True),
    ("py3*-requests-[0-9]*", "py27-requests-2.27.1", False),
    ("{nginx,apache}-*", "nginx-1.25.3", True),
    ("{nginx,apache}-*", "apache-2.4.58", True),
    ("{nginx,apache}-*", "lighttpd-1.4.73", False),
    ("{a{b,c},d}-[0-9]*", "ac-1.0", True),
    ("{a{b,c},d}-[0-9]*", "d-1.0", True),
    ("{a{b,c},d}-[0-9]*", "a-1.0", False),
    ("gtk2+>=2.24", "gtk2+-2.24.33nb1", True),
    ("gtk2+-[0-9]*", "gtk2+-2.24.33nb1", True),
    ("gtk2+", "gtk2+-2.24.33nb1", True),
    ("gtk2+", "gtk2-2.24.33nb1", False),
    ("libsigc++>=2", "libsigc++-2.12.0", True),
    ("hello", "hello-1.1", True),
    ("hello", "hellox-1.1", False),
    ("hello", "hello-world-1.0", False),
    ("hello-1.0", "hello-1.0", True),
    ("hello-1.0", "hello-1.0nb1", False),
    ("hello-1.*", "hello-1.1", True),
    ("hello-[0-9]*", ".hello-1.0", False),
    ("hello>=1.0", "hello", False),
    ("hello==1.0", "hello-1.0", False),
    ("foo-[!0-9]*", "foo-x1", True),
    ("foo-[!0-9]*", "foo-1x", False),
    ("foo-\\*", "foo-*", True),
    ("foo-?.0", "foo-1.0", True),
    ("foo-?.0", "foo-10.0", False),
]


@pytest.mark.parametrize("pattern,pkgname,expected", PATTERNS)
def test_pkg_match_table(pattern, pkgname, expected):
    assert versions.pkg_match(pattern, pkgname) is expected
    assert versions.compile_pattern(pattern)(pkgname) is expected


SPLITS = [
    ("foo-1.0", ("foo", "1.0")),
    ("gtk2+-2.24.33nb1", ("gtk2+", "2.24.33nb1")),
    ("py311-requests-2.31.0", ("py311-requests", "2.31.0")),
    ("p5-Perl-Tidy-20230909", ("p5-Perl-Tidy", "20230909")),
    ("libsigc++-2.12.0", ("libsigc++", "2.12.0")),
]


@pytest.mark.parametrize("pkgname,expected", SPLITS)
def test_split_pkgname(pkgname, expected):
    assert versions.split_pkgname(pkgname) == expected


@pytest.mark.parametrize("bad", ["foo", "foo-", "-1.0", ""])
def test_split_pkgname_refuses_non_pkgnames(bad):
    with pytest.raises(PatternError) as err:
        versions.split_pkgname(bad)
    assert "PKGNAME" in str(err.value)


KIT = ["bootstrap-mk-files-20170802", "cwrappers-20170611", "pkg_install-20170419", "pkgin-26.4.0",
       "bmake-20150505", "nawk-20121220nb1"]
REPO = ["hello-1.0", "hello-1.1", "libfoo-2.0nb1", "foo-tool-3.2", "svc-demo-1.0"]

BEST = [
    ("pkgin-[0-9]*", KIT, "pkgin-26.4.0"),  # samples: pkg_info -E pkgin-[0-9]*
    ("pkg_install>=2017", KIT, "pkg_install-20170419"),  # samples: pkg_info -e pkg_install>=2017
    ("hello", REPO, "hello-1.1"),
    ("hello<1.1", REPO, "hello-1.0"),
    ("hello>1.1", REPO, None),
    ("libfoo>=2.0", REPO, "libfoo-2.0nb1"),
    ("{hello,foo-tool}-[0-9]*", REPO, "foo-tool-3.2"),
    ("x-[0-9]*", ["x-1.0nb1", "x-1.0", "x-1.0.0"], "x-1.0nb1"),
    ("x-1*", ["x-1.0.0", "x-1.0"], "x-1.0"),  # equal versions: the smaller name, as pkg_order
    ("nothing", [], None),
]


@pytest.mark.parametrize("pattern,names,expected", BEST)
def test_best_match(pattern, names, expected):
    assert versions.best_match(pattern, names) == expected
    assert versions.best_match(pattern, list(reversed(names))) == expected


@pytest.mark.parametrize("bad", ["", "{foo,bar", "foo}", "a\nb", "a\0b"])
def test_bad_patterns_raise_clear_errors(bad):
    with pytest.raises(PkgsrcError) as err:
        versions.pkg_match(bad, "foo-1.0")
    assert str(err.value)


@pytest.mark.parametrize("text,expected", [("foo", False), ("foo-1.0", False), ("foo>=1", True),
                                           ("foo-[0-9]*", True), ("{a,b}", True), ("a?", True)])
def test_is_pattern(text, expected):
    assert versions.is_pattern(text) is expected


def test_version_ordering_is_total_on_real_versions():
    vers = sorted({case[1].rpartition("-")[2] for case in REAL_CASES})
    for left in vers:
        for right in vers:
            assert versions.dewey_cmp(left, right) == -versions.dewey_cmp(right, left)
