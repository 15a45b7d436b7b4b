"""kits.py: the catalogue agrees with the published table (CONTRACT.md §1), selection, user data."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap import kits
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError


def _contract() -> Path:
    """tests/data/CONTRACT.md (tests/data/README.md), or beside $PKGSRC_SAMPLES if set."""
    env = os.environ.get("PKGSRC_SAMPLES")
    found = (Path(env).parent if env else Path(__file__).resolve().parents[5] / "data") / "CONTRACT.md"
    if not found.is_file():
        raise RuntimeError("%s not found (see tests/data/README.md)" % found)
    return found


def _published_rows():
    rows = []
    for line in _contract().read_text().splitlines():
        match = re.match(r"^\s*\|\s*([^|]+?)\s*\|\s*(\S+\.tar\.gz)\s*\|\s*([0-9a-f]{40})\s*\|\s*pgp/(\w+)\.asc\s*\|",
                         line)
        if match:
            rows.append(match.groups())
    return rows


def test_the_contract_table_was_read():
    assert len(_published_rows()) == 9


@pytest.mark.parametrize("row", _published_rows(), ids=lambda r: r[0])
def test_catalogue_has_every_published_kit_as_published(row):
    _title, path, sha1, key = row
    url = kits.BASE_URL + path
    found = [k for k in kits.CATALOGUE if k.url == url]
    assert len(found) == 1, "%s missing from the catalogue" % url
    kit = found[0]
    assert kit.checksum == "sha1:" + sha1
    assert kit.signature_url == url + ".asc"
    assert kit.key_url == kits.KEY_BASE_URL + key + ".asc"
    assert kit.key_fingerprint == kits.KEY_FINGERPRINTS[key]
    assert kit.kind == ("upgrade" if "bootstrap-upgrade/" in path else "bootstrap")


def test_catalogue_names_are_unique_and_prefixes_match_the_contract():
    names = [k.name for k in kits.CATALOGUE]
    assert len(names) == len(set(names))
    prefixes = {k.name: k.prefix for k in kits.CATALOGUE}
    assert prefixes["smartos-trunk-x86_64"] == "/opt/local"
    assert prefixes["smartos-trunk-tools"] == "/opt/tools"
    assert prefixes["el7-trunk-x86_64"] == "/usr/pkg"
    assert all(prefixes[n] == "/opt/pkg" for n in names if n.startswith("macos"))


def test_key_fingerprints_are_full_and_match_their_published_ids():
    for fpr in kits.KEY_FINGERPRINTS.values():
        assert re.match(r"^[0-9A-F]{40}$", fpr)
    # For these two the published file name is the primary key's id.
    assert kits.KEY_FINGERPRINTS["ED09C4B0"].endswith("ED09C4B0")
    assert kits.KEY_FINGERPRINTS["5FE35E6E"].endswith("5FE35E6E")


SELECT = [
    # platform, arch, os_release, os_family, branch -> kit name
    ("illumos", "x86_64", "20241128T004404Z", "illumos", "trunk", "smartos-trunk-x86_64"),
    ("smartos-gz", "x86_64", "20241128T004404Z", "illumos", "trunk", "smartos-trunk-tools"),
    ("macos", "aarch64", "14.5", "darwin", "trunk", "macos12.3-trunk-arm64"),
    ("macos", "x86_64", "13.6.1", "darwin", "trunk", "macos12.3-trunk-x86_64"),
    ("macos", "aarch64", "12.3", "darwin", "trunk", "macos12.3-trunk-arm64"),
    ("macos", "aarch64", "12.2", "darwin", "trunk", "macos11-trunk-arm64"),
    ("macos", "x86_64", "11.7.10", "darwin", "trunk", "macos11-trunk-x86_64"),
    ("el", "x86_64", "7", "redhat", "trunk", "el7-trunk-x86_64"),
    ("el", "x86_64", "9.2", "redhat", "trunk", "el7-trunk-x86_64"),
    ("illumos", "x86_64", "r151046", "illumos", "2024Q4", "smartos-2024Q4-x86_64"),
]


@pytest.mark.parametrize("platform,arch,release,family,branch,name", SELECT)
def test_select_kit(platform, arch, release, family, branch, name):
    assert kits.select_kit(platform, arch, branch, os_release=release, os_family=family).name == name


@pytest.mark.parametrize("platform,arch,release,family,branch", [
    ("macos", "aarch64", "10.15", "darwin", "trunk"),
    ("el", "x86_64", "6", "redhat", "trunk"),
    ("el", "aarch64", "9.2", "redhat", "trunk"),
    ("linux", "x86_64", "12", "debian", "trunk"),
    ("netbsd", "x86_64", "10.0", "netbsd", "trunk"),
    ("macos", "aarch64", "14.5", "darwin", "2024Q4"),
])
def test_no_kit(platform, arch, release, family, branch):
    with pytest.raises(PkgsrcError) as err:
        kits.select_kit(platform, arch, branch, os_release=release, os_family=family)
    assert "url with checksum" in str(err.value) or "quarterly" in str(err.value)


def test_bad_branch():
    with pytest.raises(PkgsrcError) as err:
        kits.select_kit("illumos", "x86_64", "2024Q5")
    assert "YYYYQn" in str(err.value)


def test_quarterly_kit_follows_the_published_naming():
    kit = kits.quarterly_kit("2024Q4")
    assert kit.url == kits.BASE_URL + "SmartOS/bootstrap/bootstrap-2024Q4-x86_64.tar.gz"
    assert kit.signature_url == kit.url + ".asc"
    assert kit.repositories == (kits.BASE_URL + "SmartOS/2024Q4/x86_64/All",)
    assert kit.checksum is None and kit.key_url is None
    trust = kits.required_trust(kit)
    assert trust.problems and "kit_key" in trust.problems[0]
    assert kits.select_kit("illumos", "x86_64", name="smartos-2023Q2-x86_64").branch == "2023Q2"


def test_select_by_name():
    assert kits.select_kit("anything", "any", name="el7-trunk-x86_64").prefix == "/usr/pkg"
    with pytest.raises(PkgsrcError) as err:
        kits.select_kit("el", "x86_64", name="el9-trunk-x86_64")
    assert "known kits" in str(err.value)


def test_user_catalogue_overrides_and_extends():
    merged = kits.merge_catalogue(kits.CATALOGUE, [
        {"name": "el7-trunk-x86_64", "checksum": "sha256:" + "ab" * 32},
        {"name": "el9-trunk-x86_64", "url": "https://mirror.example/bootstrap-el9.tar.gz", "platform": "el",
         "arch": "x86_64", "min_os": "9", "os_family": "redhat", "checksum": "sha512:" + "cd" * 64,
         "prefix": "/usr/pkg", "repositories": "https://mirror.example/el9/All"},
    ])
    el7 = [k for k in merged if k.name == "el7-trunk-x86_64"][0]
    assert el7.checksum == "sha256:" + "ab" * 32
    assert el7.url.endswith("bootstrap-el7-trunk-x86_64-20220718.tar.gz") and el7.source == "user"
    assert el7.key_fingerprint == kits.KEY_FINGERPRINTS["5FE35E6E"]
    el9 = kits.select_kit("el", "x86_64", catalogue=merged, os_release="9.2", os_family="redhat")
    assert el9.name == "el9-trunk-x86_64" and el9.repositories == ("https://mirror.example/el9/All",)
    # EL 8 still gets the EL 7 kit: the EL 9 entry asks for 9 or later.
    assert kits.select_kit("el", "x86_64", catalogue=merged, os_release="8.7",
                           os_family="redhat").name == "el7-trunk-x86_64"
    assert len(merged) == len(kits.CATALOGUE) + 1


@pytest.mark.parametrize("entry,text", [
    ({"name": "x", "url": "https://e/x.tgz", "colour": "red"}, "unknown kit field"),
    ({"url": "https://e/x.tgz"}, "name and a url"),
    ({"name": "x", "url": "https://e/x.tgz", "checksum": "md5:abc"}, "no supported algorithm"),
    ({"name": "x", "url": "https://e/x.tgz", "checksum": "sha256:abc"}, "64 hex digits"),
])
def test_bad_user_entries(entry, text):
    with pytest.raises(PkgsrcError) as err:
        kits.kit_from_dict(entry)
    assert text in str(err.value)


TRUST = [
    # (checksum, signature_url, key, verify) -> (checksum required, signature required, refused)
    ("sha256:" + "a" * 64, None, None, True, (True, False, False)),
    (None, "https://e/k.tgz.asc", "https://e/key.asc", True, (False, True, False)),
    ("sha256:" + "a" * 64, "https://e/k.tgz.asc", "https://e/key.asc", True, (True, True, False)),
    (None, "https://e/k.tgz.asc", None, True, (False, False, True)),
    (None, None, None, True, (False, False, True)),
    (None, None, None, False, (False, False, False)),
    ("sha256:" + "a" * 64, "https://e/k.tgz.asc", "https://e/key.asc", False, (True, False, False)),
]


@pytest.mark.parametrize("checksum,sig,key,verify,expected", TRUST)
def test_required_trust(checksum, sig, key, verify, expected):
    kit = kits.user_kit("https://e/k.tgz", checksum=checksum, signature_url=sig, key=key)
    trust = kits.required_trust(kit, verify)
    assert (trust.checksum, trust.signature, bool(trust.problems)) == expected
    if not checksum and not sig and verify:
        assert "verify=false" in trust.problems[0]


def test_catalogue_kits_need_checksum_and_signature():
    for kit in kits.CATALOGUE:
        trust = kits.required_trust(kit)
        assert trust.checksum and trust.signature and not trust.problems, kit.name


def test_user_kit_key_path_becomes_file_url():
    assert kits.user_kit("file:///k.tgz", key="/etc/keys/k.asc").key_url == "file:///etc/keys/k.asc"
