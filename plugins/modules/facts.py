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
  - For each prefix also its lock (every package by exact package name with its automatic flag,
    in the lock file format of C(docs/lockfiles.md), which C(playbooks/lock.yml) writes and the
    package module's O(pkgsrc.deploy.package#module:lock) option applies), the names of the
    bootstrap kit's packages that an exact set keeps, and the prefix's last transaction.
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
        C(pkg_install_version), C(pkgin_version), C(package_count), C(packages), C(vulnerabilities),
        C(lock), C(kit_packages), C(last_transaction)) and C(errors).
      type: dict
      returned: always
      contains:
        prefixes:
          description: One entry per prefix found.
          type: list
          elements: dict
          returned: always
          contains:
            lock:
              description:
                - The prefix's lock (C(docs/lockfiles.md)) with C(lock_version), C(prefix),
                  C(taken_at) (now, UTC), C(taken_from) (the host's name) and C(packages), a list
                  of C(pkgname) and C(automatic).
              type: dict
              returned: always
              sample: {"lock_version": 1, "prefix": "/opt/pkg", "taken_at": "2026-12-05T12:00:00Z",
                       "taken_from": "web1", "packages": [{"pkgname": "libfoo-2.0nb1", "automatic": true}]}
            kit_packages:
              description: Names of the bootstrap kit's packages, which an exact set or a lock always keeps.
              type: list
              elements: str
              returned: always
            last_transaction:
              description:
                - The newest record of the prefix's history - C(id), C(kind), C(start), C(end) and
                  C(outcome) (V(ok), V(failed), V(interrupted), or V(running) for a run going on or
                  killed and not looked at since); null when the history is empty.
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
