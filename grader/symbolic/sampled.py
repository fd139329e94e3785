"""An expected answer known only by its values: what the student kit stores instead of the formula.

The kit must not contain the derivatives it grades against. :func:`encode_expression` turns a trusted
expression into a JSON record of what the engine needs to decide equivalence and name mistakes, and
nothing that prints the formula:

* its values (float64) at a fixed, seeded design of points over the call's symbols: wide probes (log-
  uniform out to ±60 like :func:`~grader.symbolic.numeric.draw_samples`), a second batch with the other
  scalars in [0, 1] (labels, probabilities), a ladder of points on both sides of 0 and of every kink of
  the expression (and at it: not compared, as on the instructor's side), one batch per choice of sizes
  for symbolic dimensions;
* for scalars, the same values with 36 significant digits, for the engine's 30- and 90-digit checks
  (:mod:`grader.symbolic.residual`), and on the grid of its far check along the first symbol (out to
  ±10⁴, and both sides of the kinks);
* for matrices, the values on the engine's small integer matrices (its exactness check);
* its shape, and a salted hash of the set of functions it is written with (the diagnosis compares the
  form of a candidate mistake with the student's).

:func:`decode_expression` checks every size, shape and number of the record (a student may edit a kit)
and returns a :class:`SampledExpression`, which the engine accepts wherever it takes the expected answer
or a candidate mistake: the evaluator looks its values up by the exact coordinates of a point (NaN at a
point it does not know, which the comparison leaves out), and the engine probes on its points instead
of drawing its own. docs/SYMBOLIC.md, "In the student kit", says what a student can still learn.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from grader.errors import GraderFault
from grader.symbolic.build import is_matrix
from grader.symbolic.candidates import form
from grader.symbolic.functions import expand_definitions
from grader.symbolic.numeric import (
    SPAN,
    Evaluator,
    Samples,
    away_from_kinks,
    draw_samples,
    kink_roots,
    kinks,
)
from grader.symbolic.residual import _value, far_points, integer_samples
from grader.symbolic.symbols import NAME, Sampled, dim, matrix, scalar

__all__ = ["FORMAT", "SampledExpression", "decode_expression", "encode_expression"]

FORMAT = "dl-grader/sampled-answer"
VERSION = 1
DESIGN_SEED = 20_261_121  # the design is the same for every expression over the same symbols
FORM_SALT = b"dl-grader/sampled/form/v1"  # not a secret: it keeps the function names out of plain sight
PROBES = 96  # wide probes of a scalar formula (the engine draws 48 per seed)
UNIT_PROBES = 48  # probes with the other scalars in [0, 1]
MATRIX_PROBES = 72  # per design, split over the choices of sizes
# Both sides of 0 and of each kink: down to just above the engine's kink margin (1e-4), where an answer
# wrong only in a narrow window next to the kink is still caught.
LADDER = (1.5e-4, 3e-4, 6e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)
PRECISE_DIGITS = 36  # the engine checks at 30 digits and confirms at 90 against these: 36 are enough
ROLES = ("probe", "far", "integer")

# Limits on a decoded record: a kit file may have been edited.
MAX_BATCHES = 16
MAX_POINTS = 4096  # per batch
MAX_ARGS = 8
MAX_SIZE = 64  # a dimension
MAX_FLOATS = 2_000_000  # in the whole record
_DECIMAL = re.compile(r"^-?[0-9]\.?[0-9]{0,60}(e[-+]?[0-9]{1,6})?$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


class SampledExpression(Sampled):
    """An expected answer (or a candidate mistake) known by its values at the points of its design.

    It prints as a placeholder, never as a formula; ``-e`` is the negated record (the "sign error"
    candidate). Build it with :func:`decode_expression`."""

    def __init__(self, args: Sequence[Any], shape: tuple[Any, ...], forms: tuple[str, str],
                 batches: Sequence[tuple[str, Samples, np.ndarray, list[str | None] | None]], scale: float = 1.0):
        self.args = tuple(args)
        self.shape = shape
        self.forms = forms
        self._batches = list(batches)
        self.scale = scale
        self._index: dict[bytes, tuple[int, int]] = {}
        for b, (_, samples, _, _) in enumerate(self._batches):
            for i in range(samples.n):
                self._index.setdefault(_key(self.args, samples.values, samples.dims, i), (b, i))

    def __str__(self) -> str:
        return "(the expected answer: not readable in the student kit)"

    __repr__ = __str__

    def __neg__(self) -> SampledExpression:
        out = SampledExpression.__new__(SampledExpression)
        out.__dict__.update(self.__dict__)
        out.scale = -self.scale
        return out

    # -- what the engine asks -------------------------------------------------------------------
    def on(self, ev: Evaluator) -> np.ndarray:
        """The values at the evaluator's points, looked up by their exact coordinates; NaN elsewhere."""
        entries = _entries(self.shape, ev.dims)
        out = np.full((ev.n, *entries), np.nan) if entries is not None else np.full((ev.n,), np.nan)
        if entries is None or any(s not in ev.values for s in self.args):
            return out
        for i in range(ev.n):
            hit = self._index.get(_key(self.args, ev.values, ev.dims, i))
            if hit is not None:
                out[i] = self._batches[hit[0]][2][hit[1]]
        return out * self.scale

    def precise_at(self, point: Mapping[Any, float], digits: int) -> sympy.Float | None:
        if self.shape or any(s not in point for s in self.args):
            return None
        hit = self._index.get(np.asarray([float(point[s]) for s in self.args], dtype=np.float64).tobytes())
        if hit is None:
            return None
        precise = self._batches[hit[0]][3]
        text = precise[hit[1]] if precise is not None else None
        if text is None:
            return None
        return sympy.Float(text, digits) * int(self.scale)

    def has_form(self, names: frozenset[str], *, lenient: bool = False) -> bool:
        return _form_hash(names) == self.forms[1 if lenient else 0]

    def batches(self, role: str, domains: Mapping[str, tuple[float, float]] | None = None) -> list[Samples]:
        """The recorded batches of ``role``; with ``domains`` (a scalar's name -> interval), only the
        points inside them (the engine samples those scalars in their interval)."""
        out = []
        for r, samples, _, _ in self._batches:
            if r != role:
                continue
            if domains:
                inside = np.ones(samples.n, dtype=bool)
                for s, v in samples.values.items():
                    if not is_matrix(s) and str(s.name) in domains:
                        lo, hi = domains[str(s.name)]
                        inside &= (v >= lo) & (v <= hi)
                if not inside.any():
                    continue
                samples = Samples({s: v[inside] for s, v in samples.values.items()}, samples.dims, int(inside.sum()))
            out.append(samples)
        return out


