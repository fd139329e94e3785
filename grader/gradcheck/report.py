"""A gradient check as an ExerciseResult, so the usual reporters (terminal, JSON) draw it."""

from __future__ import annotations

import platform

import torch

from grader import __version__
from grader.gradcheck.result import GradcheckResult
from grader.results import ExerciseResult


def as_exercise_result(gc: GradcheckResult, target: str) -> ExerciseResult:
    path, _, name = target.rpartition(":")
    check = gc.to_check_result("gradcheck", f"gradient of {name} agrees with finite differences", 1.0)
    env = {"python": platform.python_version(), "torch": torch.__version__, "grader": __version__,
           "device": "cpu", "dtype": "float64 (finite differences)", "seed": gc.seed}
    return ExerciseResult("gradcheck", f"Gradient check of {name}", path, [check], env, duration=gc.duration)
