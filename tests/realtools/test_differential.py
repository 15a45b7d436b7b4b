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
and contents not recorded, so sizes differ). Its first 129 commands are replayed, 01-dry-run to
08-pkg_admin (SCENARIO2_STOP), with HOME=/home/user and the files 07-pkg_add and 08-pkg_admin read
made beforehand (SCENARIO2_SETUP: the /scratch/files corrupt and "alone" package files,
hello.1.edited, the vulnerability list and a tampered copy; transcripts-2's own vulnerability list was
not recorded, samples/pkgdb-final's is used). From 09-repo-faults on, the set-up is still to be
reconstructed from transcripts-2.md (the /scratch/conf/*.conf files, the fault repositories on
:18081, stopping and restarting :18080, the second repository on :18082 with hello-1.2 and a rebuilt
bench-pkg05, /scratch/keep.list and bad.list, the mid-scenario kit reset) and step 155 reads pkgin.db
with sqlite3, which the hosts lack and the stand-in does not write.

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
from typing import Dict, List, Optional, Tuple

import pytest

from tests.conftest import SAMPLES_DIR
from tests.realtools import KIT_NAME
from tests.realtools.replay import (
    REPO_DIR,
    REPO_PORT,
    VULN_FILE,
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
SCENARIO2_STOP = ("09-repo-faults", "clean the download cache")
# What 07-pkg_add and 08-pkg_admin read, made on both hosts of scenario 2 before the replay: the package
# files under /scratch/files (foo-tool alone, hello truncated to 100 bytes and to half, a text file, a tar.gz
# without +CONTENTS), hello.1 with a line appended (from the repository's hello-1.1), and the vulnerability
# list as /home/user/realpkgsrc/repo/pkg-vulnerabilities and edited as /scratch/pkg-vulnerabilities.tampered.
SCENARIO2_SETUP = r"""
set -eu
repo=/srv/pkgsrc-repo/All
mkdir -p /scratch/files/alone /scratch/files/trunc-head /scratch/files/trunc-half /home/user/realpkgsrc/repo
cp $repo/foo-tool-3.2.tgz /scratch/files/alone/
head -c 100 $repo/hello-1.1.tgz > /scratch/files/trunc-head/hello-1.1.tgz
size=$(wc -c < $repo/hello-1.1.tgz)
head -c $((size / 2)) $repo/hello-1.1.tgz > /scratch/files/trunc-half/hello-1.1.tgz
echo 'not a package' > /scratch/files/notapkg-1.0.tgz
mkdir -p /tmp/plain && echo plain > /tmp/plain/README && tar -czf /scratch/files/plain-1.0.tgz -C /tmp/plain README
tar -xzOf $repo/hello-1.1.tgz man/man1/hello.1 > /scratch/files/hello.1.edited
echo '.\" edited' >> /scratch/files/hello.1.edited
gzip -dc %s > /home/user/realpkgsrc/repo/pkg-vulnerabilities
sed 's/denial-of-service/remote-code-execution/' /home/user/realpkgsrc/repo/pkg-vulnerabilities \
    > /scratch/pkg-vulnerabilities.tampered
""" % VULN_FILE
# $HOME when transcripts-2 was recorded (check-pkg-vulnerabilities -s names the keyring under it).
SCENARIO2_ENV = {"HOME": "/home/user"}

# transcripts-2 steps listing in directory order (readdir), compared as sorted lines.
DIRECTORY_ORDER_2 = {("03-keep", "pkg_info -u: user-installed packages"),
                     ("02-install-patterns", "after install with one unknown name"),
                     ("08-pkg_admin", "lsall with a dewey pattern")}

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
    ("08-pkg_admin", "check all with a missing and a modified file", "stdout"): (
        "environment: pkg_admin check walks the pkgdb in directory (readdir) order, so hello-1.1's message "
        "comes after another number of progress dots",
        ("-........../opt/pkg/man/man1/hello.1 fails MD5 checksum", "-.....",
         "+/opt/pkg/man/man1/hello.1 fails MD5 checksum", "+...............")),
    ("08-pkg_admin", "audit-pkg of a vulnerable version (not installed)", "stdout"): (
        "environment: transcripts-2's vulnerability list was not recorded; the hosts use samples/pkgdb-final's",
        ("-Package hello-1.0 has a remote-code-execution vulnerability, see https://example.org/CVE-2026-0001",
         "+Package hello-1.0 has a denial-of-service vulnerability, see "
         "https://example.org/advisories/HELLO-2025-0001")),
    ("06-query", "stats", "stdout"): (
        "environment: sizes (not in MASKS): the bench packages here are rebuilt with other contents, and the "
        "bootstrap packages are re-packed from the kit",
        ("-\tDisk space occupied: 2611K", "+\tDisk space occupied: 2610K", "-\tTotal size of packages: 2836K",
         "+\tTotal size of packages: 1182K")),
}

KNOWN_STANDIN_VS_REAL_2: KnownTable = {
    ("07-pkg_add", "pkg_add -n dry run", "stdout"): (
        "stand-in bug (not fixed yet): pkg_add -n prints 'Package X registered in DIR' as with -v",
        ("-Package bench-pkg04-1.0 registered in /opt/pkg/pkgdb/bench-pkg04-1.0",)),
    ("07-pkg_add", "pkg_add a file truncated to half", "stderr"): (
        "stand-in bug (not fixed yet): the real pkg_add rejects a truncated archive when it opens it ('no pkg "
        "found ... sorry.', '1 package addition failed'); the stand-in fails only while extracting",
        ("-pkg_add: no pkg found for '/scratch/files/trunc-half/hello-1.1.tgz', sorry.",
         "+pkg_add: Failed to read from archive for hello-1.1: Compressed file ended before the end-of-stream "
         "marker was reached")),
    ("07-pkg_add", "pkg_add a tar.gz without +CONTENTS", "stderr"): (
        "stand-in bug (not fixed yet): for a tarball without +CONTENTS the real pkg_add prints only "
        "'1 package addition failed'",
        ("+pkg_add: no pkg found for '/scratch/files/plain-1.0.tgz', sorry.",)),
    ("08-pkg_admin", "pkg_delete a package with a missing and a modified file", "stderr"): (
        "stand-in bug (not fixed yet): pkg_delete does not warn \"Couldn't remove FILE\" for a file already gone",
        ("-pkg_delete: Couldn't remove /opt/pkg/share/doc/hello/README",)),
    ("08-pkg_admin", "rebuild-tree with foo-tool's dependency gone", "stderr"): (
        "stand-in bug (not fixed yet): rebuild-tree's text for an unresolved dependency",
        ("-pkg_admin: Dependency libfoo>=2.0 of foo-tool-3.2 unresolved",
         "+pkg_admin: foo-tool-3.2: Unresolvable dependency libfoo>=2.0")),
    ("08-pkg_admin", "install the force-deleted dependency again", "stderr"): (
        "stand-in bug (not fixed yet): pkgin's update_localdb() (insert_local_required_by()) warns about every "
        "unresolved @pkgdep when it re-reads the pkgdb; the stand-in does not",
        ("-pkgin: Dependency libfoo>=2.0 of foo-tool-3.2 unresolved",)),
    ("08-pkg_admin", "check-pkg-vulnerabilities -s (unsigned file)", "stderr"): (
        "stand-in bug (not fixed yet): the real pkg_admin checks signatures with libnetpgp (keyring "
        "$HOME/.gnupg/pubring.gpg), the stand-in with gpg",
        ("-can't read '/home/user/.gnupg/pubring.gpg'pkg_admin: cannot read keyring: No such file or directory",
         "+pkg_admin: Unable to verify signature")),
}

# Lines masked in the stand-in vs real comparisons of transcripts-2, on both sides: (step, note) -> (regular
# expression, replacement, reason).
STANDIN_MASKS_2 = {
    ("06-query", "stats"): (
        r"(?m)^\tDisk space occupied: .*$", "\tDisk space occupied: <local size>",
        "environment: the stand-ins' kit's packages are smaller than the real kit's (and their size follows the "
        "fixture kit)"),
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


def _replay_both(site: dict, which: str, records: List[dict], stops: Dict[Tuple[str, str], int],
                 setup: str = "", env: Optional[Dict[str, str]] = None) -> Dict[str, Dict[Tuple[str, str], Outcome]]:
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
        if setup:
            host.run(["sh", "-c", setup])

        def before(key: Tuple[str, str]) -> None:
            if key in stops:
                stop_serving(host, stops[key])

        return replay(host, records, before, env)

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
    results = _replay_both(site, "2", records, {}, SCENARIO2_SETUP, SCENARIO2_ENV)
    return {"results": results, "keys": [key_of(r) for r in records], "sorted": DIRECTORY_ORDER_2}


def _check(scenario: dict, left: str, right: str, known: KnownTable, report: Path, title: str,
           masks: Optional[Dict[Tuple[str, str], Tuple[str, str, str]]] = None) -> None:
    found = differences(scenario["results"][left], scenario["results"][right], scenario["keys"],
                        scenario["sorted"], {key: mask[:2] for key, mask in (masks or {}).items()})
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
           report_dir / "transcripts-2-standin-vs-real.json", "transcripts-2.jsonl: real now (-) vs stand-in (+)",
           STANDIN_MASKS_2)
