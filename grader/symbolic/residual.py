"""Beyond float64: tiny differences, and differences far from the probes.

Two formulas that agree in float64 at every probe point can still differ:

* by a tiny amount (1e-10, 1e-10·x): below float64's comparison tolerance. :func:`high_precision_gap`
  evaluates the difference once more with 30 significant digits (``SYMBOLIC_DIGITS``), where
  equivalent forms leave ~1e-30, and compares it with the ``"digits30"`` tolerance of
  ``grader/tolerances.py``. Such an answer is *wrong*: a formula is the derivative or it is not.
* only far out (|x| > 60) or in a narrow window: when sympy cannot simplify the difference to 0,
  :func:`far_gap` probes what it left (its kinks, on both sides) and a wide grid out to ±10⁴.

A disagreement at 30 digits is confirmed at 90 digits (:func:`differs_at`), so that an equivalent form
that cancels catastrophically (cosh²(x) − sinh²(x) at x = 60) is not called wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from grader.symbolic.build import is_matrix
from grader.symbolic.functions import expand_definitions
from grader.symbolic.symbols import Sampled
from grader.tolerances import SYMBOLIC_DIGITS, symbolic_tolerance

CONFIRM_DIGITS = 3 * SYMBOLIC_DIGITS
FAR_SPAN = 1e4  # the residual probe reaches |x| = 10⁴
_MATRIX_ENTRIES = 3  # integer matrix entries in [−3, 3]: products are exact in float64


def _value(expr: Any, point: Mapping[Any, float], digits: int) -> sympy.Expr | None:
    """``expr`` at ``point`` with ``digits`` significant digits, or None where it is not a real number."""
    if isinstance(expr, Sampled):
        return expr.precise_at(point, digits)
    subs = {s: sympy.Float(repr(float(v)), digits) for s, v in point.items()}
    try:
        value = expand_definitions(expr).xreplace(subs).evalf(digits)
    except (TypeError, ValueError, ArithmeticError, RecursionError, AttributeError):
        return None
    if not (isinstance(value, sympy.Expr) and value.is_Number and value.is_real) or not value.is_finite:
        return None
    return value


def _gap(expr: Any, expected: Any, point: Mapping[Any, float], digits: int) -> float | None:
    """How far |a − b| is over the tolerance at ``point`` (> 1: a gap), or None if not evaluable."""
    a, b = _value(expr, point, digits), _value(expected, point, digits)
    if a is None or b is None:
        return None
    tol = symbolic_tolerance("digits30")
    bound = tol.atol + tol.rtol * max(abs(a), abs(b))
    return float(abs(a - b) / bound)


def differs_at(expr: Any, expected: Any, point: Mapping[Any, float]) -> bool | None:
    """True when the two scalar formulas differ at ``point`` (seen at 30 digits, still there at 90),
    False when they agree, None when one of them is not a real number there."""
    gap = _gap(expr, expected, point, SYMBOLIC_DIGITS)
    if gap is None or gap <= 1:
        return None if gap is None else False
    confirm = _gap(expr, expected, point, CONFIRM_DIGITS)
    return confirm is None or confirm > 1


def describe(point: Mapping[Any, float], expr: Any, expected: Any, table: Mapping[str, Any]) -> str:
    names = {s: n for n, s in table.items()}
    where = ", ".join(f"{names.get(s, s)} = {v:.6g}" for s, v in point.items())
    a, b = _value(expr, point, SYMBOLIC_DIGITS), _value(expected, point, SYMBOLIC_DIGITS)
    if a is None or b is None:
        return f"at {where} your answer and the derivative differ"
    return (f"at {where}: your answer is {sympy.N(a, 17)}, the derivative is {sympy.N(b, 17)} "
            f"(evaluated with {SYMBOLIC_DIGITS} digits)")


def high_precision_gap(expr: Any, expected: Any, points: Sequence[Mapping[Any, float]],
                       table: Mapping[str, Any]) -> str | None:
    """Where the answers differ by more than the ``digits30`` tolerance, in words; None if nowhere."""
    if is_matrix(expected):
        return _integer_matrices(expr, expected, table)
    for p in points:
        if differs_at(expr, expected, p):
            return describe(p, expr, expected, table)
    return None


def _integer_matrices(expr: Any, expected: Any, table: Mapping[str, Any]) -> str | None:
    """Matrix formulas are polynomials in the entries: on small integer matrices float64 is exact, so
    the two must agree to the ``digits30`` tolerance."""
    from grader.symbolic.numeric import Evaluator

    tol = symbolic_tolerance("digits30")
    batches = expected.batches("integer") if isinstance(expected, Sampled) else integer_samples(list(table.values()))
    for batch in batches:
        ev = Evaluator(batch.values, batch.n, batch.dims)
        a, b = ev(expr), ev(expected)
        bad = np.abs(a - b) > tol.atol + tol.rtol * np.maximum(np.abs(a), np.abs(b))
        if np.any(bad & np.isfinite(a) & np.isfinite(b)):
            worst = float(np.nanmax(np.abs(a - b)))
            return f"on integer matrices, your answer and the derivative differ by up to {worst:.3g}"
    return None


def integer_samples(symbols: Sequence[Any]) -> list[Any]:
    """The small integer matrices of :func:`_integer_matrices` (seeded, the same for every answer)."""
    from grader.symbolic.numeric import DIM_CHOICES, Samples

    rng = np.random.default_rng(12345)
    dim_syms = sorted({d for s in symbols if is_matrix(s) for d in s.shape if not d.is_Integer}, key=str)
    out = []
    for sizes in DIM_CHOICES[:2]:
        dims = {d: sizes[i % len(sizes)] for i, d in enumerate(dim_syms)}
        values = {}
        for s in symbols:
            shape = (4, *(int(d) if d.is_Integer else dims[d] for d in s.shape)) if is_matrix(s) else (4,)
            values[s] = rng.integers(-_MATRIX_ENTRIES, _MATRIX_ENTRIES + 1, shape).astype(np.float64)
        out.append(Samples(values, dims, 4))
    return out


def far_gap(expr: Any, expected: Any, around: Sequence[Any], samples: Any, variable: Any,
            table: Mapping[str, Any]) -> str | None:
    """A wide grid out to ±10⁴ along ``variable`` and both sides of the kinks of ``around`` (the two
    answers, or what sympy left of their difference), the other inputs held at a probe point. Each
    float64 disagreement is confirmed at 30 digits. A sampled expected answer (the student kit) brings
    its own grid (:func:`far_points` of its formula, where it was recorded)."""
    from grader.symbolic.numeric import Evaluator

    if is_matrix(expected) or variable is None or is_matrix(variable):
        return None
    if isinstance(expected, Sampled):
        recorded = expected.batches("far")
        if not recorded or variable not in recorded[0].values:
            return None
        values, n = recorded[0].values, recorded[0].n
    elif samples is None:
        return None
    else:
        base = {s: float(v[0]) for s, v in samples.values.items() if not is_matrix(s) and s != variable}
        values = far_points(around, base, variable)
        n = len(values[variable])
    xs = values[variable]
    ev = Evaluator(values, n)
    tol = symbolic_tolerance("float64")
    a, b = np.broadcast_to(ev(expr), xs.shape), np.broadcast_to(ev(expected), xs.shape)
    with np.errstate(all="ignore"):
        bad = np.isfinite(a) & np.isfinite(b) & (np.abs(a - b) > tol.atol + tol.rtol * np.maximum(abs(a), abs(b)))
    for i in np.flatnonzero(bad)[:24]:
        point = {s: float(v[i]) for s, v in values.items()}
        if differs_at(expr, expected, point):
            return describe(point, expr, expected, table)
    return None


def far_points(around: Sequence[Any], base: Mapping[Any, float], variable: Any,
               grid: Sequence[float] | None = None) -> dict[Any, np.ndarray]:
    """The points of :func:`far_gap`: ``grid`` (default: 300 points each side, log-spaced out to ±10⁴)
    along ``variable`` and both sides of the kinks of ``around``, the other scalars held at ``base``."""
    from grader.symbolic.numeric import kink_roots, kinks

    points = list(grid) if grid is not None else [*np.geomspace(1e-3, FAR_SPAN, 300),
                                                   *-np.geomspace(1e-3, FAR_SPAN, 300)]
    for k in kinks(*around):
        if k.free_symbols <= {variable, *base}:
            for r in kink_roots(k, variable, base, FAR_SPAN):
                points += [r + d for d in (1e-3, 1e-1)] + [r - d for d in (1e-3, 1e-1)]
    xs = np.asarray(points, dtype=np.float64)
    values = {s: np.full(len(xs), v) for s, v in base.items()}
    values[variable] = xs
    return values
