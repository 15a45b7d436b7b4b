"""Configuration of the pkg_install and pkgin stand-ins.

A real pkg_install has its paths compiled in; the launcher hands the stand-ins the same
defaults as `config` (PREFIX, PKG_DBDIR, SYSCONFDIR, VARBASE). On top of them, as the real
tools do: <SYSCONFDIR>/pkg_install.conf (or `-C FILE`), then the environment (PKG_DBDIR,
PKG_PATH, PKGVULNDIR, PKG_REFCOUNT_DBDIR), then `-K DIR` on the command line.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, TextIO

PKGTOOLS_VERSION = "20170419"
PKGIN_VERSION = "26.4.0"
DEFAULT_PKGVULNURL = "https://cdn.NetBSD.org/pub/NetBSD/packages/vulns/pkg-vulnerabilities.gz"

# Variables pkg_install.conf(5) knows, with their defaults ("" = unset).
KNOWN_VARIABLES = (
    "ACCEPTABLE_LICENSES", "ACTIVE_FTP", "CERTIFICATE_ANCHOR_PKGS", "CERTIFICATE_ANCHOR_PKGVULN",
    "CERTIFICATE_CHAIN", "CHECK_END_OF_LIFE", "CHECK_LICENSE", "CHECK_OS_VERSION",
    "CHECK_VULNERABILITIES", "DEFAULT_ACCEPTABLE_LICENSES", "GPG", "GPG_KEYRING_PKGVULN",
    "GPG_KEYRING_SIGN", "GPG_KEYRING_VERIFY", "GPG_SIGN_AS", "IGNORE_PROXY", "IGNORE_URL",
    "PKG_DBDIR", "PKG_PATH", "PKG_REFCOUNT_DBDIR", "PKGVULNDIR", "PKGVULNURL",
    "VERBOSE_NETFETCH", "VERIFIED_INSTALLATION",
)
# The environment overrides the configuration file for these.
ENV_OVERRIDES = ("PKG_DBDIR", "PKG_PATH", "PKG_REFCOUNT_DBDIR", "PKGVULNDIR")


def read_conf(path: str) -> Dict[str, str]:
    """KEY=value lines of a pkg_install.conf-style file; `#` starts a comment. {} if unreadable."""
    values: Dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return values
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#") or "=" not in text:
            continue
        key, value = text.split("=", 1)
        values[key.strip()] = value.strip()
    return values


@dataclass
class Settings:
    """Effective configuration of one tool run."""

    prefix: str
    pkg_dbdir: str
    sysconfdir: str
    varbase: str
    conf_file: str
    values: Dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        """One configuration variable ("" when unset)."""
        return self.values.get(name, "")

    @property
    def pkg_path(self) -> List[str]:
        """PKG_PATH split at `;` (directories or URLs)."""
        return [p for p in self.get("PKG_PATH").split(";") if p.strip()]

    @property
    def pkgvulndir(self) -> str:
        """Directory holding pkg-vulnerabilities (PKGVULNDIR, default PKG_DBDIR)."""
        return self.get("PKGVULNDIR") or self.pkg_dbdir

    @property
    def refcount_dbdir(self) -> str:
        """PKG_REFCOUNT_DBDIR (default <PKG_DBDIR>.refcount)."""
        return self.get("PKG_REFCOUNT_DBDIR") or self.pkg_dbdir + ".refcount"

    @property
    def pkgin_dbdir(self) -> str:
        """pkgin's database and cache directory: $PKGIN_DBDIR or <VARBASE>/db/pkgin."""
        return os.environ.get("PKGIN_DBDIR") or os.path.join(self.varbase, "db", "pkgin")


def load(config: Mapping[str, str], conf_file: Optional[str] = None, dbdir: Optional[str] = None,
         env: Optional[Mapping[str, str]] = None) -> Settings:
    """Settings from compiled-in config, the configuration file, the environment and -K."""
    environ = os.environ if env is None else env
    prefix = config.get("PREFIX", "/usr/pkg")
    sysconfdir = config.get("SYSCONFDIR", os.path.join(prefix, "etc"))
    varbase = config.get("VARBASE", os.path.join(prefix, "var"))
    path = conf_file or os.path.join(sysconfdir, "pkg_install.conf")
    values = read_conf(path)
    for name in ENV_OVERRIDES:
        if environ.get(name):
            values[name] = environ[name]
    pkg_dbdir = dbdir or values.get("PKG_DBDIR") or config.get("PKG_DBDIR", os.path.join(prefix, "pkgdb"))
    values["PKG_DBDIR"] = pkg_dbdir
    values.setdefault("PKGVULNURL", DEFAULT_PKGVULNURL)
    values.setdefault("VERIFIED_INSTALLATION", "never")
    values.setdefault("CHECK_VULNERABILITIES", "never")
    values.setdefault("CHECK_END_OF_LIFE", "no")
    values.setdefault("CHECK_OS_VERSION", "yes")
    values.setdefault("GPG", "gpg")
    return Settings(prefix=prefix, pkg_dbdir=pkg_dbdir, sysconfdir=sysconfdir, varbase=varbase,
                    conf_file=path, values=values)


class Reporter:
    """Where a tool's output goes: stdout, stderr and its name for warnx-style messages."""

    def __init__(self, prog: str, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> None:
        self.prog = prog
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr

    def warn(self, message: str) -> None:
        """`prog: message` on stderr, as warnx(3)."""
        self.err.write("%s: %s\n" % (self.prog, message))
        self.err.flush()

    def print(self, text: str = "") -> None:
        """One line on stdout."""
        self.out.write(text + "\n")

    def write(self, text: str) -> None:
        """Text on stdout, flushed."""
        self.out.write(text)
        self.out.flush()

    def child(self, prog: str) -> "Reporter":
        """A reporter with the same streams under another program name."""
        return Reporter(prog, self.out, self.err)


class GetoptError(Exception):
    """A command line that getopt(3) rejects."""


def getopt(argv: List[str], spec: str) -> "tuple[list[tuple[str, str]], list[str]]":
    """POSIX getopt(3): options stop at the first operand or `--`; "x:" takes an argument."""
    opts: List["tuple[str, str]"] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        j = 1
        while j < len(arg):
            letter = arg[j]
            pos = spec.find(letter)
            if pos < 0 or letter == ":":
                raise GetoptError("illegal option -- %s" % letter)
            if pos + 1 < len(spec) and spec[pos + 1] == ":":
                if j + 1 < len(arg):
                    opts.append(("-" + letter, arg[j + 1:]))
                elif i + 1 < len(argv):
                    i += 1
                    opts.append(("-" + letter, argv[i]))
                else:
                    raise GetoptError("option requires an argument -- %s" % letter)
                break
            opts.append(("-" + letter, ""))
            j += 1
        i += 1
    return opts, argv[i:]
