"""Fixtures of the real-tools tier: the testbed, and the real kit (skipped with one line where absent)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.realtools import missing_reason, real_kit_dir, required
from tests.testbed import fixtures as _testbed_fixtures

testbed = _testbed_fixtures.testbed
testbed_root = _testbed_fixtures.testbed_root
testbed_session = _testbed_fixtures.testbed_session


def pytest_collection_modifyitems(config, items):
    _testbed_fixtures.pytest_collection_modifyitems(config, items)
    for item in items:
        if "tests/realtools/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.realtools)


@pytest.fixture(scope="session")
def real_kit() -> Path:
    """The folder with the real kit, All/ and pkg-vulnerabilities (skip, or fail in CI, without it)."""
    found = real_kit_dir()
    if found is None:
        if required():
            pytest.fail(missing_reason().replace("skipped", "required (PKGSRC_REQUIRE_REAL_KIT=1) but"))
        pytest.skip(missing_reason())
    return found
