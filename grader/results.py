"""Plain, serialisable results. Checks produce them; reporters only read them, and only through a
:class:`Report`, which :func:`redact` makes for one audience.

A check result carries:

* ``message`` (one line: what failed), ``details`` (the numbers, as ``torch.testing.assert_close`` writes
  them), and ``diagnosis`` (a :class:`grader.diagnosis.Diagnosis`, the named likely mistake) or ``hint``
  (advice when nothing is named, for example after an exception);
* typed ``attachments`` (a comparison's inputs, a gradient verdict, a symbolic answer, the expected answer),
  each marked with the audience allowed to see it.

Redaction happens once, in :func:`redact`, before any reporter runs: a reporter receives a
:class:`Report` and cannot reach data its audience may not see.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from grader.diagnosis import Diagnosis

# ``skipped``: a check a student kit cannot replay from its fixtures; it runs only in official grading.
Status = Literal["passed", "failed", "error", "timeout", "grader_error", "skipped"]
STATUSES: tuple[str, ...] = ("passed", "failed", "error", "timeout", "grader_error", "skipped")
UNCOUNTED: tuple[str, ...] = ("grader_error", "skipped")  # points neither given nor taken
Audience = Literal["student", "instructor"]
AUDIENCES: tuple[str, ...] = ("student", "instructor")
SCHEMA = 1

HIDDEN_NOTE = "hidden check: its details are shown to instructors only"
GRADER_FAULT_NOTE = ("The grader failed here, not your code: these points are neither given nor taken. "
                     "Run it again, or tell your instructor if it happens again.")


# -- attachments ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attachment:
    """Structured data a reporter may draw. ``kind`` names the type, ``version`` its content's layout."""

    kind: ClassVar[str] = "attachment"
    version: ClassVar[int] = 1
    audience: ClassVar[Audience] = "student"

    def content(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "audience": self.audience, **self.content()}


@dataclass(frozen=True)
class Comparison(Attachment):
    """The inputs on which a value comparison failed, described (shapes and dtypes, not values)."""

    kind: ClassVar[str] = "comparison"
    label: str = ""
    inputs: tuple[str, ...] = ()

    def content(self) -> dict[str, Any]:
        return {"label": self.label, "inputs": list(self.inputs)}


@dataclass(frozen=True)
class GradientVerdict(Attachment):
    """A gradient check's figures (``grader.gradcheck.GradcheckResult.to_dict()``, versioned there)."""

    kind: ClassVar[str] = "gradient"
    verdict: dict[str, Any] = field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        return {"verdict": self.verdict}


@dataclass(frozen=True)
class SymbolicAnswer(Attachment):
    """The student's symbolic answer as the grader read it, and how it was decided."""

    kind: ClassVar[str] = "symbolic_answer"
    answer: str = ""
    method: str = ""

    def content(self) -> dict[str, Any]:
        return {"answer": self.answer, "method": self.method}


@dataclass(frozen=True)
class ExpectedAnswer(Attachment):
    """The expected answer of a symbolic check: instructors only."""

    kind: ClassVar[str] = "expected_answer"
    audience: ClassVar[Audience] = "instructor"
    answer: str = ""

    def content(self) -> dict[str, Any]:
        return {"answer": self.answer}


ATTACHMENT_TYPES: dict[str, type[Attachment]] = {
    t.kind: t for t in (Comparison, GradientVerdict, SymbolicAnswer, ExpectedAnswer)
}


def attachment_from_dict(d: dict[str, Any]) -> Attachment:
    cls = ATTACHMENT_TYPES[d["kind"]]
    names = [f for f in cls.__dataclass_fields__ if f not in ("kind", "version", "audience")]
    values = {k: (tuple(d[k]) if isinstance(d.get(k), list) and k == "inputs" else d[k]) for k in names if k in d}
    return cls(**values)


