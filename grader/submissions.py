"""A class's graded submissions, as exporters and the class report read them.

The gradebook (``grader.gradebook``) produces these; exporters (registered with
:func:`grader.report.registry.exporter`) and the HTML class report only read them. ``report`` is already
redacted for the export's audience (:func:`grader.results.redact`, the one redaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from grader.results import Report

EntryState = Literal["graded", "unreadable", "grader_fault"]


@dataclass(frozen=True)
class Submission:
    """One student's latest graded entry for one exercise."""

    student: str
    exercise: str
    state: EntryState  # graded; unreadable (reason says why: no file, two candidates, binary, too large); grader_fault
    report: Report | None  # None unless graded (or a grader fault that still produced a partial result)
    reason: str = ""
    path: str = ""  # the file graded, relative to the submissions folder
    sha256: str = ""
    seed: int | None = None
    graded_at: str = ""  # ISO 8601, UTC
    duration: float = 0.0  # seconds spent grading it

    @property
    def score(self) -> float:
        return self.report.result.score if self.report is not None else 0.0

    @property
    def max_score(self) -> float:
        return self.report.result.max_score if self.report is not None else 0.0
