"""Helpers shared by the per-exercise check tests (tests/exercises/test_<name>_checks.py)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from grader.api import GradeOptions, grade
from grader.mistakes import mutant_source
from grader.results import ExerciseResult

ROOT = Path(__file__).resolve().parents[1]


def write(exercise: str, tmp_path: Path, source: str) -> Path:
    p = tmp_path / f"{exercise}.py"
    p.write_text(source, encoding="utf-8")
    return p


def failures(result: ExerciseResult) -> dict:
    return {c.id: c for c in result.checks if not c.passed}


def explain(result: ExerciseResult) -> str:
    return "\n".join(f"{c.id}: {c.status} {c.message} | {c.details} | {c.diagnosis} {c.traceback}"
                     for c in result.checks if not c.passed)


def grade_source(exercise: str, sandbox, tmp_path: Path, source: str, seed: int = 0, **options) -> ExerciseResult:
    return grade(exercise, write(exercise, tmp_path, source), GradeOptions(seed=seed, **options), sandbox=sandbox)


def grade_mistake(exercise: str, sandbox, tmp_path: Path, mistake_id: str, seed: int = 0) -> ExerciseResult:
    return grade_source(exercise, sandbox, tmp_path, mutant_source(exercise, mistake_id), seed)


def bound(exercise: str):
    """(write, grade_source, grade_mistake) for one exercise."""
    return partial(write, exercise), partial(grade_source, exercise), partial(grade_mistake, exercise)
