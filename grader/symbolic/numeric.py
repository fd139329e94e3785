"""Numeric evaluation of trusted expressions on many sample points at once, with numpy.

We walk the expression tree ourselves instead of ``lambdify``: no generated code is executed, the
node types are the same whitelist as the parser's, integer powers never become Python big-int
arithmetic, and matrices are evaluated as batches (one matrix per sample point). Every value is an
array whose first axis is the sample: a scalar is ``(N,)``, a matrix ``(N, rows, cols)``.

Sampling is domain-aware: probes reach ±60 log-uniformly, with points on both sides of every kink (the
argument of H, ReLU, |·|, a Piecewise condition); points closer to a kink than a small distance *in the
inputs* are dropped, so that answers equal almost everywhere (H(x) and Piecewise((0, x < 0), (1, True))
for ReLU') compare equal, and points where either side is not finite are not used.
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
from grader.symbolic.symbols import Sampled

KINK_MARGIN = 1e-4  # distance in the inputs below which a point is too close to a switch to compare


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
        if isinstance(e, Sampled):  # an expected answer known by its values (the student kit): NaN elsewhere
            return np.asarray(e.on(self), dtype=np.float64)
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
        if isinstance(expr, Sampled):  # its own kinks are in its sample design, not in a formula
            continue
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, sympy.Heaviside | sympy.Abs | sympy.sign):
                found.append(node.args[0])
            elif isinstance(node, sympy.Max | sympy.Min):
                a = node.args
                found += [a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a))]
            elif isinstance(node, sympy.core.relational.Relational):
                found.append(node.lhs - node.rhs)
    return [k for k in dict.fromkeys(found) if not is_matrix(k)]


def away_from_kinks(ev: Evaluator, points: Sequence[Any], margin: float = KINK_MARGIN) -> np.ndarray:
    """Mask of the sample points farther than ``margin`` *in the inputs* from every kink.

    The distance to the zero set of a kink k is estimated as |k| / ‖∇k‖ (∇k by central differences in
    every scalar input), so that H(x/300) hides |x| < 300·margin·(1/300) = margin, not |x| < 3. Where k
    is 0 on a whole region (∇k = 0), the point is kept: the answer's value there (H(0), a Piecewise
    branch) is what it is on the whole region, and must be compared."""
    keep = np.ones(ev.n, dtype=bool)
    scalars = [s for s in ev.values if isinstance(s, sympy.Symbol)]
    for k in points:
        if is_matrix(k):
            continue
        value = ev(k)
        grad2 = np.zeros(ev.n)
        for s in k.free_symbols & set(scalars):
            x = ev.values[s]
            h = 1e-6 * (1.0 + np.abs(x))
            shifted = []
            for sign in (1.0, -1.0):
                values = dict(ev.values)
                values[s] = x + sign * h
                shifted.append(Evaluator(values, ev.n, ev.dims)(k))
            with np.errstate(all="ignore"):
                grad2 = grad2 + ((shifted[0] - shifted[1]) / (2 * h)) ** 2
        grad = np.sqrt(grad2)
        with np.errstate(all="ignore"):
            near = (grad > 0) & (np.abs(value) <= margin * grad)
        keep &= np.isfinite(value) & ~near
    return keep


def kink_roots(k: Any, variable: Any, fixed: Mapping[Any, float], span: float) -> list[float]:
    """Where the scalar kink ``k`` changes sign along ``variable`` in (−span, span), the other scalars
    held at ``fixed``: a grid scan, then bisection."""
    grid = np.unique(np.concatenate([np.linspace(-span, span, 801),
                                     np.geomspace(1e-3, span, 200), -np.geomspace(1e-3, span, 200)]))
    n = len(grid)
    values = {s: np.full(n, v) for s, v in fixed.items()}
    values[variable] = grid
    try:
        with np.errstate(all="ignore"):
            kv = Evaluator(values, n)(k)
    except (EvaluationError, ValueError, TypeError, ArithmeticError):
        return []
    kv = np.broadcast_to(kv, (n,))
    sign = np.sign(kv)
    roots = list(grid[(sign == 0)])
    lo_idx = np.flatnonzero(np.isfinite(kv[:-1]) & np.isfinite(kv[1:]) & (sign[:-1] * sign[1:] < 0))
    lo, hi = grid[lo_idx], grid[lo_idx + 1]
    s_lo = sign[lo_idx]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        values = {s: np.full(len(mid), v) for s, v in fixed.items()}
        values[variable] = mid
        with np.errstate(all="ignore"):
            km = np.broadcast_to(Evaluator(values, len(mid))(k), mid.shape)
        same = np.sign(km) == s_lo
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    roots += list(0.5 * (lo + hi))
    return roots[:40]


def with_kink_sides(batch: Samples, exprs: Sequence[Any], variable: Any, span: float,
                    offsets: Sequence[float] = (1e-2, 0.3)) -> Samples:
    """``batch`` plus points on both sides of every kink of ``exprs`` along ``variable``, and between two
    neighbouring kinks: an answer that is wrong only just left of a kink, only beyond one far out, or only
    in a narrow window between two, is caught."""
    if variable is None or is_matrix(variable) or variable not in batch.values:
        return batch
    others = {s: float(v[0]) for s, v in batch.values.items() if s != variable and not is_matrix(s)}
    roots: list[float] = []
    for k in kinks(*exprs):
        if k.free_symbols <= {variable, *others}:
            roots += kink_roots(k, variable, others, span)
    roots = sorted(set(roots))[:40]
    extra = [r + sign * d for r in roots for d in offsets for sign in (1.0, -1.0)]
    extra += [0.5 * (a + b) for a, b in zip(roots, roots[1:], strict=False)]  # a window between two kinks
    if not extra:
        return batch
    m = len(extra)
    values = {s: np.concatenate([v, np.full(m, others[s]) if s != variable else np.asarray(extra)])
              for s, v in batch.values.items()}
    return Samples(values, batch.dims, batch.n + m)


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
SPAN = 60.0  # probes reach |x| = 60: e^{±60} and its square stay far from float64 overflow
CORE = 3.5  # a third of the probes are uniform on (−3.5, 3.5), where activations switch
SMALLEST = 1e-2  # the rest are log-uniform in magnitude on (0.01, 60), with a random sign


def scalar_probes(rng: np.random.Generator, n: int, span: float = SPAN) -> np.ndarray:
    """``n`` probe values for an unbounded scalar: both signs, near 0 and out to ±``span``."""
    core = rng.uniform(-CORE, CORE, n // 3)
    far = np.exp(rng.uniform(np.log(SMALLEST), np.log(span), n - len(core)))
    far *= rng.choice((-1.0, 1.0), len(far))
    far[:2] = (span, -span)[: len(far[:2])]  # the ends of the range, always
    return rng.permutation(np.concatenate([core, far]))


def draw_samples(symbols: Sequence[Any], rng: np.random.Generator, n: int,
                 domains: Mapping[str, tuple[float, float]] | None = None) -> list[Samples]:
    """Seeded sample batches. Scalars come from :func:`scalar_probes` (or are uniform on their domain).
    With matrices there is one batch per choice of sizes, so that a shape that only works when T = D is
    caught."""
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
            elif str(s.name) in domains:
                lo, hi = domains[str(s.name)]
                values[s] = rng.uniform(lo, hi, per_batch)
            else:
                values[s] = scalar_probes(rng, per_batch)
        batches.append(Samples(values, dims, per_batch))
    return batches
