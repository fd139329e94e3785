"""A small synthetic class (softmax_ce): two correct submissions, two with a named mistake, one that loops
forever, one that kills its own process, and one binary file; graded once per test session into a
gradebook that tests copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.batch.batch import BatchOptions, BatchSummary, run_batch

EXERCISE = "softmax_ce"
CORRECT = f"from reference.{EXERCISE} import *\n"
LOOPS = "def softmax(z):\n    while True:\n        pass\n"
EXITS = "import os\nos._exit(3)\n"  # ends the process that loads it
MISTAKES = {"carol": "wrong_axis", "dave": "missing_1_over_T"}


def make_class(folder: Path, mutant) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for s in ("alice", "bob"):
        (folder / f"{s}.py").write_text(CORRECT)
    for s, mistake in MISTAKES.items():
        shutil.copy(mutant(EXERCISE, mistake), folder / f"{s}.py")
    (folder / "eve.py").write_text(LOOPS)
    (folder / "frank.py").write_bytes(b"\x7fELF\x00\x00binary")
    return folder


def options(folder: Path, db: Path, **kw) -> BatchOptions:
    """Options for the test class: in this process (warm, no pool to start) unless ``in_process=False``."""
    base = {"in_process": True, "timeout": 1.0, "isolation": "none", "dtypes": ("float64",)}
    return BatchOptions((EXERCISE,), folder, db, **{**base, **kw})


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory, mutant) -> tuple[Path, Path, BatchSummary]:
    """(class folder, gradebook, summary of the first run): read-only; copy them with ``class_copy``."""
    root = tmp_path_factory.mktemp("class")
    folder = make_class(root / "submissions", mutant)
    (folder / "gus.py").write_text(EXITS)
    db = root / "grades.db"
    summary = run_batch(options(folder, db, in_process=False, jobs=2))  # the real pool
    return folder, db, summary


@pytest.fixture
def class_copy(graded_class, tmp_path) -> tuple[Path, Path]:
    folder, db, _ = graded_class
    shutil.copytree(folder, tmp_path / "submissions")
    shutil.copy(db, tmp_path / "grades.db")
    return tmp_path / "submissions", tmp_path / "grades.db"
