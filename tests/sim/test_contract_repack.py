"""Contract test of the pkg_create stand-in against samples/repack-downgrade-files.md.

The real pkg_install 20170419 re-packs an installed hello-1.0 from its pkgdb entry the pkg_tarup
way (packing list = +CONTENTS without @name and the @ignore'd metadata, which go in as options;
the installed `@comment MD5:` lines kept, so they come out doubled), deletes it, adds the package
file back, checks; then downgrades, and adds a package file whose dependency comes from PKG_PATH.
Every step of the sample (each ``` block: `$ command`, the output, `[exit N]`) is replayed through
/bin/sh against the stand-ins, with hello-1.0 installed first from the fixture repository (served
over HTTP on 127.0.0.1 for the PKG_PATH step). The fixture packages hold other bytes than the real
ones, so the MD5 values and pkg_admin check's counts are masked (MASKS); everything else (exit
codes, output, file modes, packing lists) must be the sample's.

Then the core's own re-pack (pkgsrc_core.history.saved.save_installed) runs against the same
stand-ins: the sample's pkg_create options, single MD5 lines, and a package that re-installs and
passes pkg_admin check, also when a file was modified since install.
"""
from __future__ import annotations

import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.history import saved
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.runner import SubprocessRunner
from tests.conftest import SAMPLES_DIR
from tests.fixtures.demo import core_demo_specs
from tests.fixtures.local import serve
from tests.fixtures.repo import build_repo
from tests.sim.install import SimLayout, install_tools

SAMPLE = "repack-downgrade-files.md"
SAMPLE_PREFIX = "/opt/pkg"
SAMPLE_SCRATCH = "/scratch"
SAMPLE_REPO = "/srv/pkgsrc-repo"
SAMPLE_URL = "http://127.0.0.1:18080/All"

# Applied to the sample's and to the stand-ins' output alike: (why, pattern, replacement).
MASKS: Tuple[Tuple[str, str, str], ...] = (
    ("the fixture hello-1.0 holds other bytes than the real one", r"MD5:[0-9a-f]{32}", "MD5:<md5>"),
    ("the real host had 59 packages, the replay's prefix only what it installs",
     r"^Checked \d+ files? from \d+ packages?\.$", "Checked <n> files from <m> packages."),
    ("one dot per package checked", r"^\.+$", "<dots>"),
)


@dataclass(frozen=True)
class Step:
    """One ``` block of the sample."""

    index: int
    command: str
    output: Tuple[str, ...]
    rc: Optional[int]


def parse_sample(text: str) -> List[Step]:
    """Every ``` block that holds `$ command`, its output and `[exit N]`; the pipelines (grep, tar)
    were captured without an exit status: rc None, their output is compared alone."""
    steps: List[Step] = []
    for block in re.findall(r"^```\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL):
        lines = block.splitlines()
        if not lines or not lines[0].startswith("$ "):
            continue
        found = re.fullmatch(r"\[exit (\d+)\]", lines[-1])
        if found is None:
            assert lines[0].startswith(("$ grep ", "$ tar ")), "step without [exit N]: %r" % lines[0]
            steps.append(Step(len(steps), lines[0][2:], tuple(lines[1:]), None))
            continue
        steps.append(Step(len(steps), lines[0][2:], tuple(lines[1:-1]), int(found.group(1))))
    return steps


def _steps() -> List[Step]:
    return parse_sample((SAMPLES_DIR / SAMPLE).read_text(encoding="utf-8"))


def mask(text: str) -> str:
    for _why, pattern, replacement in MASKS:
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    return text


class Prefix:
    """A prefix with the stand-in tools, a scratch folder and the fixture repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.prefix = root / "opt" / "pkg"
        self.pkgdb = self.prefix / "pkgdb"
        self.scratch = root / "scratch"
        self.scratch.mkdir()
        self.repo = root / "srv" / "pkgsrc-repo"
        layout = SimLayout(str(self.prefix), str(self.pkgdb), str(self.prefix / "etc"), str(self.prefix / "var"))
        install_tools("/", layout, log_path=str(root / "sim.log"))
        build_repo(self.repo, core_demo_specs(str(self.prefix)))
        self.env = {"LC_ALL": "C", "PATH": "%s/sbin:%s/bin:/usr/bin:/bin" % (self.prefix, self.prefix),
                    "PKGSRC_SIM_LOG": str(root / "sim.log"), "HOME": str(root)}
        self.url = ""

    @property
    def layout(self) -> Layout:
        return Layout(prefix=str(self.prefix), pkg_dbdir=str(self.pkgdb), sysconfdir=str(self.prefix / "etc"),
                      varbase=str(self.prefix / "var"))

    def ours(self, text: str) -> str:
        """A sample's path or URL as it is in this replay."""
        return (text.replace(SAMPLE_URL, self.url).replace(SAMPLE_REPO, str(self.repo))
                .replace(SAMPLE_SCRATCH, str(self.scratch)).replace(SAMPLE_PREFIX, str(self.prefix)))

    def sh(self, command: str) -> subprocess.CompletedProcess:
        """A sample command through /bin/sh, stdout and stderr merged as the sample captured them."""
        return subprocess.run(["/bin/sh", "-c", command], env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120, check=False)

    def run(self, argv: List[str]) -> subprocess.CompletedProcess:
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, object]]:
    """The sample replayed with hello-1.0 installed first; yields {index: (rc, output)}."""
    host = Prefix(tmp_path_factory.mktemp("repack"))
    results: Dict[int, Tuple[int, str]] = {}
    contents: Dict[str, str] = {}
    with serve(host.repo) as (base, _server):
        host.url = base + "/All"
        assert host.run(["pkg_add", str(host.repo / "All" / "hello-1.0.tgz")]).returncode == 0
        contents["installed"] = (host.pkgdb / "hello-1.0" / "+CONTENTS").read_text()
        for step in _steps():
            done = host.sh(host.ours(step.command))
            results[step.index] = (done.returncode, done.stdout)
            if step.command.startswith("pkg_create -v"):
                with tarfile.open(host.scratch / "hello-1.0.tgz") as tar:
                    member = tar.extractfile("+CONTENTS")
                    assert member is not None
                    contents["repacked"] = member.read().decode()
    yield {"results": results, "host": host, "contents": contents}


