#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, the pkgsrc.deploy developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module pkgsrc.deploy.repository."""
from __future__ import annotations

DOCUMENTATION = r"""
module: repository
short_description: Configure the package repositories of a pkgsrc prefix
version_added: 0.1.0
description:
  - Manages pkgin's C(repositories.conf) (one or several repository URLs) and C(preferred.conf)
    (version pins), and C(PKG_PATH) and C(VERIFIED_INSTALLATION) in C(pkg_install.conf), then
    refreshes pkgin's database when the repositories changed.
  - Files are rewritten atomically with mode 0644 and only when their content changes.
author:
  - pkgsrc.deploy developers (@pkgsrc-deploy)
extends_documentation_fragment:
  - pkgsrc.deploy._prefix
  - pkgsrc.deploy._history
attributes:
  check_mode:
    support: full
    description: Shows what would be written; writes nothing.
  diff_mode:
    support: full
    description: Shows each file before and after.
options:
  repositories:
    description:
      - Repository URLs (http, https, ftp or file), usually ending in C(/All). C({branch}) is
        replaced by O(branch); pkgin's own C($arch) and C($osrelease) are kept for pkgin.
      - Omit to leave C(repositories.conf) alone.
    type: list
    elements: str
  branch:
    description: The pkgsrc branch for C({branch}) in O(repositories), V(trunk) or a quarterly such as V(2025Q3).
    type: str
  preferred:
    description: pkgin pins (pkg_install patterns such as V(php>=8.1<8.2)); omit to leave C(preferred.conf) alone.
    type: list
    elements: str
  pkg_path:
    description: Also set C(PKG_PATH) in C(pkg_install.conf) to the repositories, for pkg_add.
    type: bool
    default: true
  verified_installation:
    description: C(VERIFIED_INSTALLATION) in C(pkg_install.conf) (signature checking of packages).
    type: str
    choices: [never, always, trusted, interactive]
  update_cache:
    description:
      - Reload pkgin's database after the repositories changed, with a forced update
        (C(pkgin -f update)) - pkgin 26.4 loads a repository added beside the existing ones only then.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Follow a quarterly branch on SmartOS
  pkgsrc.deploy.repository:
    prefix: /opt/local
    repositories:
      - https://pkgsrc.smartos.org/packages/SmartOS/{branch}/x86_64/All
    branch: 2025Q3
    verified_installation: always

- name: Pin PHP to 8.1
  pkgsrc.deploy.repository:
    preferred:
      - php>=8.1<8.2
"""

RETURN = r"""
files:
  description: The configuration files changed (or that would change).
  returned: always
  type: list
  elements: str
commands:
  description: The commands run after writing (pkgin update).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pkgsrc.deploy.plugins.module_utils._ansible import (
    HISTORY_ARGS, AnsibleRunner, exit_with, history, run)
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.prefixes import select_prefix
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.repository import (
    RepositoryRequest, manage_repository)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            prefix=dict(type="path"),
            pkg_dbdir=dict(type="path"),
            repositories=dict(type="list", elements="str"),
            branch=dict(type="str"),
            preferred=dict(type="list", elements="str"),
            pkg_path=dict(type="bool", default=True),
            verified_installation=dict(type="str", choices=["never", "always", "trusted", "interactive"]),
            update_cache=dict(type="bool", default=True),
            **HISTORY_ARGS,
        ),
        supports_check_mode=True,
    )
    p = module.params
    layout = run(module, select_prefix, p["prefix"], p["pkg_dbdir"])
    request = RepositoryRequest(
        tuple(p["repositories"]) if p["repositories"] is not None else None, p["branch"],
        tuple(p["preferred"]) if p["preferred"] is not None else None, p["pkg_path"],
        p["verified_installation"], p["update_cache"])
    exit_with(module, run(module, manage_repository, request, layout, AnsibleRunner(module), module.check_mode,
                          history(module)))


if __name__ == "__main__":
    main()
