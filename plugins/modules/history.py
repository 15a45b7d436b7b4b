#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, the pkgsrc.deploy developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module pkgsrc.deploy.history."""
from __future__ import annotations

DOCUMENTATION = r"""
module: history
short_description: List a pkgsrc prefix's transactions, and roll one back
version_added: 0.2.0
description:
  - Every run of M(pkgsrc.deploy.package), M(pkgsrc.deploy.bootstrap), M(pkgsrc.deploy.repository)
    and of this module that changes a prefix (or fails part-way, or is killed) is recorded as a
    transaction in C(VARBASE/db/pkgsrc-deploy/history/), with the package set before and after.
  - With neither O(rollback) nor O(undo), lists the transactions, newest first.
  - O(rollback) brings the prefix back to the package set it had before that transaction - exact
    package names and their automatic flags - by downgrading, re-installing what was removed and
    removing what was added. Each version comes from the packages saved before the change first,
    then from the repositories. When a version is in neither, the task fails before anything
    changes and names what is missing.
  - A rollback is a transaction itself, so it can be undone in turn.
  - Runs pkg_install's own tools (pkg_add, pkg_delete, pkg_admin) under the package database lock.
author:
  - pkgsrc.deploy developers (@pkgsrc-deploy)
extends_documentation_fragment:
  - pkgsrc.deploy._prefix
  - pkgsrc.deploy._history
attributes:
  check_mode:
    support: full
    description: Shows the rollback's plan and the package set before and after; changes nothing.
  diff_mode:
    support: full
    description: Shows the installed package names before and after the rollback.
options:
  rollback:
    description:
      - The id of the transaction to roll back (see the C(transactions) this module lists).
      - Mutually exclusive with O(undo).
    type: int
  undo:
    description:
      - Roll back the newest transaction that changed packages.
    type: bool
    default: false
  count:
    description:
      - When listing, at most this many of the newest transactions. All when omitted.
    type: int
  lock_timeout:
    description: Seconds to wait for another run holding the package database lock.
    type: int
    default: 600
notes:
  - See C(docs/history.md) in the collection for a worked rollback.
"""

EXAMPLES = r"""
- name: The last five transactions of /opt/local
  pkgsrc.deploy.history:
    prefix: /opt/local
    count: 5
  register: hist

- name: Undo the last change (an upgrade that went wrong)
  pkgsrc.deploy.history:
    prefix: /opt/local
    undo: true

- name: Back to the packages of before transaction 41
  pkgsrc.deploy.history:
    prefix: /opt/local
    rollback: 41
"""

RETURN = r"""
transactions:
  description:
    - When listing, the records, newest first. Each has C(id), C(kind) (package, bootstrap,
      repository, rollback), C(start) and C(end) (UTC), C(actor) (C(tool), C(user), C(controller)),
      C(request), C(before) and C(after) (lists of C(pkgname) and C(automatic)), C(commands) (argv
      and rc), C(outcome) (ok, failed, interrupted; running while a run holds the prefix), C(saved),
      C(messages) and C(warnings).
  returned: when listing
  type: list
  elements: dict
rollback:
  description: The rollback's plan - C(target) (the transaction rolled back), C(installs) (each with
    C(action), C(pkgname), C(current), C(source) and C(from) saved or repository), C(removes),
    C(set_automatic) and C(unset_automatic).
  returned: when rolling back
  type: dict
transaction:
  description: The id of the rollback's own record; V(null) when nothing changed and in check mode.
  returned: when rolling back
  type: int
saved:
  description: The versions saved before the rollback replaced or removed them.
  returned: when rolling back
  type: list
  elements: str
installed:
  description: The package names installed afterwards (predicted in check mode).
  returned: when rolling back
  type: list
  elements: str
commands:
  description: The commands run (in check mode, that would run).
  returned: when rolling back
  type: list
  elements: dict
prefix:
  description: The prefix worked on.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pkgsrc.deploy.plugins.module_utils._ansible import (
    HISTORY_ARGS, AnsibleRunner, exit_with, history, run)
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.rollback import manage_history
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.prefixes import select_prefix


def main():
    module = AnsibleModule(
        argument_spec=dict(
            prefix=dict(type="path"),
            pkg_dbdir=dict(type="path"),
            rollback=dict(type="int"),
            undo=dict(type="bool", default=False),
            count=dict(type="int"),
            lock_timeout=dict(type="int", default=600),
            **HISTORY_ARGS,
        ),
        mutually_exclusive=[("rollback", "undo")],
        supports_check_mode=True,
    )
    p = module.params
    layout = run(module, select_prefix, p["prefix"], p["pkg_dbdir"])
    result = run(module, manage_history, layout, AnsibleRunner(module), p["rollback"], p["undo"], p["count"],
                 module.check_mode, history(module), float(p["lock_timeout"]))
    exit_with(module, result, "nothing to change")


if __name__ == "__main__":
    main()
