"""Where a pkgsrc installation lives: prefix, PKG_DBDIR, sysconfdir, VARBASE, and the paths a kit may write.

A Layout names logical paths (as the installed tools see them). `root` is the filesystem root
the installation is made under: "/" for the running host, another directory to bootstrap into an
alternate root or an image being built (like `tar -C ROOT` or `pkg_add -P ROOT`).

The values of a layout that could not be confirmed from a table are read back from the kit's own
configuration after extraction: layout_from_kit_config().
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from .errors import PkgsrcError
from .fsutil import is_within, join_root, normalize_abs, read_text

#: Sub-paths of a VARBASE shared with the system (e.g. /var) that a kit may write into.
DEFAULT_VAR_PATHS = ("db/pkgin",)

#: The marker a bootstrap made by this tool leaves, relative to the prefix.
MARKER_RELPATH = "etc/pkgsrc-deploy.json"


@dataclass(frozen=True)
class Layout:
    """The paths of one pkgsrc installation (logical) and the root it lives under."""

    prefix: str
    pkg_dbdir: str
    sysconfdir: str
    varbase: str
    init: str = "none"
    root: str = "/"
    extra_files: Tuple[str, ...] = ()
    var_paths: Tuple[str, ...] = DEFAULT_VAR_PATHS
    mandir: str = "man"
    name: str = ""
    confirmed: bool = True
    unprivileged: bool = False
    extra_paths: Tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for attr in ("prefix", "pkg_dbdir", "sysconfdir", "varbase"):
            object.__setattr__(self, attr, normalize_abs(getattr(self, attr), attr))
        object.__setattr__(self, "root", normalize_abs(self.root, "root"))
        object.__setattr__(self, "extra_files", tuple(normalize_abs(p, "extra file") for p in self.extra_files))
        object.__setattr__(self, "extra_paths", tuple(normalize_abs(p, "extra path") for p in self.extra_paths))
        if self.prefix == "/":
            raise PkgsrcError("the prefix cannot be /", "choose a directory such as /opt/pkg or $HOME/pkg")

    def host(self, path: str) -> str:
        """Host path of a logical path (joined under root)."""
        return join_root(self.root, path)

    @property
    def marker(self) -> str:
        """Logical path of the bootstrap marker file."""
        return posixpath.join(self.prefix, MARKER_RELPATH)

    @property
    def manpath(self) -> str:
        """Logical MANPATH entry of the prefix."""
        return posixpath.join(self.prefix, self.mandir)

    def owns(self, path: str) -> bool:
        """True when path (logical) lies inside the prefix."""
        return is_within(path, self.prefix)

    def allowed_roots(self) -> Tuple[str, ...]:
        """Directory subtrees a kit may write (logical), outermost only, sorted."""
        roots: List[str] = [self.prefix, self.pkg_dbdir, self.sysconfdir]
        if is_within(self.varbase, self.prefix):
            roots.append(self.varbase)
        else:
            roots.extend(normalize_abs(posixpath.join(self.varbase, p), "var path") for p in self.var_paths)
        roots.extend(self.extra_paths)
        return _outermost(roots)

    def allowed_files(self) -> Tuple[str, ...]:
        """Single files outside the roots a kit may install (e.g. /etc/paths.d/10-pkgsrc)."""
        roots = self.allowed_roots()
        return tuple(sorted(p for p in set(self.extra_files) if not any(is_within(p, r) for r in roots)))

    def with_root(self, root: str) -> "Layout":
        """The same layout under another root."""
        return replace(self, root=root)

    def to_dict(self) -> Dict[str, object]:
        """Plain data for results and the marker file."""
        return {
            "prefix": self.prefix, "pkg_dbdir": self.pkg_dbdir, "sysconfdir": self.sysconfdir,
            "varbase": self.varbase, "init": self.init, "root": self.root, "mandir": self.mandir,
            "name": self.name, "confirmed": self.confirmed, "unprivileged": self.unprivileged,
            "extra_files": list(self.extra_files),
        }


def _outermost(paths: Iterable[str]) -> Tuple[str, ...]:
    unique = sorted(set(paths), key=lambda p: (p.count("/"), p))
    kept: List[str] = []
    for path in unique:
        if not any(is_within(path, k) for k in kept):
            kept.append(path)
    return tuple(sorted(kept))


_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*([?:+!]?=)\s*(.*?)\s*$")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}|\$\(([A-Za-z_][A-Za-z0-9_.]*)\)")


def _strip_comment(line: str) -> str:
    out = []
    escaped = False
    for ch in line:
        if ch == "#" and not escaped:
            break
        escaped = ch == "\\" and not escaped
        out.append(ch)
    return "".join(out)


def parse_make_vars(text: str) -> Dict[str, str]:
    """Variable assignments of a mk.conf (bmake syntax), ${VAR} references expanded.

    Conditionals (.if/.ifdef/.endif) are not evaluated: every assignment counts, later ones win,
    `?=` only sets a variable not yet set, `+=` appends with a space.
    """
    values: Dict[str, str] = {}
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if not line.strip() or line.lstrip().startswith("."):
            continue
        match = _ASSIGN.match(line)
        if not match:
            continue
        name, op, value = match.group(1), match.group(2), match.group(3)
        value = _REF.sub(lambda m: values.get(m.group(1) or m.group(2), ""), value)
        if op == "?=" and name in values:
            continue
        if op == "+=" and values.get(name):
            value = values[name] + " " + value
        if op == "!=":
            continue  # shell command output: never run
        values[name] = value
    return values


def parse_conf_vars(text: str) -> Dict[str, str]:
    """KEY=value lines of pkg_install.conf(5); '#' starts a comment line."""
    values: Dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def _abs_or_none(value: Optional[str]) -> Optional[str]:
    if value and value.startswith("/"):
        try:
            return normalize_abs(value)
        except PkgsrcError:
            return None
    return None


def layout_from_config(mk_conf: Optional[str], pkg_install_conf: Optional[str], prefix: str,
                       base: Optional[Layout] = None) -> Optional[Layout]:
    """A confirmed Layout from the texts of a kit's mk.conf and pkg_install.conf (pure).

    PKG_DBDIR comes from pkg_install.conf (what pkg_install uses at run time) or else mk.conf;
    LOCALBASE, VARBASE, PKG_SYSCONFBASE/PKG_SYSCONFDIR and PKGMANDIR from mk.conf. Returns None
    when neither text names PKG_DBDIR.
    """
    make = parse_make_vars(mk_conf or "")
    conf = parse_conf_vars(pkg_install_conf or "")
    dbdir = _abs_or_none(conf.get("PKG_DBDIR")) or _abs_or_none(make.get("PKG_DBDIR"))
    if dbdir is None:
        return None
    real_prefix = _abs_or_none(make.get("LOCALBASE")) or normalize_abs(prefix)
    varbase = _abs_or_none(make.get("VARBASE"))
    sysconfdir = (_abs_or_none(make.get("PKG_SYSCONFBASE")) or _abs_or_none(make.get("PKG_SYSCONFDIR"))
                  or posixpath.join(real_prefix, "etc"))
    mandir = make.get("PKGMANDIR") or (base.mandir if base else "man")
    if base is not None:
        return replace(base, prefix=real_prefix, pkg_dbdir=dbdir, sysconfdir=sysconfdir,
                       varbase=varbase or base.varbase, mandir=mandir, confirmed=varbase is not None)
    return Layout(prefix=real_prefix, pkg_dbdir=dbdir, sysconfdir=sysconfdir,
                  varbase=varbase or posixpath.join(real_prefix, "var"), mandir=mandir,
                  confirmed=varbase is not None)


def layout_from_kit_config(prefix_dir: str, root: str = "/", base: Optional[Layout] = None) -> Optional[Layout]:
    """Read <prefix_dir>/etc/mk.conf and pkg_install.conf of an extracted kit or an install.

    prefix_dir is the host path of the prefix; with an alternate root, pass root so that the
    logical prefix can be told. Returns None when the files do not name PKG_DBDIR.
    """
    prefix_dir = normalize_abs(prefix_dir, "prefix directory")
    root = normalize_abs(root, "root")
    logical = prefix_dir
    if root != "/":
        if not is_within(prefix_dir, root):
            raise PkgsrcError("prefix directory %s is not under root %s" % (prefix_dir, root))
        logical = prefix_dir[len(root):] or "/"
    mk_conf = read_text(posixpath.join(prefix_dir, "etc", "mk.conf"))
    pkg_conf = read_text(posixpath.join(prefix_dir, "etc", "pkg_install.conf"))
    found = layout_from_config(mk_conf, pkg_conf, logical, base)
    if found is not None and root != "/":
        found = found.with_root(root)
    return found


def layout_summary(layout: Layout) -> str:
    """One line for messages: prefix, pkgdb, sysconfdir, varbase."""
    return "prefix %s, PKG_DBDIR %s, sysconfdir %s, VARBASE %s%s" % (
        layout.prefix, layout.pkg_dbdir, layout.sysconfdir, layout.varbase,
        "" if layout.root == "/" else ", under root %s" % layout.root)


def layout_differences(planned: Layout, real: Layout) -> Mapping[str, Tuple[str, str]]:
    """Fields that differ between two layouts: name -> (planned, real)."""
    out: Dict[str, Tuple[str, str]] = {}
    for attr in ("prefix", "pkg_dbdir", "sysconfdir", "varbase"):
        a, b = getattr(planned, attr), getattr(real, attr)
        if a != b:
            out[attr] = (a, b)
    return out
