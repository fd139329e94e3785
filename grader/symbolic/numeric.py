"""Numeric evaluation of trusted expressions on many sample points at once, with numpy.

We walk the expression tree ourselves instead of ``lambdify``: no generated code is executed, the
node types are the same whitelist as the parser's, integer powers never become Python big-int
arithmetic, and matrices are evaluated as batches (one matrix per sample point). Every value is an
array whose first axis is the sample: a scalar is ``(N,)``, a matrix ``(N, rows, cols)``.

Sampling is domain-aware: points where a kink (the argument of H, ReLU, |·|, a Piecewise condition)
is near zero are dropped, so that answers equal almost everywhere (H(x) and Piecewise((0, x < 0),
(1, True)) for ReLU') compare equal, and points where either side is not finite are not used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from grader.symbolic.build import is_matrix
from grader.symbolic.functions import sigma

KINK_MARGIN = 1e-2  # |kink argument| below this: the point is too close to a switch to compare


class EvaluationError(ValueError):
    """An expression with a node the evaluator does not know (should not happen after the parser)."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


def _heaviside(x: np.ndarray, h0: Any = 0.5) -> np.ndarray:
    return np.heaviside(x, h0)


_UNARY: dict[Any, Callable[[np.ndarray], np.ndarray]] = {
    sympy.exp: np.exp, sympy.log: np.log, sympy.tanh: np.tanh, sympy.sinh: np.sinh, sympy.cosh: np.cosh,
    sympy.sech: lambda x: 1.0 / np.cosh(x), sympy.sin: np.sin, sympy.cos: np.cos, sympy.Abs: np.abs,
    sympy.sign: np.sign, sigma: _sigmoid,
}
_RELATIONS = {sympy.StrictLessThan: np.less, sympy.LessThan: np.less_equal,
              sympy.StrictGreaterThan: np.greater, sympy.GreaterThan: np.greater_equal,
              sympy.Equality: np.equal, sympy.Unequality: np.not_equal}


class Evaluator:
    """Evaluates expressions given values for their symbols (and sizes for symbolic dimensions)."""

    def __init__(self, values: Mapping[Any, np.ndarray], n: int, dims: Mapping[Any, int] | None = None):
        self.values = values
        self.n = n
        self.dims = dims or {}
        self.cache: dict[Any, np.ndarray] = {}

    def __call__(self, e: Any) -> np.ndarray:
        hit = self.cache.get(e)
        if hit is None:
            with np.errstate(all="ignore"):
                hit = self.cache[e] = self._eval(e)
        return hit

    def full(self, value: float) -> np.ndarray:
        return np.full(self.n, float(value))

    def size(self, d: Any) -> int:
        if d.is_Integer:
            return int(d)
        if d not in self.dims:
            raise EvaluationError(f"no size for dimension {d}")
        return self.dims[d]

    def _eval(self, e: Any) -> np.ndarray:  # noqa: C901 - one dispatch table, read top to bottom
        if e in self.values:
            return np.asarray(self.values[e], dtype=np.float64)
        if isinstance(e, sympy.MatrixSymbol | sympy.Symbol):
            raise EvaluationError(f"no value for {e}")
        if e.is_Number or e in (sympy.E, sympy.pi):
            return self.full(float(e))
        if e is sympy.true or e is sympy.false:
            return np.full(self.n, bool(e))
        f = e.func
        if f is sympy.Add:
            return np.asarray(sum(self(a) for a in e.args))
        if f is sympy.Mul:
            return np.prod([self(a) for a in e.args], axis=0)
        if f is sympy.Pow:
            return np.power(self(e.args[0]), self(e.args[1]))
        if f in _UNARY:
            return _UNARY[f](self(e.args[0]))
        if f is sympy.Heaviside:
            h0 = float(e.args[1]) if len(e.args) > 1 else 0.5
            return _heaviside(self(e.args[0]), h0)
        if f in (sympy.Max, sympy.Min):
            op = np.maximum if f is sympy.Max else np.minimum
            return op.reduce([self(a) for a in e.args])
        if f is sympy.Piecewise:
            return self._piecewise(e)
        if f in _RELATIONS:
            return _RELATIONS[f](self(e.args[0]), self(e.args[1]))
        if f in (sympy.And, sympy.Or):
            logic = np.logical_and if f is sympy.And else np.logical_or
            return logic.reduce([self(a) for a in e.args])
        if f is sympy.Not:
            return np.logical_not(self(e.args[0]))
        return self._matrix(e)

    def _piecewise(self, e: Any) -> np.ndarray:
        out = np.full(self.n, np.nan)
        done = np.zeros(self.n, dtype=bool)
        for value, cond in e.args:
            take = self(cond).astype(bool) & ~done
            out = np.where(take, self(value), out)
            done |= take
        return out

    def _matrix(self, e: Any) -> np.ndarray:
        if isinstance(e, sympy.Transpose):
            return np.swapaxes(self(e.args[0]), -1, -2)
        if isinstance(e, sympy.MatAdd):
            return np.asarray(sum(self(a) for a in e.args))
        if isinstance(e, sympy.MatMul):
            out: Any = None
            scale = np.ones(self.n)
            for a in e.args:
                v = self(a)
                if is_matrix(a):
                    out = v if out is None else np.matmul(out, v)
                else:
                    scale = scale * v
            return out * scale[:, None, None]
        if isinstance(e, sympy.ZeroMatrix):
            r, c = (self.size(d) for d in e.shape)
            return np.zeros((self.n, r, c))
        if isinstance(e, sympy.Identity):
            k = self.size(e.shape[0])
            return np.broadcast_to(np.eye(k), (self.n, k, k)).copy()
        if isinstance(e, AppliedUndef):
            raise EvaluationError(f"unknown function {e.func}")
        raise EvaluationError(f"cannot evaluate {type(e).__name__}")