def test_sample_has_the_expected_steps() -> None:
    """The parser finds the sample's commands (guards against a silently empty replay)."""
    commands = [s.command.split()[0] for s in _steps()]
    assert commands[:3] == ["pkg_create", "grep", "pkg_create"]
    assert len(commands) == 19
    assert commands.count("pkg_add") == 3 and commands.count("env") == 1


@pytest.mark.parametrize("step", _steps(), ids=lambda s: "%02d:%s" % (s.index, s.command[:40]))
def test_step(replay: Dict[str, object], step: Step) -> None:
    """Each step: the sample's exit code and output (paths substituted, MASKS applied)."""
    rc, out = replay["results"][step.index]  # type: ignore[index]
    host = replay["host"]
    expected = mask("".join(host.ours(line) + "\n" for line in step.output))  # type: ignore[attr-defined]
    assert (rc if step.rc is not None else None, mask(out)) == (step.rc, expected)


def test_repacked_contents_double_the_installed_md5_lines(replay: Dict[str, object]) -> None:
    """Unmasked: each file's own MD5 line is followed by the installed one, and they are equal."""
    contents = replay["contents"]
    installed = contents["installed"].splitlines()  # type: ignore[index]
    repacked = contents["repacked"].splitlines()  # type: ignore[index]
    files = [line for line in installed if line and not line.startswith(("@", "+"))]
    for name in files:
        i = repacked.index(name)
        assert repacked[i + 1] == repacked[i + 2] == installed[installed.index(name) + 1]


# --- the core's re-pack against the stand-ins --------------------------------------------------

@pytest.fixture()
def installed(tmp_path: Path) -> Prefix:
    host = Prefix(tmp_path)
    assert host.run(["pkg_add", str(host.repo / "All" / "hello-1.0.tgz")]).returncode == 0
    return host


def _reinstall(host: Prefix, path: str) -> None:
    assert host.run(["pkg_delete", "hello"]).returncode == 0
    assert not (host.prefix / "bin" / "hello").exists()
    added = host.run(["pkg_add", path])
    assert (added.returncode, added.stderr) == (0, ""), added.stderr
    assert host.run(["pkg_info", "-e", "hello"]).stdout == "hello-1.0\n"


def test_save_installed_uses_the_samples_options_and_reinstalls(installed: Prefix) -> None:
    """The sample's pkg_create options (without -v), single MD5 lines (pkg_tarup drops the
    installed ones), and a package that pkg_add re-installs and pkg_admin check passes."""
    host = installed
    entry = "%s/hello-1.0/" % host.pkgdb
    result = saved.save_installed(host.layout, "hello-1.0", SubprocessRunner())
    sample = next(s for s in _steps() if s.command.startswith("pkg_create -v")).command
    expected = host.ours(sample).split()[2:-9] + ["-p", str(host.prefix), "-I", str(host.prefix), "-f"]
    assert list(result.argv[1:len(expected) + 1]) == expected
    assert result.argv[0] == "%s/sbin/pkg_create" % host.prefix and result.argv[-3:-1] == ("-F", "gzip")
    assert [a for a in result.argv if a.startswith(entry)] == [entry + n for n in (
        "+BUILD_INFO", "+COMMENT", "+DESC", "+SIZE_PKG", "+SIZE_ALL")]
    assert result.path == "%s/var/db/pkgsrc-deploy/saved/hello-1.0.tgz" % host.prefix
    assert result.warnings == () and result.md5_mismatches == ()
    assert Path(result.path).stat().st_mode & 0o777 == 0o644
    assert saved.find_saved(host.layout, "hello-1.0") == result.path
    with tarfile.open(result.path) as tar:
        member = tar.extractfile("+CONTENTS")
        assert member is not None
        packed = member.read().decode()
    assert packed.count("@comment MD5:") == 3
    installed_lines = (host.pkgdb / "hello-1.0" / "+CONTENTS").read_text().splitlines()
    assert [line for line in packed.splitlines() if "MD5:" in line] == [
        line for line in installed_lines if "MD5:" in line]
    _reinstall(host, result.path)
    check = host.run(["pkg_admin", "check"])
    assert (check.returncode, check.stdout, check.stderr) == (0, ".\nChecked 3 files from 1 package.\nDone.\n", "")


def test_modified_file_is_saved_as_it_is_with_a_warning(installed: Prefix) -> None:
    host = installed
    readme = host.prefix / "share" / "doc" / "hello" / "README"
    with readme.open("a") as handle:
        handle.write("edited after install\n")
    edited = readme.read_text()
    before = host.run(["pkg_admin", "check"])
    assert before.returncode == 0 and "README fails MD5 checksum" in before.stdout  # rc 0 all the same
    result = saved.save_installed(host.layout, "hello-1.0", SubprocessRunner())
    assert result.md5_mismatches == (str(readme),)
    assert len(result.warnings) == 1 and str(readme) in result.warnings[0] and "saved as it is" in result.warnings[0]
    _reinstall(host, result.path)
    assert readme.read_text() == edited
    check = host.run(["pkg_admin", "check"])
    assert (check.returncode, check.stderr) == (0, "")
