#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, the pkgsrc.deploy developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module pkgsrc.deploy.audit."""
from __future__ import annotations

DOCUMENTATION = r"""
module: audit
short_description: Audit a pkgsrc prefix for packages with known vulnerabilities
version_added: 0.1.0
description:
  - Fetches the pkgsrc vulnerability list (C(pkg_admin fetch-pkg-vulnerabilities), which checks
    its signature) and runs C(pkg_admin audit), returning each vulnerable package with the type
    of vulnerability, its advisory URL and a severity level.
  - Can fail the task when a vulnerability at or above a level is installed.
author:
  - pkgsrc.deploy developers (@pkgsrc-deploy)
extends_documentation_fragment:
  - pkgsrc.deploy._prefix
attributes:
  check_mode:
    support: full
    description: Audits against the list already fetched; fetches nothing.
  diff_mode:
    support: none
    description: Nothing to show.
options:
  refresh:
    description: Fetch the vulnerability list first.
    type: bool
    default: true
  fail_on:
    description:
      - Fail when an installed package has a vulnerability of this level or above. Levels are
        derived from the vulnerability type - V(critical) for remote code execution, V(high) for
        privilege escalation, memory corruption and injection, V(low) for information leaks,
        V(medium) for the rest.
    type: str
    choices: [never, low, medium, high, critical]
    default: never
"""

EXAMPLES = r"""
- name: Refuse to go on with a critical vulnerability installed
  pkgsrc.deploy.audit:
    prefix: /opt/local
    fail_on: critical
  register: audit

- name: Show the vulnerable packages
  ansible.builtin.debug:
    var: audit.vulnerable_packages
"""

RETURN = r"""
vulnerabilities:
  description: One entry per vulnerable package and advisory (pkgname, type, url, level).
  returned: always
  type: list
  elements: dict
vulnerable_packages:
  description: The vulnerable package names.
  returned: always
  type: list
  elements: str
refreshed:
  description: Whether the list was fetched.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pkgsrc.deploy.plugins.module_utils._ansible import AnsibleRunner, run
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.audit import audit
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.prefixes import select_prefix


def main():
    module = AnsibleModule(
        argument_spec=dict(
            prefix=dict(type="path"),
            pkg_dbdir=dict(type="path"),
            refresh=dict(type="bool", default=True),
            fail_on=dict(type="str", default="never", choices=["never", "low", "medium", "high", "critical"]),
        ),
        supports_check_mode=True,
    )
    layout = run(module, select_prefix, module.params["prefix"], module.params["pkg_dbdir"])
    result = run(module, audit, layout, AnsibleRunner(module), module.params["refresh"],
                 module.params["fail_on"], module.check_mode)
    out = result.as_dict()
    if result.failed:
        module.fail_json(msg="vulnerable packages at or above %s: %s" % (result.fail_on, result.message()), **out)
    module.exit_json(changed=False, msg=result.message(), **out)


if __name__ == "__main__":
    main()
