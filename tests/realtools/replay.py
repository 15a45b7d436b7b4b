"""Machinery of the differential tests: replay a recorded transcript in a testbed host, where
/opt/pkg holds either the real kit or the stand-ins' fixture kit, and compare outcomes.

Both kinds of host get the same repository bytes (built once with the real pkg_create in a
builder host, see diff_make_repo.sh), the same pkg_install.conf and the same commands at the
same paths, so the transcripts' argv and URLs are used as recorded, with no path rewriting.
"""
from __future__ import annotations

import difflib
import io
import json
import re
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from tests.conftest import SAMPLES_DIR
from tests.fixtures.kits import build_kit
from tests.fixtures.layouts import source_layout
from tests.realtools import PKG_DBDIR, PREFIX, SYSCONFDIR
from tests.sim.test_contract_pkg import mask
from tests.testbed.hosts import Host

REPO_PORT = 18080
REPO_DIR = "/srv/pkgsrc-repo"  # the samples' repository directory (transcripts.jsonl names it)
VULN_FILE = "/srv/pkg-vulnerabilities.gz"
CMD_PATH = "%s/sbin:%s/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" % (PREFIX, PREFIX)
MAKE_REPO = Path(__file__).with_name("diff_make_repo.sh")
# The real kit's own pkg_install.conf, plus where pkg_admin fetch-pkg-vulnerabilities reads from.
PKG_INSTALL_CONF = "# pkg_install.conf(5)\nPKG_DBDIR=%s\nPKGVULNURL=file://%s\n" % (PKG_DBDIR, VULN_FILE)
FIELDS = ("rc", "stdout", "stderr")

Key = Tuple[str, str]  # (step, note): unique in both transcripts


@dataclass(frozen=True)
class Outcome:
    rc: int
    stdout: str
    stderr: str

    @classmethod
    def of_record(cls, record: Mapping[str, object]) -> "Outcome":
        return cls(int(record["rc"]), str(record["stdout"]), str(record["stderr"]))  # type: ignore[call-overload]


