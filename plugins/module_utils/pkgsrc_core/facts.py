"""Facts about every pkgsrc prefix on a host: layout, branch, tool versions, installed packages.

Read straight from files (package databases and configuration); no pkgsrc tool is run. The
same dictionary is the Ansible module pkgsrc.deploy.facts' `pkgsrc` fact, the Salt function
pkgsrc.facts' return value and the input of the fleet report.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional

from .errors import PkgsrcError
from .layout import Layout
from .packages.audit import offline_audit
from .packages.catalogue import repository_urls
from .packages.pkgdb import read_pkgdb
from .platforms import detect_host, probe_host
from .prefixes import find_prefixes
from .runner import Runner

FACTS_VERSION = 1
_QUARTERLY = re.compile(r"/(\d{4}Q[1-4])(?:/|$)")


def branch_of(urls: Iterable[str]) -> Optional[str]:
    """The pkgsrc branch the repositories follow: a quarterly `YYYYQn`, `trunk`, or None."""
    for url in urls:
        found = _QUARTERLY.search(url)
        if found:
            return found.group(1)
        if "/trunk/" in url or url.rstrip("/").endswith("/trunk") or "-trunk" in url:
            return "trunk"
    return None


def prefix_facts(layout: Layout) -> Dict[str, Any]:
    """Facts of one prefix."""
    packages = []
    tools: Dict[str, Optional[str]] = {"pkg_install": None, "pkgin": None}
    for pkg in sorted(read_pkgdb(layout.host(layout.pkg_dbdir)), key=lambda p: p.name):
        packages.append({"name": pkg.name, "version": pkg.version, "pkgname": pkg.pkgname,
                         "automatic": pkg.automatic, "comment": pkg.comment})
        if pkg.name in tools:
            tools[pkg.name] = pkg.version
    repos = repository_urls(layout.host(layout.sysconfdir))
    vulns = offline_audit(layout)
    return {
        "prefix": layout.prefix,
        "pkg_dbdir": layout.pkg_dbdir,
        "sysconfdir": layout.sysconfdir,
        "varbase": layout.varbase,
        "layout_confirmed": layout.confirmed,
        "repositories": repos,
        "branch": branch_of(repos),
        "pkg_install_version": tools["pkg_install"],
        "pkgin_version": tools["pkgin"],
        "package_count": len(packages),
        "packages": packages,
        # From the last fetched pkg-vulnerabilities list; None when none has been fetched.
        "vulnerabilities": None if vulns is None else [v.as_dict() for v in vulns],
    }


def gather_facts(runner: Optional[Runner] = None, prefixes: Iterable[str] = ()) -> Dict[str, Any]:
    """Facts of the host and of every prefix found (the usual places, $HOME/pkg, and `prefixes`)."""
    host = detect_host(probe_host(runner))
    found: List[Dict[str, Any]] = []
    errors: List[str] = []
    for layout in find_prefixes(prefixes):
        try:
            found.append(prefix_facts(layout))
        except PkgsrcError as exc:
            errors.append("%s: %s" % (layout.prefix, exc))
    return {
        "facts_version": FACTS_VERSION,
        "host": host.to_dict(),
        "bootstrapped": bool(found),
        "prefixes": found,
        "errors": errors,
    }
