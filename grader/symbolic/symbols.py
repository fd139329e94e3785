"""Input symbols with the assumptions the whole engine relies on.

Scalars are real, dimensions are positive integers. The student's process rebuilds symbols from their
names with these same assumptions (:func:`grader.symbolic.tree.from_tree`), so a symbol that crossed
the process boundary is *equal* to the parent's.
"""

from __future__ import annotations

import re
from typing import TypeAlias

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


def shape_str(expr: sympy.Basic) -> str:
    """``"T×D"`` for a matrix expression, ``"scalar"`` otherwise."""
    if isinstance(expr, sympy.MatrixExpr):
        return "×".join(str(s) for s in expr.shape)
    return "scalar"
