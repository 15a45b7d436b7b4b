"""PATH and MANPATH for login shells, per platform (pure renderers).

- Linux: /etc/profile.d/pkgsrc.sh (pkgsrc-<prefix>.sh for a prefix other than /usr/pkg)
- macOS: /etc/paths.d/10-pkgsrc and /etc/manpaths.d/10-pkgsrc, read by path_helper
  (10-pkgsrc-<prefix> for a prefix other than /opt/pkg)
- unprivileged installs: a block in the user's ~/.profile between marked BEGIN/END lines
- illumos and NetBSD: nothing (their default PATH already names /opt/local or /usr/pkg); a
  message says so.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..errors import PkgsrcError
from ..layout import Layout

MANAGED = "# Managed by pkgsrc.deploy"
_SAFE_PATH = re.compile(r"^/[-A-Za-z0-9_./+@]*$")


@dataclass(frozen=True)
class ShellFile:
    """One file to manage: logical path, mode, and either whole content or a marked block."""

    path: str
    mode: int
    content: Optional[str] = None
    block_id: Optional[str] = None
    block: Optional[str] = None

    def render(self, current: Optional[str]) -> str:
        """The file's new text given its current text (None when absent)."""
        if self.block_id is not None:
            return render_block(current, self.block_id, self.block)
        return self.content or ""


def _check(path: str) -> str:
    if not _SAFE_PATH.match(path):
        raise PkgsrcError("prefix %r has characters that cannot go into a shell profile unquoted" % path,
                          "use a prefix made of letters, digits and -_./")
    return path


def profile_lines(layout: Layout) -> str:
    """sh lines adding the prefix's sbin and bin to PATH and its man directory to MANPATH, once."""
    prefix = _check(layout.prefix)
    man = _check(layout.manpath)
    return (
        'case ":${PATH}:" in *":%s/bin:"*) ;; *) PATH="%s/sbin:%s/bin:${PATH}"; export PATH ;; esac\n'
        'case ":${MANPATH}:" in *":%s:"*) ;; *) MANPATH="%s:${MANPATH}"; export MANPATH ;; esac\n'
        % (prefix, prefix, prefix, man, man))


def block_id(layout: Layout) -> str:
    """The id in the BEGIN/END lines of a profile block."""
    return "pkgsrc.deploy %s" % layout.prefix


def render_block(current: Optional[str], ident: str, block: Optional[str]) -> str:
    """current with the block named ident replaced by block (or removed when block is None)."""
    begin, end = "# BEGIN %s" % ident, "# END %s" % ident
    lines = (current or "").splitlines(True)
    out: List[str] = []
    inside = False
    replaced = False
    for line in lines:
        stripped = line.rstrip("\r\n")
        if stripped == begin:
            inside = True
            if block is not None and not replaced:
                out.append(begin + "\n" + block + ("" if block.endswith("\n") else "\n") + end + "\n")
                replaced = True
            continue
        if inside:
            if stripped == end:
                inside = False
            continue
        out.append(line)
    if inside:
        raise PkgsrcError("the profile has a '%s' line without its '%s' line" % (begin, end),
                          "fix the file by hand: remove the broken block")
    text = "".join(out)
    if block is not None and not replaced:
        if text and not text.endswith("\n"):
            text += "\n"
        text += begin + "\n" + block + ("" if block.endswith("\n") else "\n") + end + "\n"
    return text


def _per_prefix(base: str, layout: Layout, usual_prefix: str, suffix: str = "") -> str:
    """base for the platform's usual prefix, base-<prefix as a name> for any other, so that
    several prefixes on one host each keep their own file (and a rerun converges)."""
    if layout.prefix == usual_prefix:
        return base + suffix
    return "%s-%s%s" % (base, _check(layout.prefix).strip("/").replace("/", "-"), suffix)


def shell_files(layout: Layout, opsys: str, home: str) -> Tuple[Tuple[ShellFile, ...], Tuple[str, ...]]:
    """The files that set PATH/MANPATH for this layout on this OS, and messages."""
    if layout.unprivileged:
        path = posixpath.join(home, ".profile")
        return (ShellFile(path, 0o644, block_id=block_id(layout), block=profile_lines(layout)),), ()
    if opsys == "Linux":
        content = "%s: pkgsrc in %s\n%s" % (MANAGED, layout.prefix, profile_lines(layout))
        return (ShellFile(_per_prefix("/etc/profile.d/pkgsrc", layout, "/usr/pkg", ".sh"), 0o644,
                          content=content),), ()
    if opsys == "Darwin":
        paths = "%s/sbin\n%s/bin\n" % (_check(layout.prefix), layout.prefix)
        manpaths = "%s\n" % _check(layout.manpath)
        return (ShellFile(_per_prefix("/etc/paths.d/10-pkgsrc", layout, "/opt/pkg"), 0o644, content=paths),
                ShellFile(_per_prefix("/etc/manpaths.d/10-pkgsrc", layout, "/opt/pkg"), 0o644, content=manpaths)), ()
    return (), ("PATH and MANPATH left alone on %s: add %s/sbin:%s/bin and %s yourself if your shells lack them"
                % (opsys, layout.prefix, layout.prefix, layout.manpath),)
