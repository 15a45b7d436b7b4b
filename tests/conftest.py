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
