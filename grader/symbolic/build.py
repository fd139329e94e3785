"""Safe construction of sympy expressions, shared by the string parser and the tree decoder.

Everything a student sends becomes sympy objects only through :class:`Builder`. It enforces the limits
that keep sympy from hanging or eating memory on hostile input: a node budget, a cap on the size of
every constant and on exponents (``2**2**2**2**2**2`` is refused before sympy evaluates it), and
matrix shapes (sympy does not check symbolic shapes, so ``W W`` with ``W`` of shape T×D would
otherwise be accepted).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sympy
from sympy.matrices.expressions import MatrixExpr

from grader.symbolic.errors import ShapeError, SymbolicError
from grader.symbolic.functions import FUNCTIONS, MAX_ARGUMENTS
from grader.symbolic.symbols import Sampled, shape_str

MAX_NODES = 2000  # operations in one answer; a derivative written by hand has a few dozen
MAX_EXPONENT = 1000  # |exponent| of any power
MAX_CONSTANT_DIGITS = 300  # decimal digits of any exact constant (a float64 goes to ~1e308)

_UNDEFINED = (sympy.S.NaN, sympy.S.ComplexInfinity, sympy.S.Infinity, sympy.S.NegativeInfinity)
_RELATIONS = {"<": sympy.StrictLessThan, "<=": sympy.LessThan, ">": sympy.StrictGreaterThan,
              ">=": sympy.GreaterThan, "==": sympy.Eq}


def is_matrix(e: Any) -> bool:
    return isinstance(e, MatrixExpr) or (isinstance(e, Sampled) and e.is_matrix)


def is_condition(e: Any) -> bool:
    """A comparison or a truth value (sympy's ``Symbol`` is also a ``Boolean``, so test precisely)."""
    from sympy.core.relational import Relational
    from sympy.logic.boolalg import BooleanAtom, BooleanFunction

    return isinstance(e, Relational | BooleanAtom | BooleanFunction)


def _transpose_hint(a: Any, b: Any) -> str:
    """Why a product does not fit, when a transpose explains it: one too many (a factor that is itself
    a transpose fits without it) is told apart from one missing (a factor fits once transposed)."""
    extra = (isinstance(a, sympy.Transpose) and a.arg.shape[1] == b.shape[0]) or (
        isinstance(b, sympy.Transpose) and a.shape[1] == b.arg.shape[0])
    if extra:
        return " (a transpose too many?)"
    if a.shape[0] == b.shape[0] or a.shape[1] == b.shape[1]:
        return " (is a transpose missing?)"
    return ""


def _digits(n: sympy.Rational) -> int:
    return max(len(str(abs(int(n.p)))), len(str(int(n.q))))


class Builder:
    """Builds one expression, counting nodes. Raises :class:`SymbolicError` with a plain message."""

    def __init__(self, max_nodes: int = MAX_NODES) -> None:
        self.max_nodes = max_nodes
        self.nodes = 0

    def _tick(self, n: int = 1) -> None:
        self.nodes += n
        if self.nodes > self.max_nodes:
            raise SymbolicError(f"expression too large (more than {self.max_nodes} operations)")

    def _done(self, e: Any) -> Any:
        """Refuse undefined values (1/0, log 0), complex numbers (sqrt(−1), log(−1), (−2)^0.5) and runaway
        constants as soon as they appear: the answer must be a real-valued expression."""
        if e in _UNDEFINED or any(a in _UNDEFINED for a in getattr(e, "args", ())):
            raise SymbolicError("the expression is undefined (a division by zero or log 0?)")
        if isinstance(e, sympy.Expr) and e.has(sympy.I):
            raise SymbolicError("the answer is not a real number: it contains an imaginary number, as in "
                                "sqrt(−1), log(−1) or (−2)^0.5")
        if isinstance(e, sympy.Rational) and _digits(e) > MAX_CONSTANT_DIGITS:
            raise SymbolicError(f"number too large (more than {MAX_CONSTANT_DIGITS} digits)")
        if isinstance(e, sympy.Float) and not math.isfinite(float(e)):
            raise SymbolicError("number too large for a float")
        return e

    # -- leaves ---------------------------------------------------------------------------------
    def float(self, text: str) -> sympy.Float:
        """A decimal or scientific literal (``2.5e-1`` is 0.25)."""
        self._tick()
        value = sympy.Float(text)
        if not math.isfinite(float(value)) or (value != 0 and abs(float(value)) < 1e-300):
            raise SymbolicError(f"number out of range: {text}")
        return value

    def integer(self, text: str) -> sympy.Integer:
        self._tick()
        if len(text.lstrip("-")) > MAX_CONSTANT_DIGITS:
            raise SymbolicError(f"number too large (more than {MAX_CONSTANT_DIGITS} digits)")
        return sympy.Integer(int(text))

    # -- arithmetic -----------------------------------------------------------------------------
    def add(self, args: Sequence[Any]) -> Any:
        self._tick(len(args))
        mats = [a for a in args if is_matrix(a)]
        if not mats:
            self._check_constants(args)
            return self._done(sympy.Add(*args))
        if len(mats) != len(args):
            raise ShapeError(f"cannot add a {shape_str(mats[0])} matrix and a scalar")
        for m in mats[1:]:
            if m.shape != mats[0].shape:
                raise ShapeError(f"cannot add matrices of shapes {shape_str(mats[0])} and {shape_str(m)}")
        return sympy.MatAdd(*args).doit(deep=False)

    def neg(self, a: Any) -> Any:
        return self.mul([sympy.S.NegativeOne, a])

    def mul(self, args: Sequence[Any]) -> Any:
        """``a * b``: a product of scalars, a scalar times a matrix, or a matrix product."""
        self._tick(len(args))
        if not any(is_matrix(a) for a in args):
            self._check_constants(args)
            return self._done(sympy.Mul(*args))
        result = args[0]
        for b in args[1:]:
            result = self._mul2(result, b)
        return result

    def _mul2(self, a: Any, b: Any) -> Any:
        if is_matrix(a) and is_matrix(b):
            return self.matmul(a, b)
        return a * b

    def matmul(self, a: Any, b: Any) -> Any:
        if not (is_matrix(a) and is_matrix(b)):
            raise ShapeError("@ multiplies two matrices; use * with a scalar")
        if a.shape[1] != b.shape[0]:
            raise ShapeError(f"shapes do not match in a matrix product: {shape_str(a)} times "
                             f"{shape_str(b)}{_transpose_hint(a, b)}")
        return a * b

    def div(self, a: Any, b: Any) -> Any:
        if is_matrix(b):
            raise ShapeError(f"cannot divide by a matrix ({shape_str(b)})")
        if b == 0:
            raise SymbolicError("division by zero")
        if is_matrix(a):
            return self.mul([self.power(b, sympy.S.NegativeOne), a])
        return self.mul([a, self.power(b, sympy.S.NegativeOne)])

    def power(self, base: Any, exponent: Any) -> Any:
        self._tick()
        if is_matrix(exponent):
            raise SymbolicError("an exponent must be a scalar")
        if is_matrix(base):
            raise ShapeError(f"cannot raise a {shape_str(base)} matrix to a power "
                                "(write the product, or Wᵀ / W.T for the transpose)")
        if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
            raise SymbolicError(f"exponent too large (the limit is {MAX_EXPONENT})")
        if base.is_Number and exponent.is_Number and base != 0:
            if abs(float(exponent)) * abs(math.log10(abs(float(base)))) > MAX_CONSTANT_DIGITS:
                raise SymbolicError(f"number too large (more than {MAX_CONSTANT_DIGITS} digits)")
        if base == 0 and exponent.is_Number and exponent <= 0:
            raise SymbolicError("division by zero (0 to a non-positive power)")
        return self._done(sympy.Pow(base, exponent))

    def _check_constants(self, args: Sequence[Any]) -> None:
        """A product of many big numbers is refused before sympy multiplies them out."""
        total = sum(_digits(a) for a in args if isinstance(a, sympy.Rational))
        if total > 3 * MAX_CONSTANT_DIGITS:
            raise SymbolicError(f"number too large (more than {MAX_CONSTANT_DIGITS} digits)")

    # -- matrices -------------------------------------------------------------------------------
    def transpose(self, a: Any) -> Any:
        self._tick()
        if not is_matrix(a):
            raise ShapeError("ᵀ (transpose) applies to a matrix or vector, not to a scalar")
        return a.T

    # -- functions, conditions ------------------------------------------------------------------
    def call(self, name: str, args: Sequence[Any]) -> Any:
        self._tick()
        ctor, arity = FUNCTIONS[name]
        if arity is None and not 2 <= len(args) <= MAX_ARGUMENTS:
            raise SymbolicError(f"{name} takes 2 to {MAX_ARGUMENTS} arguments, got {len(args)}")
        if isinstance(arity, tuple) and len(args) not in arity:
            raise SymbolicError(f"{name} takes {' or '.join(map(str, arity))} arguments, got {len(args)}")
        if isinstance(arity, int) and len(args) != arity:
            raise SymbolicError(f"{name} takes {arity} argument{'s' * (arity > 1)}, got {len(args)}")
        return self.apply(ctor, name, args)

    def apply(self, ctor: Any, name: str, args: Sequence[Any]) -> Any:
        if ctor in (sympy.Max, sympy.Min) and len(args) > MAX_ARGUMENTS:
            raise SymbolicError(f"{name} takes at most {MAX_ARGUMENTS} arguments, got {len(args)}")
        for a in args:
            if is_matrix(a):
                raise ShapeError(f"{name} is applied to a {shape_str(a)} matrix; it takes scalars here")
            if is_condition(a):
                raise SymbolicError(f"{name} is applied to a condition")
        return self._done(ctor(*args))

    def relation(self, op: str, a: Any, b: Any) -> Any:
        self._tick()
        if is_matrix(a) or is_matrix(b):
            raise SymbolicError("comparisons (<, >, ...) take scalars")
        if is_condition(a) or is_condition(b):
            raise SymbolicError("a comparison compares numbers, not conditions (write x > 0, not Eq(x > 0, True))")
        return _RELATIONS[op](a, b)

    def piecewise(self, pairs: Sequence[tuple[Any, Any]]) -> Any:
        self._tick(len(pairs))
        if not pairs:
            raise SymbolicError("Piecewise needs at least one (value, condition) pair")
        for value, cond in pairs:
            if is_matrix(value):
                raise SymbolicError("Piecewise values must be scalars")
            if not is_condition(cond):
                raise SymbolicError("each Piecewise pair is (value, condition), e.g. (0, x < 0)")
        return self._done(sympy.Piecewise(*pairs))

    def boolean(self, op: str, args: Sequence[Any]) -> Any:
        self._tick(len(args))
        if not all(is_condition(a) for a in args):
            raise SymbolicError(f"{op} combines conditions")
        return {"And": sympy.And, "Or": sympy.Or, "Not": sympy.Not}[op](*args)
