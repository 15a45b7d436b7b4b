"""Integration tests run against the testbed: real systemd hosts in network namespaces, real HTTP.

The testbed fixtures (and the hook that marks their users ``testbed``) come from tests/testbed/fixtures.py;
``pytest_plugins`` is only allowed in the root conftest, so they are bound here by name.
"""
from __future__ import annotations

from tests.testbed import fixtures as _testbed_fixtures

testbed = _testbed_fixtures.testbed
testbed_root = _testbed_fixtures.testbed_root
testbed_session = _testbed_fixtures.testbed_session
pytest_collection_modifyitems = _testbed_fixtures.pytest_collection_modifyitems
