"""Pure renderers for pkgin's repositories.conf and pkg_install.conf(5).

Each takes the file's current text (None when absent) and the wanted settings and returns the
new text; applying a renderer to its own output returns it unchanged, so a second run is a no-op.
"""
from __future__ import annotations

import re
from typing import Dict, List, Mapping, Optional, Sequence

from ..errors import PkgsrcError

HEADER = "# Managed by pkgsrc.deploy: one repository URL per line.\n"
VERIFIED_VALUES = ("never", "always", "trusted", "interactive")


def check_repository(url: str) -> str:
    """A repository URL as pkgin takes it: http(s), ftp or file, no spaces."""
    value = (url or "").strip()
    if not re.match(r"^(https?|ftp|file)://\S+$", value):
        raise PkgsrcError("repository %r is not an http, https, ftp or file URL" % url,
                          "give the URL of the package directory, usually ending in /All")
    return value.rstrip("/") if not value.endswith("://") else value


def parse_repositories(text: Optional[str]) -> List[str]:
    """The URLs of a repositories.conf (comments and blank lines skipped)."""
    urls = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            urls.append(line)
    return urls


def render_repositories(current: Optional[str], repositories: Sequence[str]) -> str:
    """repositories.conf listing exactly the given URLs, in order."""
    urls = [check_repository(u) for u in repositories]
    if current is not None and parse_repositories(current) == urls:
        return current
    return HEADER + "".join(u + "\n" for u in urls)


def render_pkg_install_conf(current: Optional[str], settings: Mapping[str, Optional[str]]) -> str:
    """pkg_install.conf with each KEY of settings set (None: the line removed); other lines kept."""
    for key, value in settings.items():
        if not re.match(r"^[A-Z_][A-Z0-9_]*$", key):
            raise PkgsrcError("%r is not a pkg_install.conf variable name" % key)
        if value is not None and ("\n" in value or "\r" in value):
            raise PkgsrcError("value of %s contains a line break" % key)
    if "VERIFIED_INSTALLATION" in settings and settings["VERIFIED_INSTALLATION"] is not None:
        if settings["VERIFIED_INSTALLATION"] not in VERIFIED_VALUES:
            raise PkgsrcError("VERIFIED_INSTALLATION must be one of %s" % ", ".join(VERIFIED_VALUES))
    lines = (current or "").splitlines()
    done: Dict[str, bool] = {}
    out: List[str] = []
    for line in lines:
        name: Optional[str] = None
        if "=" in line and not line.lstrip().startswith("#"):
            name = line.split("=", 1)[0].strip()
        if name is not None and name in settings:
            if done.get(name):
                continue
            done[name] = True
            wanted = settings[name]
            if wanted is not None:
                out.append("%s=%s" % (name, wanted))
            continue
        out.append(line)
    for key, value in settings.items():
        if not done.get(key) and value is not None:
            out.append("%s=%s" % (key, value))
    text = "\n".join(out)
    return text + "\n" if text else ""


def pkg_path_for(repositories: Sequence[str]) -> str:
    """PKG_PATH for pkg_add: the repositories joined with ';'."""
    return ";".join(check_repository(u) for u in repositories)
