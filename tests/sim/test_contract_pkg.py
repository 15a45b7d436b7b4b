"""Contract tests of the pkg_install and pkgin stand-ins against the real tools' transcripts.

The scenario of samples/transcripts.jsonl (48 commands of real pkg_install 20170419 and
pkgin 26.4.0) is replayed step by step against the stand-ins: a kit built by the fixtures is
extracted into tmp_path (prefix <tmp>/opt/pkg, pkgdb <tmp>/opt/pkg/pkgdb, as the samples'
/opt/pkg and /opt/pkg/pkgdb), the samples' 13-package repository is served over real HTTP on
127.0.0.1, and every command runs as a subprocess of its launcher. Exit codes are compared
exactly; stdout and stderr exactly after replacing the paths and URL, except for the
values listed in MASKS (the fixture packages are not byte-identical to the real ones).
"""
from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from tests.conftest import SAMPLES_DIR
from tests.fixtures.demo import build_demo_repo, libfoo_spec, sample_repo_specs
from tests.fixtures.gpg import Signer, make_signer
from tests.fixtures.kits import build_kit
from tests.fixtures.layouts import source_layout
from tests.fixtures.local import serve
from tests.fixtures.repo import add_packages, build_repo
from tests.sim import pkg_admin
from tests.sim._pkgdb import PkgDb, plist_values
from tests.sim.install import TOOL_OWNERS, TOOLS, SimLayout, install_tools, tool_files
from tests.sim.launcher import read_log

SAMPLE_URL = "http://127.0.0.1:18080/All"
SAMPLE_PREFIX = "/opt/pkg"
SAMPLE_REPO = "/srv/pkgsrc-repo"
BOOTSTRAP = ("bmake-20150505", "bootstrap-mk-files-20170802", "cwrappers-20170611", "nawk-20121220nb1",
             "pkg_install-20170419", "pkgin-26.4.0")

# Applied to the real and to the stand-in output alike, then the two must be equal.
# Each entry: (why, pattern, replacement).
MASKS: Tuple[Tuple[str, str, str], ...] = (
    ("package sizes differ: the fixture packages are not the real bytes",
     r"^(SIZE_PKG|FILE_SIZE)=\d+$", r"\1=<n>"),
    ("download and disk sizes follow from those sizes",
     r"^\d+(\.\d)?[BKMGT] to download, \d+(\.\d)?[BKMGT] of (additional disk space will be used|disk space will be "
     r"freed up)$", "<size> to download, <size> of <space>"),
    ("the fixture kit's packages hold other files than the real bootstrap packages",
     r"^Checked \d+ files from (\d+) packages\.$", r"Checked <n> files from \1 packages."),
    ("the fixture packages record no libc in REQUIRES",
     r"^REQUIRES=/lib/x86_64-linux-gnu/libc\.so\.6\n", ""),
)

# Steps whose lines come in directory order (readdir), which differs between filesystems:
# compared as sorted lines, and the stand-in's order checked against os.listdir instead.
DIRECTORY_ORDER = {("01-kit", "fresh kit: installed packages"), ("03-install", "after install"),
                   ("08-remove", "export keep list")}

# Transcript steps not replayed, with the reason. Keep this short.
SKIP: Dict[Tuple[str, str], str] = {}


