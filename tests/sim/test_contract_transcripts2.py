"""Focused checks of the pkgin stand-in against entries of samples/transcripts-2.jsonl.

Not a replay of the 176 commands: each test sets up what one real entry needs (stand-ins in a
tmp prefix, a fixture repository over HTTP on 127.0.0.1, packages named as in the sample),
runs the same command and compares with the real record after substituting URL and prefix
and masking the package sizes (the fixture packages are not the real bytes).
"""
from __future__ import annotations

import http.server
import json
import re
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from tests.conftest import SAMPLES_DIR
from tests.fixtures.demo import foo_tool_spec, hello_spec, libfoo_spec
from tests.fixtures.local import serve
from tests.fixtures.packages import PackageSpec, build_package
from tests.fixtures.repo import build_repo
from tests.sim.install import SimLayout, install_tools

REAL_PREFIX = "/opt/pkg"


def record(note: str) -> Dict[str, Any]:
    """The transcripts-2 entry with that note."""
    with open(SAMPLES_DIR / "transcripts-2.jsonl", encoding="utf-8") as handle:
        found = [json.loads(line) for line in handle if line.strip() and json.loads(line)["note"] == note]
    assert len(found) == 1, note
    return found[0]


def masked(text: str) -> str:
    """Sizes that follow from the package bytes."""
    return re.sub(r"^\d+(\.\d)?[BKMGT] to download, \d+(\.\d)?[BKMGT] of additional disk space will be used$",
                  "<sizes>", text, flags=re.MULTILINE)


def bench(n: int, prefix: str, version: str = "1.0", comment: str = "") -> PackageSpec:
    """bench-pkgNN-VERSION, COMMENT "Benchmark package NN" as in the sample repository (category bench)."""
    return PackageSpec("bench-pkg%02d" % n, version, comment=comment or "Benchmark package %02d" % n, prefix=prefix,
                       pkgpath="benchmarks/bench-pkg%02d" % n, categories="bench",
                       files={"share/bench/%02d-%s" % (n, version): "bench\n"})


def plus_signs(prefix: str) -> List[PackageSpec]:
    """gtk2+ and libsigc++ as the sample repository's (recorded COMMENTs)."""
    return [PackageSpec("gtk2+", "2.24.33nb5", comment="GTK+ toolkit stand-in with a plus sign", prefix=prefix,
                        pkgpath="x11/gtk2", categories="x11", files={"share/doc/gtk2+/README": "gtk2+\n"}),
            PackageSpec("libsigc++", "2.10.8", comment="Signal library stand-in with plus signs", prefix=prefix,
                        pkgpath="devel/libsigc++", categories="devel",
                        files={"share/doc/libsigc++/README": "libsigc++\n"})]


class Host:
    """A prefix with the stand-ins, its repository served over HTTP."""

    def __init__(self, root: Path, url: str, all_dir: Path, server: http.server.HTTPServer) -> None:
        self.root = root
        self.server = server
        self.prefix = root / "opt" / "pkg"
        self.url = url
        self.all_dir = all_dir
        self.env = {"LC_ALL": "C", "PATH": "%s/sbin:%s/bin:/usr/bin:/bin" % (self.prefix, self.prefix),
                    "PKGSRC_SIM_LOG": str(root / "sim.log"), "HOME": str(root)}

    def run(self, argv: List[str]) -> Tuple[int, str, str]:
        """A stand-in, as the shell would run it."""
        tool = next(p for p in ("sbin", "bin") if (self.prefix / p / argv[0]).exists())
        done = subprocess.run([str(self.prefix / tool / argv[0])] + argv[1:], env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)
        return done.returncode, done.stdout, done.stderr

    def expect(self, note: str, real_url: str = "http://127.0.0.1:18080/All") -> Tuple[int, str, str]:
        """The entry's real (rc, stdout, stderr), with its URL and prefix replaced by ours."""
        entry = record(note)

        def ours(text: str) -> str:
            return text.replace(real_url, self.url).replace(REAL_PREFIX + "/", str(self.prefix) + "/")

        return int(entry["rc"]), masked(ours(entry["stdout"])), ours(entry["stderr"])

    def same(self, note: str, real_url: str = "http://127.0.0.1:18080/All") -> None:
        """The entry's command gives the real exit code and output here."""
        entry = record(note)
        rc, out, err = self.expect(note, real_url)
        argv = [a.replace(real_url, self.url) for a in entry["argv"]]
        got = self.run(argv)
        assert (got[0], masked(got[1]), got[2]) == (rc, out, err)


