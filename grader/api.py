"""The library API: grade a submission from Python, then show the result to one audience.

    from grader.api import GradeOptions, emit, grade, redact
    result = grade("least_squares", "least_squares.py", GradeOptions(seed=3))
    print(result.score, result.max_score)
    for check in result.checks:
        print(check.id, check.status, check.message, check.advice)

    report = redact(result, "student")      # the one redaction: hidden details and expected answers removed
    report.to_dict()                        # the JSON document that `grade --format json` prints
    emit("text", result, sys.stdout)        # redact for the student (the default), then run a reporter

``result`` itself is unredacted (instructor data included): hand it to students only through
:func:`redact` or :func:`emit`. ``grade_gradient("file.py:loss")`` is ``grade gradcheck``.
"""

from grader.exercises import Exercise, all_exercises, get_exercise
from grader.gradient_command import grade_gradient
from grader.grading import GradeOptions, grade
from grader.report.registry import ReportOptions, emit, reporter
from grader.results import CheckResult, ExerciseResult, Report, redact
from grader.sandbox.client import Limits, Sandbox

__all__ = ["CheckResult", "Exercise", "ExerciseResult", "GradeOptions", "Limits", "Report", "ReportOptions",
           "Sandbox", "all_exercises", "emit", "get_exercise", "grade", "grade_gradient", "redact", "reporter"]
