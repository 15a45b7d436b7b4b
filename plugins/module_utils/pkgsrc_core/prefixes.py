"""Finding pkgsrc prefixes on a host and reading each one's layout from its own configuration.

A layout that cannot be confirmed is detected, not assumed (CONTRACT.md §1): PKG_DBDIR,
VARBASE and sysconfdir come from the prefix's pkg_install.conf / mk.conf when they say so
(layout.layout_from_kit_config), and otherwise from the package database that actually exists.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Iterable, List, Optional

from .errors import PkgsrcError
from .layout import Layout, layout_from_kit_config

# Where the published kits and the usual from-source installs put their prefix.
KNOWN_PREFIXES = ("/opt/local", "/opt/tools", "/opt/pkg", "/usr/pkg")
# Package database locations relative to the prefix, most specific first.
PKGDB_CANDIDATES = ("pkgdb", ".pkgdb", "pkg", "var/db/pkg")


def _looks_like_pkgdb(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return any(e.is_dir() and os.path.exists(os.path.join(e.path, "+CONTENTS")) for e in entries)
    except OSError:
        return False


def layout_for_prefix(prefix: str, pkg_dbdir: Optional[str] = None) -> Layout:
    """The layout of an installed prefix, from its configuration and what exists on disk.

    A pkg_dbdir given explicitly wins; a prefix without a package database is an error.
    """
    prefix = os.path.normpath(os.path.expanduser(prefix))
    if not os.path.isabs(prefix):
        raise PkgsrcError("prefix %r is not an absolute path" % prefix, "give the full path, e.g. /opt/local")
    if not os.path.isdir(prefix):
        raise PkgsrcError("prefix %s does not exist" % prefix,
                          "bootstrap pkgsrc there first (pkgsrc.deploy.bootstrap), or give the right prefix")
    found = layout_from_kit_config(prefix)
    if found is None or not os.path.isdir(found.pkg_dbdir):
        dbs = [os.path.join(prefix, c) for c in PKGDB_CANDIDATES if _looks_like_pkgdb(os.path.join(prefix, c))]
        if not dbs and not pkg_dbdir:
            raise PkgsrcError("no package database found under %s" % prefix,
                              "bootstrap pkgsrc there first, or give pkg_dbdir if it lives elsewhere")
        db = pkg_dbdir or dbs[0]
        if found is None:
            varbase = "/var" if prefix == "/opt/local" else os.path.join(prefix, "var")
            found = Layout(prefix=prefix, pkg_dbdir=db, sysconfdir=os.path.join(prefix, "etc"),
                           varbase=varbase, confirmed=False)
        else:
            found = replace(found, pkg_dbdir=db)
    if pkg_dbdir:
        found = replace(found, pkg_dbdir=pkg_dbdir)
    return found


def find_prefixes(extra: Iterable[str] = ()) -> List[Layout]:
    """Every pkgsrc prefix found among the usual places, $HOME/pkg and the extra ones given."""
    candidates = list(KNOWN_PREFIXES)
    home = os.environ.get("HOME")
    if home:
        candidates.append(os.path.join(home, "pkg"))
    candidates.extend(extra)
    found: List[Layout] = []
    seen = set()
    for prefix in candidates:
        prefix = os.path.normpath(prefix)
        if prefix in seen or not os.path.isdir(prefix):
            continue
        seen.add(prefix)
        try:
            found.append(layout_for_prefix(prefix))
        except PkgsrcError:
            continue
    return found


def select_prefix(prefix: Optional[str] = None, pkg_dbdir: Optional[str] = None) -> Layout:
    """The prefix the user named, or the first one found on the host."""
    if prefix:
        return layout_for_prefix(prefix, pkg_dbdir)
    found = find_prefixes()
    if not found:
        raise PkgsrcError("no pkgsrc prefix found on this host (looked in %s and $HOME/pkg)"
                          % ", ".join(KNOWN_PREFIXES),
                          "bootstrap pkgsrc first, or give prefix")
    return found[0]
