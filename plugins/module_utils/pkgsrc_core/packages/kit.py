"""The bootstrap kit's own packages in a prefix: what an exact package set always keeps.

A prefix made from a kit holds the kit's packages (pkg_install, pkgin, bmake, ...). An exact set
(`exact`, a lock file) keeps them whatever it lists, with everything they depend on, because
removing them breaks the prefix. Which packages they are is decided, in this order:

1. `kit_packages` in the bootstrap's state file (<prefix>/etc/pkgsrc-deploy.json), when the
   bootstrap recorded it (a list of PKGNAMEs or names);
2. otherwise the installed packages whose name is one of KIT_PACKAGE_NAMES: the packages the
   published kits and pkgsrc's own bootstrap script install. A kit is never listed after the
   fact (the archive is gone), and every kit seen so far holds only these names;
3. always, in addition: pkg_install and pkgin (the prefix's own package tools), and every
   package marked +PRESERVE (pkgsrc sets PKG_PRESERVE on its bootstrap packages, and pkg_delete
   refuses to remove them).

The result is a tuple of package names (without versions); kept packages keep whatever version
they have unless the request or lock names them.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, List, Optional, Tuple

from ..fsutil import read_text
from ..layout import Layout
from .pkgdb import InstalledPackage, read_pkgdb

#: Packages the published kits (SmartOS/illumos, macOS, Enterprise Linux) and pkgsrc's own
#: bootstrap script install. A name here that a prefix does not hold is simply not there.
KIT_PACKAGE_NAMES: Tuple[str, ...] = (
    "bmake", "bootstrap-mk-files", "bsdtar", "cwrappers", "digest", "libarchive", "libfetch", "mktools",
    "mozilla-rootcerts", "mozilla-rootcerts-openssl", "nawk", "nbsed", "pkg_alternatives", "pkg_install",
    "pkg_install-info", "pkgin", "pkgsrc-gnupg-keys",
)
#: Kept in every prefix that has them, whatever the kit was.
PACKAGE_TOOLS: Tuple[str, ...] = ("pkg_install", "pkgin")


def recorded_kit_packages(marker_text: Optional[str]) -> Optional[Tuple[str, ...]]:
    """The names the bootstrap state file records under `kit_packages` (None: none recorded).

    A state file that is not JSON, or a `kit_packages` that is not a list of strings, counts as
    not recorded: the names are then derived, never guessed from a damaged file.
    """
    if not marker_text:
        return None
    try:
        data: Any = json.loads(marker_text)
    except ValueError:
        return None
    recorded = data.get("kit_packages") if isinstance(data, dict) else None
    if not isinstance(recorded, list) or not all(isinstance(item, str) for item in recorded):
        return None
    names: List[str] = []
    for item in recorded:
        name, _sep, version = item.rpartition("-")
        names.append(name if name and version[:1].isdigit() else item)  # a PKGNAME, or a bare name
    return tuple(names)


def kit_names(packages: Iterable[InstalledPackage], recorded: Optional[Iterable[str]] = None) -> Tuple[str, ...]:
    """The installed kit packages' names, sorted: recorded (or known) names, the tools, preserved ones."""
    pkgs = list(packages)
    known = set(recorded) if recorded is not None else set(KIT_PACKAGE_NAMES)
    known.update(PACKAGE_TOOLS)
    return tuple(sorted({p.name for p in pkgs if p.name in known or p.preserve}))


def kit_packages(layout: Layout) -> Tuple[str, ...]:
    """The names of the kit's packages installed in layout's prefix (reads files only)."""
    try:
        marker = read_text(layout.host(layout.marker))
    except OSError:
        marker = None  # unreadable: derive the names as for a prefix without a state file
    recorded = recorded_kit_packages(marker)
    return kit_names(read_pkgdb(layout.host(layout.pkg_dbdir)), recorded)
