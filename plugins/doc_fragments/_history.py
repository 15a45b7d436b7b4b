# -*- coding: utf-8 -*-
"""Options of every module whose changes are recorded in a prefix's history."""
from __future__ import annotations


class ModuleDocFragment:  # pylint: disable=too-few-public-methods
    """The history options."""

    DOCUMENTATION = r"""
options:
  history_keep:
    description:
      - How many transaction records the prefix's history keeps, in
        C(VARBASE/db/pkgsrc-deploy/history/); older ones are removed when a run records a new one.
    type: int
    default: 200
  save_packages:
    description:
      - Before a package is upgraded, downgraded or removed, save the installed version as a binary
        package in C(VARBASE/db/pkgsrc-deploy/saved/), so that M(pkgsrc.deploy.history) can roll
        the change back after the repositories stop offering it.
    type: bool
    default: true
  saved_keep:
    description:
      - The saved packages kept are those the newest O(saved_keep) transactions need to be rolled
        back; the others are removed.
    type: int
    default: 5
  saved_max_size:
    description:
      - A cap on the size of the saved packages, in bytes or with a unit (V(500M), V(2G)); the
        oldest go first when the store would grow past it. No cap when omitted.
    type: str
"""
