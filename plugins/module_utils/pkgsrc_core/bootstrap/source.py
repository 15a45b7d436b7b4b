"""Bootstrap from a pkgsrc source tree: pkgsrc/bootstrap/bootstrap with an explicit layout.

This is the path for grid sites and other machines without root: `--unprivileged` with a prefix
under $HOME. The script is run through `env -i` so that PKG_PATH (which the script refuses) and
the rest of the caller's environment stay out; SH is an absolute path (the script requires it,
and on Linux it must be a shell whose echo is BSD-compatible: bash, not dash); every path is
absolute, canonical (no symlinks) and made of the characters the script accepts.
"""
from __future__ import annotations

import os
import re
from typing import Dict, List, Mapping, Optional, Sequence

from ..errors import PkgsrcError
from ..layout import Layout

_SAFE = re.compile(r"^/[-A-Za-z0-9_./]*$")
#: Environment variables passed through to the bootstrap script (everything else is dropped).
PASSED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "CC", "CXX", "CPP", "CFLAGS", "CXXFLAGS",
              "CPPFLAGS", "LDFLAGS", "LIBS", "http_proxy", "https_proxy", "ftp_proxy", "no_proxy")
PREFER_PKGSRC = re.compile(r"^(yes|no|[A-Za-z0-9_+-]+(,[A-Za-z0-9_+-]+)*)$")


def check_source_path(path: str, what: str) -> str:
    """Refuse a path the bootstrap script would refuse: relative, trailing /, odd characters."""
    if not _SAFE.match(path or "") or path.endswith("/") or "/../" in path + "/" or "//" in path:
        raise PkgsrcError("%s %r is not a clean absolute path of letters, digits and -_./" % (what, path),
                          "pkgsrc's bootstrap accepts only such paths; choose another %s" % what)
    return path


def bootstrap_args(layout: Layout, workdir: str, unprivileged: bool, make_jobs: Optional[int] = None,
                   abi: Optional[int] = None, compiler: Optional[str] = None,
                   prefer_pkgsrc: Optional[str] = None, mk_fragment_path: Optional[str] = None) -> List[str]:
    """The script's arguments for this layout (pure)."""
    args = ["--prefix", check_source_path(layout.prefix, "prefix"),
            "--pkgdbdir", check_source_path(layout.pkg_dbdir, "pkg_dbdir"),
            "--sysconfdir", check_source_path(layout.sysconfdir, "sysconfdir"),
            "--varbase", check_source_path(layout.varbase, "varbase"),
            "--workdir", check_source_path(workdir, "workdir")]
    if unprivileged:
        args.append("--unprivileged")
    if prefer_pkgsrc:
        if not PREFER_PKGSRC.match(prefer_pkgsrc):
            raise PkgsrcError("prefer_pkgsrc %r is not yes, no or a comma-separated list of packages"
                              % prefer_pkgsrc)
        args += ["--prefer-pkgsrc", prefer_pkgsrc]
    if make_jobs is not None:
        if int(make_jobs) < 1:
            raise PkgsrcError("make_jobs must be 1 or more")
        args += ["--make-jobs", str(int(make_jobs))]
    if abi is not None:
        if int(abi) not in (32, 64):
            raise PkgsrcError("abi must be 32 or 64")
        args += ["--abi", str(int(abi))]
    if compiler:
        if not re.match(r"^[A-Za-z0-9_.+-]+$", compiler):
            raise PkgsrcError("compiler %r is not a compiler name such as gcc or clang" % compiler)
        args += ["--compiler", compiler]
    if mk_fragment_path:
        args += ["--mk-fragment", check_source_path(mk_fragment_path, "mk fragment path")]
    return args


def clean_environment(environ: Mapping[str, str], sh: str) -> Dict[str, str]:
    """The environment the script gets: a few passed-through variables, LC_ALL=C and SH."""
    env = {k: environ[k] for k in PASSED_ENV if k in environ}
    env.setdefault("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
    env["LC_ALL"] = "C"
    env["SH"] = sh
    return env


def env_argv(env: Mapping[str, str], argv: Sequence[str]) -> List[str]:
    """argv run under `env -i` with exactly env (no shell involved)."""
    for key in env:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise PkgsrcError("environment variable name %r is not valid" % key)
    return ["/usr/bin/env", "-i"] + ["%s=%s" % (k, env[k]) for k in sorted(env)] + list(argv)


def default_shell(opsys: str, exists=os.path.exists) -> str:  # type: ignore[no-untyped-def]
    """SH for the script: bash on Linux (dash's echo is refused), else /bin/sh."""
    if opsys == "Linux":
        for candidate in ("/bin/bash", "/usr/bin/bash"):
            if exists(candidate):
                return candidate
    return "/bin/sh"


def canonical_problems(paths: Sequence[str], realpath=os.path.realpath) -> List[str]:  # type: ignore[no-untyped-def]
    """Paths whose existing part goes through a symlink (the bootstrap wants canonical paths)."""
    problems = []
    for path in paths:
        existing = path
        while not os.path.lexists(existing) and existing != "/":
            existing = os.path.dirname(existing)
        real = realpath(existing)
        if real != existing:
            problems.append("%s (its part %s is really %s)" % (path, existing, real))
    return problems


def find_tree(directory: str) -> Optional[str]:
    """The pkgsrc tree in directory: itself or its one subdirectory that has bootstrap/bootstrap."""
    if os.path.isfile(os.path.join(directory, "bootstrap", "bootstrap")):
        return directory
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    for name in names:
        candidate = os.path.join(directory, name)
        if os.path.isfile(os.path.join(candidate, "bootstrap", "bootstrap")):
            return candidate
    return None
