"""What the class report shows, computed from a class's submissions (no HTML, no charts here).

The page (:mod:`grader.report.class_html`) and its charts (:mod:`grader.report.class_charts`) only lay out
these figures, so the numbers can be tested without parsing HTML. Every count follows the grader's rule that
a grader fault is never the student's: a check with status ``grader_error`` counts neither as passed nor as
failed, and a submission the grader failed on is listed apart, not in the score distribution.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from grader.results import CheckResult
from grader.submissions import Submission

SLOWEST_SHOWN = 10


@dataclass(frozen=True)
class ExerciseSummary:
    """The score distribution of one exercise, over the submissions graded completely."""

    exercise: str
    title: str
    max_score: float
    scores: tuple[float, ...]
    unreadable: int
    faults: int

    @property
    def graded(self) -> int:
        return len(self.scores)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.scores) if self.scores else None

    @property
    def full_marks(self) -> int:
        return sum(1 for s in self.scores if self.max_score > 0 and s >= self.max_score)


@dataclass
class CheckStats:
    """How one check went across the class. ``attempted`` leaves grader faults out."""

    exercise: str
    id: str
    title: str
    visibility: str
    counts: dict[str, int] = field(default_factory=dict)  # status -> number of submissions

    @property
    def attempted(self) -> int:
        return sum(n for status, n in self.counts.items() if status != "grader_error")

    @property
    def passed(self) -> int:
        return self.counts.get("passed", 0)

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.attempted if self.attempted else None

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"


@dataclass
class MistakeStats:
    """One named mistake (diagnosis id) in one exercise, and who made it."""

    exercise: str
    id: str
    name: str
    hint: str  # what students read after the name ("Likely mistake: NAME. HINT")
    hidden_only: bool = True  # seen only in hidden checks: students were not shown the hint
    checks: list[str] = field(default_factory=list)
    students: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.students)


@dataclass(frozen=True)
class Incident:
    """A check (or a whole submission, ``check == ""``) that erred, timed out or that the grader failed."""

    student: str
    exercise: str
    check: str
    status: str
    message: str
    details: str = ""


@dataclass(frozen=True)
class Timing:
    student: str
    exercise: str
    seconds: float


@dataclass
class ClassStats:
    students: list[str]
    exercises: list[ExerciseSummary]
    checks: list[CheckStats]
    mistakes: list[MistakeStats]
    errors: list[Incident]  # the student's code raised, or ran out of time
    faults: list[Incident]  # the grader failed: never charged to the student
    unreadable: list[Submission]
    timings: list[Timing]

    @property
    def slowest(self) -> list[Timing]:
        return sorted(self.timings, key=lambda t: -t.seconds)[:SLOWEST_SHOWN]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _incident(sub: Submission, c: CheckResult) -> Incident:
    return Incident(sub.student, sub.exercise, c.id, c.status, _first_line(c.message) or c.title,
                    c.details or c.traceback)


def class_stats(submissions: Sequence[Submission]) -> ClassStats:
    """Aggregate a class's latest submissions (one per student and exercise) into the report's figures."""
    order = sorted(submissions, key=lambda s: (s.exercise, s.student))
    exercises: dict[str, dict] = {}
    checks: dict[tuple[str, str], CheckStats] = {}
    mistakes: dict[tuple[str, str], MistakeStats] = {}
    errors: list[Incident] = []
    faults: list[Incident] = []
    unreadable: list[Submission] = []
    timings: list[Timing] = []
    for sub in order:
        ex = exercises.setdefault(sub.exercise, {"title": sub.exercise, "max": 0.0, "scores": [],
                                                 "unreadable": 0, "faults": 0})
        if sub.state == "unreadable":
            ex["unreadable"] += 1
            unreadable.append(sub)
            continue
        if sub.duration > 0:
            timings.append(Timing(sub.student, sub.exercise, sub.duration))
        result = sub.report.result if sub.report is not None else None
        if result is None or sub.state == "grader_fault" and not result.grader_faults:
            faults.append(Incident(sub.student, sub.exercise, "", "grader_error",
                                   _first_line(sub.reason) or "the grader failed on this submission", sub.reason))
        if result is None:
            ex["faults"] += 1
            continue
        ex["title"] = result.title or sub.exercise
        ex["max"] = max(ex["max"], result.max_score)
        if sub.state == "graded" and result.complete:
            ex["scores"].append(result.score)
        else:
            ex["faults"] += 1
        for c in result.checks:
            cs = checks.setdefault((sub.exercise, c.id), CheckStats(sub.exercise, c.id, c.title, c.visibility))
            cs.counts[c.status] = cs.counts.get(c.status, 0) + 1
            if c.status == "grader_error":
                faults.append(_incident(sub, c))
            elif c.status in ("error", "timeout"):
                errors.append(_incident(sub, c))
            if c.diagnosis is not None and c.status == "failed":
                d = c.diagnosis
                m = mistakes.setdefault((sub.exercise, d.id), MistakeStats(sub.exercise, d.id, d.name or d.id,
                                                                           d.hint))
                if c.visibility != "hidden":
                    m.hidden_only = False
                if c.id not in m.checks:
                    m.checks.append(c.id)
                if sub.student not in m.students:
                    m.students.append(sub.student)
    summaries = [ExerciseSummary(name, e["title"], e["max"], tuple(e["scores"]), e["unreadable"], e["faults"])
                 for name, e in sorted(exercises.items())]
    return ClassStats(
        students=sorted({s.student for s in submissions}),
        exercises=summaries,
        checks=list(checks.values()),
        mistakes=sorted(mistakes.values(), key=lambda m: (-m.count, m.exercise, m.name)),
        errors=errors,
        faults=faults,
        unreadable=unreadable,
        timings=timings,
    )
