"""Gradescope's autograder ``results.json`` (the format their "autograder specifications" page defines).

One submission is one ``results.json`` object:

* top level: ``score`` (the result's score: a check lost to a grader fault gives and takes nothing),
  ``execution_time`` (whole seconds), ``output`` (the score line and the submission-wide problems),
  ``output_format`` and ``test_output_format`` ``"text"``, ``extra_data`` (exercise, student, seed,
  ``complete``, ``grader_fault``);
* ``tests``: one per check, in the exercise's order: ``name`` (the check's title), ``number``, ``score``,
  ``max_score``, ``status`` (``passed`` or ``failed``: error and timeout are failures to Gradescope),
  ``output`` (message, details, likely mistake), ``visibility`` (``visible``; a hidden check is
  ``after_published``, and its details are already redacted for students), ``tags`` (the named mistake)
  and ``extra_data`` (check id, grader status). A grader fault has no ``score`` (it is not graded) and
  says so in its output.

Gradescope needs a number for a submission, so an entry with no result at all (unreadable, or a grader
that failed before any check ran) is written with score 0 and ``extra_data.grader_fault`` true for the
latter: find those with the gradebook export or the Gradescope "Regrade" button; the output tells the
student it is not their fault. Several submissions (a batch export) are a JSON list of
``{"student", "exercise", "results"}`` objects, ``results`` being each one's ``results.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from grader.report.check_text import explanation, state_text, summary_line
from grader.report.registry import ReportOptions, exporter
from grader.results import GRADER_FAULT_NOTE, CheckResult, Report
from grader.sanitize import clean
from grader.submissions import Submission

VISIBILITY = {"public": "visible", "hidden": "after_published"}
FAULT_OUTPUT = ("The grader failed on this submission, not your code: the 0 shown is a placeholder, not a "
                "grade. Your instructor will grade it again.")


@exporter("gradescope", "Gradescope autograder results.json (a JSON list for several submissions)")
def write_gradescope(submissions: Sequence[Submission], stream: TextIO, options: ReportOptions) -> None:
    if len(submissions) == 1:
        document: Any = results_json(submissions[0])
    else:
        document = [{"student": s.student, "exercise": s.exercise, "results": results_json(s)} for s in submissions]
    stream.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def results_json(s: Submission) -> dict[str, Any]:
    """The ``results.json`` object of one submission."""
    extra = {"exercise": s.exercise, "student": s.student, "seed": s.seed, "state": s.state}
    if s.report is None:
        fault = s.state != "unreadable"
        output = FAULT_OUTPUT if fault else clean(f"Your submission could not be graded: {state_text(s)}.")
        if fault and s.reason:
            output += f"\n\n{clean(s.reason)}"
        return {"score": 0.0, "execution_time": round(s.duration), "output": output, "output_format": "text",
                "tests": [], "extra_data": {**extra, "complete": False, "grader_fault": fault}}
    return report_json(s.report, extra)


def report_json(report: Report, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    r = report.result
    output = clean("\n".join([summary_line(r), *r.problems]))
    return {
        "score": r.score,
        "execution_time": round(r.duration),
        "output": output,
        "output_format": "text",
        "test_output_format": "text",
        "tests": [_test(i, c) for i, c in enumerate(r.checks, 1)],
        "extra_data": {**(extra or {}), "exercise": r.exercise, "complete": r.complete,
                       "grader_fault": not r.complete, "audience": report.audience},
    }


def _test(number: int, c: CheckResult) -> dict[str, Any]:
    test: dict[str, Any] = {"name": clean(c.title), "number": str(number), "max_score": c.max_score}
    if c.status == "grader_error":
        test["output"] = clean(explanation(c)) or GRADER_FAULT_NOTE  # no score, no status: not graded
    else:
        test.update(score=c.score, status="passed" if c.passed else "failed", output=clean(explanation(c)))
    test["visibility"] = VISIBILITY.get(c.visibility, "visible")
    if c.mistake:
        test["tags"] = [c.mistake]
    test["extra_data"] = {"id": c.id, "status": c.status}
    return test


def fault_results(message: str, *, exercise: str = "", student: str = "") -> dict[str, Any]:
    """The ``results.json`` written when grading itself failed (run_autograder's last resort)."""
    return results_json(Submission(student, exercise, "grader_fault", None, reason=message))
