#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, the pkgsrc.deploy developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module pkgsrc.deploy.bootstrap."""
from __future__ import annotations

DOCUMENTATION = r"""
module: bootstrap
short_description: Bootstrap pkgsrc from a verified binary kit, or from source into a user prefix
version_added: 0.1.0
description:
  - Installs pkgsrc on a host. By default picks the published binary bootstrap kit for the
    platform (SmartOS/illumos zone or global zone, macOS, Enterprise Linux), downloads it
    (resuming where the server allows), checks its checksum and its detached GPG signature (in a
    throw-away keyring, never the user's), lists the whole archive and refuses any member outside
    the kit's own paths, extracts it into a staging directory and moves it into place - so an
    interrupted run leaves no half prefix and a rerun converges.
  - An existing package database means pkgsrc is already there; a kit is never unpacked over it.
    Two runs that bootstrap the same prefix at once take turns (a lock in the cache directory),
    so the second waits for the first, then finds pkgsrc there and changes nothing.
  - Then configures the repositories, C(pkg_install.conf), PATH and MANPATH for login shells, and
    runs C(pkgin update).
  - With O(from_source), runs pkgsrc's own C(bootstrap/bootstrap) from a pkgsrc tree into any
    prefix, unprivileged - the path for grid sites and shared clusters where you are not root.
  - O(state=upgraded) upgrades the package tools and packages of an existing install the way the
    kit publisher documents (C(pkg_add -U pkg_install pkgin libarchive), C(pkgin clean),
    C(pkgin upgrade)); O(state=absent) removes a prefix this module bootstrapped.
author:
  - pkgsrc.deploy developers (@pkgsrc-deploy)
extends_documentation_fragment:
  - pkgsrc.deploy._history
attributes:
  check_mode:
    support: full
    description: Plans and reports every step; downloads and writes nothing.
  diff_mode:
    support: full
    description: Shows the configuration files written.
options:
  state:
    description: V(present) bootstraps, V(upgraded) upgrades an install, V(absent) removes one this module made.
    type: str
    choices: [present, absent, upgraded]
    default: present
  method:
    description: V(kit) (a binary kit), V(source) (pkgsrc's bootstrap script) or V(auto) (a kit when one fits the host).
    type: str
    choices: [auto, kit, source]
    default: auto
  branch:
    description: V(trunk) or a quarterly branch such as V(2025Q3) (quarterly kits exist for SmartOS).
    type: str
    default: trunk
  kit:
    description: A kit of the catalogue by name; default - the catalogue's kit for the host.
    type: str
  catalogue:
    description:
      - Kits to add to (or override in) the built-in catalogue, each a dict with C(name), C(url),
        C(checksum), C(signature_url), C(key), C(fingerprint), C(platform), C(arch), C(prefix), ...
    type: list
    elements: dict
  url:
    description: The URL (http, https or file) of a kit not in the catalogue.
    type: str
  checksum:
    description: The kit's checksum as V(sha256:<hex>) (or V(sha1:), V(sha512:)).
    type: str
  signature_url:
    description: The URL of the kit's detached GPG signature (C(.asc)).
    type: str
  gpg_key:
    description: The signing key (an armored public key file or URL) the signature must verify with.
    type: str
  keyring:
    description: A keyring file to verify the signature with, instead of O(gpg_key).
    type: path
  fingerprint:
    description: The fingerprint the signing key must have.
    type: str
  verify:
    description:
      - Refuse kits that are not verified (catalogue kits - checksum and signature; other kits -
        a checksum, or a signature and key). Set to V(false) only to accept an unverified kit knowingly.
    type: bool
    default: true
  prefix:
    description: The prefix; default - the kit's, or V(~/pkg) for unprivileged source bootstraps.
    type: path
  pkg_dbdir:
    description: The package database directory, when not the layout's default.
    type: path
  sysconfdir:
    description: The configuration directory, when not the layout's default.
    type: path
  varbase:
    description: The VARBASE, when not the layout's default.
    type: path
  unprivileged:
    description: Bootstrap without root (from source into a prefix the user owns); default - when not root.
    type: bool
  root:
    description: Bootstrap into an alternate root (an image being built) instead of V(/).
    type: path
    default: /
  repositories:
    description: Package repository URLs to configure (C(repositories.conf), C(PKG_PATH)).
    type: list
    elements: str
  verified_installation:
    description: C(VERIFIED_INSTALLATION) in C(pkg_install.conf).
    type: str
    choices: [never, always, trusted, interactive]
  manage_path:
    description: Set PATH and MANPATH for login shells (C(/etc/profile.d), C(/etc/paths.d), or C(~/.profile)).
    type: bool
    default: true
  pkgin_update:
    description: Run C(pkgin update) after bootstrapping.
    type: bool
    default: true
  cache_dir:
    description: Where downloads are kept while they are verified (a private directory).
    type: path
  force:
    description: With O(state=absent), remove a prefix this module did not bootstrap.
    type: bool
    default: false
  from_source:
    description: Bootstrap from a pkgsrc source tree with its C(bootstrap/bootstrap) script.
    type: dict
    suboptions:
      path:
        description: A pkgsrc tree on the host.
        type: path
      url:
        description: A pkgsrc tarball URL (with O(from_source.checksum)).
        type: str
      checksum:
        description: The tarball's checksum, V(sha256:<hex>).
        type: str
      workdir:
        description: The bootstrap's work directory.
        type: path
      make_jobs:
        description: Parallel make jobs.
        type: int
      abi:
        description: V(32) or V(64).
        type: int
        choices: [32, 64]
      compiler:
        description: The compiler (for example V(gcc) or V(clang)).
        type: str
      prefer_pkgsrc:
        description: C(--prefer-pkgsrc) (V(yes), V(no) or a list of packages).
        type: str
      mk_fragment:
        description: Text appended to C(mk.conf) (C(--mk-fragment)).
        type: str
      sh:
        description: The absolute path of the shell the bootstrap uses.
        type: path
  extra_paths:
    description: Further directories a kit may write (beyond prefix, pkgdb, sysconfdir and VARBASE).
    type: list
    elements: path
  timeout:
    description: Network timeout in seconds.
    type: float
    default: 60
  gpg:
    description: The program that verifies signatures (V(gpgv), or V(gpg)).
    type: str
    default: gpgv
seealso:
  - module: pkgsrc.deploy.package
  - module: pkgsrc.deploy.repository
"""