# -- results -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    ``grader_error`` means the grader failed (a bug in a check, a sandbox that did not start, a worker killed
    from outside): it is never charged to the student (see :attr:`ExerciseResult.score`).
    """

    id: str
    title: str
    status: Status
    score: float
    max_score: float
    message: str = ""
    details: str = ""
    diagnosis: Diagnosis | None = None
    hint: str = ""
    traceback: str = ""
    output: str = ""
    duration: float = 0.0
    visibility: str = "public"
    notes: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def mistake(self) -> str | None:
        return self.diagnosis.id if self.diagnosis else None

    @property
    def advice(self) -> str:
        """What a reader should do: the named mistake's sentence, else the hint."""
        return self.diagnosis.sentence if self.diagnosis else self.hint

    def attachment(self, kind: str) -> Attachment | None:
        return next((a for a in self.attachments if a.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "status": self.status, "score": self.score,
            "max_score": self.max_score, "message": self.message, "details": self.details,
            "diagnosis": self.advice, "mistake": self.mistake,
            "likely_mistake": self.diagnosis.to_dict() if self.diagnosis else None,
            "traceback": self.traceback, "output": self.output, "duration": round(self.duration, 4),
            "visibility": self.visibility, "data": {"notes": list(self.notes)} if self.notes else {},
            "attachments": [a.to_dict() for a in self.attachments],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        lm = d.get("likely_mistake")
        return cls(
            id=d["id"], title=d["title"], status=d["status"], score=d["score"], max_score=d["max_score"],
            message=d.get("message", ""), details=d.get("details", ""),
            diagnosis=Diagnosis.from_dict(lm) if lm else None,
            hint="" if lm else d.get("diagnosis", ""), traceback=d.get("traceback", ""),
            output=d.get("output", ""), duration=d.get("duration", 0.0), visibility=d.get("visibility", "public"),
            notes=tuple(d.get("data", {}).get("notes", [])),
            attachments=tuple(attachment_from_dict(a) for a in d.get("attachments", [])
                              if a.get("kind") in ATTACHMENT_TYPES),
        )


@dataclass
class ExerciseResult:
    """All checks of one exercise on one submission.

    Points of a check with status ``grader_error`` are neither given nor taken: :attr:`score` and
    :attr:`graded_max_score` leave them out, and :attr:`complete` is False, so the result must be graded
    again before it counts. A ``skipped`` check (a student kit's check that runs only in official grading) is
    left out the same way, but the result stays complete: nothing went wrong.
    """

    exercise: str
    title: str
    submission: str
    checks: list[CheckResult]
    environment: dict[str, Any]
    problems: list[str] = field(default_factory=list)  # submission-wide notes (forbidden APIs, load errors)
    duration: float = 0.0

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks if c.status not in UNCOUNTED), 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 6)

    @property
    def graded_max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks if c.status not in UNCOUNTED), 6)

    @property
    def grader_faults(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "grader_error"]

    @property
    def complete(self) -> bool:
        return not self.grader_faults

    @property
    def full_marks(self) -> bool:
        return (self.complete and all(c.passed or c.status == "skipped" for c in self.checks)
                and self.score >= self.graded_max_score)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExerciseResult:
        return cls(
            exercise=d["exercise"],
            title=d.get("title", d["exercise"]),
            submission=d["submission"],
            checks=[CheckResult.from_dict(c) for c in d["checks"]],
            environment=d.get("environment", {}),
            problems=d.get("problems", []),
            duration=d.get("duration", 0.0),
        )


# -- redaction: once, before any reporter ----------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    """A result as one audience may see it. Reporters receive this, never a bare ExerciseResult."""

    audience: Audience
    result: ExerciseResult

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "schema": SCHEMA,
            "audience": self.audience,
            "exercise": r.exercise,
            "title": r.title,
            "submission": r.submission,
            "score": r.score,
            "max_score": r.max_score,
            "graded_max_score": r.graded_max_score,
            "complete": r.complete,
            "checks": [c.to_dict() for c in r.checks],
            "environment": dict(r.environment),
            "problems": list(r.problems),
            "duration": round(r.duration, 4),
        }


def redact(result: ExerciseResult, audience: Audience) -> Report:
    """The one place where what an audience may see is decided.

    Students see, of a hidden check, only its title, status and points; of any check, no attachment meant for
    instructors (the expected answer of a symbolic check). Instructors see everything.
    """
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}: use one of {', '.join(AUDIENCES)}")
    if audience == "instructor":
        return Report(audience, replace(result, checks=list(result.checks)))
    return Report(audience, replace(result, checks=[_for_students(c) for c in result.checks]))


def _for_students(c: CheckResult) -> CheckResult:
    if c.visibility == "hidden":
        return replace(c, message="" if c.passed else HIDDEN_NOTE, details="", diagnosis=None, hint="",
                       traceback="", output="", notes=(), attachments=())
    kept = tuple(a for a in c.attachments if a.audience == "student")
    return c if len(kept) == len(c.attachments) else replace(c, attachments=kept)
