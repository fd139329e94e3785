"""Exact equivalence: sympy simplifies the difference of two trusted expressions.

``sympy.simplify`` has no timeout and can run for minutes on an innocent-looking sum of hyperbolic
functions. These functions do not guard against that themselves: :func:`grader.symbolic.grade_answer`
runs them in a child process that is killed at the deadline (:mod:`grader.symbolic.isolate`).
"""

from __future__ import annotations

from typing import Any

import sympy

from grader.symbolic.build import is_matrix
from grader.symbolic.functions import expand_definitions


def quick_zero(a: Any, b: Any) -> bool:
    """Structural equality after sympy's automatic simplification: free, and often enough."""
    if a == b:
        return True
    if is_matrix(a) != is_matrix(b):
        return False
    d = a - b if is_matrix(a) else expand_definitions(a) - expand_definitions(b)
    return is_zero(d)


def difference_left(a: Any, b: Any) -> Any:
    """What sympy leaves of ``a − b``: 0 (or a zero matrix) when it proves them equal. Cheap rewrites
    first, ``simplify`` last; the residual of the last step that ran is returned."""
    if is_matrix(a):
        return sympy.expand((a - b).doit())
    d = expand_definitions(a) - expand_definitions(b)
    for step in (sympy.expand, lambda e: sympy.cancel(sympy.together(e)),
                 lambda e: sympy.cancel(e.rewrite(sympy.exp)), sympy.simplify):
        try:
            d = step(d)
        except (TypeError, ValueError, ArithmeticError, NotImplementedError, RecursionError):
            return d  # sympy gave up on this form: what is left so far
        if is_zero(d):
            return d
    return d


def prove_equal(a: Any, b: Any) -> bool:
    """True when sympy shows ``a − b = 0`` (not a proof that they differ when False)."""
    return quick_zero(a, b) or is_zero(difference_left(a, b))


def is_zero(d: Any) -> bool:
    return d == 0 or isinstance(d, sympy.ZeroMatrix)