@pytest.fixture()
def host(tmp_path: Path) -> Iterator[Host]:
    """Stand-ins in <tmp>/opt/pkg, an empty pkgdb; a repository with hello 1.0/1.1, libfoo,
    foo-tool, bench-pkg01 1.0/1.1, bench-pkg02 to 08, gtk2+ and libsigc++."""
    prefix = tmp_path / "opt" / "pkg"
    layout = SimLayout(str(prefix), str(prefix / "pkgdb"), str(prefix / "etc"), str(prefix / "var"))
    install_tools("/", layout, log_path=str(tmp_path / "sim.log"))
    (prefix / "pkgdb").mkdir()  # as on a real host, where the kit's packages are registered
    specs = [hello_spec("1.0", str(prefix)), hello_spec("1.1", str(prefix)), libfoo_spec(str(prefix)),
             foo_tool_spec(str(prefix))] + [bench(n, str(prefix)) for n in range(2, 9)]
    specs += [bench(1, str(prefix)), bench(1, str(prefix), "1.1", "Benchmark package 01 (newer)")]
    specs += plus_signs(str(prefix))
    all_dir = build_repo(tmp_path / "repo", specs)
    with serve(tmp_path / "repo") as (base, server):
        conf = prefix / "etc" / "pkgin" / "repositories.conf"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(base + "/All\n")
        made = Host(tmp_path, base + "/All", all_dir, server)
        assert made.run(["pkgin", "-y", "update"])[0] == 0
        yield made


def test_unknown_name_still_installs_the_others(host: Host) -> None:
    """#19: the unknown name goes to stderr, the known ones are installed, exit 1."""
    host.same("install three names, the middle one unknown")
    assert host.run(["pkg_info", "-e", "bench-pkg02"])[0] == host.run(["pkg_info", "-e", "bench-pkg03"])[0] == 0


def test_package_file_404_installs_the_others(host: Host) -> None:
    """#143: bench-pkg08's file is gone: "download error: URL Not Found" on stderr only, no
    "[2/2] downloading" line, bench-pkg06 installed as [1/1], exit 1."""
    (host.all_dir / "bench-pkg08-1.0.tgz").unlink()
    host.same("install two packages, one file 404", real_url="http://127.0.0.1:18081/missing/All")
    assert host.run(["pkg_info", "-e", "bench-pkg06"])[0] == 0


def test_dependency_404_is_still_attempted(host: Host) -> None:
    """#140: libfoo's file is gone; foo-tool is still attempted and fails in pkg_add ("errors: 2",
    see pkg_install-err.log); the pkgdb did not change, so no "reading local summary"."""
    (host.all_dir / "libfoo-2.0nb1.tgz").unlink()
    host.same("install foo-tool: its dependency's file is 404", real_url="http://127.0.0.1:18081/missing/All")
    log = (host.prefix / "var" / "db" / "pkgin" / "pkg_install-err.log").read_text()
    assert log.endswith("pkg_add: no pkg found for 'libfoo>=2.0', sorry.\npkg_add: Can't install dependency "
                        "libfoo>=2.0\npkg_add: 1 package addition failed\n")


def test_upgrade_downgrades_a_package_newer_than_available(host: Host, tmp_path: Path) -> None:
    """#166-168: hello-1.2 installed, the repository has 1.1 at most: `pkgin -y upgrade`
    "upgrades" to hello-1.1, exit 0."""
    newer = build_package(hello_spec("1.2", str(host.prefix)), tmp_path / "elsewhere")
    assert host.run(["pkg_add", str(newer)])[0] == 0
    host.same("dry run: upgrade with hello-1.2 newer than the repository")
    host.same("upgrade with hello-1.2 newer than the repository")
    assert host.run(["pkg_info", "-e", "hello"])[1] == "hello-1.1\n"


def test_automatic_flag_changed_behind_pkgins_back(host: Host) -> None:
    """#36-46: pkgin does not notice `pkg_admin set/unset automatic` (it re-reads the pkgdb
    only when PKG_DBDIR's mtime changes) until `pkgin -f update`."""
    assert host.run(["pkgin", "-y", "install", "bench-pkg02", "bench-pkg03"])[0] == 0
    assert host.run(["pkg_admin", "set", "automatic=YES", "bench-pkg03"])[0] == 0
    host.same("automatic after pkg_admin set")
    host.same("show-no-keep right after pkg_admin set")
    host.same("forced update after pkg_admin set")
    host.same("show-no-keep after the forced update")
    assert host.run(["pkg_admin", "unset", "automatic", "bench-pkg03"])[0] == 0
    host.same("show-no-keep right after pkg_admin unset")
    host.same("dry run: autoremove right after pkg_admin unset")
    host.same("forced update after pkg_admin unset")
    host.same("dry run: autoremove after the forced update")


