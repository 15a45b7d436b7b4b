#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, the pkgsrc.deploy developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module pkgsrc.deploy.health."""
from __future__ import annotations

DOCUMENTATION = r"""
module: health
short_description: Check that an application answers - over HTTP, or with a command - with retries
version_added: 0.2.0
description:
  - Runs one health check on the managed host, from the host itself, up to 1 + O(retries) times,
    O(delay) seconds apart, each attempt bounded by O(timeout).
  - An HTTP check passes when C(GET url) answers O(status) (redirects are not followed) and,
    when O(body) is given, the answer holds that text.
  - A command check passes when the command (an argument list; no shell) exits with O(rc).
  - Fails the task when the application is not healthy after the last attempt, so that a role can
    roll back in its C(rescue). Changes nothing on the host; runs in check mode too.
  - The same check as the Salt function C(pkgsrc_service.health).
author:
  - pkgsrc.deploy developers (@pkgsrc-deploy)
attributes:
  check_mode:
    support: full
    description: The check only reads; it runs in check mode as well.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
options:
  url:
    description: The URL to GET (http or https). Mutually exclusive with O(command).
    type: str
  status:
    description: The HTTP status expected.
    type: int
    default: 200
  body:
    description: Text the answer's body must hold.
    type: str
  command:
    description: The command to run, as a list of arguments. Mutually exclusive with O(url).
    type: list
    elements: str
  rc:
    description: The exit code the command must return.
    type: int
    default: 0
  timeout:
    description: Seconds each attempt may take.
    type: float
    default: 5
  retries:
    description: How many times to try again after a failed attempt.
    type: int
    default: 10
  delay:
    description: Seconds between attempts.
    type: float
    default: 2
"""

EXAMPLES = r"""
- name: The web application answers
  pkgsrc.deploy.health:
    url: http://127.0.0.1:8080/health
    body: ok
    retries: 15
    delay: 2

- name: Its own self-test passes
  pkgsrc.deploy.health:
    command: [/opt/local/bin/webapp, --self-test]
"""

RETURN = r"""
healthy:
  description: Whether the check passed.
  returned: always
  type: bool
attempts:
  description: How many attempts were made.
  returned: always
  type: int
detail:
  description: What the last attempt saw (status, exit code, or why there was no answer).
  returned: always
  type: str
  sample: "status 502, expected 200"
check:
  description: The check, in words.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pkgsrc.deploy.plugins.module_utils._ansible import run
from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.services.health import health


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str"),
            status=dict(type="int", default=200),
            body=dict(type="str"),
            command=dict(type="list", elements="str"),
            rc=dict(type="int", default=0),
            timeout=dict(type="float", default=5.0),
            retries=dict(type="int", default=10),
            delay=dict(type="float", default=2.0),
        ),
        mutually_exclusive=[("url", "command")],
        required_one_of=[("url", "command")],
        supports_check_mode=True,
    )
    result = run(module, health, module.params)
    if not result["healthy"]:
        module.fail_json(changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
