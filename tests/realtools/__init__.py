"""The real-tools tier: the real pkg_install 20170419 and pkgin 26.4.0 in testbed hosts.

The kit (about 20 MB of binaries, built from upstream sources for /opt/pkg on Linux x86_64) is
not part of the clone. It is found through ``PKGSRC_REAL_KIT`` (default: ``shared/pkgsrc/real``
beside the clone). Where it is absent the tier is skipped with one line that says so; where
``PKGSRC_REQUIRE_REAL_KIT=1`` (CI sets it) its absence is a failure instead.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
KIT_NAME = "bootstrap-pkgsrc2017Q3-pkgin26.4.0-Linux-x86_64-opt-pkg-selfcontained.tar.gz"
PREFIX = "/opt/pkg"
PKG_DBDIR = "/opt/pkg/pkgdb"
SYSCONFDIR = "/opt/pkg/etc"
VARBASE = "/opt/pkg/var"


def real_kit_dir() -> Optional[Path]:
    """The folder holding the real kit, All/ and pkg-vulnerabilities, or None."""
    env = os.environ.get("PKGSRC_REAL_KIT")
    # Given, it is the only place looked at; else shared/ beside the clone (or beside a copy of it).
    candidates = [Path(env)] if env else [parent / "shared" / "pkgsrc" / "real" for parent in REPO_ROOT.parents]
    for cand in candidates:
        if (cand / KIT_NAME).is_file() and (cand / "All" / "pkg_summary.gz").is_file():
            return cand
    return None


def missing_reason() -> str:
    return ("real-tools tier skipped: the real pkgsrc kit was not found (set PKGSRC_REAL_KIT to the folder "
            "holding %s, All/ and pkg-vulnerabilities; default ../shared/pkgsrc/real)" % KIT_NAME)


def required() -> bool:
    """CI must run the tier: there a missing kit fails instead of skipping."""
    return os.environ.get("PKGSRC_REQUIRE_REAL_KIT") == "1"
