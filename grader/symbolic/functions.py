"""The functions an answer may use, and how they print.

``sigma`` is a real sympy function (not ``1/(1+exp(-x))``) so that a student's ``σ(x)(1 − σ(x))`` is
shown back exactly as typed; :func:`expand_definitions` rewrites it with ``exp`` for the exact check.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sympy
from sympy.printing.pretty.pretty import PrettyPrinter


class sigma(sympy.Function):  # noqa: N801 - the class name is what sympy prints (as σ)
    """The logistic sigmoid σ(x) = 1/(1 + e^{−x})."""

    nargs = 1

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Expr | None:
        if x.is_zero:
            return sympy.S.Half
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        s = sigma(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-x))

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_real else None


sigmoid = sigma


def relu(x: sympy.Expr) -> sympy.Expr:
    return sympy.Max(0, x)


def heaviside(x: sympy.Expr, h0: sympy.Expr | None = None) -> sympy.Expr:
    """``H(x)`` or ``H(x, h0)``; ``h0``, the value at 0, must be a number (the reference prints
    ``Heaviside(x, 0)``). A symbolic ``h0`` is refused: it is not a function of the inputs we can probe."""
    from grader.symbolic.errors import SymbolicError

    if h0 is None:
        return sympy.Heaviside(x)
    if not (isinstance(h0, sympy.Expr) and h0.is_Number and h0.is_real):
        raise SymbolicError("the second argument of Heaviside (its value at 0) must be a number, as in "
                            "Heaviside(x, 0)")
    return sympy.Heaviside(x, h0)


MAX_ARGUMENTS = 8  # of max/min: sympy compares every pair, so max(x, x², …, x¹⁹⁹) took minutes

# name typed by a student -> (constructor, numbers of arguments: an int, a tuple of them, or None for
# "two to MAX_ARGUMENTS")
FUNCTIONS: dict[str, tuple[Any, int | tuple[int, ...] | None]] = {
    "sigma": (sigma, 1), "sigmoid": (sigma, 1), "σ": (sigma, 1),
    "H": (heaviside, (1, 2)), "Heaviside": (heaviside, (1, 2)),
    "tanh": (sympy.tanh, 1), "sech": (sympy.sech, 1), "cosh": (sympy.cosh, 1), "sinh": (sympy.sinh, 1),
    "exp": (sympy.exp, 1), "log": (sympy.log, 1), "ln": (sympy.log, 1),
    "sin": (sympy.sin, 1), "cos": (sympy.cos, 1),
    "max": (sympy.Max, None), "Max": (sympy.Max, None), "min": (sympy.Min, None), "Min": (sympy.Min, None),
    "abs": (sympy.Abs, 1), "Abs": (sympy.Abs, 1), "sqrt": (sympy.sqrt, 1),
    "sign": (sympy.sign, 1), "relu": (relu, 1), "ReLU": (relu, 1),
}

# sympy class name (as in a serialised tree) -> constructor; undefined functions named like ours map here
TREE_FUNCTIONS: dict[str, Any] = {
    "sigma": sigma, "sigmoid": sigma, "σ": sigma,
    "Heaviside": heaviside, "tanh": sympy.tanh, "sech": sympy.sech, "cosh": sympy.cosh,
    "sinh": sympy.sinh, "exp": sympy.exp, "log": sympy.log, "sin": sympy.sin, "cos": sympy.cos,
    "Max": sympy.Max, "Min": sympy.Min, "Abs": sympy.Abs, "sign": sympy.sign,
}


def expand_definitions(expr: sympy.Basic) -> sympy.Basic:
    """``expr`` with σ written out with exp, so that sympy's simplifier knows what it is."""
    found = expr.atoms(sigma)
    if not found:
        return expr
    return expr.xreplace({s: 1 / (1 + sympy.exp(-s.args[0])) for s in found})


class _Printer(PrettyPrinter):
    """sympy's unicode pretty printer, with the course's notation for the step function."""

    def _print_Heaviside(self, e: sympy.Heaviside):  # noqa: N802 - sympy's dispatch name
        return self._print(sympy.Function("H")(e.args[0]))


@lru_cache(maxsize=512)  # the same expected expressions are rendered for every submission
def pretty(expr: sympy.Basic) -> str:
    """Multi-line unicode rendering, as a student would write it on paper."""
    return _Printer({"use_unicode": True, "wrap_line": False}).doprint(expr)
