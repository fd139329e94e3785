"""Shared by the isolation tests: limits small enough to hit fast, an honest submission, and a skip that
says why bwrap cannot run here."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.sandbox.client import Limits, isolation_available

ROOT = Path(__file__).resolve().parents[2]
BWRAP, WHY_NOT = isolation_available()
needs_bwrap = pytest.mark.skipif(not BWRAP, reason=f"bwrap isolation is not available here: {WHY_NOT}")
SECRET_VAR, SECRET = "DL_GRADER_TEST_SECRET", "s3cr3t-of-the-grader"
SMALL = Limits(timeout=5, load_timeout=20, memory_mb=256, disk_mb=16)

# A correct least_squares submission that does not import the reference (hidden from the child).
HONEST = (ROOT / "reference" / "least_squares.py").read_text()