def test_keep_of_a_package_not_installed(host: Host) -> None:
    """#48: "no such installed package NAME" on stdout, exit 1."""
    host.same("keep a package not installed")


def test_install_with_the_server_down(host: Host) -> None:
    """#146-147: install refreshes the summaries first; with the server down it stops there
    ("pkgin: Could not fetch URL/pkg_summary.gz: Connection refused", exit 1), while search
    still answers from the database."""
    host.server.shutdown()
    host.server.server_close()
    host.same("install with the server on :18080 stopped, database present")
    host.same("search with the server stopped")


def test_same_level_installed_in_hash_order(host: Host) -> None:
    """#16: two packages of the same dependency level are installed in the order of pkgin's
    impact hash table (libsigc++ before gtk2+), not in download (name) order."""
    host.same("install names with plus signs")


def test_glob_of_equal_versions_takes_the_last_walked(host: Host) -> None:
    """#22: 'bench-pkg0[45]-[0-9]*' selects bench-pkg05: of equal versions, find_preferred_pkg()
    keeps the last one in its hash-table walk."""
    host.same("dry run: install by glob")


def test_pkg_info_u_leaves_out_automatic_packages(host: Host) -> None:
    """#25: pkg_info -u lists the packages not marked automatic=yes (foo-tool, not libfoo)."""
    assert host.run(["pkgin", "-y", "install", "foo-tool"])[0] == 0
    real = [line for line in record("pkg_info -u: user-installed packages")["stdout"].splitlines(True)
            if line.startswith(("foo-tool-", "libfoo-"))]
    assert real == ["foo-tool-3.2        Demo tool that uses libfoo\n"]
    assert host.run(["pkg_info", "-u"]) == (0, "".join(real), "")


def test_pkg_admin_set_on_a_package_not_installed(host: Host) -> None:
    """#46: "pkg_admin: cannot find package nosuchpkg", exit 1."""
    host.same("pkg_admin set on a package not installed")


def test_pkg_delete_leaves_an_empty_required_by(host: Host) -> None:
    """#54-55: pkg_delete foo-tool leaves libfoo's +REQUIRED_BY empty, and pkg_info -R prints
    an empty "Required by:" block."""
    assert host.run(["pkgin", "-y", "install", "foo-tool"])[0] == 0
    assert host.run(["pkg_delete", "foo-tool"])[0] == 0
    host.same("required-by of libfoo after foo-tool is gone")


def test_list_outdated_in_hash_order(host: Host) -> None:
    """#61: `pkgin -p -l '<' list` walks the remote hash table: hello-1.1 before bench-pkg01-1.1."""
    for name in ("hello-1.0.tgz", "bench-pkg01-1.0.tgz"):
        assert host.run(["pkg_add", str(host.all_dir / name)])[0] == 0
    host.same("list outdated: bench-pkg01 and hello")


@pytest.mark.parametrize("note", ["show-deps -P (versions)", "show-deps", "pkg-content", "pkg-descr",
                                  "pkg-descr of an unknown package", "show-category", "show-pkg-category"])
def test_queries(host: Host, note: str) -> None:
    """#66-79: show-deps -P prints the PKGNAME a dependency resolves to; pkg-content/pkg-descr
    drop pkg_info's blank lines; an unknown package is errx()'d ("pkgin: ", and a blank line);
    the categories list versions in hash-table order (hello-1.1 first)."""
    host.same(note)


def test_pkg_build_defs_without_blank_lines(host: Host) -> None:
    """#76: the build information with no blank line (its values are the fixture's, not the real ones)."""
    rc, out, err = host.run(["pkgin", "pkg-build-defs", "hello"])
    real = record("pkg-build-defs")["stdout"].replace("http://127.0.0.1:18080/All", host.url)
    assert (rc, err) == (0, "")
    assert out.splitlines()[:2] == real.splitlines()[:2]
    assert "\n\n" not in out and out.endswith("\n")


def test_stats_layout(host: Host) -> None:
    """#80: a blank line between the local and the remote section (values masked)."""
    def shape(text: str) -> str:
        return re.sub(r": .*", ": N", text)

    rc, out, err = host.run(["pkgin", "stats"])
    assert (rc, shape(out), err) == (0, shape(record("stats")["stdout"]), "")
