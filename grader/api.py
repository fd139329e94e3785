"""The library API: grade a submission from Python.

    from grader.api import grade, GradeOptions
    result = grade("least_squares", "least_squares.py", GradeOptions(seed=3))
    print(result.score, result.max_score)
    for check in result.checks:
        print(check.id, check.status, check.message)

``result.to_dict()`` is the JSON document that ``grade --format json`` prints.
"""

from grader.exercises import Exercise, all_exercises, get_exercise
from grader.grading import GradeOptions, grade
from grader.results import CheckResult, ExerciseResult
from grader.sandbox.client import Limits, Sandbox

__all__ = ["CheckResult", "Exercise", "ExerciseResult", "GradeOptions", "Limits", "Sandbox", "all_exercises",
           "get_exercise", "grade"]
