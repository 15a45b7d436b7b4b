#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, the pkgsrc.deploy developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module pkgsrc.deploy.package."""
from __future__ import annotations

DOCUMENTATION = r"""
module: package
short_description: Manage pkgsrc binary packages with pkgin or pkg_install
version_added: 0.1.0
description:
  - Installs, upgrades, downgrades and removes pkgsrc binary packages in a pkgsrc prefix, on any
    platform pkgsrc runs on (illumos/SmartOS, Linux, macOS, NetBSD, unprivileged prefixes).
  - Reads the installed packages straight from the package database and plans every change
    before running anything, so a host that is already as asked costs no process at all, and
    all packages of one kind of change go to one batched pkgin (or pkg_add) command.
  - Names may be plain names (V(nginx)), exact package names (V(nginx-1.25.3)) or any
    pkg_install pattern (V(php>=8.1<8.2), V(py311-requests-[0-9]*), V({nginx,apache}-*)).
    Names with V(+) and other characters pkgsrc allows work as they are.
  - Uses pkgin where the prefix has it, otherwise pkg_add/pkg_delete with the prefix's PKG_PATH.
  - Holds a lock on the prefix's package database around every change; concurrent runs wait.
author:
  - pkgsrc.deploy developers (@pkgsrc-deploy)
extends_documentation_fragment:
  - pkgsrc.deploy._prefix
  - pkgsrc.deploy._history
attributes:
  check_mode:
    support: full
    description: Plans and reports the changes, runs nothing and writes nothing.
  diff_mode:
    support: full
    description: Shows the installed package names before and after.
options:
  name:
    description:
      - Package names, package names with versions, or pkg_install patterns.
      - An entry that matches nothing the repositories offer fails the task before anything
        is changed.
    type: list
    elements: str
    aliases: [pkg, names]
    default: []
  state:
    description:
      - V(present) installs what is missing (an installed version that matches is kept),
        V(latest) also upgrades to the best matching version the repositories offer,
        V(absent) removes.
      - A version pattern that the installed version does not match installs the best
        matching version, upgrading or downgrading as needed.
    type: str
    choices: [present, latest, absent]
    default: present
  update_cache:
    description:
      - Refresh the repository database (C(pkgin update)) and the summaries this module reads,
        before planning. The update is forced (C(pkgin -f update)) when the repository list
        changed since pkgin's database was last loaded, because pkgin loads a repository added
        beside the others only then.
      - Independently of this option, when pkgin answers that a package the plan found "is not
        available in the repository", its database is reloaded once (C(pkgin -f update)) and the
        batch is run again; the result's messages say so.
    type: bool
    default: false
  upgrade:
    description: Upgrade every installed package that has a newer version (C(pkgin upgrade)).
    type: bool
    default: false
  autoremove:
    description: Remove packages that were installed as dependencies and are no longer needed.
    type: bool
    default: false
  clean:
    description: Empty pkgin's download cache.
    type: bool
    default: false
  remove_dependants:
    description:
      - With O(state=absent), also remove installed packages that depend on the ones named.
        Without it, removing a package others depend on fails with the list of dependants.
    type: bool
    default: false
  lock_timeout:
    description: Seconds to wait for another run holding the prefix's package database lock.
    type: int
    default: 600
  exact:
    description:
      - The names are the whole package set of the prefix. What they name (at the version asked
        for), what those need, and the bootstrap kit's own packages stay; every other installed
        package is removed, and a dependency nobody named is marked as installed automatically.
      - Give exact package names (V(hello-1.0)) to pin every version. Works with O(state=present)
        or O(state=latest), not with O(upgrade) or O(autoremove).
      - The kit's packages are those the bootstrap recorded, else the ones pkgsrc's kits install
        (V(pkg_install), V(pkgin), V(bmake), V(bootstrap-mk-files), V(cwrappers), ...), and every
        package marked not for deletion (C(+PRESERVE)). See C(docs/lockfiles.md).
    type: bool
    default: false
  lock:
    description:
      - A lock as data (C(docs/lockfiles.md)) - every package of a prefix by exact package name,
        with its automatic flag - as M(pkgsrc.deploy.facts) returns it per prefix and
        C(playbooks/lock.yml) writes it. Read a lock file on the controller, for example with a
        C(file) lookup and the C(from_yaml) filter (see EXAMPLES); the host needs no YAML.
      - Applies it exactly, as O(exact) with every listed package, the automatic flags as listed,
        so that C(pkg_info) shows the same on every host it is applied to (the kit's packages
        that the lock does not list stay).
      - Not with O(name), O(state=latest), O(state=absent), O(upgrade) or O(autoremove).
        O(prefix) defaults to the lock's prefix.
    type: dict
notes:
  - The repositories are the prefix's own (C(pkgin/repositories.conf), or C(PKG_PATH) in
    C(pkg_install.conf)); manage them with M(pkgsrc.deploy.repository).
seealso:
  - module: pkgsrc.deploy.bootstrap
  - module: pkgsrc.deploy.repository
  - module: pkgsrc.deploy.facts
"""

