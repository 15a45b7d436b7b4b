"""saltext.pkgsrc: the pkgsrc.deploy Salt extension as an installable package.

The wheel built from pyproject.toml maps this folder to the package ``saltext.pkgsrc``, with the
loader modules of salt_states/ as its ``modules``, ``states`` and ``runners`` subpackages and the
shared core (plugins/module_utils/pkgsrc_core) as the top-level package ``pkgsrc_core``: the same
files Salt syncs from file_roots, and the Ansible collection ships. The ``salt.loader`` entry point
names this package; Salt's loader then reads its ``modules/``, ``states/`` and ``runners/`` folders.
"""
from __future__ import annotations

__version__ = "0.1.0"