def evaluate(expr: Any, values: Mapping[Any, Any], dims: Mapping[Any, int] | None = None) -> np.ndarray:
    """``expr`` at sample points: ``values`` maps each symbol to its samples (scalars ``(N,)``,
    matrices ``(N, rows, cols)``); ``dims`` gives sizes to symbolic dimensions."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    n = next((len(a) for a in arrays.values()), 1)
    return np.broadcast_to(Evaluator(arrays, n, dims)(expr), _shape_of(expr, n, dims or {})).copy()


def _shape_of(expr: Any, n: int, dims: Mapping[Any, int]) -> tuple[int, ...]:
    if not is_matrix(expr):
        return (n,)
    return (n, *(int(d) if d.is_Integer else dims[d] for d in expr.shape))


# -- kinks ------------------------------------------------------------------------------------------
def kinks(*exprs: Any) -> list[Any]:
    """Scalar expressions whose zeros are where an answer may switch branch: the arguments of H,
    sign and |·|, the differences of the arguments of max/min, and Piecewise conditions."""
    found: list[Any] = []
    for expr in exprs:
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, sympy.Heaviside | sympy.Abs | sympy.sign):
                found.append(node.args[0])
            elif isinstance(node, sympy.Max | sympy.Min):
                a = node.args
                found += [a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a))]
            elif isinstance(node, sympy.core.relational.Relational):
                found.append(node.lhs - node.rhs)
    return list(dict.fromkeys(found))


def away_from_kinks(ev: Evaluator, points: Sequence[Any], margin: float = KINK_MARGIN) -> np.ndarray:
    """Mask of the sample points farther than ``margin`` from every kink."""
    keep = np.ones(ev.n, dtype=bool)
    for k in points:
        if is_matrix(k):
            continue
        keep &= np.abs(ev(k)) > margin
    return keep


# -- sampling ---------------------------------------------------------------------------------------
@dataclass
class Samples:
    """One batch of sample points: values for every symbol, sizes for the symbolic dimensions."""

    values: dict[Any, np.ndarray]
    dims: dict[Any, int]
    n: int

    def evaluator(self) -> Evaluator:
        return Evaluator(self.values, self.n, self.dims)


DIM_CHOICES = ((5, 3, 4, 2), (3, 4, 2, 5), (2, 6, 5, 3))  # distinct sizes: no shape is square by chance


def draw_samples(symbols: Sequence[Any], rng: np.random.Generator, n: int,
                 domains: Mapping[str, tuple[float, float]] | None = None) -> list[Samples]:
    """Seeded sample batches. Scalars are uniform on their domain (default (−3.5, 3.5): both sides of
    0, where activations switch, without overflow). With matrices there is one batch per choice of
    sizes, so that a shape that only works when T = D is caught."""
    domains = domains or {}
    dim_syms = sorted({d for s in symbols if is_matrix(s) for d in s.shape if not d.is_Integer}, key=str)
    choices = DIM_CHOICES if dim_syms else ((),)
    per_batch = max(4, n // len(choices)) if dim_syms else n
    batches = []
    for sizes in choices:
        dims = {d: sizes[i % len(sizes)] for i, d in enumerate(dim_syms)}
        values = {}
        for s in symbols:
            if is_matrix(s):
                r, c = (int(d) if d.is_Integer else dims[d] for d in s.shape)
                values[s] = rng.standard_normal((per_batch, r, c))
            else:
                lo, hi = domains.get(str(s.name), (-3.5, 3.5))
                values[s] = rng.uniform(lo, hi, per_batch)
        batches.append(Samples(values, dims, per_batch))
    return batches
