"""Input symbols with the assumptions the whole engine relies on.

Scalars are real, dimensions are positive integers. The student's process rebuilds symbols from their
names with these same assumptions (:func:`grader.symbolic.tree.from_tree`), so a symbol that crossed
the process boundary is *equal* to the parent's.
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias

import sympy

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,30}$")
Dim: TypeAlias = int | str | sympy.Symbol


def scalar(name: str) -> sympy.Symbol:
    """A real scalar symbol: ``scalar("x")``."""
    return sympy.Symbol(_checked(name), real=True)


def dim(name: str) -> sympy.Symbol:
    """A symbolic dimension (positive integer): ``dim("D")``."""
    return sympy.Symbol(_checked(name), integer=True, positive=True)


def matrix(name: str, rows: Dim, cols: Dim) -> sympy.MatrixSymbol:
    """A matrix or column vector: ``matrix("W", "T", "D")``, ``matrix("x", "D", 1)``."""
    return sympy.MatrixSymbol(_checked(name), _dim(rows), _dim(cols))


def _dim(d: Dim) -> sympy.Expr:
    if isinstance(d, str):
        return dim(d)
    if isinstance(d, int):
        if d < 1:
            raise ValueError(f"a dimension must be positive, got {d}")
        return sympy.Integer(d)
    return d


def _checked(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"not a valid symbol name: {name!r}")
    return name


class Sampled:
    """Base of :class:`grader.symbolic.sampled.SampledExpression`, an expected answer known only by its
    values at fixed points (the student kit). It lives here, below every module of the engine, so that
    the evaluator, the shape checks and the diagnosis recognise it without importing ``sampled`` (which
    imports them). ``shape`` is ``()`` for a scalar, else a pair of dimensions like a MatrixSymbol's."""

    shape: tuple[sympy.Expr, ...] = ()

    @property
    def is_matrix(self) -> bool:
        return bool(self.shape)

    def on(self, ev: Any) -> Any:
        """The values at the points of the evaluator ``ev`` (NaN at a point it does not know)."""
        raise NotImplementedError

    def precise_at(self, point: Any, digits: int) -> Any:
        """The value at a scalar ``point`` with ``digits`` digits, or None where it is not known."""
        raise NotImplementedError

    def has_form(self, names: frozenset[str], *, lenient: bool = False) -> bool:
        """Whether the formula was written with exactly these functions (``candidates.form``)."""
        raise NotImplementedError

    def batches(self, role: str, domains: Any = None) -> list[Any]:
        """The recorded sample batches of one ``role`` ("probe", "far", "integer"), as ``Samples``."""
        raise NotImplementedError


def shape_str(expr: sympy.Basic | Sampled) -> str:
    """``"T×D"`` for a matrix expression, ``"scalar"`` otherwise."""
    if isinstance(expr, sympy.MatrixExpr | Sampled) and expr.shape:
        return "×".join(str(s) for s in expr.shape)
    return "scalar"