EXAMPLES = r"""
- name: Install nginx and a PHP 8.1 in the default prefix
  pkgsrc.deploy.package:
    name:
      - nginx
      - php>=8.1<8.2

- name: Keep a user-space prefix current
  pkgsrc.deploy.package:
    prefix: ~/pkg
    name: [py311-requests, gtk2+]
    state: latest
    update_cache: true

- name: These versions, what they need, and nothing else
  pkgsrc.deploy.package:
    name: [nginx-1.25.3, php-8.1.29]
    exact: true

- name: The same package set as the host the lock was taken from
  pkgsrc.deploy.package:
    lock: "{{ lookup('ansible.builtin.file', 'locks/web.lock.yml') | from_yaml }}"

- name: Remove a library and everything that depends on it
  pkgsrc.deploy.package:
    name: libfoo
    state: absent
    remove_dependants: true
"""

RETURN = r"""
plan:
  description: The planned changes (action, pkgname, the request that asked for it, current version).
  returned: always
  type: dict
  sample: {"changes": [{"action": "install", "pkgname": "nginx-1.25.3", "request": "nginx", "current": null}]}
commands:
  description: The commands run (in check mode, that would run).
  returned: always
  type: list
  elements: dict
installed:
  description: The package names installed in the prefix afterwards (predicted in check mode).
  returned: always
  type: list
  elements: str
backend:
  description: V(pkgin) or V(pkg_install).
  returned: always
  type: str
prefix:
  description: The prefix worked on.
  returned: always
  type: str
changes:
  description:
    - When a package tool failed part-way (pkgin installs what it can and exits 1 when one package
      file cannot be fetched), what changed all the same - for each package name its C(old) and
      C(new) version; C(changed) is then true if anything did. V(installed) is what the prefix holds
      after the failure.
  returned: on a failure after the prefix may have changed
  type: dict
  sample: {"svc-demo": {"old": "", "new": "1.0"}}
transaction:
  description:
    - The id of the record this run added to the prefix's history (see M(pkgsrc.deploy.history));
      V(null) when nothing changed and in check mode. On a failure, the record of the failed run.
  returned: always (on a failure, when the prefix may have changed)
  type: int
  sample: 42
saved:
  description: The installed versions saved as binary packages before they were replaced or removed.
  returned: always
  type: list
  elements: str
  sample: ["hello-1.0"]
pkg_install_log:
  description: The lines pkg_install wrote to C(VARBASE/db/pkgin/pkg_install-err.log) during this run.
  returned: on a failure after the prefix may have changed
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pkgsrc.deploy.plugins.module_utils._ansible import HISTORY_ARGS, AnsibleRunner, history, run
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.converge import manage_packages
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.lockfile import with_lock
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages.plan import PackageRequest


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="list", elements="str", aliases=["pkg", "names"], default=[]),
            state=dict(type="str", choices=["present", "latest", "absent"], default="present"),
            prefix=dict(type="path"),
            pkg_dbdir=dict(type="path"),
            update_cache=dict(type="bool", default=False),
            upgrade=dict(type="bool", default=False),
            autoremove=dict(type="bool", default=False),
            clean=dict(type="bool", default=False),
            remove_dependants=dict(type="bool", default=False),
            lock_timeout=dict(type="int", default=600),
            exact=dict(type="bool", default=False),
            lock=dict(type="dict"),
            **HISTORY_ARGS,
        ),
        supports_check_mode=True,
    )
    params = module.params
    request = PackageRequest(tuple(params["name"]), params["state"], params["update_cache"], params["upgrade"],
                             params["autoremove"], params["clean"], params["remove_dependants"],
                             float(params["lock_timeout"]), exact=params["exact"])
    prefix = params["prefix"]
    if params["lock"] is not None:
        request, prefix = run(module, with_lock, request, params["lock"], prefix)
    result, layout = run(module, manage_packages, request, prefix, params["pkg_dbdir"],
                         AnsibleRunner(module), module.check_mode, history(module))
    out = result.as_dict()
    out.update(prefix=layout.prefix if layout else prefix,
               msg="; ".join(result.messages) or "nothing to change")
    if module._diff:  # pylint: disable=protected-access
        out["diff"] = result.diff
    module.exit_json(**out)


if __name__ == "__main__":
    main()
