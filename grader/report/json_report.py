"""The JSON document of a result: a stable interface (schema 1, see README.md)."""

from __future__ import annotations

import json

from grader.report.redact import for_students
from grader.results import ExerciseResult


def to_json(result: ExerciseResult, *, show_hidden: bool = False, indent: int | None = 2) -> str:
    shown = result if show_hidden else for_students(result)
    return json.dumps(shown.to_dict(), indent=indent, ensure_ascii=False, default=str)