def load_transcript(name: str) -> List[dict]:
    """The records of SAMPLES_DIR/<name>, in order."""
    with open(SAMPLES_DIR / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def key_of(record: Mapping[str, object]) -> Key:
    return (str(record["step"]), str(record["note"]))


# --- the hosts ----------------------------------------------------------------------------------

def standin_kit(outdir: Path) -> Path:
    """The stand-ins' fixture kit for /opt/pkg (as test_contract_pkg builds it, at the samples' prefix);
    its launchers run on the host's /usr/bin/python3."""
    return build_kit(outdir, source_layout(PREFIX), ["http://127.0.0.1:%d/All" % REPO_PORT]).path


def install_kit(host: Host, url: str) -> None:
    """Fetch a kit over the testbed's HTTP and extract it at / (members ./opt/pkg/...)."""
    host.run(["curl", "-fsS", "-o", "/tmp/kit.tar.gz", url])
    host.run(["tar", "-xzpf", "/tmp/kit.tar.gz", "-C", "/"])
    host.run(["rm", "-f", "/tmp/kit.tar.gz"])


def configure(host: Host, vulnerabilities: bytes) -> None:
    """The same pkg_install.conf and repositories.conf on every host, and the vulnerability list."""
    host.put_file(SYSCONFDIR + "/pkg_install.conf", PKG_INSTALL_CONF)
    host.put_file(SYSCONFDIR + "/pkgin/repositories.conf", "http://127.0.0.1:%d/All\n" % REPO_PORT)
    host.put_file(VULN_FILE, vulnerabilities)


def adopt_build_info(host: Host, real_kit: Path) -> List[str]:
    """Give the host's installed packages the +BUILD_INFO of the same PKGNAMEs in the real kit.

    The repository's bootstrap packages are re-packed from the real kit, and pkgin "refreshes" an
    installed package whose BUILD_DATE differs from the repository's (so does the stand-in): without
    this, the stand-ins' kit (other build dates) would be refreshed with the real binaries.
    Returns the PKGNAMEs adopted.
    """
    adopted = []
    installed = set(host.run(["ls", PKG_DBDIR]).stdout.split())
    with tarfile.open(real_kit) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if member.isfile() and parts[-1] == "+BUILD_INFO" and "/".join(parts[1:-2]) == PKG_DBDIR.strip("/"):
                if parts[-2] in installed:
                    data = tar.extractfile(member).read()  # type: ignore[union-attr]
                    host.put_file("%s/%s/+BUILD_INFO" % (PKG_DBDIR, parts[-2]), data)
                    adopted.append(parts[-2])
    return sorted(adopted)


def placeholder_metadata(summary: str, pkgnames: Iterable[str]) -> Dict[str, Dict[str, str]]:
    """+BUILD_INFO, +COMMENT and +DESC for pkgnames, from their records in a pkg_summary."""
    wanted = set(pkgnames)
    out: Dict[str, Dict[str, str]] = {}
    for block in summary.split("\n\n"):
        lines = [line for line in block.splitlines() if "=" in line]
        fields = [tuple(line.split("=", 1)) for line in lines]
        name = next((v for k, v in fields if k == "PKGNAME"), None)
        if name not in wanted:
            continue
        skip = {"PKGNAME", "COMMENT", "DESCRIPTION", "SIZE_PKG", "FILE_NAME", "FILE_SIZE", "DEPENDS", "CONFLICTS"}
        out[name] = {
            "+BUILD_INFO": "".join("%s=%s\n" % (k, v) for k, v in fields if k not in skip),
            "+COMMENT": next(v for k, v in fields if k == "COMMENT") + "\n",
            "+DESC": "".join(v + "\n" for k, v in fields if k == "DESCRIPTION"),
        }
    missing = wanted - set(out)
    if missing:
        raise ValueError("no summary record for %s" % sorted(missing))
    return out


def bench_metadata() -> Dict[str, Dict[str, str]]:
    """The bench packages of transcripts-2's repository (bench-pkg01-1.0 and -1.1, bench-pkg02..60-1.0,
    and py311-requests-2.31.0, which only its avail lists), shaped like the real All/'s gtk2+:
    category bench, one tiny file. Their COMMENTs are the recorded ones; the rest is not recorded."""
    out = {}
    names = [("bench-pkg01-1.0", "Benchmark package 01"), ("bench-pkg01-1.1", "Benchmark package 01 (newer)")]
    names += [("bench-pkg%02d-1.0" % n, "Benchmark package %02d" % n) for n in range(2, 61)]
    names += [("py311-requests-2.31.0", "Python HTTP library stand-in")]
    for pkgname, comment in names:
        base = pkgname.rsplit("-", 1)[0]
        out[pkgname] = {
            "+BUILD_INFO": ("PKGPATH=bench/%s\nOPSYS=Linux\nOS_VERSION=6.1\nMACHINE_ARCH=x86_64\n"
                            "PKGTOOLS_VERSION=20091115\nCATEGORIES=bench\nLICENSE=mit\n"
                            "HOMEPAGE=https://example.org/%s\n" % (base, base)),
            "+COMMENT": comment + "\n",
            "+DESC": "%s\nA package for benchmarks.\n" % comment,
        }
    return out


def build_repository(builder: Host, name: str, demo_dir: Path, demo_packages: Sequence[str],
                     made: Mapping[str, Mapping[str, str]]) -> bytes:
    """In a host of its own with the real kit, make a repository with the real tools (diff_make_repo.sh);
    return it as a .tar.gz of ./pkgsrc-repo/All/..."""
    top = "/srv/build-" + name
    out = top + "/pkgsrc-repo/All"
    for package in demo_packages:
        builder.put_file("%s/%s" % (out, package), (demo_dir / package).read_bytes())
    for pkgname, files in made.items():
        for meta, text in files.items():
            builder.put_file("%s/made/%s/%s" % (top, pkgname, meta), text)
    builder.put_file("/tmp/diff_make_repo.sh", MAKE_REPO.read_bytes(), mode=0o755)
    builder.run(["/tmp/diff_make_repo.sh", out, top + "/made"])
    builder.run(["tar", "-czf", top + "/repo.tar.gz", "-C", top, "pkgsrc-repo"])
    return builder.get_file(top + "/repo.tar.gz")


def repository_names(archive: bytes) -> List[str]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return sorted(Path(m.name).name for m in tar.getmembers() if m.isfile())


def install_repository(host: Host, archive: bytes) -> None:
    host.put_file("/tmp/repo.tar.gz", archive)
    host.run(["tar", "-xzf", "/tmp/repo.tar.gz", "-C", "/srv"])


def serve(host: Host, port: int, directory: str) -> None:
    """An HTTP server on 127.0.0.1:port inside the host (a transient unit), answering before this returns."""
    host.run(["systemd-run", "--unit=diff-http-%d" % port, "--quiet", "python3", "-m", "http.server",
              "--bind", "127.0.0.1", "--directory", directory, str(port)])
    deadline = time.monotonic() + 10
    while host.run(["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:%d/" % port], check=False).returncode:
        if time.monotonic() > deadline:
            raise RuntimeError("the HTTP server on :%d in %s did not start" % (port, host.name))
        time.sleep(0.05)


def stop_serving(host: Host, port: int) -> None:
    host.run(["systemctl", "stop", "diff-http-%d" % port])


def replay(host: Host, records: Sequence[Mapping[str, object]],
           before: Optional[Callable[[Key], None]] = None,
           extra_env: Optional[Mapping[str, str]] = None) -> Dict[Key, Outcome]:
    """Run every record's argv with its environment (LC_ALL=C, PATH with /opt/pkg first, then
    extra_env), in order."""
    results: Dict[Key, Outcome] = {}
    for record in records:
        key = key_of(record)
        if before is not None:
            before(key)
        env = {"LC_ALL": "C", "PATH": CMD_PATH}
        env.update(extra_env or {})
        env.update(record["env"])  # type: ignore[arg-type]
        proc = host.run(list(record["argv"]), env=env, check=False, timeout=120)  # type: ignore[call-overload]
        results[key] = Outcome(proc.returncode, proc.stdout, proc.stderr)
    return results


# --- comparing ----------------------------------------------------------------------------------

def normalised(outcome: Outcome, sort_lines: bool, extra: Optional[Tuple[str, str]] = None) -> Dict[str, str]:
    """rc, stdout, stderr after the contract test's MASKS and an extra (regex, replacement), if any
    (lines sorted for directory-order listings)."""
    fields = {"rc": str(outcome.rc), "stdout": mask(outcome.stdout), "stderr": mask(outcome.stderr)}
    if extra is not None:
        for name in ("stdout", "stderr"):
            fields[name] = re.sub(extra[0], extra[1], fields[name])
    if sort_lines:
        fields["stdout"] = "".join(sorted(fields["stdout"].splitlines(True)))
    return fields


def line_diff(left: str, right: str) -> Tuple[str, ...]:
    """The changed lines: '-' from left, '+' from right ('\\ no newline' marks a missing final newline)."""
    if left == right:
        return ()
    out = []
    for line in difflib.unified_diff(left.splitlines(True), right.splitlines(True), n=0, lineterm=""):
        if line.startswith(("---", "+++", "@@")):
            continue
        out.append(line[:-1] if line.endswith("\n") else line + "\\ no newline")
    return tuple(out)


Difference = Tuple[str, str, str]  # (step, note, field)


def differences(left: Mapping[Key, Outcome], right: Mapping[Key, Outcome], keys: Sequence[Key],
                sorted_keys: Iterable[Key] = (),
                masks: Optional[Mapping[Key, Tuple[str, str]]] = None) -> Dict[Difference, Tuple[str, ...]]:
    """Every field that differs after normalising (masks: (regex, replacement) per key, on both
    sides), with its changed lines (left '-', right '+')."""
    unordered = set(sorted_keys)
    masks = masks or {}
    found: Dict[Difference, Tuple[str, ...]] = {}
    for key in keys:
        a = normalised(left[key], key in unordered, masks.get(key))
        b = normalised(right[key], key in unordered, masks.get(key))
        for field in FIELDS:
            diff = line_diff(a[field], b[field])
            if diff:
                found[(key[0], key[1], field)] = diff
    return found


def judge(found: Mapping[Difference, Tuple[str, ...]],
          known: Mapping[Difference, Tuple[str, Tuple[str, ...]]]) -> Tuple[List[dict], List[dict], List[dict]]:
    """(every difference as report entries, the unexplained ones, the known ones that did not occur).

    A known entry explains a difference only when its changed lines are exactly the ones found.
    """
    entries, unexplained, stale = [], [], []
    for (step, note, field), diff in found.items():
        reason, expected = known.get((step, note, field), (None, None))
        entry = {"step": step, "note": note, "field": field, "diff": list(diff),
                 "known": reason if expected == diff else None}
        if reason is not None and expected != diff:
            entry["known_diff_was"] = list(expected or ())
        entries.append(entry)
        if entry["known"] is None:
            unexplained.append(entry)
    for (step, note, field), (reason, expected) in known.items():
        if found.get((step, note, field)) != expected and (step, note, field) not in found:
            stale.append({"step": step, "note": note, "field": field, "reason": reason})
    return entries, unexplained, stale


def summary_text(title: str, entries: Sequence[dict]) -> str:
    """A readable listing of report entries."""
    lines = ["== %s: %d difference(s)" % (title, len(entries))]
    for entry in entries:
        verdict = "KNOWN (%s)" % entry["known"] if entry["known"] else "NEW"
        lines.append("[%s] %s -- %s: %s" % (entry["step"], entry["note"], entry["field"], verdict))
        lines.extend("    " + line for line in entry["diff"])
    return "\n".join(lines)
