#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, the pkgsrc.deploy developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module pkgsrc.deploy.service."""
from __future__ import annotations

DOCUMENTATION = r"""
module: service
short_description: Register and run a service with SMF, systemd, launchd or rc.d from one description
version_added: 0.1.0
description:
  - Describes a long-running program once (command, user, environment, dependencies, restart
    policy, timeouts) and registers it natively with the host's init system - an SMF manifest
    imported with C(svccfg) on illumos, a systemd unit, a launchd plist on macOS, an rc.d script
    on NetBSD - then enables, starts, stops, restarts or removes it.
  - Or installs the service file a pkgsrc package ships (O(source=package)), such as its SMF
    manifest under C(lib/svc/manifest), instead of rendering one.
  - Changing a registered service's definition re-registers and restarts it. On SMF, a service
    that lands in maintenance is cleared once and checked again; if it stays there the error
    names its log file.
  - Every value written into a manifest, unit, plist or script is validated or escaped; nothing
    is ever run through a shell.
author:
  - pkgsrc.deploy developers (@pkgsrc-deploy)
attributes:
  check_mode:
    support: full
    description: Plans and reports the actions, writes and runs nothing.
  diff_mode:
    support: full
    description: Shows the service definition file before and after.
options:
  name:
    description: The service name (letters, digits, C(.), C(_), C(-)).
    type: str
    required: true
  state:
    description:
      - V(started), V(stopped), V(restarted) and V(reloaded) register the service and bring it to
        that state; V(registered) only installs and registers the definition; V(absent) stops,
        disables and unregisters it and removes its file.
    type: str
    choices: [started, stopped, restarted, reloaded, registered, absent]
    default: started
  enabled:
    description: Start at boot. Defaults to V(true) with O(state=started), otherwise left as is.
    type: bool
  init:
    description: The init system; V(auto) detects it.
    type: str
    choices: [auto, smf, systemd, launchd, rcd]
    default: auto
  scope:
    description:
      - V(user) registers a user service (systemd C(--user), launchd LaunchAgents), for
        unprivileged prefixes.
    type: str
    choices: [system, user]
    default: system
  source:
    description:
      - V(spec) renders the definition from the options below; V(package) installs the file the
        package ships under O(prefix); any other value is the path of a definition file to install.
    type: str
    default: spec
  prefix:
    description: The pkgsrc prefix the package is installed in, for O(source=package).
    type: path
  command:
    description: The program and its arguments (an argv list); the program is an absolute path.
    type: list
    elements: str
  description:
    description: One line describing the service.
    type: str
  user:
    description: The user to run as (system scope).
    type: str
  group:
    description: The group to run as (system scope).
    type: str
  working_dir:
    description: The directory to start in.
    type: path
  env:
    description: Environment variables for the program.
    type: dict
  stop_command:
    description: An argv list that stops the program (default - the init system sends SIGTERM).
    type: list
    elements: str
  reload_command:
    description: An argv list that makes the program re-read its configuration.
    type: list
    elements: str
  network:
    description: Start after the network is up.
    type: bool
  filesystems:
    description: Start after local file systems are mounted.
    type: bool
  depends_on:
    description: Names of other services (managed the same way) that must run first.
    type: list
    elements: str
  restart:
    description: When to restart the program.
    type: str
    choices: [on-failure, always, "no"]
  start_timeout:
    description: Seconds to wait for the start (0 - no limit).
    type: int
  stop_timeout:
    description: Seconds to wait for the stop (0 - no limit).
    type: int
  forks:
    description: The program puts itself in the background (a classic daemon).
    type: bool
  pid_file:
    description: Where a forking program writes its pid.
    type: path
  log_file:
    description: A file collecting the program's output.
    type: path
  smf_fmri:
    description: The SMF service FMRI, without instance (default C(svc:/pkgsrc/<name>)).
    type: str
  launchd_label:
    description: The launchd Label (default C(org.pkgsrc.<name>)).
    type: str
seealso:
  - module: pkgsrc.deploy.package
"""

EXAMPLES = r"""
- name: Run a web application from its pkgsrc prefix, on whatever init system the host has
  pkgsrc.deploy.service:
    name: webapp
    command: [/opt/local/bin/webapp, --port, "8080"]
    user: www
    env:
      WEBAPP_ENV: production
    network: true

- name: Import the SMF manifest the nginx package ships and start it
  pkgsrc.deploy.service:
    name: nginx
    source: package
    prefix: /opt/local

- name: A user service for an unprivileged prefix
  pkgsrc.deploy.service:
    name: worker
    scope: user
    command: ["{{ ansible_env.HOME }}/pkg/bin/worker"]
"""

RETURN = r"""
actions:
  description: The actions taken (in check mode, planned), e.g. C(write ...), C(register ...), C(start ...).
  returned: always
  type: list
  elements: str
init:
  description: The init system used.
  returned: always
  type: str
ident:
  description: The native name of the service (FMRI, unit, Label or rc.conf variable).
  returned: always
  type: str
path:
  description: The service definition file.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pkgsrc.deploy.plugins.module_utils._ansible import AnsibleRunner, exit_with, run
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.services.options import manage_service


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            state=dict(type="str", default="started",
                       choices=["started", "stopped", "restarted", "reloaded", "registered", "absent"]),
            enabled=dict(type="bool"),
            init=dict(type="str", default="auto", choices=["auto", "smf", "systemd", "launchd", "rcd"]),
            scope=dict(type="str", default="system", choices=["system", "user"]),
            source=dict(type="str", default="spec"),
            prefix=dict(type="path"),
            command=dict(type="list", elements="str"),
            description=dict(type="str"),
            user=dict(type="str"),
            group=dict(type="str"),
            working_dir=dict(type="path"),
            env=dict(type="dict"),
            stop_command=dict(type="list", elements="str"),
            reload_command=dict(type="list", elements="str"),
            network=dict(type="bool"),
            filesystems=dict(type="bool"),
            depends_on=dict(type="list", elements="str"),
            restart=dict(type="str", choices=["on-failure", "always", "no"]),
            start_timeout=dict(type="int"),
            stop_timeout=dict(type="int"),
            forks=dict(type="bool"),
            pid_file=dict(type="path"),
            log_file=dict(type="path"),
            smf_fmri=dict(type="str"),
            launchd_label=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    if params.get("env") is not None:
        params["env"] = {str(k): str(v) for k, v in params["env"].items()}
    exit_with(module, run(module, manage_service, params, AnsibleRunner(module), module.check_mode),
              "service %s is as asked" % params["name"])


if __name__ == "__main__":
    main()
