"""Shared pytest fixtures: where the repository and the real-tool samples (tests/data) are."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _samples_dir() -> Path:
    """tests/data/samples in the clone (tests/data/README.md), or $PKGSRC_SAMPLES if set.

    The DTD and CONTRACT.md are found beside it: SAMPLES_DIR.parent / "smf", / "CONTRACT.md".
    """
    env = os.environ.get("PKGSRC_SAMPLES")
    found = Path(env) if env else REPO_ROOT / "tests" / "data" / "samples"
    if not (found / "dewey-cases.tsv").is_file():
        raise RuntimeError("real-tool samples not found in %s (see tests/data/README.md)" % found)
    return found


SAMPLES_DIR = _samples_dir()


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


# Skips that may happen in CI, each with its reason (a reason text the skip message contains).
# With PKGSRC_STRICT_SKIPS=1 (.ci/run sets it) any other skip fails the run: a test that skipped
# because a tool went missing would otherwise leave CI green without having run.
ALLOWED_SKIPS = {
    "root reads everything": "the unreadable-file test cannot run as root, and CI runs as root",
}


_UNEXPECTED_SKIPS: list = []


def _strict() -> bool:
    return os.environ.get("PKGSRC_STRICT_SKIPS") == "1"


def pytest_runtest_logreport(report):
    if _strict() and report.skipped:
        message = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
        if not any(allowed in message for allowed in ALLOWED_SKIPS):
            _UNEXPECTED_SKIPS.append("%s: %s" % (report.nodeid, message))


def pytest_sessionfinish(session, exitstatus):
    if _UNEXPECTED_SKIPS and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _real_kit_missing():
        from tests.realtools import missing_reason  # pylint: disable=import-outside-toplevel
        terminalreporter.write_line(missing_reason(), yellow=True)
    if _UNEXPECTED_SKIPS:
        terminalreporter.write_line("PKGSRC_STRICT_SKIPS=1: %d skip(s) not allowed in CI (see ALLOWED_SKIPS in "
                                    "tests/conftest.py); failing the run:" % len(_UNEXPECTED_SKIPS), red=True)
        for line in _UNEXPECTED_SKIPS:
            terminalreporter.write_line("  " + line, red=True)


# The real-tools tier (tests/realtools) without the real kit: not collected, and one line says so.
def _real_kit_missing() -> bool:
    from tests.realtools import real_kit_dir, required  # pylint: disable=import-outside-toplevel
    return real_kit_dir() is None and not required()  # required (CI): its fixture fails instead


def pytest_ignore_collect(collection_path, config):  # pylint: disable=unused-argument
    if collection_path.name == "realtools" and collection_path.parent.name == "tests" and _real_kit_missing():
        return True
    return None


def pytest_report_header(config):  # pylint: disable=unused-argument
    if _real_kit_missing():
        from tests.realtools import missing_reason  # pylint: disable=import-outside-toplevel
        return missing_reason()
    return None
