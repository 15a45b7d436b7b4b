"""Differential tests: the recorded transcripts, the real tools now, and the stand-ins.

samples/transcripts.jsonl (48 real commands) is replayed in testbed hosts, in one module:

- a builder host extracts the real kit and makes the samples' repository with the real
  pkg_create and pkg_info -X (diff_make_repo.sh): the six bootstrap packages re-packed from the
  kit's pkgdb, placeholders for digest-20160304 and libfetch-2.38 (listed by the samples'
  repository, absent from the kit; never installed by the scenario), and the real All/'s
  hello-1.0, hello-1.1, libfoo-2.0nb1, foo-tool-3.2, svc-demo-1.0 (not gtk2+ and libsigc++,
  which the samples' repository did not hold);
- a "real" host gets the real kit at /opt/pkg, a "stand-in" host the stand-ins' fixture kit at
  /opt/pkg (tests/sim, as test_contract_pkg builds it, its six bootstrap pkgdb entries given the
  real kit's +BUILD_INFO: their build dates must match the repository's, or pkgin "refreshes"
  them, the real pkgin and the stand-in alike); both get that same repository at
  /srv/pkgsrc-repo served on 127.0.0.1:18080 inside the host, the same pkg_install.conf
  (PKGVULNURL: the samples' pkg-vulnerabilities) and the same commands, with the server stopped
  before step 09-down as when the transcript was recorded.

samples/transcripts-2.jsonl is replayed the same way (two more hosts) on a second repository: the
first one plus the real All/'s gtk2+ and libsigc++, and bench-pkg01-1.0/-1.1, bench-pkg02..60 and a
py311-requests-2.31.0 placeholder made with the real pkg_create (recorded COMMENTs; other metadata
and contents not recorded, so sizes differ). Only its first 81 commands are replayed, 01-dry-run to
06-query (SCENARIO2_STOP), for lack of time so far: from 07-pkg_add on, the recording needs set-up
still to be reconstructed from transcripts-2.md (the /scratch/files corrupt and "alone" package
files, hello.1.edited, the /scratch/conf/*.conf files, the fault repositories on :18081, the second
repository on :18082 with hello-1.2 and a rebuilt bench-pkg05, the tampered pkg-vulnerabilities,
/scratch/keep.list, the mid-scenario kit reset) and step 155 reads pkgin.db with sqlite3, which the
hosts lack and the stand-in does not write.

Then recorded vs real-now and stand-in vs real-now are compared after the contract test's MASKS.
Every difference must be in KNOWN with its exact changed lines and a reason; a KNOWN entry that
no longer occurs fails too, so the table only shrinks as the stand-ins are fixed.
The report (JSON) is written under the pytest tmp dir; the path is printed with the summary.
"""
from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from tests.conftest import SAMPLES_DIR
from tests.realtools import KIT_NAME
from tests.realtools.replay import (
    REPO_DIR,
    REPO_PORT,
    adopt_build_info,
    bench_metadata,
    Difference,
    Outcome,
    build_repository,
    configure,
    differences,
    install_kit,
    install_repository,
    judge,
    key_of,
    load_transcript,
    placeholder_metadata,
    replay,
    serve,
    standin_kit,
    stop_serving,
    summary_text,
)
from tests.sim.test_contract_pkg import DIRECTORY_ORDER

pytestmark = [pytest.mark.slow]

# Real demo packages of the kit's All/ that the samples' repository also held.
DEMO_PACKAGES = ("foo-tool-3.2.tgz", "hello-1.0.tgz", "hello-1.1.tgz", "libfoo-2.0nb1.tgz", "svc-demo-1.0.tgz")
# transcripts-2 also: the real All/'s packages with plus signs.
PLUS_PACKAGES = ("gtk2+-2.24.33nb5.tgz", "libsigc++-2.10.8.tgz")
# Listed by the samples' repository, not in the real kit: placeholders carrying the recorded metadata.
PLACEHOLDERS = ("digest-20160304", "libfetch-2.38")

