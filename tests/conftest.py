"""Shared pytest fixtures: where the repository and the real-tool samples are."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _samples_dir() -> Path:
    """../shared/pkgsrc/samples beside the clone (CI puts shared/ there), or $PKGSRC_SAMPLES."""
    env = os.environ.get("PKGSRC_SAMPLES")
    candidates = [Path(env)] if env else []
    # shared/ sits beside the clone; ansible-test runs on a copy deeper inside the clone.
    candidates += [parent / "shared" / "pkgsrc" / "samples" for parent in REPO_ROOT.parents]
    for cand in candidates:
        if (cand / "dewey-cases.tsv").is_file():
            return cand
    raise RuntimeError("real-tool samples not found: put shared/ beside the clone or set PKGSRC_SAMPLES")


SAMPLES_DIR = _samples_dir()


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
