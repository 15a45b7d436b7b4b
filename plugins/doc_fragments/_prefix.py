# -*- coding: utf-8 -*-
"""Options every module that works on a pkgsrc prefix shares."""
from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """The prefix options."""

    DOCUMENTATION = r"""
options:
  prefix:
    description:
      - The pkgsrc prefix (LOCALBASE) to work on, for example V(/opt/local) in a SmartOS zone,
        V(/opt/pkg) on macOS, V(/usr/pkg) on Linux or NetBSD, or V(~/pkg) for an unprivileged
        install.
      - When omitted, the first prefix found among V(/opt/local), V(/opt/tools), V(/opt/pkg),
        V(/usr/pkg) and V($HOME/pkg) is used.
      - Each prefix has its own package database, read from the prefix's own C(pkg_install.conf)
        and C(mk.conf), so several prefixes on one host are managed independently.
    type: path
  pkg_dbdir:
    description:
      - The package database of the prefix, when it is not where the prefix's configuration
        says (rarely needed).
    type: path
"""
