"""``grade gradebook show`` and ``grade gradebook export``: reading a gradebook for people and for LMSs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.text import Text

from grader.errors import GraderError
from grader.format import num
from grader.gradebook.store import Gradebook
from grader.results import Audience


def open_existing(db: Path) -> Gradebook:
    if not db.is_file():
        raise GraderError(f"no gradebook {db}: run `grade batch` first, or pass --db")
    return Gradebook(db)


def show_student(db: Path, student: str, console: Console, exercise: str | None = None) -> int:
    """Print ``student``'s history, oldest first, each exercise's latest row marked; returns the row count."""
    with open_existing(db) as book:
        rows = book.history(student, exercise)
        if not rows:
            raise GraderError(f"no entry for {student!r} in {db}")
        latest = {r.id for r in book.latest().values()}
        for r in rows:
            mark = "latest" if r.id in latest else "earlier"
            head = f"{r.exercise} · run {r.run_id} · {r.graded_at} · {mark}: "
            if r.state == "graded":
                score = f"{num(r.score)}/{num(r.max_score)}"
            else:
                score = f"{r.state.replace('_', ' ')}: {r.reason}"
            console.print(Text.assemble((head, "bold" if mark == "latest" else "dim"), score))
            console.print(Text(f"    file {r.path or '-'} · sha256 {r.sha256[:12] or '-'} · seed {r.seed} · "
                               f"grader {r.grader_version} · exercise {r.exercise_version}", style="dim"))
            if mark == "latest":
                for c in book.checks(r.id):
                    why = f" - {c.mistake}" if c.mistake else ""
                    console.print(Text(f"    {c.status:<12} {num(c.score)}/{num(c.max_score)}  {c.check_id}{why}"))
        return len(rows)


def export_gradebook(db: Path, fmt: str, stream: TextIO, *, audience: Audience = "instructor",
                     exercises: Sequence[str] | None = None) -> int:
    """Write the latest entries of ``db`` in export format ``fmt`` (a registered exporter), each report
    redacted once for ``audience``. Returns the number of entries written."""
    from grader.report.registry import export, get_exporter

    get_exporter(fmt)  # an unknown format fails before the gradebook is read
    with open_existing(db) as book:
        submissions = book.submissions(audience, exercises)
    export(fmt, submissions, stream)
    return len(submissions)


def write_report(db: Path, out: Path, title: str = "") -> int:
    """The HTML class report of ``db`` (the class-report module, imported only here)."""
    from grader.report.class_html import write_class_report  # type: ignore[import-not-found,unused-ignore]

    with open_existing(db) as book:
        submissions = book.submissions("instructor")
    write_class_report(submissions, out, title=title)
    return len(submissions)
