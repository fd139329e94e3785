"""Fixtures for the isolation tests: one bwrap sandbox per module, and submissions in folders of their own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sandbox_helpers import BWRAP, SECRET, SECRET_VAR, SMALL, WHY_NOT

from grader.sandbox.client import Sandbox


@pytest.fixture(scope="module")
def jail():
    """One bwrap sandbox for a module's attacks, started with a secret in the grader's environment."""
    if not BWRAP:
        pytest.skip(f"bwrap isolation is not available here: {WHY_NOT}")
    os.environ[SECRET_VAR] = SECRET
    try:
        with Sandbox(SMALL, isolation="bwrap") as sb:
            yield sb
    finally:
        os.environ.pop(SECRET_VAR, None)


@pytest.fixture
def submit(tmp_path):
    """submit(source, name="least_squares.py") -> Path, in a folder of its own."""

    def write(source: str, name: str = "least_squares.py") -> Path:
        d = tmp_path / "student"
        d.mkdir(exist_ok=True)
        p = d / name
        p.write_text(source, encoding="utf-8")
        return p

    return write
