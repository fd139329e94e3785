"""Plain, serialisable results. Checks produce them; reporters only read them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed", "error", "timeout"]
STATUSES: tuple[str, ...] = ("passed", "failed", "error", "timeout")


@dataclass
class CheckResult:
    """The outcome of one check.

    ``message`` is one line saying what failed. ``details`` holds the numbers, in the style of
    ``torch.testing.assert_close``. ``diagnosis`` is the likely mistake, in words for a student;
    ``mistake`` is its machine id (a mistake id from the exercise's ``mistakes.py`` or a generic
    pattern such as ``"transposed"``). ``data`` carries structured extras (error maps, gradient-check
    figures) that reporters may draw; it must stay JSON-serialisable.
    """

    id: str
    title: str
    status: Status
    score: float
    max_score: float
    message: str = ""
    details: str = ""
    diagnosis: str = ""
    mistake: str | None = None
    traceback: str = ""
    output: str = ""
    duration: float = 0.0
    visibility: str = "public"
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        return cls(**d)


@dataclass
class ExerciseResult:
    """All checks of one exercise on one submission."""

    exercise: str
    title: str
    submission: str
    checks: list[CheckResult]
    environment: dict[str, Any]
    problems: list[str] = field(default_factory=list)  # submission-wide notes (forbidden APIs, load errors)
    duration: float = 0.0

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.checks), 6)

    @property
    def full_marks(self) -> bool:
        return all(c.passed for c in self.checks) and self.score >= self.max_score

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": 1,
            "exercise": self.exercise,
            "title": self.title,
            "submission": self.submission,
            "score": self.score,
            "max_score": self.max_score,
            "checks": [c.to_dict() for c in self.checks],
            "environment": dict(self.environment),
            "problems": list(self.problems),
            "duration": round(self.duration, 4),
        }

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
