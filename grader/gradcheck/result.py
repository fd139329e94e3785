"""Plain results of a gradient check: serialisable with ``to_dict()``, read back with ``from_dict()``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from grader.diagnosis import Diagnosis
from grader.format import fmt_index

if TYPE_CHECKING:
    from grader.results import CheckResult

TensorStatus = Literal["passed", "failed", "inconclusive", "missing", "wrong_shape"]
CheckStatus = Literal["passed", "failed", "inconclusive", "error"]


def _clean(obj: Any) -> Any:
    """JSON has no NaN/Inf: those become None, everywhere in the structure."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


@dataclass
class DirectionCheck:
    """One directional comparison: ``<claimed, v>`` against the finite-difference estimate."""

    claimed: float
    estimate: float
    bound: float  # finite-difference error bound of the estimate
    tolerance: float  # room given to the claim (its dtype's tolerance, projected on v)
    step: float
    status: str  # "pass", "fail", "kink"
    evaluations: int


@dataclass
class EntryError:
    """A located wrong entry."""

    index: list[int]
    claimed: float
    true: float  # the reference value, else the finite-difference estimate
    source: str  # "reference", "finite_differences", "hypothesis"
    abs_error: float
    rel_error: float


@dataclass
class Localisation:
    """Where the wrong entries are.

    ``complete`` means every entry was classified, so ``mismatched`` is an exact count; otherwise it
    is a lower bound (each failing block left unsearched holds at least one wrong entry), never more
    than ``total``.
    """

    method: str  # "reference", "hypothesis", "bisection", "per_entry"
    complete: bool
    mismatched: int
    total: int
    entries: list[EntryError] = field(default_factory=list)  # worst first
    kinks: list[list[int]] = field(default_factory=list)  # entries on a kink, claim between one-sided derivatives
    evaluations: int = 0
    note: str = ""

    @property
    def fraction(self) -> float:
        return self.mismatched / self.total if self.total else 0.0


@dataclass
class TensorVerdict:
    """The verdict on one claimed gradient."""

    name: str
    shape: list[int]
    dtype: str  # of the claim
    status: TensorStatus
    rel_error: float | None = None  # largest directional relative error
    rel_error_full: float | None = None  # ‖claimed − true‖/‖true‖ when the truth is known
    checks: list[DirectionCheck] = field(default_factory=list)
    localisation: Localisation | None = None
    diagnosis: Diagnosis | None = None
    notes: list[str] = field(default_factory=list)
    evaluations: int = 0
    claimed_shape: list[int] | None = None
    # per-entry |claimed − true| / (atol + rtol·|true|) for small tensors, 0 where right; ≤ 2-D
    error_map: list[list[float]] | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class GradcheckResult:
    """The outcome of :func:`grader.gradcheck.check_gradients`."""

    status: CheckStatus
    message: str
    tensors: list[TensorVerdict]
    evaluations: int
    duration: float
    seed: int
    mistake: Diagnosis | None = None  # a known mistake that matches every wrong tensor
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def failed_tensors(self) -> list[TensorVerdict]:
        return [t for t in self.tensors if t.status in ("failed", "missing", "wrong_shape")]

    def tensor(self, name: str) -> TensorVerdict:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        d = _clean(asdict(self))
        d["duration"] = round(self.duration, 6)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GradcheckResult:
        tensors = []
        for t in d["tensors"]:
            t = dict(t)
            t["checks"] = [DirectionCheck(**c) for c in t.get("checks", [])]
            if t.get("localisation") is not None:
                loc = dict(t["localisation"])
                loc["entries"] = [EntryError(**e) for e in loc.get("entries", [])]
                t["localisation"] = Localisation(**loc)
            if t.get("diagnosis") is not None:
                t["diagnosis"] = Diagnosis.from_dict(t["diagnosis"])
            tensors.append(TensorVerdict(**t))
        mistake = Diagnosis.from_dict(d["mistake"]) if d.get("mistake") else None
        return cls(
            status=d["status"],
            message=d["message"],
            tensors=tensors,
            evaluations=d["evaluations"],
            duration=d["duration"],
            seed=d["seed"],
            mistake=mistake,
            notes=list(d.get("notes", [])),
            settings=dict(d.get("settings", {})),
        )

    def to_check_result(self, id: str, title: str, max_score: float = 1.0) -> CheckResult:
        """A :class:`grader.results.CheckResult` (all-or-nothing) with the figures as a GradientVerdict."""
        from grader.results import CheckResult, GradientVerdict

        status = "passed" if self.passed else ("error" if self.status == "error" else "failed")
        diag = self.mistake or next((t.diagnosis for t in self.failed_tensors if t.diagnosis), None)
        return CheckResult(
            id=id,
            title=title,
            status=status,  # type: ignore[arg-type]
            score=max_score if self.passed else 0.0,
            max_score=max_score,
            message=self.message,
            details=self.details(),
            diagnosis=diag,
            duration=self.duration,
            attachments=(GradientVerdict(verdict=self.to_dict()),),
        )

    def details(self) -> str:
        """A few plain lines per tensor, for logs and the ``details`` of a check result."""
        lines = []
        for t in self.tensors:
            line = f"{t.name}: {t.status}"
            if t.rel_error is not None:
                line += f", relative error {t.rel_error:.2e}"
            loc = t.localisation
            if loc is not None and loc.mismatched:
                exact = "" if loc.complete else "at least "
                line += f", {exact}{loc.mismatched} of {loc.total} entries wrong ({loc.method})"
                for e in loc.entries[:3]:
                    line += f"\n    {t.name}{fmt_index(e.index)}: claimed {e.claimed:.6g}, true {e.true:.6g}"
            if t.diagnosis is not None:
                line += f"\n    {t.diagnosis.hint}"
            for n in t.notes:
                line += f"\n    note: {n}"
            lines.append(line)
        return "\n".join(lines)