def _records() -> List[dict]:
    with open(SAMPLES_DIR / "transcripts.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def mask(text: str) -> str:
    """The MASKS applied line by line."""
    for _why, pattern, replacement in MASKS:
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    return text


class Host:
    """A prefix with the stand-in tools, and a way to run them."""

    def __init__(self, root: Path, prefix: Path, log: Path) -> None:
        self.root = root
        self.prefix = prefix
        self.pkgdb = prefix / "pkgdb"
        self.log = log
        self.env = {"LC_ALL": "C", "PATH": "%s/sbin:%s/bin:/usr/bin:/bin" % (prefix, prefix),
                    "PKGSRC_SIM_LOG": str(log), "HOME": str(root)}

    def tool(self, name: str) -> Path:
        """The launcher of a tool."""
        for path, (module, _owner) in TOOLS.items():
            if module == name:
                return self.prefix / path
        raise KeyError(name)

    def run(self, argv: List[str], env: Optional[Dict[str, str]] = None,
            stdin: str = "") -> subprocess.CompletedProcess:
        """Run a stand-in like a shell would (argv[0] is the tool name)."""
        full_env = dict(self.env, **(env or {}))
        return subprocess.run([str(self.tool(argv[0]))] + argv[1:], env=full_env, input=stdin,
                              capture_output=True, text=True, timeout=120, check=False)


def _shape(dbdir: Path, prefix: str) -> Dict[str, object]:
    """What the structural comparison looks at, for every entry of a pkgdb."""
    shape: Dict[str, object] = {}
    for entry in sorted(os.listdir(dbdir)):
        path = dbdir / entry
        if not path.is_dir():
            shape[entry] = "file"
            continue
        files = sorted(os.listdir(path))
        item: Dict[str, object] = {
            "required_by": (path / "+REQUIRED_BY").read_text().splitlines() if "+REQUIRED_BY" in files else [],
            "installed_info": (path / "+INSTALLED_INFO").read_text() if "+INSTALLED_INFO" in files else None,
            "preserve": "+PRESERVE" in files,
        }
        if entry not in BOOTSTRAP:
            contents = (path / "+CONTENTS").read_text().replace(prefix, "<prefix>")
            item["files"] = files
            item["contents"] = re.sub(r"MD5:[0-9a-f]{32}", "MD5:<md5>", contents)
            item["comment"] = (path / "+COMMENT").read_text()
            item["desc"] = (path / "+DESC").read_text()
        shape[entry] = item
    return shape


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The sample scenario replayed; yields the results and paths for the tests below."""
    root = tmp_path_factory.mktemp("scenario")
    prefix = root / "opt" / "pkg"
    layout = source_layout(str(prefix))
    repo_root = root / "srv" / "pkgsrc-repo"
    all_dir = build_repo(repo_root, sample_repo_specs(layout))
    vulns = root / "pkg-vulnerabilities.gz"
    shutil.copyfile(SAMPLES_DIR / "pkgdb-final" / "pkg-vulnerabilities", vulns)
    results: Dict[Tuple[str, str], subprocess.CompletedProcess] = {}
    snapshots: Dict[str, Dict[str, object]] = {}
    orders: Dict[Tuple[str, str], List[str]] = {}
    meta_after_install: Dict[str, Dict[str, bytes]] = {}
    with serve(repo_root) as (base, server):
        url = base + "/All"
        kit = build_kit(root / "kits", layout, [url], sim_log=str(root / "sim.log"))
        with tarfile.open(kit.path) as tar:
            tar.extractall("/", filter="fully_trusted")
        with open(prefix / "etc" / "pkg_install.conf", "a", encoding="utf-8") as conf:
            conf.write("PKGVULNURL=file://%s\n" % vulns)
        host = Host(root, prefix, root / "sim.log")

        def real_to_ours(text: str) -> str:
            return text.replace(SAMPLE_URL, url).replace(SAMPLE_REPO, str(repo_root)).replace(SAMPLE_PREFIX,
                                                                                              str(prefix))

        for record in _records():
            key = (record["step"], record["note"])
            if key in SKIP:
                continue
            if record["step"] == "09-down" and server is not None:
                server.shutdown()
                server.server_close()
                server = None
            argv = [real_to_ours(a) for a in record["argv"]]
            env = {k: real_to_ours(v) for k, v in record["env"].items()}
            results[key] = host.run(argv, env)
            if key in DIRECTORY_ORDER:
                orders[key] = os.listdir(host.pkgdb)
            if key == ("03-install", "install with a dependency"):
                snapshots["after-foo-tool"] = _shape(host.pkgdb, str(prefix))
                for pkg in ("foo-tool-3.2", "libfoo-2.0nb1"):
                    meta_after_install[pkg] = {f: (host.pkgdb / pkg / f).read_bytes()
                                               for f in os.listdir(host.pkgdb / pkg)}
        snapshots["final"] = _shape(host.pkgdb, str(prefix))
        yield {"results": results, "snapshots": snapshots, "orders": orders, "host": host, "all_dir": all_dir,
               "real_to_ours": real_to_ours, "meta_after_install": meta_after_install}


@pytest.mark.parametrize("record", _records(), ids=lambda r: "%s:%s" % (r["step"], r["note"]))
def test_transcript_step(scenario: dict, record: dict) -> None:
    """Each real command, replayed: same exit code, same output after MASKS."""
    key = (record["step"], record["note"])
    if key in SKIP:
        pytest.skip(SKIP[key])
    result = scenario["results"][key]
    convert = scenario["real_to_ours"]
    assert result.returncode == record["rc"], (result.stdout, result.stderr)
    expected_out = mask(convert(record["stdout"]))
    expected_err = mask(convert(record["stderr"]))
    actual_out = mask(result.stdout)
    actual_err = mask(result.stderr)
    if key in DIRECTORY_ORDER:
        assert sorted(actual_out.splitlines()) == sorted(expected_out.splitlines())
    else:
        assert actual_out == expected_out
    assert actual_err == expected_err


def test_listing_follows_directory_order(scenario: dict) -> None:
    """pkg_info and pkgin export list packages in the pkgdb's directory order, as the real ones do."""
    results, orders = scenario["results"], scenario["orders"]
    for key in (("01-kit", "fresh kit: installed packages"), ("03-install", "after install")):
        listed = [line.split(" ", 1)[0] for line in results[key].stdout.splitlines()]
        assert listed == orders[key]
    exported = results[("08-remove", "export keep list")].stdout.splitlines()
    pkgpaths = {"bmake-20150505": "devel/bmake", "bootstrap-mk-files-20170802": "pkgtools/bootstrap-mk-files",
                "cwrappers-20170611": "pkgtools/cwrappers", "nawk-20121220nb1": "lang/nawk",
                "pkg_install-20170419": "pkgtools/pkg_install", "pkgin-26.4.0": "pkgtools/pkgin"}
    assert exported == [pkgpaths[n] for n in orders[("08-remove", "export keep list")] if n in pkgpaths]


def test_pkgdb_after_install_matches_sample(scenario: dict, samples_dir: Path) -> None:
    """After `pkgin -y install foo-tool` the pkgdb has the real one's entries, flags and links."""
    ours = scenario["snapshots"]["after-foo-tool"]
    real = _shape(samples_dir / "pkgdb-after-foo-tool", SAMPLE_PREFIX)
    real.pop("pkgdb.byfile.db")  # the stand-ins keep no Berkeley DB (README: not implemented)
    assert sorted(ours) == sorted(real)
    for name in real:
        mine, theirs = dict(ours[name]), dict(real[name])  # type: ignore[arg-type]
        assert mine == theirs, name


def test_pkgdb_keeps_package_metadata_unchanged(scenario: dict) -> None:
    """pkg_add stores a package's metadata files as they are in the package (the real +CONTENTS
    in pkgdb-after-foo-tool equals the one in package-listings.txt)."""
    meta = scenario["meta_after_install"]
    assert sorted(meta) == ["foo-tool-3.2", "libfoo-2.0nb1"]
    for pkgname, files in meta.items():
        with tarfile.open(scenario["all_dir"] / (pkgname + ".tgz")) as tar:
            in_package = {m.name: tar.extractfile(m).read() for m in tar.getmembers()  # type: ignore[union-attr]
                          if m.name.startswith("+")}
        added = {name: data for name, data in files.items() if name not in in_package}
        assert {name: files[name] for name in in_package} == in_package
        assert added == ({"+REQUIRED_BY": b"foo-tool-3.2\n", "+INSTALLED_INFO": b"automatic=yes\n"}
                         if pkgname == "libfoo-2.0nb1" else {})


def test_pkgdb_final_matches_sample(scenario: dict, samples_dir: Path) -> None:
    """At the end: the bootstrap packages and pkg-vulnerabilities (stored as fetched), as in pkgdb-final."""
    ours = scenario["snapshots"]["final"]
    real = _shape(samples_dir / "pkgdb-final", SAMPLE_PREFIX)
    real.pop("pkgdb.byfile.db")
    assert ours == real
    host = scenario["host"]
    assert (host.pkgdb / "pkg-vulnerabilities").read_bytes() == (samples_dir / "pkgdb-final" /
                                                                 "pkg-vulnerabilities").read_bytes()


def test_pkgin_installs_in_process(scenario: dict) -> None:
    """pkgin ran pkg_add/pkg_delete in-process: the launcher log has no pkg_add from a pkgin run,
    and every replayed command was logged under its tool."""
    calls = read_log(scenario["host"].log)
    tools = [c["tool"] for c in calls]
    assert tools.count("pkgin") == sum(1 for r in _records() if r["argv"][0] == "pkgin")
    assert tools.count("pkg_add") == sum(1 for r in _records() if r["argv"][0] == "pkg_add")
    assert {"pkg_add", "pkg_info", "pkg_delete", "pkg_admin", "pkgin"} <= set(tools)
    errlog = (scenario["host"].prefix / "var" / "db" / "pkgin" / "pkg_install-err.log").read_text()
    assert "[1/2] installing libfoo-2.0nb1..." in errlog


def test_pkgin_cache_and_clean(scenario: dict) -> None:
    """Downloads went to <VARBASE>/db/pkgin/cache; `pkgin clean` empties it."""
    host = scenario["host"]
    cache = host.prefix / "var" / "db" / "pkgin" / "cache"
    assert sorted(os.listdir(cache)) == ["foo-tool-3.2.tgz", "hello-1.0.tgz", "hello-1.1.tgz", "libfoo-2.0nb1.tgz"]
    result = host.run(["pkgin", "clean"])
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert os.listdir(cache) == []


def test_pmatch_agrees_with_real_tool(samples_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """pkg_admin pmatch on every case of dewey-cases.tsv (computed with the real tool)."""
    lines = (samples_dir / "dewey-cases.tsv").read_text().splitlines()[1:]
    wrong = []
    for line in lines:
        pattern, pkgname, match = line.split("\t")
        rc = pkg_admin.main(["pmatch", pattern, pkgname], {"PREFIX": "/nonexistent"})
        if rc != (0 if match == "yes" else 1):
            wrong.append(line)
    capsys.readouterr()
    assert len(lines) > 200
    assert wrong == []


# --- beyond the transcripts -------------------------------------------------------------------

@pytest.fixture()
def demo_host(tmp_path: Path) -> Tuple[Host, Path]:
    """An empty prefix with the tools, and a local repository with the extra demo packages."""
    prefix = tmp_path / "opt" / "pkg"
    layout = SimLayout(str(prefix), str(prefix / "pkgdb"), str(prefix / "etc"), str(prefix / "var"))
    install_tools("/", layout, log_path=str(tmp_path / "sim.log"))
    all_dir = build_demo_repo(tmp_path / "repo", str(prefix), bootstrap=False)
    return Host(tmp_path, prefix, tmp_path / "sim.log"), all_dir


def _consistent(pkgdb: Path) -> List[str]:
    """Problems of a pkgdb: every +REQUIRED_BY line names an installed package whose @pkgdep
    resolves to this package, every dependency is registered, every entry is complete."""
    db = PkgDb(str(pkgdb))
    names = db.names()
    problems = []
    for pkg in names:
        if not db.installed(pkg) or db.read(pkg, "+COMMENT") is None:
            problems.append("incomplete entry %s" % pkg)
            continue
        for dependant in db.required_by(pkg):
            if dependant not in names:
                problems.append("%s required by missing %s" % (pkg, dependant))
            elif pkg not in [db.best(p) for p in plist_values(db.plist(dependant), "pkgdep")]:
                problems.append("%s lists %s, which does not depend on it" % (pkg, dependant))
        for pattern in plist_values(db.plist(pkg), "pkgdep"):
            best = db.best(pattern)
            if best is None:
                problems.append("%s: dependency %s missing" % (pkg, pattern))
            elif pkg not in db.required_by(best):
                problems.append("%s not in +REQUIRED_BY of %s" % (pkg, best))
    return problems


def test_concurrent_runs_leave_pkgdb_consistent(demo_host: Tuple[Host, Path]) -> None:
    """8 pkg_add/pkg_delete at once, twice: the lock keeps every +REQUIRED_BY true."""
    host, all_dir = demo_host

    def run_all(commands: List[List[str]]) -> List[subprocess.CompletedProcess]:
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            return list(pool.map(host.run, commands))

    pkg = functools.partial(os.path.join, str(all_dir))
    first = run_all([["pkg_add", pkg("foo-tool-3.2.tgz")], ["pkg_add", pkg("gtk2+-2.24.33nb1.tgz")],
                     ["pkg_add", pkg("py311-requests-2.31.0.tgz")], ["pkg_add", pkg("hello-1.0.tgz")],
                     ["pkg_add", pkg("php-8.1.29.tgz")], ["pkg_add", pkg("svc-demo-1.0.tgz")],
                     ["pkg_add", pkg("libfoo-2.0nb1.tgz")], ["pkg_add", pkg("glib2-2.80.2.tgz")]])
    assert [r.returncode for r in first] == [0] * 8, [r.stderr for r in first]
    assert all("Traceback" not in r.stderr for r in first)
    assert _consistent(host.pkgdb) == []
    second = run_all([["pkg_delete", "-r", "libfoo-2.0nb1"], ["pkg_delete", "hello-1.0"],
                      ["pkg_delete", "-r", "glib2"], ["pkg_delete", "-r", "py311-urllib3"],
                      ["pkg_add", pkg("php-8.0.30.tgz")], ["pkg_add", pkg("svc-demo-1.0.tgz")],
                      ["pkg_add", pkg("py311-idna-3.7.tgz")], ["pkg_delete", "svc-demo-1.0"]])
    assert [r.returncode for r in second] == [0, 0, 0, 0, 1, 0, 0, 0], [r.stderr for r in second]
    assert "A different version of php-8.0.30 is already installed: php-8.1.29" in second[4].stderr
    assert _consistent(host.pkgdb) == []
    installed = set(os.listdir(host.pkgdb))
    assert {"php-8.1.29", "py311-idna-3.7"} <= installed
    assert not installed & {"foo-tool-3.2", "libfoo-2.0nb1", "hello-1.0", "gtk2+-2.24.33nb1", "glib2-2.80.2",
                            "py311-requests-2.31.0", "py311-urllib3-2.2.1"}
    assert not (host.prefix / "bin" / "foo-tool").exists()
    assert not (host.prefix / "lib" / "libfoo.so.2.0.1").exists()


def test_dependencies_automatic_and_replace_keeps_links(demo_host: Tuple[Host, Path]) -> None:
    """pkg_add installs dependencies from the package's directory, marks them automatic and
    registers +REQUIRED_BY; -U replaces a version keeping +REQUIRED_BY and the automatic flag."""
    host, all_dir = demo_host
    result = host.run(["pkg_add", str(all_dir / "py311-requests-2.31.0.tgz")])
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    db = host.pkgdb
    assert (db / "py311-urllib3-2.2.1" / "+INSTALLED_INFO").read_text() == "automatic=yes\n"
    assert not (db / "py311-requests-2.31.0" / "+INSTALLED_INFO").exists()
    assert (db / "py311-idna-3.7" / "+REQUIRED_BY").read_text() == "py311-requests-2.31.0\n"
    assert host.run(["pkg_info", "-Q", "automatic", "py311-idna"]).stdout == "yes\n"
    assert host.run(["pkg_info", "-u"]).stdout.split()[0] == "py311-requests-2.31.0"
    site = host.prefix / "lib" / "python3.11" / "site-packages"
    assert (site / "idna" / "__init__.py").read_text() == '__version__ = "3.7"\n'
    # replace idna with itself (-U), then check nothing was lost
    result = host.run(["pkg_add", "-U", str(all_dir / "py311-idna-3.7.tgz")])
    assert result.returncode == 0, result.stderr
    assert (db / "py311-idna-3.7" / "+REQUIRED_BY").read_text() == "py311-requests-2.31.0\n"
    assert (db / "py311-idna-3.7" / "+INSTALLED_INFO").read_text() == "automatic=yes\n"
    assert (site / "idna" / "__init__.py").exists()
    check = host.run(["pkg_admin", "check"])
    assert check.stdout == "...\nChecked 3 files from 3 packages.\nDone.\n" and check.stderr == ""
    # pkg_delete -r takes the dependants first
    assert host.run(["pkg_delete", "py311-idna"]).returncode == 1
    result = host.run(["pkg_delete", "-r", "py311-idna"])
    assert (result.returncode, result.stderr) == (0, "")
    assert os.listdir(db) == ["py311-urllib3-2.2.1"]
    assert not (site / "idna").exists() and not (site / "requests").exists()


def test_pkgin_keep_deps_pins_and_stats(demo_host: Tuple[Host, Path]) -> None:
    """pkgin from a file:// repository: preferred.conf pins, show-deps, keep/unkeep, stats."""
    host, all_dir = demo_host
    etc = host.prefix / "etc" / "pkgin"
    etc.mkdir(parents=True)
    (etc / "repositories.conf").write_text("# local\nfile://%s\n" % all_dir)
    (etc / "preferred.conf").write_text("php>=8.1<8.2\n")
    result = host.run(["pkgin", "-y", "install", "php", "gtk2+"])
    assert result.returncode == 0, result.stderr
    assert "3 packages to install:\n  glib2-2.80.2 gtk2+-2.24.33nb1 php-8.1.29\n" in result.stdout
    assert "[1/3] installing glib2-2.80.2...\n" in result.stdout  # dependencies first
    assert "] downloading" not in result.stdout  # a file:// repository's packages are linked, not fetched
    assert "0B to download, " in result.stdout
    deps = host.run(["pkgin", "show-deps", "gtk2+"])
    assert deps.stdout == "direct dependencies for gtk2+-2.24.33nb1\n\tglib2>=2.28.0\n"
    rdeps = host.run(["pkgin", "show-rev-deps", "glib2"])
    assert rdeps.stdout == "local reverse dependency tree for glib2-2.80.2\n\tgtk2+-2.24.33nb1\n"
    assert host.run(["pkgin", "show-no-keep"]).stdout.startswith("glib2-2.80.2 ")
    keep = host.run(["pkgin", "keep", "glib2"])
    assert keep.stdout == "marking glib2-2.80.2 as non auto-removable\n"
    assert host.run(["pkgin", "show-no-keep"]).stdout == "empty autoremovable package list\n"
    assert host.run(["pkgin", "unkeep", "glib2"]).stdout == "marking glib2-2.80.2 as auto-removable\n"
    stats = host.run(["pkgin", "stats"]).stdout
    assert "\tInstalled packages: 3\n" in stats and "\tNumber of repositories: 1\n" in stats
    search = host.run(["pkgin", "search", "^php$"])
    assert search.stdout.splitlines()[:3] == ["%-20s %s" % (label, "PHP Hypertext Preprocessor version " + v)
                                              for label, v in (("php-8.2.20 <", "8.2"), ("php-8.1.29 =", "8.1"),
                                                               ("php-8.0.30 >", "8.0"))]
    declined = host.run(["pkgin", "remove", "php"], stdin="n\n")
    assert declined.stdout == "1 packages to delete: \n  php-8.1.29\n\nproceed ? [Y/n] "
    assert (host.pkgdb / "php-8.1.29").is_dir()
    (etc / "preferred.conf").write_text("php>=9\n")
    result = host.run(["pkgin", "-y", "install", "php"])
    assert result.returncode == 1
    assert result.stderr == "No php package available that satisfies preferred match php>=9\n"


def test_pkgin_update_sees_a_changed_repository(demo_host: Tuple[Host, Path]) -> None:
    """An update right after the repository changed downloads it again; upgrade then finds the
    new version and keeps the package's automatic flag."""
    host, all_dir = demo_host
    with serve(all_dir.parent) as (base, _server):
        env = {"PKG_REPOS": base + "/All"}
        assert host.run(["pkgin", "-y", "install", "foo-tool"], env).returncode == 0
        add_packages(all_dir, [dataclasses.replace(libfoo_spec(str(host.prefix)), version="2.1")])
        update = host.run(["pkgin", "-y", "update"], env)
        assert update.stdout == "processing remote summary (%s/All)...\ndownloading pkg_summary.xz done.\n" % base
        again = host.run(["pkgin", "-y", "update"], env)
        assert again.stdout.endswith("database for %s/All is up-to-date\n" % base)
        result = host.run(["pkgin", "-y", "upgrade"], env)
        assert "1 package to upgrade:\n  libfoo-2.1\n" in result.stdout, result.stdout
    assert sorted(os.listdir(host.pkgdb)) == ["foo-tool-3.2", "libfoo-2.1"]
    assert (host.pkgdb / "libfoo-2.1" / "+INSTALLED_INFO").read_text() == "automatic=yes\n"
    assert (host.pkgdb / "libfoo-2.1" / "+REQUIRED_BY").read_text() == "foo-tool-3.2\n"


def _ar(members: List[Tuple[str, bytes]]) -> bytes:
    """A BSD ar(1) archive, long names as #1/N (what libarchive's ar_bsd writer makes)."""
    out = [b"!<arch>\n"]
    for name, data in members:
        body = name.encode() + data
        out.append(("%-16s%-12d%-6d%-6d%-8o%-10d`\n" % ("#1/%d" % len(name), 0, 0, 0, 0o644, len(body))).encode())
        out.append(body + (b"\n" if len(body) % 2 else b""))
    return b"".join(out)


def _signed(pkgfile: Path, signer: Signer, out: Path) -> Path:
    """pkg_install's signed package: ar(1) of +PKG_HASH, +PKG_GPG_SIGNATURE and the .tgz."""
    data = pkgfile.read_bytes()
    block = 65536
    hashes = "".join(hashlib.sha512(data[i:i + block]).hexdigest() + "\n" for i in range(0, len(data), block))
    text = ("pkgsrc signature\n\nversion: 1\npkgname: %s\ntype: inline\nalgorithm: SHA512\nblock size: %d\n"
            "file size: %d\n\n%send pkgsrc signature\n" % (pkgfile.name[:-4], block, len(data), hashes))
    hash_file = out.with_suffix(".hash")
    hash_file.write_text(text)
    signature = signer.sign(hash_file).read_bytes()
    out.write_bytes(_ar([("+PKG_HASH", text.encode()), ("+PKG_GPG_SIGNATURE", signature), (pkgfile.name, data)]))
    return out


def test_verified_installation(tmp_path: Path, demo_host: Tuple[Host, Path]) -> None:
    """VERIFIED_INSTALLATION=always: a package signed by a key of GPG_KEYRING_VERIFY installs;
    an unsigned one, or one signed by another key, is refused with pkg_add's message."""
    host, all_dir = demo_host
    good = make_signer(tmp_path / "good")
    other = make_signer(tmp_path / "other", name="untrusted key")
    try:
        signed = _signed(all_dir / "hello-1.0.tgz", good, tmp_path / "hello-1.0.tgz")
        foreign = _signed(all_dir / "hello-1.1.tgz", other, tmp_path / "hello-1.1.tgz")
    finally:
        good.close()
        other.close()
    conf = host.prefix / "etc" / "pkg_install.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("VERIFIED_INSTALLATION=always\nGPG_KEYRING_VERIFY=%s\n" % good.keyring)
    refused = "pkg_add: No valid signature found, rejected\npkg_add: 1 package addition failed\n"
    for package in (all_dir / "libfoo-2.0nb1.tgz", foreign):
        result = host.run(["pkg_add", str(package)])
        assert (result.returncode, result.stderr) == (1, refused)
    result = host.run(["pkg_add", str(signed)])
    assert (result.returncode, result.stderr) == (0, "")
    assert host.run(["pkg_info", "-e", "hello"]).stdout == "hello-1.0\n"
    assert host.run(["pkg_info", "-Q", "PKGPATH", str(signed)]).stdout == "misc/hello\n"


def test_pkg_create_builds_what_pkg_add_installs(tmp_path: Path, demo_host: Tuple[Host, Path],
                                                 samples_dir: Path) -> None:
    """pkg_create makes a package shaped like the real hello-1.0.tgz; pkg_info, pkg_add,
    pkg_admin check and pkg_delete handle it."""
    host, _unused = demo_host
    stage = tmp_path / "stage"
    staged = {"bin/hello": "#!/bin/sh\necho hello\n", "man/man1/hello.1": ".TH HELLO 1\n",
              "share/doc/hello/README": "hello\n"}
    for rel, text in staged.items():
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_text(text)
    (stage / "bin" / "hello").chmod(0o755)
    (tmp_path / "plist").write_text("bin/hello\nman/man1/hello.1\nshare/doc/hello/README\n")
    (tmp_path / "build-info").write_text("OPSYS=Linux\nOS_VERSION=6.1\nMACHINE_ARCH=x86_64\nPKGPATH=misc/hello\n")
    out = tmp_path / "hello-1.0.tgz"
    result = host.run(["pkg_create", "-B", str(tmp_path / "build-info"), "-c", "-Friendly greeting program (demo)",
                       "-d", "-A demo.", "-f", str(tmp_path / "plist"), "-p", str(stage), "-I", str(host.prefix),
                       str(out)])
    assert (result.returncode, result.stderr) == (0, "")
    with tarfile.open(out) as tar:
        names = tar.getnames()
        contents = tar.extractfile("+CONTENTS").read().decode()  # type: ignore[union-attr]
    assert names == ["+CONTENTS", "+COMMENT", "+DESC", "+BUILD_INFO", "+SIZE_PKG", "+SIZE_ALL", "bin/hello",
                     "man/man1/hello.1", "share/doc/hello/README"]
    real = (samples_dir / "package-listings.txt").read_text().split("# +CONTENTS inside hello-1.0.tgz\n")[1]
    real = real.split("\n\n")[0] + "\n"

    def shape(text: str, prefix: str) -> str:
        return re.sub(r"MD5:[0-9a-f]{32}", "MD5:<md5>", text.replace(prefix, "<prefix>"))

    assert shape(contents, str(host.prefix)) == shape(real, SAMPLE_PREFIX)
    summary = host.run(["pkg_info", "-X", str(out)]).stdout
    assert summary.startswith("PKGNAME=hello-1.0\nCOMMENT=Friendly greeting program (demo)\nSIZE_PKG=%d\n"
                              "OPSYS=Linux\nOS_VERSION=6.1\nMACHINE_ARCH=x86_64\nPKGPATH=misc/hello\n"
                              % sum(len(t) for t in staged.values()))
    assert "FILE_SIZE=%d\n" % out.stat().st_size in summary
    assert host.run(["pkg_add", str(out)]).returncode == 0
    assert (host.prefix / "bin" / "hello").read_text() == "#!/bin/sh\necho hello\n"
    assert os.access(host.prefix / "bin" / "hello", os.X_OK)
    files = host.run(["pkg_info", "-qL", "hello"]).stdout
    assert files == "".join("%s/%s\n" % (host.prefix, p) for p in ("bin/hello", "man/man1/hello.1",
                                                                   "share/doc/hello/README"))
    assert host.run(["pkg_admin", "check", "hello"]).stdout == ".\nChecked 3 files from 1 package.\nDone.\n"
    assert host.run(["pkg_delete", "hello"]).returncode == 0
    assert not (host.prefix / "bin" / "hello").exists()
    assert not (host.prefix / "share").exists() and not (host.prefix / "man").exists()  # emptied dirs go too


def test_audit_lines_and_vulnerability_checksum(tmp_path: Path, demo_host: Tuple[Host, Path],
                                                samples_dir: Path) -> None:
    """audit names every vulnerable package; a file whose #CHECKSUM does not match is refused."""
    host, all_dir = demo_host
    good = gzip.decompress((samples_dir / "pkgdb-final" / "pkg-vulnerabilities").read_bytes())
    bad = good.replace(b"hello<1.1", b"hello<9.9")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(bad))
    conf = host.prefix / "etc" / "pkg_install.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("PKGVULNURL=file://%s\n" % (tmp_path / "bad.gz"))
    result = host.run(["pkg_admin", "fetch-pkg-vulnerabilities"])
    assert (result.returncode, result.stderr) == (1, "pkg_admin: SHA512 hash doesn't match\n")
    (tmp_path / "good.gz").write_bytes(gzip.compress(good))
    conf.write_text("PKGVULNURL=file://%s\n" % (tmp_path / "good.gz"))
    assert host.run(["pkg_admin", "fetch-pkg-vulnerabilities"]).returncode == 0
    assert host.run(["pkg_add", str(all_dir / "hello-1.0.tgz"), str(all_dir / "svc-demo-1.0.tgz")]).returncode == 0
    result = host.run(["pkg_admin", "audit"])
    assert result.returncode == 1
    assert sorted(result.stdout.splitlines()) == [
        "Package hello-1.0 has a denial-of-service vulnerability, see https://example.org/advisories/HELLO-2025-0001",
        "Package svc-demo-1.0 has a information-leak vulnerability, see "
        "https://example.org/advisories/SVCDEMO-2025-0003"]
    assert host.run(["pkg_admin", "config-var", "PKGVULNDIR"]).stdout == "%s\n" % host.pkgdb


def test_tool_files_layout() -> None:
    """install.tool_files: launchers for every tool with the layout compiled in, support files."""
    layout = SimLayout("/opt/local", "/opt/local/pkg", "/opt/local/etc", "/var")
    files = tool_files(layout, python="/usr/bin/python3")
    for path in TOOLS:
        content, mode = files[path]
        assert mode == 0o755
        assert content.startswith(b"#!/usr/bin/python3\n")
        assert b"'PKG_DBDIR': '/opt/local/pkg'" in content and b"'VARBASE': '/var'" in content
    assert files["libexec/pkgsrc-sim/sim/pkg_add.py"][1] == 0o644
    assert "libexec/pkgsrc-sim/pkgsrc_core/versions.py" in files
    assert not [p for p in files if "__pycache__" in p or os.path.basename(p).startswith("test_")]
    assert TOOL_OWNERS["bin/pkgin"] == "pkgin" and TOOL_OWNERS["sbin/pkg_add"] == "pkg_install"
