"""Facts about every pkgsrc prefix on a host: layout, branch, tool versions, installed packages.

Read straight from files (package databases, configuration, the prefix's history); no pkgsrc
tool is run. The same dictionary is the Ansible module pkgsrc.deploy.facts' `pkgsrc` fact, the
Salt function pkgsrc.facts' return value and the input of the fleet report. Per prefix it also
holds the prefix's lock (packages.lockfile: what playbooks/lock.yml writes), the names of the
kit's packages (packages.kit: what an exact set keeps) and the last transaction of its history.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional

from .errors import PkgsrcError
from .fsutil import read_text
from .history.records import list_records
from .layout import Layout
from .packages.audit import offline_audit
from .packages.catalogue import repository_urls
from .packages.kit import kit_names, recorded_kit_packages
from .packages.lockfile import build_lock
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


def last_transaction(layout: Layout) -> Optional[Dict[str, Any]]:
    """The newest record of the prefix's history (id, kind, start, end, outcome), None if none.

    outcome "running" means a run is going on, or was killed and no run has looked since (the
    next one records it as interrupted). A history that cannot be read gives None.
    """
    try:
        listing = list_records(layout, 1)
    except PkgsrcError:
        return None
    if not listing.records:
        return None
    record = listing.records[0]
    return {"id": record.id, "kind": record.kind, "start": record.start, "end": record.end,
            "outcome": record.outcome}


def _marker_text(layout: Layout) -> Optional[str]:
    try:
        return read_text(layout.host(layout.marker))
    except OSError:
        return None


def prefix_facts(layout: Layout, hostname: str = "", now: Optional[str] = None) -> Dict[str, Any]:
    """Facts of one prefix. `hostname` and `now` (UTC, ISO 8601) say where and when its lock is taken."""
    packages = []
    tools: Dict[str, Optional[str]] = {"pkg_install": None, "pkgin": None}
    pkgdb = read_pkgdb(layout.host(layout.pkg_dbdir))
    for pkg in sorted(pkgdb, key=lambda p: p.name):
        packages.append({"name": pkg.name, "version": pkg.version, "pkgname": pkg.pkgname,
                         "automatic": pkg.automatic, "comment": pkg.comment})
        if pkg.name in tools:
            tools[pkg.name] = pkg.version
    repos = repository_urls(layout.host(layout.sysconfdir))
    vulns = offline_audit(layout)
    lock = build_lock(((p.pkgname, p.automatic) for p in pkgdb), layout.prefix, now or _utc_now(), hostname or None)
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
        # The prefix's lock file (docs/lockfiles.md), the kit's packages an exact set keeps, and the
        # newest record of the history (None: no transaction recorded yet).
        "lock": lock.as_dict(),
        "kit_packages": list(kit_names(pkgdb, recorded_kit_packages(_marker_text(layout)))),
        "last_transaction": last_transaction(layout),
    }


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def gather_facts(runner: Optional[Runner] = None, prefixes: Iterable[str] = ()) -> Dict[str, Any]:
    """Facts of the host and of every prefix found (the usual places, $HOME/pkg, and `prefixes`)."""
    host = detect_host(probe_host(runner))
    found: List[Dict[str, Any]] = []
    errors: List[str] = []
    now = _utc_now()
    for layout in find_prefixes(prefixes):
        try:
            found.append(prefix_facts(layout, host.hostname, now))
        except PkgsrcError as exc:
            errors.append("%s: %s" % (layout.prefix, exc))
    return {
        "facts_version": FACTS_VERSION,
        "host": host.to_dict(),
        "bootstrapped": bool(found),
        "prefixes": found,
        "errors": errors,
    }
