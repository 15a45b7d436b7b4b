"""Fixtures for the SMF/launchctl stand-in tests (helpers in svc_support.py)."""
from __future__ import annotations

import pytest

from tests.sim.svc_support import Tools


@pytest.fixture
def dtd(samples_dir):
    """SMF's service_bundle DTD, as captured from illumos."""
    path = samples_dir.parent / "smf" / "service_bundle.dtd.1"
    assert path.is_file()
    return path


@pytest.fixture
def tools(tmp_path, dtd):
    made = Tools(tmp_path, dtd)
    yield made
    made.cleanup()
