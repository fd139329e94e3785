"""The numeric comparison of two formulas on seeded probe points, and the diagnosis of a wrong one.

Values are compared in float64 with the table's tolerance (``grader.tolerances.symbolic_tolerance``).
A float64 disagreement at a point is *confirmed* with 30 significant digits before it counts (for
scalar formulas): an equivalent but numerically unstable form (cosh² − sinh² far out) must not fail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.diagnosis import Diagnosis
from grader.symbolic import residual
from grader.symbolic.build import is_matrix
from grader.symbolic.candidates import Candidate, factor_hint, same_form, zero_diagnosis
from grader.symbolic.numeric import Evaluator, Samples, away_from_kinks, kinks
from grader.tolerances import symbolic_tolerance

_FLOAT64 = symbolic_tolerance("float64")
RTOL, ATOL = _FLOAT64.rtol, _FLOAT64.atol
MAX_CONFIRMATIONS = 24  # disagreeing points re-evaluated with 30 digits before the answer is called wrong
MATCH_SLACK = 100  # a candidate formula went through other roundings than the answer: 100× the tolerance


@dataclass
class Batch:
    """Values of the student's answer and of the expected one on one batch of sample points."""

    ev: Evaluator
    student: np.ndarray
    expected: np.ndarray
    keep: np.ndarray  # sample points used for the comparison
    samples: Samples | None = None

    def point(self, i: int) -> dict[Any, float]:
        """The scalar inputs at sample ``i``."""
        return {s: float(v[i]) for s, v in self.ev.values.items() if not is_matrix(s)}