# transcripts-2.jsonl is replayed up to this step (excluded): see the module docstring.
SCENARIO2_STOP = ("07-pkg_add", "pkg_add -U of an older file (1.1 installed)")
# transcripts-2 steps listing in directory order (readdir), compared as sorted lines.
DIRECTORY_ORDER_2 = {("03-keep", "pkg_info -u: user-installed packages"),
                     ("02-install-patterns", "after install with one unknown name")}

KnownTable = Dict[Difference, Tuple[str, Tuple[str, ...]]]

# recorded transcript ('-') vs the real tools now ('+'): (step, note, field) -> (reason, changed lines)
KNOWN_RECORDED_VS_REAL: KnownTable = {
    ("01-kit", "summary record of a package file", "stdout"): (
        "environment: the kit's All/ is a later build of foo-tool (2026-12-05) than the recorded repository's, "
        "and links libfoo.so, not libfoo.so.2",
        ("-BUILD_DATE=2026-11-21 21:03:40 +0000", "+BUILD_DATE=2026-12-05 07:13:41 +0000",
         "-REQUIRES=/opt/pkg/lib/libfoo.so.2", "+REQUIRES=/opt/pkg/lib/libfoo.so")),
}

# real tools now ('-') vs the stand-ins ('+'): (step, note, field) -> (reason, changed lines)
KNOWN_STANDIN_VS_REAL: KnownTable = {
}

KNOWN_RECORDED_VS_REAL_2: KnownTable = {
    ("06-query", "stats", "stdout"): (
        "environment: sizes (not in MASKS): the bench packages here are rebuilt with other contents, and the "
        "bootstrap packages are re-packed from the kit",
        ("-\tDisk space occupied: 2611K", "+\tDisk space occupied: 2610K", "-\tTotal size of packages: 2836K",
         "+\tTotal size of packages: 1182K")),
}

KNOWN_STANDIN_VS_REAL_2: KnownTable = {
    ("02-install-patterns", "install names with plus signs", "stdout"): (
        "stand-in bug: packages of the same dependency level are installed in the other order (the real pkgin "
        "installs libsigc++ before gtk2+, the reverse of its download order)",
        ("-[1/2] installing libsigc++-2.10.8...", "-[2/2] installing gtk2+-2.24.33nb5...",
         "+[1/2] installing gtk2+-2.24.33nb5...", "+[2/2] installing libsigc++-2.10.8...")),
    ("02-install-patterns", "dry run: install by glob", "stdout"): (
        "stand-in bug: a glob matching several packages selects bench-pkg04, the real pkgin bench-pkg05",
        ("-bench-pkg05-1.0", "+bench-pkg04-1.0")),
    ("03-keep", "pkg_info -u: user-installed packages", "stdout"): (
        "stand-in bug: pkg_info -u lists libfoo, which is automatic=yes (pkg_info -Q automatic agrees with the "
        "real one one step later)",
        ("+libfoo-2.0nb1       Demo shared library used by foo-tool",)),
    ("03-keep", "pkg_admin set on a package not installed", "stderr"): (
        "stand-in bug: message text of pkg_admin set for an unknown package",
        ("-pkg_admin: cannot find package nosuchpkg", "+pkg_admin: no matching pkg for `nosuchpkg'")),
    ("04-remove", "required-by of libfoo after foo-tool is gone", "stdout"): (
        "stand-in bug: the real pkg_delete leaves an empty +REQUIRED_BY, and pkg_info -R then prints the "
        "'Required by:' block with no names",
        ("-Required by:", "-", "-")),
    ("05-upgrade", "list outdated: bench-pkg01 and hello", "stdout"): (
        "stand-in bug: order of pkgin -l '<' list (the real one lists hello-1.1 first)",
        ("+bench-pkg01-1.1;<;Benchmark package 01 (newer)", "-bench-pkg01-1.1;<;Benchmark package 01 (newer)")),
    ("06-query", "show-deps -P (versions)", "stdout"): (
        "stand-in bug: with -P the real show-deps prints the resolved PKGNAME, the stand-in the pattern",
        ("-\tlibfoo-2.0nb1", "+\tlibfoo>=2.0")),
    ("06-query", "pkg-content", "stdout"): (
        "stand-in bug: two extra blank lines after the file list",
        ("+", "+")),
    ("06-query", "pkg-descr", "stdout"): (
        "stand-in bug: three extra blank lines after the description",
        ("+", "+", "+")),
    ("06-query", "pkg-build-defs", "stdout"): (
        "stand-in bug: three extra blank lines after the build information",
        ("+", "+", "+")),
    ("06-query", "pkg-descr of an unknown package", "stderr"): (
        "stand-in bug: the real message has the 'pkgin: ' prefix and a blank line after it",
        ("-pkgin: nosuchpkg is not available in the repository", "-",
         "+nosuchpkg is not available in the repository")),
    ("06-query", "show-category", "stdout"): (
        "stand-in bug: versions of a package in the other order (the real pkgin lists hello-1.1 first)",
        ("+hello-1.0            Friendly greeting program (demo)",
         "-hello-1.0            Friendly greeting program (demo)")),
    ("06-query", "show-pkg-category", "stdout"): (
        "stand-in bug: same order difference as show-category",
        ("+misc         - hello-1.0", "-misc         - hello-1.0")),
    ("06-query", "stats", "stdout"): (
        "environment: the stand-ins' kit's packages are smaller (disk space); stand-in bug: no blank line "
        "between the local and the remote section",
        ("-\tDisk space occupied: 2610K", "-", "+\tDisk space occupied: 780K")),
}


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("differential")


