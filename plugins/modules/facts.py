#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, the pkgsrc.deploy developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module pkgsrc.deploy.facts."""
from __future__ import annotations

DOCUMENTATION = r"""
module: facts
short_description: Facts about every pkgsrc prefix on a host
version_added: 0.1.0
description:
  - Finds the pkgsrc prefixes on the host (V(/opt/local), V(/opt/tools), V(/opt/pkg), V(/usr/pkg),
    V($HOME/pkg) and any given) and returns, for each, its layout, repositories and branch, the
    versions of pkg_install and pkgin, and every installed package (name, version, automatic,
    comment) - read straight from the package databases, without running any pkgsrc tool.
  - Also returns the host's platform as pkgsrc.deploy sees it (OS, release, arch, ABI, init
    system, zone).
  - The result is the input of the fleet report (C(playbooks/report.yml)).
author:
  - pkgsrc.deploy developers (@pkgsrc-deploy)
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Nothing changes.
  facts:
    support: full
    description: Sets C(ansible_facts.pkgsrc).
options:
  prefixes:
    description: Further prefixes to look at, besides the usual places.
    type: list
    elements: path
    default: []
"""

EXAMPLES = r"""
- name: Gather pkgsrc facts
  pkgsrc.deploy.facts:

- name: Show what is installed in each prefix
  ansible.builtin.debug:
    msg: "{{ item.prefix }}: {{ item.packages | map(attribute='pkgname') | join(', ') }}"
  loop: "{{ ansible_facts.pkgsrc.prefixes }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts, under the key C(pkgsrc).
  returned: always
  type: dict
  contains:
    pkgsrc:
      description: C(host) (platform), C(bootstrapped), C(prefixes) (a list, one per prefix, with
        C(prefix), C(pkg_dbdir), C(sysconfdir), C(varbase), C(repositories), C(branch),
        C(pkg_install_version), C(pkgin_version), C(package_count), C(packages)) and C(errors).
      type: dict
      returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pkgsrc.deploy.plugins.module_utils._ansible import AnsibleRunner, run
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.facts import gather_facts


def main():
    module = AnsibleModule(
        argument_spec=dict(prefixes=dict(type="list", elements="path", default=[])),
        supports_check_mode=True,
    )
    facts = run(module, gather_facts, AnsibleRunner(module), module.params["prefixes"])
    module.exit_json(changed=False, ansible_facts={"pkgsrc": facts})


if __name__ == "__main__":
    main()
