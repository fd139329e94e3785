"""What a student may see of a hidden check: its title, status and points, nothing of its data."""

from __future__ import annotations

from dataclasses import replace

from grader.results import CheckResult, ExerciseResult

HIDDEN_NOTE = "hidden check: its details are shown to instructors only"


def redact_check(c: CheckResult) -> CheckResult:
    if c.visibility != "hidden" or c.passed:
        return c
    return replace(c, message=HIDDEN_NOTE, details="", diagnosis="", mistake=None, traceback="", output="",
                   data={})


def for_students(result: ExerciseResult) -> ExerciseResult:
    return replace(result, checks=[redact_check(c) for c in result.checks])
