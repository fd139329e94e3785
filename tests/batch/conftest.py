"""A small synthetic class (softmax_ce): two correct submissions, two with a named mistake, one that loops
forever, one that kills its own process, and one binary file; graded once per test session into a
gradebook that tests copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.batch.batch import BatchSummary, run_batch
from tests.batch.class_data import EXERCISE, EXITS, make_class, options  # noqa: F401  (shared with the tests)


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
