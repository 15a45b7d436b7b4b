"""catalogue.py: when a cached summary may be revalidated with If-Modified-Since."""
from __future__ import annotations

import pytest

from ansible_collections.pkgsrc.deploy.plugins.module_utils.pkgsrc_core.packages import catalogue


@pytest.mark.parametrize("last_modified,date,settled", [
    ("Sat, 21 Nov 2026 21:00:00 GMT", "Sat, 21 Nov 2026 21:00:00 GMT", False),  # changed in the fetch's second
    ("Sat, 21 Nov 2026 21:00:00 GMT", "Sat, 21 Nov 2026 21:00:01 GMT", False),
    ("Sat, 21 Nov 2026 21:00:00 GMT", "Sat, 21 Nov 2026 21:00:02 GMT", True),
    ("Sat, 21 Nov 2026 20:00:00 GMT", "Sat, 21 Nov 2026 21:00:00 GMT", True),
    ("Sat, 21 Nov 2026 21:00:00 GMT", "", False),
    ("not a date", "Sat, 21 Nov 2026 21:00:00 GMT", False),
])
def test_settled(last_modified, date, settled):
    assert catalogue._settled(last_modified, date) is settled  # pylint: disable=protected-access
