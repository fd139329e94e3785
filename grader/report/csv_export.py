"""CSV for LMS upload: one row per student, one grade column per exercise.

Three flavours (option ``lms``, docs/EXPORTS.md lists the columns):

* ``plain`` (default): ``student``, one column per exercise, ``total``, ``notes`` (why a cell is empty).
* ``canvas``: the Canvas gradebook import layout, ``Student, ID, SIS User ID, SIS Login ID, Section`` then
  one column per exercise, and a ``Points Possible`` row. Canvas matches a row to a student by ``ID``, then
  ``SIS User ID``, then ``SIS Login ID``: the identity goes in ``SIS Login ID`` unless option ``id_column``
  names another of the three. Name a column ``Assignment (12345)`` (option ``column.EXERCISE``) to update an
  existing Canvas assignment instead of creating one.
* ``moodle``: an identifier column (``Username`` unless option ``id_column`` says ``Email address`` or
  ``ID number``), then one column per exercise: Moodle's CSV import maps the identifier to "Identify user
  by" and each grade column to a grade item.

The grade rule, the same in every flavour:

* a complete grade (every check graded) is its score;
* a grader fault, or a result with a check lost to a grader fault, is an EMPTY cell, never 0: a grader fault
  is never charged to a student, and an empty cell leaves the LMS grade as it was until the entry is graded
  again;
* an unreadable entry (no file, two candidate files, a binary, a file over the size limit) is 0: the student
  handed in nothing gradable. Option ``unreadable=empty`` leaves those cells empty instead;
* a student with no entry for an exercise has an empty cell.

The plain flavour's ``total`` adds the cells that hold a number; it is empty while one of the student's
entries waits for a grader fault to be graded again.

Text from submissions (identities, reasons) is cleaned (:func:`grader.sanitize.clean`) and a cell that a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``) is prefixed with ``'``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from typing import TextIO

from grader.errors import GraderError
from grader.report.check_text import gradable, pts, state_text
from grader.report.registry import ReportOptions, exporter
from grader.sanitize import clean
from grader.submissions import Submission

FLAVOURS = ("plain", "canvas", "moodle")
CANVAS_IDS = ("SIS Login ID", "SIS User ID", "ID")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_IDS = ("Username", "Email address", "ID number")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@exporter("csv", "one row per student for LMS upload (option lms=plain|canvas|moodle)")
def write_csv(submissions: Sequence[Submission], stream: TextIO, options: ReportOptions) -> None:
    extra = options.extra
    flavour = extra.get("lms", "plain")
    if flavour not in FLAVOURS:
        raise GraderError(f"csv: unknown lms {flavour!r}: use one of {', '.join(FLAVOURS)}")
    unreadable_zero = _choice(extra, "unreadable", ("zero", "empty")) == "zero"
    exercises = sorted({s.exercise for s in submissions})
    students = sorted({s.student for s in submissions})
    entry = {(s.student, s.exercise): s for s in submissions}
    headers = [safe(extra.get(f"column.{e}", e)) for e in exercises]
    writer = csv.writer(stream, lineterminator="\n")

    def grades(student: str) -> list[str]:
        return [grade_cell(entry.get((student, e)), unreadable_zero) for e in exercises]

    if flavour == "canvas":
        id_column = _choice(extra, "id_column", CANVAS_IDS)
        writer.writerow([*CANVAS_COLUMNS, *headers])
        writer.writerow(["Points Possible", "", "", "", "", *(_max(submissions, e) for e in exercises)])
        for student in students:
            ids = {c: (safe(student) if c == id_column else "") for c in CANVAS_IDS}
            writer.writerow([safe(student), ids["ID"], ids["SIS User ID"], ids["SIS Login ID"], "", *grades(student)])
    elif flavour == "moodle":
        writer.writerow([_choice(extra, "id_column", MOODLE_IDS), *headers])
        for student in students:
            writer.writerow([safe(student), *grades(student)])
    else:
        writer.writerow(["student", *headers, "total", "notes"])
        for student in students:
            cells = grades(student)
            ungraded = [e for e in exercises if (student, e) in entry and not gradable(entry[(student, e)])]
            pending = any(entry[(student, e)].state != "unreadable" for e in ungraded)
            total = "" if pending else pts(sum(float(c) for c in cells if c))
            notes = [f"{e}: {state_text(entry[(student, e)]) or 'incomplete, grade it again'}" for e in ungraded]
            writer.writerow([safe(student), *cells, total, safe("; ".join(notes))])


def grade_cell(s: Submission | None, unreadable_zero: bool = True) -> str:
    """The grade of one entry, by the rule of the module docstring: the score, "0", or empty."""
    if s is None:
        return ""
    if s.state == "unreadable":
        return "0" if unreadable_zero else ""
    if not gradable(s):
        return ""  # a grader fault: never a 0
    return pts(s.score)


def safe(text: str) -> str:
    """A cell from untrusted text: cleaned, one line, and never a spreadsheet formula."""
    text = " ".join(clean(text, limit=500).split())
    return "'" + text if text.startswith(_FORMULA) else text


def _max(submissions: Sequence[Submission], exercise: str) -> str:
    maxima = [s.max_score for s in submissions if s.exercise == exercise and s.report is not None]
    return pts(max(maxima)) if maxima else ""


def _choice(extra: Mapping[str, str], key: str, allowed: Sequence[str]) -> str:
    value = extra.get(key, allowed[0])
    if value not in allowed:
        raise GraderError(f"csv: option {key}={value!r}: use one of {', '.join(allowed)}")
    return value
