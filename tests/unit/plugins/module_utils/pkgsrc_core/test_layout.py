"""layout.py: allowed paths of a layout, and the real layout read back from a kit's configuration."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core import layout as lay
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError

# The shape of the mk.conf pkgsrc's bootstrap writes (tabs, .ifdef BSD_PKG_MK, ?= for tools).
MK_CONF = """# Example /opt/pkg/etc/mk.conf file produced by bootstrap-pkgsrc
# Sat Nov 21 21:04:00 UTC 2026

.ifdef BSD_PKG_MK\t# begin pkgsrc settings

ABI=\t\t\t64
PKG_DBDIR=\t\t/opt/pkg/pkgdb
LOCALBASE=\t\t/opt/pkg
VARBASE=\t\t/opt/pkg/var
PKG_TOOLS_BIN=\t\t${LOCALBASE}/sbin
PKGINFODIR=\t\tinfo
PKGMANDIR=\t\tman

TOOLS_PLATFORM.awk?=\t/opt/pkg/bin/nawk
TOOLS_PLATFORM.awk?=\t/usr/bin/awk
CFLAGS+=\t-O2
CFLAGS+=\t-pipe
.endif\t\t\t# end pkgsrc settings
"""


def test_parse_make_vars():
    values = lay.parse_make_vars(MK_CONF)
    assert values["PKG_DBDIR"] == "/opt/pkg/pkgdb"
    assert values["PKG_TOOLS_BIN"] == "/opt/pkg/sbin"
    assert values["TOOLS_PLATFORM.awk"] == "/opt/pkg/bin/nawk"
    assert values["CFLAGS"] == "-O2 -pipe"
    assert "BSD_PKG_MK" not in values


def test_layout_from_config_prefers_pkg_install_conf():
    found = lay.layout_from_config(MK_CONF, "PKG_DBDIR=/opt/pkg/.pkgdb\n", "/opt/pkg")
    assert (found.prefix, found.pkg_dbdir, found.sysconfdir, found.varbase) == (
        "/opt/pkg", "/opt/pkg/.pkgdb", "/opt/pkg/etc", "/opt/pkg/var")
    assert found.confirmed


def test_layout_from_config_without_varbase_is_unconfirmed():
    found = lay.layout_from_config("PKG_DBDIR=/usr/pkg/.pkgdb\n", None, "/usr/pkg")
    assert found.varbase == "/usr/pkg/var" and not found.confirmed


def test_layout_from_config_sysconfbase():
    found = lay.layout_from_config(MK_CONF + "PKG_SYSCONFBASE=\t/etc/opt/pkg\n", None, "/opt/pkg")
    assert found.sysconfdir == "/etc/opt/pkg"


def test_layout_from_config_nothing():
    assert lay.layout_from_config("# empty\n", "VERIFIED_INSTALLATION=always\n", "/opt/pkg") is None


def test_layout_from_kit_config_reads_an_extracted_tree(tmp_path):
    etc = tmp_path / "root" / "opt" / "pkg" / "etc"
    etc.mkdir(parents=True)
    (etc / "mk.conf").write_text(MK_CONF)
    (etc / "pkg_install.conf").write_text("PKG_PATH=http://127.0.0.1:18080/All\n")
    found = lay.layout_from_kit_config(str(etc.parent), root=str(tmp_path / "root"))
    assert found.prefix == "/opt/pkg" and found.pkg_dbdir == "/opt/pkg/pkgdb"
    assert found.root == str(tmp_path / "root")
    assert found.host("/opt/pkg/pkgdb") == str(tmp_path / "root" / "opt/pkg/pkgdb")
    with pytest.raises(PkgsrcError):
        lay.layout_from_kit_config("/elsewhere/opt/pkg", root=str(tmp_path / "root"))


def test_allowed_roots():
    zone = lay.Layout("/opt/local", "/opt/local/pkg", "/opt/local/etc", "/var")
    assert zone.allowed_roots() == ("/opt/local", "/var/db/pkgin")
    split = lay.Layout("/usr/pkg", "/var/db/pkg", "/etc/pkg", "/usr/pkg/var", extra_paths=("/usr/pkg/x",))
    assert split.allowed_roots() == ("/etc/pkg", "/usr/pkg", "/var/db/pkg")
    mac = lay.Layout("/opt/pkg", "/opt/pkg/.pkgdb", "/opt/pkg/etc", "/opt/pkg/var",
                     extra_files=("/etc/paths.d/10-pkgsrc", "/opt/pkg/inside"))
    assert mac.allowed_files() == ("/etc/paths.d/10-pkgsrc",)


@pytest.mark.parametrize("kwargs", [
    {"prefix": "opt/pkg"}, {"prefix": "/opt/../etc"}, {"prefix": "/"}, {"pkg_dbdir": "pkgdb"},
])
def test_layout_refuses_bad_paths(kwargs):
    values = {"prefix": "/opt/pkg", "pkg_dbdir": "/opt/pkg/pkgdb", "sysconfdir": "/opt/pkg/etc",
              "varbase": "/opt/pkg/var"}
    values.update(kwargs)
    with pytest.raises(PkgsrcError):
        lay.Layout(**values)


def test_layout_normalizes():
    layout = lay.Layout("/opt//pkg/", "/opt/pkg/./pkgdb", "/opt/pkg/etc", "/opt/pkg/var", root="/tmp/img/")
    assert layout.prefix == "/opt/pkg" and layout.pkg_dbdir == "/opt/pkg/pkgdb" and layout.root == "/tmp/img"
    assert layout.marker == "/opt/pkg/etc/pkgsrc-deploy.json"