@pytest.fixture(scope="module")
def site(real_kit: Path, testbed_session, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Five hosts: a builder that makes both repositories with the real tools, then a real and a
    stand-in host per transcript."""
    tb = testbed_session(5, names=["diffbuild", "diffreal1", "diffsim1", "diffreal2", "diffsim2"])
    builder = tb.hosts[0]
    shutil.copyfile(real_kit / KIT_NAME, tb.www_dir / "real-kit.tar.gz")
    shutil.copyfile(standin_kit(tmp_path_factory.mktemp("simkit")), tb.www_dir / "sim-kit.tar.gz")
    install_kit(builder, tb.http_url + "real-kit.tar.gz")
    placeholders = placeholder_metadata((SAMPLES_DIR / "pkg_summary-demo-repo").read_text(), PLACEHOLDERS)
    repo1 = build_repository(builder, "1", real_kit / "All", DEMO_PACKAGES, placeholders)
    repo2 = build_repository(builder, "2", real_kit / "All", DEMO_PACKAGES + PLUS_PACKAGES,
                             dict(placeholders, **bench_metadata()))
    return {"tb": tb, "real_kit": real_kit, "repos": {"1": repo1, "2": repo2},
            "hosts": {"1": tb.hosts[1:3], "2": tb.hosts[3:5]}}


def _replay_both(site: dict, which: str, records: List[dict],
                 stops: Dict[Tuple[str, str], int]) -> Dict[str, Dict[Tuple[str, str], Outcome]]:
    """records replayed on the real host and on the stand-in host of a pair, at the same time."""
    tb = site["tb"]
    real, sim = site["hosts"][which]
    vulnerabilities = (SAMPLES_DIR / "pkgdb-final" / "pkg-vulnerabilities").read_bytes()

    def run(host, kit: str) -> Dict[Tuple[str, str], Outcome]:
        install_kit(host, tb.http_url + kit)
        if host is sim:
            assert len(adopt_build_info(sim, site["real_kit"] / KIT_NAME)) == 6
        configure(host, vulnerabilities)
        install_repository(host, site["repos"][which])
        serve(host, REPO_PORT, REPO_DIR)

        def before(key: Tuple[str, str]) -> None:
            if key in stops:
                stop_serving(host, stops[key])

        return replay(host, records, before)

    with ThreadPoolExecutor(max_workers=2) as pool:
        real_now = pool.submit(run, real, "real-kit.tar.gz")
        standin = pool.submit(run, sim, "sim-kit.tar.gz")
        results = {"real": real_now.result(), "standin": standin.result()}
    results["recorded"] = {key_of(r): Outcome.of_record(r) for r in records}
    return results


@pytest.fixture(scope="module")
def scenario1(site: dict) -> dict:
    """transcripts.jsonl, whole: the server stops before 09-down, as when it was recorded."""
    records = load_transcript("transcripts.jsonl")
    results = _replay_both(site, "1", records, {("09-down", "update with the repository down"): REPO_PORT})
    return {"results": results, "keys": [key_of(r) for r in records], "sorted": DIRECTORY_ORDER}


@pytest.fixture(scope="module")
def scenario2(site: dict) -> dict:
    """transcripts-2.jsonl up to SCENARIO2_STOP (excluded)."""
    records = load_transcript("transcripts-2.jsonl")
    keys = [key_of(r) for r in records]
    records = records[:keys.index(SCENARIO2_STOP)]
    results = _replay_both(site, "2", records, {})
    return {"results": results, "keys": [key_of(r) for r in records], "sorted": DIRECTORY_ORDER_2}


def _check(scenario: dict, left: str, right: str, known: KnownTable, report: Path, title: str) -> None:
    found = differences(scenario["results"][left], scenario["results"][right], scenario["keys"],
                        scenario["sorted"])
    entries, unexplained, stale = judge(found, known)
    report.write_text(json.dumps({"comparison": title, "left": left, "right": right, "differences": entries,
                                  "known_not_occurring": stale}, indent=2) + "\n")
    print("\n" + summary_text(title, entries))
    print("report: %s" % report)
    problems = []
    if unexplained:
        problems.append("%d difference(s) not in the known table:\n%s" % (
            len(unexplained), summary_text(title + " (unexplained)", unexplained)))
    if stale:
        problems.append("known differences that no longer occur (remove them from the table): %s" % stale)
    assert not problems, "\n".join(problems)


def test_recorded_vs_real_now(scenario1: dict, report_dir: Path) -> None:
    """The real tools today reproduce the recorded transcript, but for the known differences."""
    _check(scenario1, "recorded", "real", KNOWN_RECORDED_VS_REAL, report_dir / "transcripts-recorded-vs-real.json",
           "transcripts.jsonl: recorded (-) vs real now (+)")


def test_standin_vs_real_now(scenario1: dict, report_dir: Path) -> None:
    """The stand-ins behave as the real tools on the same repository, but for the known differences."""
    _check(scenario1, "real", "standin", KNOWN_STANDIN_VS_REAL, report_dir / "transcripts-standin-vs-real.json",
           "transcripts.jsonl: real now (-) vs stand-in (+)")


def test_recorded_vs_real_now_2(scenario2: dict, report_dir: Path) -> None:
    """As above, for the replayed part of transcripts-2.jsonl."""
    _check(scenario2, "recorded", "real", KNOWN_RECORDED_VS_REAL_2,
           report_dir / "transcripts-2-recorded-vs-real.json", "transcripts-2.jsonl: recorded (-) vs real now (+)")


def test_standin_vs_real_now_2(scenario2: dict, report_dir: Path) -> None:
    """As above, for the replayed part of transcripts-2.jsonl."""
    _check(scenario2, "real", "standin", KNOWN_STANDIN_VS_REAL_2,
           report_dir / "transcripts-2-standin-vs-real.json", "transcripts-2.jsonl: real now (-) vs stand-in (+)")
