"""pkgconf.py: renderers of pkgin's and pkg_install's files that keep what they do not own and converge in one pass."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages import pkgconf
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.errors import PkgsrcError

# A pkg_install.conf as recent published kits ship it (CONTRACT.md §1).
KIT_CONF = ("GPG_KEYRING_VERIFY=/opt/local/etc/gnupg/pkgsrc.gpg\n"
            "GPG_KEYRING_PKGVULN=/opt/local/share/gnupg/pkgsrc-security.gpg\n"
            "PKG_PATH=https://pkgsrc.smartos.org/packages/SmartOS/trunk/x86_64/All\n"
            "VERIFIED_INSTALLATION=always\n")


def test_pkg_install_conf_replaces_only_the_keys_given():
    out = pkgconf.render_pkg_install_conf(KIT_CONF, {"PKG_PATH": "https://mirror.example/All"})
    assert out == KIT_CONF.replace("https://pkgsrc.smartos.org/packages/SmartOS/trunk/x86_64/All",
                                   "https://mirror.example/All")
    assert pkgconf.render_pkg_install_conf(out, {"PKG_PATH": "https://mirror.example/All"}) == out


def test_pkg_install_conf_adds_removes_and_dedupes():
    current = "# comment\nPKG_PATH=a\nPKG_PATH=b\n"
    out = pkgconf.render_pkg_install_conf(current, {"PKG_PATH": None, "VERIFIED_INSTALLATION": "trusted"})
    assert out == "# comment\nVERIFIED_INSTALLATION=trusted\n"
    assert pkgconf.render_pkg_install_conf(None, {"PKG_PATH": "x"}) == "PKG_PATH=x\n"


@pytest.mark.parametrize("settings", [{"VERIFIED_INSTALLATION": "sometimes"}, {"bad key": "x"},
                                      {"PKG_PATH": "a\nVERIFIED_INSTALLATION=never"}])
def test_pkg_install_conf_refuses(settings):
    with pytest.raises(PkgsrcError):
        pkgconf.render_pkg_install_conf(KIT_CONF, settings)


def test_repositories():
    current = "# pkgin repositories\nhttps://a.example/All\n"
    assert pkgconf.render_repositories(current, ["https://a.example/All"]) == current
    out = pkgconf.render_repositories(current, ["https://b.example/All/", "file:///srv/repo/All"])
    assert pkgconf.parse_repositories(out) == ["https://b.example/All", "file:///srv/repo/All"]
    assert pkgconf.render_repositories(out, ["https://b.example/All", "file:///srv/repo/All"]) == out
    with pytest.raises(PkgsrcError):
        pkgconf.render_repositories(None, ["not a url"])
    assert pkgconf.pkg_path_for(["https://a/All", "https://b/All"]) == "https://a/All;https://b/All"
