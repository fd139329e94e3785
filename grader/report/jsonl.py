"""JSON lines: one line per submission, for scripts (``jq``, pandas ``read_json(lines=True)``).

Each line is the submission's report as the JSON reporter writes it (:meth:`grader.results.Report.to_dict`,
schema 1), plus the entry's ``student``, ``state`` (graded, unreadable, grader_fault), ``reason``,
``path``, ``sha256``, ``seed``, ``graded_at`` and ``grading_seconds``. An entry with no report has the same
keys with ``score`` null and ``checks`` empty.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from grader.report.registry import ReportOptions, exporter
from grader.results import SCHEMA
from grader.submissions import Submission


@exporter("jsonl", "JSON lines: one line per submission (the JSON report plus the entry's record)")
def write_jsonl(submissions: Sequence[Submission], stream: TextIO, options: ReportOptions) -> None:
    for s in submissions:
        stream.write(json.dumps(record(s), ensure_ascii=False, default=str) + "\n")


def record(s: Submission) -> dict[str, Any]:
    if s.report is not None:
        base = s.report.to_dict()
    else:
        base = {"schema": SCHEMA, "audience": None, "exercise": s.exercise, "title": s.exercise,
                "submission": s.path, "score": None, "max_score": None, "graded_max_score": None,
                "complete": False, "checks": [], "environment": {}, "problems": [], "duration": 0.0}
    return {**base, "student": s.student, "state": s.state, "reason": s.reason, "path": s.path,
            "sha256": s.sha256, "seed": s.seed, "graded_at": s.graded_at, "grading_seconds": round(s.duration, 4)}
