"""Contract test of the pkgin stand-in against samples/pkgin-added-repository.md.

The real pkgin 26.4.0, given a second repository next to a loaded one, downloads the new
summary on `pkgin update` but loads none of its packages; later updates say "up-to-date",
search finds nothing, install says "not available"; only `pkgin -f update` loads it.
Replacing a repository (the old line removed) works without -f. The sample is parsed (each
``` block: `$ command`, the output, `[exit N]`) and replayed step by step against the
stand-ins over real HTTP on 127.0.0.1, with the same exit codes and the same output after
the URLs and the prefix are substituted.

The sample's output blocks merge stdout and stderr (one capture), so each step's stdout and
stderr must interleave into exactly the sample's lines. Steps that are not pkgin:
  - `grep ^http repositories.conf`: the repository list of that moment is written to the
    stand-in's repositories.conf, then grepped here;
  - `sqlite3 pkgin.db select repository, count(*) ...`: the stand-in keeps no SQLite
    database; the same question is asked of its own (RemoteDb.count).
Steps that change the repository list without showing it (the first update of "Replacing a
repository") take the list from their own "processing remote summary (URL)..." lines.
"""
from __future__ import annotations

import functools
import re
import shlex
import subprocess
from dataclasses import dataclass
from typing import Dict, Iterator, List, Tuple

import pytest

from tests.conftest import SAMPLES_DIR
from tests.fixtures.demo import sample_repo_specs
from tests.fixtures.local import serve
from tests.fixtures.packages import PackageSpec
from tests.fixtures.repo import build_repo
from tests.sim._pkginrepo import RemoteDb
from tests.sim.install import SimLayout, install_tools

SAMPLE = "pkgin-added-repository.md"
SAMPLE_URLS = ("http://127.0.0.1:18080/All", "http://127.0.0.1:18082/All")
SAMPLE_PREFIX = "/opt/pkg"


@dataclass(frozen=True)
class Step:
    """One ``` block of the sample."""

    index: int
    command: str
    output: Tuple[str, ...]
    rc: int

    @property
    def argv(self) -> List[str]:
        """The command as a shell would split it."""
        return shlex.split(self.command)