EXAMPLES = r"""
- name: Bootstrap the published kit for this host, verified
  pkgsrc.deploy.bootstrap:

- name: A kit from our own mirror, pinned by checksum and signature
  pkgsrc.deploy.bootstrap:
    url: https://mirror.example.org/bootstrap-el7-trunk-x86_64-20220718.tar.gz
    checksum: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    signature_url: https://mirror.example.org/bootstrap-el7-trunk-x86_64-20220718.tar.gz.asc
    gpg_key: https://mirror.example.org/pkgsrc-signing.asc
    repositories:
      - https://mirror.example.org/packages/el7/trunk/x86_64/All

- name: pkgsrc in my home on a grid site, no root
  pkgsrc.deploy.bootstrap:
    prefix: ~/pkg
    from_source:
      url: https://cdn.netbsd.org/pub/pkgsrc/pkgsrc-2025Q3/pkgsrc.tar.gz
      checksum: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
      make_jobs: 4
"""

RETURN = r"""
actions:
  description: The steps taken (in check mode, planned).
  returned: always
  type: list
  elements: str
layout:
  description: The prefix, package database, configuration directory and VARBASE.
  returned: always
  type: dict
existing:
  description: The install found in place (packages and tool versions), when pkgsrc was already there.
  returned: when pkgsrc was already bootstrapped
  type: dict
kit:
  description: The kit used.
  returned: when a kit was used
  type: dict
method:
  description: V(kit) or V(source).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pkgsrc.deploy.plugins.module_utils._ansible import HISTORY_ARGS, AnsibleRunner, exit_with, run
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.bootstrap.options import run_bootstrap

SOURCE = dict(
    path=dict(type="path"), url=dict(type="str"), checksum=dict(type="str"), workdir=dict(type="path"),
    make_jobs=dict(type="int"), abi=dict(type="int", choices=[32, 64]), compiler=dict(type="str"),
    prefer_pkgsrc=dict(type="str"), mk_fragment=dict(type="str"), sh=dict(type="path"),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "absent", "upgraded"]),
            method=dict(type="str", default="auto", choices=["auto", "kit", "source"]),
            branch=dict(type="str", default="trunk"),
            kit=dict(type="str"),
            catalogue=dict(type="list", elements="dict"),
            url=dict(type="str"),
            checksum=dict(type="str"),
            signature_url=dict(type="str"),
            gpg_key=dict(type="str", no_log=False),
            keyring=dict(type="path"),
            fingerprint=dict(type="str"),
            verify=dict(type="bool", default=True),
            prefix=dict(type="path"),
            pkg_dbdir=dict(type="path"),
            sysconfdir=dict(type="path"),
            varbase=dict(type="path"),
            unprivileged=dict(type="bool"),
            root=dict(type="path", default="/"),
            repositories=dict(type="list", elements="str"),
            verified_installation=dict(type="str", choices=["never", "always", "trusted", "interactive"]),
            manage_path=dict(type="bool", default=True),
            pkgin_update=dict(type="bool", default=True),
            cache_dir=dict(type="path"),
            force=dict(type="bool", default=False),
            from_source=dict(type="dict", options=SOURCE),
            extra_paths=dict(type="list", elements="path"),
            timeout=dict(type="float", default=60.0),
            gpg=dict(type="str", default="gpgv"),
            **HISTORY_ARGS,
        ),
        mutually_exclusive=[("kit", "url"), ("url", "from_source")],
        supports_check_mode=True,
    )
    exit_with(module, run(module, run_bootstrap, module.params, AnsibleRunner(module), module.check_mode, "ansible"))


if __name__ == "__main__":
    main()
