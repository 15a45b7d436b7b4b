"""audit.py on the real pkg_admin output and the real pkg-vulnerabilities sample."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages import audit


def _samples() -> Path:
    """tests/data/samples (tests/data/README.md), or $PKGSRC_SAMPLES if set."""
    env = os.environ.get("PKGSRC_SAMPLES")
    found = Path(env) if env else Path(__file__).resolve().parents[5] / "data" / "samples"
    if not (found / "transcripts.jsonl").is_file():
        raise RuntimeError("real-tool samples not found in %s (see tests/data/README.md)" % found)
    return found


SAMPLES = _samples()


def _transcript(note):
    for line in (SAMPLES / "transcripts.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["note"] == note:
            return record
    raise KeyError(note)


def test_parse_real_audit_output():
    record = _transcript("audit with a vulnerable package installed")
    assert record["rc"] == 1
    found = audit.parse_audit_output(record["stdout"])
    assert [(v.pkgname, v.type, v.url) for v in found] == [
        ("hello-1.0", "denial-of-service", "https://example.org/advisories/HELLO-2025-0001")]
    assert found[0].level == "medium"


def test_offline_match_agrees_with_the_real_audit():
    entries = audit.parse_vulnerability_list((SAMPLES / "pkgdb-final" / "pkg-vulnerabilities").read_bytes())
    assert ("hello<1.1", "denial-of-service", "https://example.org/advisories/HELLO-2025-0001") in entries
    # The packages installed when the real audit ran: hello-1.0 and libfoo-2.0nb1 among others.
    installed = ["hello-1.0", "libfoo-2.0nb1", "foo-tool-3.2", "pkgin-26.4.0"]
    found = audit.match_vulnerabilities(entries, installed)
    assert [(v.pkgname, v.type) for v in found] == [("hello-1.0", "denial-of-service")]


def test_gzip_list_and_corrupt_list(tmp_path):
    raw = (SAMPLES / "pkgdb-final" / "pkg-vulnerabilities").read_bytes()
    plain = raw if raw[:2] != b"\x1f\x8b" else gzip.decompress(raw)
    assert audit.parse_vulnerability_list(gzip.compress(plain)) == audit.parse_vulnerability_list(plain)
    with pytest.raises(audit.PkgsrcError):
        audit.parse_vulnerability_list(gzip.compress(plain)[:40])


@pytest.mark.parametrize("vuln_type,level", [
    ("remote-code-execution", "critical"), ("arbitrary-code-execution", "critical"),
    ("privilege-escalation", "high"), ("buffer-overflow", "high"), ("sql-injection", "high"),
    ("denial-of-service", "medium"), ("cross-site-scripting", "medium"), ("unknown-kind", "medium"),
    ("information-leak", "low"),
])
def test_levels(vuln_type, level):
    assert audit.level_of(vuln_type) == level
