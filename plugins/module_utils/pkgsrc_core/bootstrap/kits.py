"""The catalogue of published binary bootstrap kits, as data, and kit selection.

Entries come from pkgsrc.smartos.org as published (CONTRACT.md §1): URL, SHA1 checksum, the
detached signature next to the kit (<kit>.asc) and the signing key file under /pgp/. Key
fingerprints are the primary-key fingerprints of those key files (computed from the published
key blocks); gpg's VALIDSIG line names the primary key, so a signature by any subkey matches.

Kits change over time: users extend or override the catalogue with data (kit_from_dict,
merge_catalogue) or give their own kit (user_kit), never by editing this file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ..errors import PkgsrcError
from ..versions import dewey_cmp
from .download import parse_checksum

BASE_URL = "https://pkgsrc.smartos.org/packages/"
KEY_BASE_URL = "https://pkgsrc.smartos.org/pgp/"
QUARTERLY = re.compile(r"^(19|20)\d\dQ[1-4]$")
_QUARTERLY_NAME = re.compile(r"^smartos-((?:19|20)\d\dQ[1-4])(?:-([A-Za-z0-9_]+))?$")

#: Primary-key fingerprints of the published key files (file name -> fingerprint).
KEY_FINGERPRINTS = {
    # pgp/8254B861.asc: "MNX Cloud Package Signing (trunk)"; 8254B861 is the id of its
    # encryption subkey, signatures are made by the primary key below.
    "8254B861": "59C22B295D7A6D8918E8130C2627D6EF6BD79CFC",
    # pgp/ED09C4B0.asc: "MNX Cloud Package Signing (macOS)".
    "ED09C4B0": "AF9909C32F6E24E3E6A9C6C8AC9BD066ED09C4B0",
    # pgp/1F32A9AD.asc: "Joyent Package Signing"; 1F32A9AD is its signing subkey.
    "1F32A9AD": "74C4F303BB457421E42C4DC4FAE50048FAA66EE0",
    # pgp/5FE35E6E.asc: "MNX Cloud Package Signing (Linux)".
    "5FE35E6E": "A5EA7083CF9513E99A476505B081E2685FE35E6E",
}


@dataclass(frozen=True)
class Kit:
    """One bootstrap kit: where to get it, how to verify it, what it installs and for whom."""

    name: str
    url: str
    platform: str = ""
    arch: str = ""
    branch: str = "trunk"
    checksum: Optional[str] = None
    signature_url: Optional[str] = None
    key_url: Optional[str] = None
    keyring: Optional[str] = None
    key_fingerprint: Optional[str] = None
    prefix: Optional[str] = None
    kind: str = "bootstrap"
    min_os: str = ""
    os_family: str = ""
    archived: bool = False
    repositories: Tuple[str, ...] = ()
    source: str = "catalogue"
    notes: str = ""

    @property
    def has_signature(self) -> bool:
        """True when a detached signature and a key to check it are both known."""
        return bool(self.signature_url and (self.key_url or self.keyring))

    @property
    def filename(self) -> str:
        """Base name of the kit file."""
        return self.url.rstrip("/").rsplit("/", 1)[-1] or "kit.tar.gz"

    def to_dict(self) -> Dict[str, Any]:
        """Plain data for results and the marker file."""
        return {
            "name": self.name, "url": self.url, "platform": self.platform, "arch": self.arch,
            "branch": self.branch, "checksum": self.checksum, "signature_url": self.signature_url,
            "key_url": self.key_url, "keyring": self.keyring, "key_fingerprint": self.key_fingerprint,
            "prefix": self.prefix, "kind": self.kind, "min_os": self.min_os, "os_family": self.os_family,
            "archived": self.archived, "repositories": list(self.repositories), "source": self.source,
        }


def _published(name: str, path: str, sha1: str, key: str, platform: str, arch: str, prefix: str,
               **extra: Any) -> Kit:
    url = BASE_URL + path
    return Kit(name=name, url=url, platform=platform, arch=arch, checksum="sha1:" + sha1,
               signature_url=url + ".asc", key_url=KEY_BASE_URL + key + ".asc",
               key_fingerprint=KEY_FINGERPRINTS[key], prefix=prefix, **extra)


CATALOGUE: Tuple[Kit, ...] = (
    _published("smartos-trunk-x86_64", "SmartOS/bootstrap/bootstrap-trunk-x86_64-20240116.tar.gz",
               "4d92a333587d9dcc669ff64264451ca65da701b7", "8254B861", "illumos", "x86_64", "/opt/local",
               repositories=(BASE_URL + "SmartOS/trunk/x86_64/All",)),
    _published("smartos-trunk-tools", "SmartOS/bootstrap/bootstrap-trunk-tools-20240116.tar.gz",
               "8c104974605e7404edd9d10b9429bdf1d9b3bb60", "8254B861", "smartos-gz", "x86_64", "/opt/tools",
               repositories=(BASE_URL + "SmartOS/trunk/tools/All",)),
    _published("macos12.3-trunk-arm64", "Darwin/bootstrap/bootstrap-macos12.3-trunk-arm64-20240418.tar.gz",
               "6c48ec850dffca60ae887797b117671de66e0193", "ED09C4B0", "macos", "aarch64", "/opt/pkg",
               min_os="12.3"),
    _published("macos12.3-trunk-x86_64", "Darwin/bootstrap/bootstrap-macos12.3-trunk-x86_64-20240418.tar.gz",
               "82f819b260dcdd63fea92b4e967a8992471f795f", "ED09C4B0", "macos", "x86_64", "/opt/pkg",
               min_os="12.3"),
    _published("macos12.3-trunk-arm64-upgrade",
               "Darwin/bootstrap-upgrade/bootstrap-macos12.3-trunk-arm64-20240418-upgrade.tar.gz",
               "386c6c27f3761916ec8848c3532baf8bcf26229f", "ED09C4B0", "macos", "aarch64", "/opt/pkg",
               min_os="12.3", kind="upgrade"),
    _published("macos12.3-trunk-x86_64-upgrade",
               "Darwin/bootstrap-upgrade/bootstrap-macos12.3-trunk-x86_64-20240418-upgrade.tar.gz",
               "4f1dacbafe6a8969008e59ac4689ec2695d9f43d", "ED09C4B0", "macos", "x86_64", "/opt/pkg",
               min_os="12.3", kind="upgrade"),
    _published("macos11-trunk-arm64", "Darwin/bootstrap/bootstrap-macos11-trunk-arm64-20240212.tar.gz",
               "3d2a31e1f3eb026bb9ed0b3a63787355ad73a958", "1F32A9AD", "macos", "aarch64", "/opt/pkg",
               min_os="11", archived=True),
    _published("macos11-trunk-x86_64", "Darwin/bootstrap/bootstrap-macos11-trunk-x86_64-20240212.tar.gz",
               "c4b71fe9bf0ef89cc8d38909496a75693050cd96", "1F32A9AD", "macos", "x86_64", "/opt/pkg",
               min_os="11", archived=True),
    _published("el7-trunk-x86_64", "Linux/bootstrap/bootstrap-el7-trunk-x86_64-20220718.tar.gz",
               "7ecea7fd3b49259aa7318d8cd72901966ad5329f", "5FE35E6E", "el", "x86_64", "/usr/pkg",
               min_os="7", os_family="redhat",
               notes="built for Enterprise Linux 7; later EL releases run it through glibc compatibility"),
)


def quarterly_kit(branch: str, arch: str = "x86_64") -> Kit:
    """The SmartOS/illumos quarterly kit of a branch (bootstrap-YYYYQn-x86_64.tar.gz).

    Quarterly kits have a published signature but no checksum or key in the catalogue: the
    caller must give a checksum (kit_checksum) or a key (kit_key), or the bootstrap refuses.
    """
    if not QUARTERLY.match(branch):
        raise PkgsrcError("branch %r is neither 'trunk' nor a quarterly release like 2024Q4" % branch,
                          "use branch: trunk or branch: YYYYQn")
    url = BASE_URL + "SmartOS/bootstrap/bootstrap-%s-%s.tar.gz" % (branch, arch)
    return Kit(name="smartos-%s-%s" % (branch, arch), url=url, platform="illumos", arch=arch, branch=branch,
               signature_url=url + ".asc", prefix="/opt/local",
               repositories=(BASE_URL + "SmartOS/%s/%s/All" % (branch, arch),),
               notes="quarterly kit: give kit_checksum or kit_key to verify it")


_FIELDS = set(Kit.__dataclass_fields__)  # pylint: disable=no-member


def kit_from_dict(data: Mapping[str, Any], source: str = "user") -> Kit:
    """A Kit from user data (e.g. a catalogue entry in a playbook or pillar); fields as Kit."""
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise PkgsrcError("unknown kit field(s): %s" % ", ".join(unknown),
                          "known fields: %s" % ", ".join(sorted(_FIELDS)))
    if not data.get("name") or not data.get("url"):
        raise PkgsrcError("a kit needs at least a name and a url", "add name: and url: to the kit entry")
    values = dict(data)
    if "repositories" in values:
        repos = values["repositories"]
        values["repositories"] = (repos,) if isinstance(repos, str) else tuple(repos or ())
    values.setdefault("source", source)
    kit = Kit(**values)
    if kit.checksum:
        parse_checksum(kit.checksum)
    return kit


def merge_catalogue(base: Sequence[Kit], extra: Iterable[Any]) -> Tuple[Kit, ...]:
    """base with extra entries (Kit or dict) added; an entry whose name is known overrides it.

    A dict naming a known kit changes only the fields it gives (url, checksum, key_url, ...) and
    keeps the rest (platform, arch, prefix), so the kit is still selected for its hosts.
    """
    merged: List[Kit] = list(base)
    for item in extra:
        if isinstance(item, Kit):
            kit = item
        else:
            existing = next((k for k in merged if k.name == item.get("name")), None)
            if existing is None:
                kit = kit_from_dict(item)
            else:
                unknown = sorted(set(item) - _FIELDS)
                if unknown:
                    raise PkgsrcError("unknown kit field(s): %s" % ", ".join(unknown),
                                      "known fields: %s" % ", ".join(sorted(_FIELDS)))
                fields = {k: v for k, v in item.items() if k != "name"}
                if isinstance(fields.get("repositories"), str):
                    fields["repositories"] = (fields["repositories"],)
                elif "repositories" in fields:
                    fields["repositories"] = tuple(fields["repositories"] or ())
                fields.setdefault("source", "user")
                kit = replace(existing, **fields)
                if kit.checksum:
                    parse_checksum(kit.checksum)
        merged = [k for k in merged if k.name != kit.name] + [kit]
    return tuple(merged)


def user_kit(url: str, checksum: Optional[str] = None, signature_url: Optional[str] = None,
             key: Optional[str] = None, keyring: Optional[str] = None, fingerprint: Optional[str] = None,
             prefix: Optional[str] = None, name: str = "user-kit") -> Kit:
    """A kit the user names by URL (http, https or file), with what they know to verify it."""
    key_url = key
    if key and key.startswith("/"):
        key_url = "file://" + key
    return Kit(name=name, url=url, checksum=checksum, signature_url=signature_url, key_url=key_url,
               keyring=keyring, key_fingerprint=fingerprint, prefix=prefix, source="user")


def _os_at_least(host_release: str, minimum: str) -> bool:
    if not minimum:
        return True
    if not host_release:
        return False
    return dewey_cmp(host_release, minimum) >= 0


def candidates(platform: str, arch: str, branch: str = "trunk", catalogue: Sequence[Kit] = CATALOGUE,
               os_release: str = "", os_family: str = "", kind: str = "bootstrap") -> Tuple[Kit, ...]:
    """Kits of the catalogue that fit, best first: current before archived, newest minimum OS first."""
    fits = [k for k in catalogue
            if k.kind == kind and k.platform == platform and k.arch == arch and k.branch == branch
            and (not k.os_family or k.os_family == os_family) and _os_at_least(os_release, k.min_os)]
    fits.sort(key=lambda k: (k.archived, _sort_key(k.min_os)))
    return tuple(fits)


def _sort_key(version: str) -> Tuple[int, ...]:
    # Newest minimum first: negate the numeric components.
    parts = []
    for piece in re.split(r"[^0-9]+", version):
        if piece:
            parts.append(-int(piece))
    return tuple(parts)


def select_kit(platform: str, arch: str, branch: str = "trunk", catalogue: Sequence[Kit] = CATALOGUE,
               os_release: str = "", os_family: str = "", name: Optional[str] = None) -> Kit:
    """The kit for a platform, arch and branch (or the named one); PkgsrcError when none fits."""
    if name:
        for kit in catalogue:
            if kit.name == name:
                return kit
        match = _QUARTERLY_NAME.match(name)
        if match:
            return quarterly_kit(match.group(1), match.group(2) or "x86_64")
        raise PkgsrcError("no kit named %r in the catalogue" % name,
                          "known kits: %s" % ", ".join(k.name for k in catalogue))
    if branch != "trunk":
        if not QUARTERLY.match(branch):
            raise PkgsrcError("branch %r is neither 'trunk' nor a quarterly release like 2024Q4" % branch,
                              "use branch: trunk or branch: YYYYQn")
        found = candidates(platform, arch, branch, catalogue, os_release, os_family)
        if found:
            return found[0]
        if platform == "illumos":
            return quarterly_kit(branch, arch)
        raise PkgsrcError("no published %s kit for %s %s" % (branch, platform, arch),
                          "quarterly kits are published for SmartOS/illumos only; use branch: trunk, "
                          "give url with checksum (Salt and Ansible option names), or bootstrap from source")
    found = candidates(platform, arch, branch, catalogue, os_release, os_family)
    if found:
        return found[0]
    others = [k.name for k in catalogue if k.platform == platform and k.kind == "bootstrap"]
    hint = "give url with checksum (or signature_url and gpg_key), or bootstrap from source (from_source)"
    if others:
        hint = "kits for %s exist (%s) but not for %s %s; %s" % (
            platform, ", ".join(others), arch, os_release or "this release", hint)
    raise PkgsrcError("no published bootstrap kit for %s %s%s" % (
        platform, arch, " (%s)" % os_release if os_release else ""), hint)


@dataclass(frozen=True)
class Trust:
    """What a kit will be verified with, decided before anything is fetched."""

    checksum: bool
    signature: bool
    problems: Tuple[str, ...] = field(default=())


def required_trust(kit: Kit, verify: bool = True) -> Trust:
    """The verification policy.

    - verify=False: nothing is required (the caller warns loudly).
    - a catalogue kit with a known key: checksum (when known) AND signature are both required.
    - any other kit: at least a checksum or a signature with a key; a signature URL without a
      key, or neither, is refused with a message naming the options and the opt-out.
    """
    if not verify:
        return Trust(checksum=bool(kit.checksum), signature=False)
    problems: List[str] = []
    if kit.signature_url and not (kit.key_url or kit.keyring) and not kit.checksum:
        problems.append("kit %s has a signature URL but no key to check it: give kit_key (key file or URL) "
                        "or kit_keyring, or kit_checksum" % kit.name)
    if not kit.checksum and not kit.has_signature and not problems:
        problems.append("kit %s (%s) has neither a checksum nor a signature with a key: give kit_checksum "
                        "('sha256:<hex>'), or kit_signature_url with kit_key, or set verify=false to install "
                        "it unverified (not recommended)" % (kit.name, kit.url))
    return Trust(checksum=bool(kit.checksum), signature=kit.has_signature, problems=tuple(problems))
