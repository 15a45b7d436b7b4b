"""Integration tests run against the testbed: real systemd hosts in network namespaces, real HTTP."""
from __future__ import annotations

from tests.testbed.fixtures import (  # noqa: F401  (fixtures and the marker hook, used by pytest)
    pytest_collection_modifyitems,
    testbed,
    testbed_root,
    testbed_session,
)
