"""``grade init``: write an exercise's starter file (its ``template.py``) as the file the student hands in."""

from __future__ import annotations

from pathlib import Path

from grader.errors import GraderError
from grader.exercises import Exercise


def write_template(ex: Exercise, directory: Path, *, force: bool = False) -> Path:
    """Write ``template.py`` of ``ex`` to ``directory/<student_file>``, creating ``directory`` if needed."""
    target = directory / ex.spec.student_file
    if target.exists() and not force:
        raise GraderError(f"{target} already exists; use --force to overwrite it")
    text = ex.template
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as e:
        raise GraderError(f"cannot write {target}: {e.strerror}") from None
    return target
