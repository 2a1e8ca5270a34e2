"""Shared test fixtures: where the shared samples and corpus are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PANJEREH_SHARED", REPO.parent / "shared"))
MISSING_SHARED = f"the shared folder is missing at {SHARED}; set PANJEREH_SHARED"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop at once, saying why, when the shared folder is not there.

    Some test modules read the shared contracts when they are collected; without this
    their FileNotFoundError would hide the one thing to fix.
    """
    if not (SHARED / "samples").is_dir():
        pytest.exit(MISSING_SHARED, returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared folder (samples, corpus, contracts) next to the repository."""
    if not (SHARED / "samples").is_dir():
        pytest.fail(MISSING_SHARED)
    return SHARED


@pytest.fixture(scope="session")
def samples(shared: Path) -> list[Path]:
    """The labelled sample models."""
    return sorted((shared / "samples" / "models").glob("*.bpmn"))