# -- encoding (trusted: the kit builder, with the reference) ----------------------------------------------
def encode_expression(expr: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """A JSON-able record of ``expr`` (a trusted sympy expression over the symbols ``args``) that lets
    the engine grade against it without the formula. Deterministic: the same expression over the same
    symbols gives the same record."""
    args = tuple(args)
    if not args or len(args) > MAX_ARGS:
        raise ValueError(f"between 1 and {MAX_ARGS} symbols, got {len(args)}")
    if isinstance(expr, Sampled):
        raise TypeError("the expression is already sampled")
    scalars = [s for s in args if not is_matrix(s)]
    variable = args[0] if not is_matrix(args[0]) else None
    precise = not is_matrix(expr) and len(scalars) == len(args)
    out_batches = []
    for role, samples in _design(expr, args, variable):
        dims = {d: int(n) for d, n in samples.dims.items()}
        values = np.broadcast_to(Evaluator(samples.values, samples.n, dims)(expr),
                                 (samples.n, *(_entries(_shape(expr), dims) or ()))).astype(np.float64)
        skip = ~away_from_kinks(Evaluator(samples.values, samples.n, dims), kinks(expr)) \
            if not is_matrix(expr) else np.zeros(samples.n, dtype=bool)
        values = values.copy()
        values[skip] = np.nan  # at a kink: not compared (the engine leaves such points out too)
        texts: list[str | None] | None = None
        if precise and role != "integer":
            texts = _precise_values(expr, args, samples.values, skip)
        out_batches.append({
            "role": role, "n": samples.n, "dims": {str(d): n for d, n in dims.items()},
            "points": [_floats(samples.values[s]) for s in args],
            "values": _floats(values), "precise": texts})
    return {
        "format": FORMAT, "version": VERSION,
        "args": [[str(s.name), _dims_out(s.shape) if is_matrix(s) else []] for s in args],
        "shape": _dims_out(expr.shape) if is_matrix(expr) else [],
        "form": [_form_hash(form(expr)), _form_hash(form(expr, lenient=True))],
        "batches": out_batches,
    }


def _design(expr: Any, args: tuple[Any, ...], variable: Any) -> list[tuple[str, Samples]]:
    rng = np.random.default_rng(DESIGN_SEED)
    if any(is_matrix(s) for s in args):
        out = [("probe", s) for s in draw_samples(list(args), rng, MATRIX_PROBES)]
        if is_matrix(expr):
            out += [("integer", s) for s in integer_samples(list(args))]
        return out
    batches = draw_samples(list(args), rng, PROBES)
    others = [s for s in args if s != variable]
    if others:
        batches += draw_samples(list(args), rng, UNIT_PROBES, {str(s.name): (0.0, 1.0) for s in others})
    batches = [_with_ladder(b, expr, variable) for b in batches]
    out = [("probe", b) for b in batches]
    if variable is not None and not is_matrix(expr):
        base = {s: float(batches[-1].values[s][0]) for s in others}
        far = far_points([expr], base, variable)  # the engine's own grid
        out.append(("far", Samples(far, {}, len(far[variable]))))
    return out


def _with_ladder(batch: Samples, expr: Any, variable: Any) -> Samples:
    """``batch`` plus points along ``variable`` at 0 and at the kinks of ``expr`` (others held at the
    batch's first point), and on both sides of each at the distances of :data:`LADDER`."""
    if variable is None:
        return batch
    others = {s: float(v[0]) for s, v in batch.values.items() if s != variable}
    roots = [0.0]
    for k in kinks(expr):
        if k.free_symbols <= {variable, *others}:
            roots += kink_roots(k, variable, others, SPAN)
    roots = sorted(set(roots))[:16]
    extra = [*roots, *(r + sign * d for r in roots for d in LADDER for sign in (1.0, -1.0))]
    m = len(extra)
    values = {s: np.concatenate([v, np.asarray(extra) if s == variable else np.full(m, others[s])])
              for s, v in batch.values.items()}
    return Samples(values, batch.dims, batch.n + m)


def _precise_values(expr: Any, args: Sequence[Any], values: Mapping[Any, np.ndarray],
                    skip: np.ndarray) -> list[str | None]:
    """``expr`` at every point with :data:`PRECISE_DIGITS` digits, inputs read as the engine reads them
    (the decimal ``repr`` of each float). mpmath at 100 digits through ``lambdify`` (trusted code, at
    build time only: nothing generated goes into the kit), sympy's ``evalf`` where that fails."""
    import mpmath

    try:
        fast: Any = sympy.lambdify(list(args), expand_definitions(expr), modules="mpmath")
    except Exception:  # noqa: BLE001 - a form lambdify does not know: evalf, point by point
        fast = None
    out: list[str | None] = []
    for i in range(len(skip)):
        if skip[i]:
            out.append(None)
            continue
        point = {s: float(values[s][i]) for s in args}
        value: Any = None
        if fast is not None:
            try:
                with mpmath.workdps(100):
                    value = fast(*(mpmath.mpf(repr(v)) for v in point.values()))
                    value = value if isinstance(value, mpmath.mpf) and mpmath.isfinite(value) else None
            except Exception:  # noqa: BLE001 - see the evalf below
                value = None
        if value is None:
            exact = _value(expr, point, PRECISE_DIGITS + 4)
            value = mpmath.mpf(sympy.Float(exact)._mpf_) if exact is not None else None
        out.append(None if value is None else str(mpmath.nstr(value, PRECISE_DIGITS, min_fixed=1, max_fixed=0)))
    return out


def _floats(a: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(a, dtype=np.float64).ravel().tolist()]


def _form_hash(names: frozenset[str]) -> str:
    return hashlib.sha256(FORM_SALT + "\x00".join(sorted(names)).encode()).hexdigest()


def _shape(expr: Any) -> tuple[Any, ...]:
    return tuple(expr.shape) if is_matrix(expr) else ()


def _dims_out(shape: Sequence[Any]) -> list[int | str]:
    return [int(d) if d.is_Integer else str(d) for d in shape]


def _entries(shape: tuple[Any, ...], dims: Mapping[Any, int]) -> tuple[int, ...] | None:
    """The concrete shape of one value, or None where a size is unknown."""
    out = []
    for d in shape:
        if d.is_Integer:
            out.append(int(d))
        elif d in dims:
            out.append(int(dims[d]))
        else:
            return None
    return tuple(out)


def _key(args: Sequence[Any], values: Mapping[Any, np.ndarray], dims: Mapping[Any, int], i: int) -> bytes:
    """The exact coordinates of point ``i`` (every argument's entries, then the sizes) as bytes."""
    parts = [np.asarray(values[s][i], dtype=np.float64).ravel() for s in args]
    key = np.concatenate(parts).tobytes() if parts else b""
    if dims:
        key += repr(sorted((str(d), int(n)) for d, n in dims.items())).encode()
    return key


# -- decoding (untrusted: a file from a kit) --------------------------------------------------------------
def decode_expression(d: Any) -> SampledExpression:
    """The record of :func:`encode_expression` as an expression the engine accepts. Every name, size,
    shape and number is checked first: a damaged or edited record is a :class:`GraderFault` (never
    charged to the student, never a crash)."""
    try:
        return _decode(d)
    except GraderFault:
        raise
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as e:
        raise _bad(f"{type(e).__name__}: {str(e)[:200]}") from None


def _bad(why: str) -> GraderFault:
    return GraderFault(f"a recorded expected answer of the student kit is damaged ({why}): rebuild the kit",
                       retryable=False)


def _decode(d: Any) -> SampledExpression:
    if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("version") != VERSION:
        raise _bad("not a sampled expression of this version")
    raw_args = _list(d.get("args"), MAX_ARGS, "args")
    if not raw_args:
        raise _bad("no symbols")
    dims_by_name: dict[str, Any] = {}
    args = []
    for a in raw_args:
        pair = _list(a, 2, "an argument")
        if len(pair) != 2 or not isinstance(pair[0], str) or not NAME.match(pair[0]):
            raise _bad("an argument's name")
        arg_shape = _shape_in(pair[1], dims_by_name)
        args.append(matrix(pair[0], *arg_shape) if arg_shape else scalar(pair[0]))
    if len({str(s.name) for s in args}) != len(args):
        raise _bad("two arguments with the same name")
    shape = tuple(_shape_in(d.get("shape"), dims_by_name))
    forms = _list(d.get("form"), 2, "form")
    if len(forms) != 2 or not all(isinstance(h, str) and _HASH.match(h) for h in forms):
        raise _bad("form")
    batches = []
    total = 0
    for raw in _list(d.get("batches"), MAX_BATCHES, "batches"):
        batch = _batch(raw, args, shape, dims_by_name)
        total += sum(v.size for v in batch[1].values.values()) + batch[2].size
        if total > MAX_FLOATS:
            raise _bad("too many numbers")
        batches.append(batch)
    if not any(role == "probe" for role, *_ in batches):
        raise _bad("no probe points")
    return SampledExpression(args, shape, (forms[0], forms[1]), batches)


def _batch(raw: Any, args: Sequence[Any], shape: tuple[Any, ...],
           dims_by_name: Mapping[str, Any]) -> tuple[str, Samples, np.ndarray, list[str | None] | None]:
    if not isinstance(raw, dict) or raw.get("role") not in ROLES:
        raise _bad("a batch's role")
    n = raw.get("n")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_POINTS:
        raise _bad("a batch's number of points")
    raw_dims = raw.get("dims")
    if not isinstance(raw_dims, dict) or set(raw_dims) != set(dims_by_name):
        raise _bad("a batch's sizes")
    dims = {}
    for name, size in raw_dims.items():
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_SIZE:
            raise _bad("a size")
        dims[dims_by_name[name]] = size
    points = _list(raw.get("points"), len(args), "points")
    if len(points) != len(args):
        raise _bad("points for every argument")
    values = {}
    for s, p in zip(args, points, strict=True):
        entries = _entries(tuple(s.shape), dims) if is_matrix(s) else ()
        assert entries is not None  # every dimension has a size (checked above)
        arr = _numbers(p, n * math.prod(entries), finite=True).reshape((n, *entries))
        values[s] = arr
    entries = _entries(shape, dims)
    assert entries is not None
    out = _numbers(raw.get("values"), n * math.prod(entries), finite=False).reshape((n, *entries))
    precise = raw.get("precise")
    if precise is not None:
        if shape or any(is_matrix(s) for s in args):
            raise _bad("precise values of a matrix")
        precise = _list(precise, n, "precise values")
        if len(precise) != n or not all(t is None or (isinstance(t, str) and _DECIMAL.match(t)) for t in precise):
            raise _bad("precise values")
    return str(raw["role"]), Samples(values, dims, n), out, precise


def _list(x: Any, limit: int, what: str) -> list[Any]:
    if not isinstance(x, list) or len(x) > limit:
        raise _bad(f"{what}: expected a list of at most {limit}")
    return x


def _shape_in(raw: Any, dims_by_name: dict[str, Any]) -> list[Any]:
    shape = _list(raw, 2, "a shape")
    if len(shape) not in (0, 2):
        raise _bad("a shape")
    out: list[Any] = []
    for x in shape:
        if isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= MAX_SIZE:
            out.append(sympy.Integer(x))
        elif isinstance(x, str) and NAME.match(x):
            out.append(dims_by_name.setdefault(x, dim(x)))
        else:
            raise _bad("a dimension")
    return out


def _numbers(raw: Any, count: int, *, finite: bool) -> np.ndarray:
    values = _list(raw, count, "numbers")
    if len(values) != count:
        raise _bad(f"expected {count} numbers, got {len(values)}")
    if not all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values):
        raise _bad("not a number")
    arr = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    if finite and not np.all(np.isfinite(arr)):
        raise _bad("a point that is not finite")
    return arr