def parse_sample(text: str) -> List[Step]:
    """Every ``` block that holds `$ command`, its output and `[exit N]`."""
    steps: List[Step] = []
    for block in re.findall(r"^```\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL):
        lines = block.splitlines()
        if not lines or not lines[0].startswith("$ "):
            continue
        found = re.fullmatch(r"\[exit (\d+)\]", lines[-1])
        assert found, "step without [exit N]: %r" % lines[0]
        steps.append(Step(len(steps), lines[0][2:], tuple(lines[1:-1]), int(found.group(1))))
    return steps


def _steps() -> List[Step]:
    return parse_sample((SAMPLES_DIR / SAMPLE).read_text(encoding="utf-8"))


def interleaves(merged: Tuple[str, ...], out: Tuple[str, ...], err: Tuple[str, ...]) -> bool:
    """Whether merged is out and err interleaved, each in its own order."""

    @functools.lru_cache(maxsize=None)
    def fits(i: int, j: int) -> bool:
        k = i + j
        if k == len(merged):
            return i == len(out) and j == len(err)
        return ((i < len(out) and out[i] == merged[k] and fits(i + 1, j))
                or (j < len(err) and err[j] == merged[k] and fits(i, j + 1)))

    return fits(0, 0)


def _repo_specs(prefix: str) -> Tuple[List[PackageSpec], List[PackageSpec]]:
    """The first repository (the samples' demo repository), and the second: big-1.0 and
    hello-1.0, COMMENT "<PKGNAME> test" as in the sample's search output."""
    second = [PackageSpec(name, "1.0", comment="%s-1.0 test" % name, prefix=prefix) for name in ("big", "hello")]
    return sample_repo_specs(), second


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The sample replayed; yields {index: (rc, stdout, stderr)} and what the checks need."""
    root = tmp_path_factory.mktemp("added-repo")
    prefix = root / "opt" / "pkg"
    layout = SimLayout(str(prefix), str(prefix / "pkgdb"), str(prefix / "etc"), str(prefix / "var"))
    install_tools("/", layout, log_path=str(root / "sim.log"))
    conf = prefix / "etc" / "pkgin" / "repositories.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    dbdir = prefix / "var" / "db" / "pkgin"
    first, second = _repo_specs(str(prefix))
    build_repo(root / "repo1", first)
    build_repo(root / "repo2", second, formats=("gz",))  # the sample's second repository has only .gz
    env = {"LC_ALL": "C", "PATH": "%s/sbin:%s/bin:/usr/bin:/bin" % (prefix, prefix),
           "PKGSRC_SIM_LOG": str(root / "sim.log"), "HOME": str(root)}
    results: Dict[int, Tuple[int, str, str]] = {}
    counts: Dict[int, Dict[str, int]] = {}
    with serve(root / "repo1") as (base1, _s1), serve(root / "repo2") as (base2, _s2):
        urls = dict(zip(SAMPLE_URLS, (base1 + "/All", base2 + "/All")))

        def ours(text: str) -> str:
            for real, mine in urls.items():
                text = text.replace(real, mine)
            return text.replace(SAMPLE_PREFIX + "/", str(prefix) + "/")

        for step in _steps():
            argv = [ours(a) for a in step.argv]
            shown = [ours(line) for line in step.output]
            if argv[0] == "grep":
                conf.write_text("# repositories.conf of the replay\n" + "".join(u + "\n" for u in shown))
                lines = [line for line in conf.read_text().splitlines() if line.startswith("http")]
                results[step.index] = (0 if lines else 1, "".join(line + "\n" for line in lines), "")
            elif argv[0] == "sqlite3":
                db = RemoteDb(str(dbdir))
                counts[step.index] = {url: db.count(url) for url in db.repos}
                rows = [url for url, n in counts[step.index].items() if n]
                results[step.index] = (0, "".join("%s|<n>\n" % url for url in rows), "")
            else:
                assert argv[0] == "pkgin", step.command
                if "update" in argv:
                    listed = [m.group(1) for m in map(re.compile(r"processing remote summary \((.*)\)\.\.\.$").match,
                                                      shown) if m]
                    conf.write_text("".join(u + "\n" for u in listed))
                done = subprocess.run([str(prefix / "bin" / "pkgin")] + argv[1:], env=env, capture_output=True,
                                      text=True, timeout=120, check=False)
                results[step.index] = (done.returncode, done.stdout, done.stderr)
        yield {"results": results, "counts": counts, "ours": ours, "urls": urls, "first": first}


def test_sample_has_the_expected_steps() -> None:
    """The parser finds the sample's commands (guards against a silently empty replay)."""
    commands = [s.command.split()[:3] for s in _steps()]
    assert len(commands) == 14
    assert commands.count(["pkgin", "-f", "-y"]) == 3
    assert ["pkgin", "-y", "install"] in commands


@pytest.mark.parametrize("step", _steps(), ids=lambda s: "%02d:%s" % (s.index, s.command[:40]))
def test_step(replay: dict, step: Step) -> None:
    """Each step: the sample's exit code, and its output as stdout and stderr interleaved."""
    rc, out, err = replay["results"][step.index]
    expected = tuple(replay["ours"](line) for line in step.output)
    if step.command.startswith("sqlite3"):
        expected = tuple(re.sub(r"\|\d+$", "|<n>", line) for line in expected)
    assert rc == step.rc, (out, err)
    assert interleaves(expected, tuple(out.splitlines()), tuple(err.splitlines())), (expected, out, err)
    if "is not available in the repository" in "\n".join(expected):
        # transcripts.jsonl: pkgin prints that line on stderr, the rest on stdout
        assert err.splitlines() == [line for line in expected if line.endswith("is not available in the repository")]


def test_added_repository_was_downloaded_but_holds_no_packages(replay: dict) -> None:
    """Where the sample asks sqlite3: the first repository has all its packages, the second 0."""
    (counts,) = replay["counts"].values()
    first, second = replay["urls"].values()
    assert counts == {first: len(replay["first"]), second: 0}
