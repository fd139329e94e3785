"""A gradient check as an ExerciseResult, so the usual reporters (terminal, JSON) draw it."""

from __future__ import annotations

from grader.gradcheck.result import GradcheckResult
from grader.grading import GradeOptions, environment
from grader.results import ExerciseResult


def as_exercise_result(gc: GradcheckResult, target: str) -> ExerciseResult:
    path, _, name = target.rpartition(":")
    check = gc.to_check_result("gradcheck", f"gradient of {name} agrees with finite differences", 1.0)
    env = {**environment(GradeOptions(seed=gc.seed), "cpu"), "dtype": "float64 (finite differences)"}
    return ExerciseResult("gradcheck", f"Gradient check of {name}", path, [check], env, duration=gc.duration)
