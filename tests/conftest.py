"""Shared fixtures: one warm sandbox per test session (torch imported once), and helpers."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # the grader's own tensors are small; two test workers share two cores

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "tests"):  # the package, and tests/exercise_helpers.py
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from grader.sandbox.client import ISOLATION_VAR, Sandbox  # noqa: E402

# Tests of checks build submissions from the reference (`from reference.X import *`), which the bwrap
# backend hides from the child: they run without isolation. Isolation has its own tests (tests/sandbox/),
# which ask for bwrap explicitly.
os.environ.setdefault(ISOLATION_VAR, "none")


@pytest.fixture(scope="session")
def sandbox():
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def write_submission(tmp_path):
    """write_submission(source, name="least_squares.py") -> Path"""

    def write(source: str, name: str = "submission.py") -> Path:
        p = tmp_path / name
        p.write_text(source, encoding="utf-8")
        return p

    return write


@pytest.fixture(scope="session")
def mutant():
    """mutant(exercise, mistake_id) -> Path of a submission that is the reference with that mistake."""
    from grader.mistakes import mutant_source

    d = Path(tempfile.mkdtemp(prefix="mutants-"))

    def write(exercise: str, mistake_id: str) -> Path:
        p = d / f"{exercise}__{mistake_id}.py"
        p.write_text(mutant_source(exercise, mistake_id), encoding="utf-8")
        return p

    yield write
    shutil.rmtree(d, ignore_errors=True)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

os.environ.setdefault("NO_COLOR", "1")
