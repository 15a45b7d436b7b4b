"""The testbed HTTP server's Range parsing (no root, no network): a table of headers and answers."""
from __future__ import annotations

import pytest

from tests.testbed.httpd import parse_range

SIZE = 1000

CASES = [
    # (header, expected) for a 1000-byte file
    (None, None),
    ("", None),
    ("bytes=0-", (0, 999)),
    ("bytes=400-", (400, 999)),
    ("bytes=999-", (999, 999)),
    ("bytes=1000-", "unsatisfiable"),
    ("bytes=5000-", "unsatisfiable"),
    ("bytes=10-19", (10, 19)),
    ("bytes=10-10", (10, 10)),
    ("bytes=990-5000", (990, 999)),  # the last position is clamped to the end
    ("bytes=-100", (900, 999)),  # suffix: the last 100 bytes
    ("bytes=-5000", (0, 999)),
    ("bytes=-0", "unsatisfiable"),
    ("bytes=20-10", None),  # invalid: ignored, the whole file is sent
    ("bytes=0-1,5-9", None),  # multi-range: not supported, the whole file is sent
    ("items=0-5", None),
    ("bytes=-", None),
    (" bytes=7- ", (7, 999)),
]


@pytest.mark.parametrize(("header", "expected"), CASES)
def test_parse_range(header: str | None, expected: object) -> None:
    assert parse_range(header, SIZE) == expected


def test_parse_range_empty_file() -> None:
    assert parse_range("bytes=0-", 0) == "unsatisfiable"
    assert parse_range("bytes=-10", 0) == "unsatisfiable"
    assert parse_range(None, 0) is None
