"""shellenv.py: PATH and MANPATH renderers that keep what they do not own and converge in one pass."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap import shellenv
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout

USER = Layout("/home/alice/pkg", "/home/alice/pkg/pkgdb", "/home/alice/pkg/etc", "/home/alice/pkg/var",
              unprivileged=True)
LINUX = Layout("/usr/pkg", "/usr/pkg/.pkgdb", "/usr/pkg/etc", "/usr/pkg/var")
MAC = Layout("/opt/pkg", "/opt/pkg/.pkgdb", "/opt/pkg/etc", "/opt/pkg/var", mandir="share/man")


def test_profile_block_is_added_replaced_and_removed():
    files = shellenv.shell_files(USER, "Linux", "/home/alice")[0]
    profile = files[0]
    assert profile.path == "/home/alice/.profile"
    first = profile.render("umask 022\nexport EDITOR=vi")
    assert first.startswith("umask 022\nexport EDITOR=vi\n# BEGIN pkgsrc.deploy /home/alice/pkg\n")
    assert first.endswith("# END pkgsrc.deploy /home/alice/pkg\n")
    assert profile.render(first) == first
    changed = first.replace("/home/alice/pkg/sbin:", "/old/sbin:")
    assert profile.render(changed) == first
    removed = shellenv.render_block(first, shellenv.block_id(USER), None)
    assert removed == "umask 022\nexport EDITOR=vi\n"


def test_profile_block_without_end_is_refused():
    with pytest.raises(PkgsrcError):
        shellenv.render_block("# BEGIN pkgsrc.deploy /home/alice/pkg\nPATH=x\n", "pkgsrc.deploy /home/alice/pkg",
                              "PATH=y\n")


def test_platform_files():
    linux = shellenv.shell_files(LINUX, "Linux", "/root")[0]
    assert [(f.path, f.mode) for f in linux] == [("/etc/profile.d/pkgsrc.sh", 0o644)]
    assert 'PATH="/usr/pkg/sbin:/usr/pkg/bin:${PATH}"' in linux[0].render(None)
    mac = shellenv.shell_files(MAC, "Darwin", "/var/root")[0]
    assert [(f.path, f.render(None)) for f in mac] == [
        ("/etc/paths.d/10-pkgsrc", "/opt/pkg/sbin\n/opt/pkg/bin\n"),
        ("/etc/manpaths.d/10-pkgsrc", "/opt/pkg/share/man\n")]
    none, notes = shellenv.shell_files(LINUX, "NetBSD", "/root")
    assert none == () and "left alone" in notes[0]


def test_profile_lines_work_in_sh(tmp_path):
    import subprocess  # pylint: disable=import-outside-toplevel

    script = tmp_path / "p.sh"
    script.write_text(shellenv.profile_lines(LINUX) * 2 + 'echo "$PATH|$MANPATH"\n')
    out = subprocess.run(["/bin/sh", str(script)], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "/usr/pkg/sbin:/usr/pkg/bin:/usr/bin:/bin|/usr/pkg/man:"


def test_unsafe_prefix_refused():
    odd = Layout('/opt/p"kg', '/opt/p"kg/pkgdb', '/opt/p"kg/etc', '/opt/p"kg/var')
    with pytest.raises(PkgsrcError):
        shellenv.shell_files(odd, "Linux", "/root")


def test_two_prefixes_keep_their_own_profile_files():
    from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.layout import Layout
    from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap.shellenv import shell_files

    usual = Layout(prefix="/usr/pkg", pkg_dbdir="/usr/pkg/.pkgdb", sysconfdir="/usr/pkg/etc", varbase="/usr/pkg/var")
    other = Layout(prefix="/opt/canary", pkg_dbdir="/opt/canary/pkgdb", sysconfdir="/opt/canary/etc",
                   varbase="/opt/canary/var")
    paths = [shell_files(lay, "Linux", "/root")[0][0].path for lay in (usual, other)]
    assert paths == ["/etc/profile.d/pkgsrc.sh", "/etc/profile.d/pkgsrc-opt-canary.sh"]
    mac = [f.path for f in shell_files(other, "Darwin", "/Users/x")[0]]
    assert mac == ["/etc/paths.d/10-pkgsrc-opt-canary", "/etc/manpaths.d/10-pkgsrc-opt-canary"]
