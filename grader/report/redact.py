"""What a student may see: of a hidden check, its title, status and points; of any check, never the
expected answer of a symbolic check."""

from __future__ import annotations

from dataclasses import replace

from grader.results import CheckResult, ExerciseResult

HIDDEN_NOTE = "hidden check: its details are shown to instructors only"


INSTRUCTOR_ONLY_DATA = ("expected_expr",)  # the expected answer of a symbolic check


def redact_check(c: CheckResult) -> CheckResult:
    if any(k in c.data for k in INSTRUCTOR_ONLY_DATA):
        c = replace(c, data={k: v for k, v in c.data.items() if k not in INSTRUCTOR_ONLY_DATA})
    if c.visibility != "hidden" or c.passed:
        return c
    return replace(c, message=HIDDEN_NOTE, details="", diagnosis="", mistake=None, traceback="", output="",
                   data={})


def for_students(result: ExerciseResult) -> ExerciseResult:
    return replace(result, checks=[redact_check(c) for c in result.checks])
