"""``grade init``: write an exercise's starter file."""

from __future__ import annotations

from pathlib import Path

from grader.errors import GraderError
from grader.exercises import Exercise


def write_template(ex: Exercise, directory: Path, *, force: bool = False) -> Path:
    target = directory / ex.spec.student_file
    if target.exists() and not force:
        raise GraderError(f"{target} already exists; use --force to overwrite it")
    target.write_text(ex.template, encoding="utf-8")
    return target