def _per_sample(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


def close(a: np.ndarray, b: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
    """Per sample point: every entry of ``a`` within tolerance of ``b``."""
    a2, b2 = _per_sample(a), _per_sample(b)
    scale = np.maximum(np.abs(a2), np.abs(b2))
    with np.errstate(all="ignore"):
        return np.all(np.abs(a2 - b2) <= atol + rtol * scale, axis=1)


def finite(x: np.ndarray) -> np.ndarray:
    return np.all(np.isfinite(_per_sample(x)), axis=1)


@dataclass
class Probe:
    batches: list[Batch]
    rtol: float = RTOL
    atol: float = ATOL

    @classmethod
    def of_expressions(cls, expr: Any, expected: Any, samples: Sequence[Samples]) -> Probe:
        points = kinks(expr, expected)
        batches = []
        for s in samples:
            ev = s.evaluator()
            a = np.broadcast_to(ev(expr), ev(expected).shape)
            e = ev(expected)
            keep = away_from_kinks(ev, points) & finite(a) & finite(e)
            batches.append(Batch(ev, a, e, keep, s))
        return cls(batches)

    def valid_fraction(self) -> float:
        total = sum(len(b.keep) for b in self.batches)
        return sum(int(b.keep.sum()) for b in self.batches) / max(total, 1)

    def all_close(self) -> bool:
        return all(bool(np.all(close(b.student, b.expected, self.rtol, self.atol)[b.keep])) for b in self.batches)

    def nearly_close(self, rtol: float = 1e-6) -> bool:
        """Every usable point agrees to ``rtol`` relative to the derivative's scale: a tiny difference."""
        scale = max((float(np.max(np.abs(b.expected[b.keep]), initial=0.0)) for b in self.batches), default=0.0)
        return all(bool(np.all(np.abs(b.student - b.expected)[b.keep] <= rtol * max(scale, 1.0)))
                   for b in self.batches)

    def confirmed_gap(self, expr: Any, expected: Any, table: Mapping[str, Any]) -> str | None:
        """A point where the answers differ, in words, or None when they agree everywhere. For scalar
        formulas each float64 disagreement is re-evaluated with 30 digits; a disagreement that was only
        rounding is dropped from the comparison."""
        checked = 0
        for b in self.batches:
            bad = np.flatnonzero(b.keep & ~close(b.student, b.expected, self.rtol, self.atol))
            for i in bad:
                if is_matrix(expected) or checked >= MAX_CONFIRMATIONS:
                    return _describe_point(b, int(i), table)
                checked += 1
                if residual.differs_at(expr, expected, b.point(int(i))) is not False:
                    return _describe_point(b, int(i), table)
                b.keep[i] = False  # rounding in float64, not a difference
        return None

    def kept_points(self, limit: int = 12) -> list[dict[Any, float]]:
        """Scalar probe points for the 30-digit check: the farthest out, and a spread of the others."""
        b = self.batches[0]
        idx = np.flatnonzero(b.keep)
        if not len(idx) or not b.point(int(idx[0])):
            return []
        size = np.zeros(len(idx))
        for v in b.ev.values.values():
            if np.ndim(v) == 1:
                size = np.maximum(size, np.abs(v[idx]))
        order = idx[np.argsort(-size)]
        chosen = list(order[: limit // 2]) + list(order[limit // 2:][:: max(1, len(order) // limit)])
        return [b.point(int(i)) for i in dict.fromkeys(chosen)][:limit]

    # -- diagnosis ------------------------------------------------------------------------------
    def diagnose(self, candidates: Sequence[Candidate], expr: Any = None) -> Diagnosis | None:
        """The simplest explanation that the evidence confirms, or None.

        1. a formula candidate (catalogued mistake, function instead of derivative, dropped chain factor)
           whose values *and* form (:func:`~grader.symbolic.candidates.form`) match the answer;
        2. a sign error, 0, a constant factor: these transform the right answer, any form can show them;
        3. a formula candidate whose values match, with σ counted as exp (a weaker form match).
        Without the student's expression (numbers from code) the form is not compared in step 3.
        """
        formulas = [c for c in candidates if c.id != "sign"]
        if expr is not None:
            for c in formulas:
                if same_form(c.expr, expr) and self.reproduces(c.expr, expr):
                    return c.diagnosis
        sign = next((c for c in candidates if c.id == "sign"), None)
        if sign is not None and self.reproduces(sign.expr, expr):
            return sign.diagnosis
        if self.is_zero():
            return zero_diagnosis(expr)
        factor = self.constant_factor()
        if factor is not None:
            return Diagnosis("constant_factor", "", factor_hint(factor), "pattern", factor)
        for c in formulas:
            if (expr is None or same_form(c.expr, expr, lenient=True)) and self.reproduces(c.expr, expr):
                return c.diagnosis
        return None

    def reproduces(self, expr: Any, student: Any = None) -> bool:
        """``expr`` matches the student's values on every usable point, and differs from the right
        answer somewhere (a candidate equal to the right answer would name every correct submission).
        With the student's formula, a float64 mismatch is confirmed with 30 digits first: a candidate
        such as 1/(1 − σ(z)) is ill-conditioned far out, where float64 loses its digits."""
        differs_from_expected = False
        confirmations = 0
        for b in self.batches:
            try:
                v = np.broadcast_to(b.ev(expr), b.student.shape)
            except (ValueError, ArithmeticError, TypeError):  # unknown node, shapes that do not fit
                return False
            keep = b.keep & finite(v)
            bad = np.flatnonzero(keep & ~close(b.student, v, self.rtol * MATCH_SLACK, self.atol * MATCH_SLACK))
            if len(bad) and (student is None or is_matrix(student) or len(bad) > MAX_CONFIRMATIONS // 3):
                return False
            for i in bad:
                confirmations += 1
                if confirmations > MAX_CONFIRMATIONS // 3 or residual.differs_at(student, expr, b.point(int(i))) \
                        is not False:
                    return False
            differs_from_expected |= bool(np.any(~close(v, b.expected, self.rtol, self.atol)[keep]))
        return differs_from_expected

    def is_zero(self) -> bool:
        return all(bool(np.all(np.abs(_per_sample(b.student)[b.keep]) <= self.atol)) for b in self.batches) \
            and any(bool(np.any(np.abs(_per_sample(b.expected)[b.keep]) > self.atol)) for b in self.batches)

    def constant_factor(self) -> float | None:
        import torch

        from grader.diagnosis import fit_factor

        a = np.concatenate([_per_sample(b.student)[b.keep].ravel() for b in self.batches])
        e = np.concatenate([_per_sample(b.expected)[b.keep].ravel() for b in self.batches])
        if not len(e) or not np.any(e):
            return None
        c = fit_factor(torch.from_numpy(a), torch.from_numpy(e))
        if c is None or abs(c - 1) < 1e-6 or abs(c) < 1e-9 or not np.allclose(a, c * e, rtol=1e-6, atol=1e-9):
            return None
        return c

    def counterexample(self, table: Mapping[str, Any]) -> str:
        """One point where the answers differ, in words."""
        for b in self.batches:
            bad = np.flatnonzero(b.keep & ~close(b.student, b.expected, self.rtol, self.atol))
            if len(bad):
                return _describe_point(b, int(bad[0]), table)
        return ""


def _describe_point(b: Batch, i: int, table: Mapping[str, Any]) -> str:
    a, e = b.student[i], b.expected[i]
    if np.ndim(a) == 0:
        where = ", ".join(f"{name} = {float(b.ev.values[s][i]):.4g}" for name, s in table.items()
                          if s in b.ev.values and not is_matrix(s))
        return f"at {where}: your answer is {float(a):.6g}, the derivative is {float(e):.6g}"
    sizes = ", ".join(f"{d} = {n}" for d, n in sorted(b.ev.dims.items(), key=lambda kv: str(kv[0])))
    diff = np.abs(a - e)
    r, c = np.unravel_index(int(np.argmax(np.nan_to_num(diff, nan=np.inf))), diff.shape)
    return (f"with {sizes} and random matrices, entry [{r}, {c}] of your answer is {a[r, c]:.6g} instead "
            f"of {e[r, c]:.6g}")
