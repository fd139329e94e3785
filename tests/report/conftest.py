"""Fixtures of the export tests: the reference and a mistake of least_squares graded in-process (once per
session), and graded entries made from results."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from export_fixtures import REFERENCE

from grader.results import ExerciseResult, Report, redact
from grader.submissions import Submission


@pytest.fixture(scope="session")
def graded(sandbox) -> dict[str, ExerciseResult]:
    """The reference and the mistake `ls_loss_mean` of least_squares, graded without isolation."""
    from grader.grading import GradeOptions, grade
    from grader.mistakes import mutant_source

    folder = Path(tempfile.mkdtemp(prefix="exports-"))
    mutant = folder / "mallory.py"
    mutant.write_text(mutant_source("least_squares", "ls_loss_mean"), encoding="utf-8")
    options = GradeOptions(seed=1)
    try:
        return {"reference": grade("least_squares", REFERENCE, options, sandbox=sandbox),
                "mistake": grade("least_squares", mutant, options, sandbox=sandbox)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def entry() -> Callable[..., Submission]:
    """entry(result, student, audience="student", **fields) -> a graded Submission."""

    def make(result: ExerciseResult, student: str, audience: str = "student", **fields) -> Submission:
        report: Report = redact(result, audience)  # type: ignore[arg-type]
        state = "graded" if result.complete else "grader_fault"
        return Submission(student, result.exercise, fields.pop("state", state), report, **fields)

    return make
