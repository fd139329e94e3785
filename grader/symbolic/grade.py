"""Grading a derivative: is the student's answer equivalent to the expected one, and if not, why?

Two entry points, both returning a :class:`SymbolicVerdict`:

* :func:`grade_answer`: a symbolic answer (a string the student typed, a sympy expression, or a tree
  from the sandbox) against the expected expression;
* :func:`compare_values`: numbers computed by the student's code (``d_sigmoid(x)`` on a tensor)
  against a trusted expression at the same points.

Equivalence is decided on seeded sample points (domain-aware, see :mod:`grader.symbolic.numeric`): a
point where the answers differ is a proof that they differ, and that is when the diagnosis runs. When
they agree everywhere, sympy is asked for an exact proof in a killable child process
(:mod:`grader.symbolic.exact`); if it cannot prove it in time the numeric agreement stands and the
verdict says so. Asking sympy first would spend its whole time budget on every wrong answer for
nothing: it cannot prove that two expressions differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import sympy

from grader.diagnosis import Diagnosis
from grader.results import Attachment, ExpectedAnswer, SymbolicAnswer
from grader.symbolic.build import is_matrix
from grader.symbolic.errors import ParseError, ShapeError, SymbolicError
from grader.symbolic.exact import prove_equal
from grader.symbolic.functions import pretty
from grader.symbolic.numeric import (
    Evaluator,
    Samples,
    away_from_kinks,
    draw_samples,
    evaluate,
    kinks,
)
from grader.symbolic.parser import parse, symbol_table
from grader.symbolic.symbols import shape_str
from grader.symbolic.tree import from_tree, to_tree

RTOL, ATOL = 1e-7, 1e-9  # float64 evaluation of equivalent forms agrees to ~1e-13 on the domains used
MIN_VALID = 0.5  # below this fraction of usable sample points the answer is "undefined"


@dataclass(frozen=True)
class Candidate:
    """A known wrong answer: ``expr`` is what a student with this mistake would write."""

    id: str
    name: str
    hint: str
    expr: Any

    @property
    def diagnosis(self) -> Diagnosis:
        """Generic candidates (sign, factor, …) speak for themselves; catalogued mistakes are named."""
        generic = self.id in GENERIC_IDS
        return Diagnosis(self.id, "" if generic else self.name, self.hint, "pattern" if generic else "mistake")


@dataclass
class SymbolicVerdict:
    """The outcome of one comparison.

    ``student`` is the student's expression, pretty-printed (safe to show). ``expected`` is the right
    one, pretty-printed, for instructors only: a reporter must not show it to students. ``message`` is
    one line; ``details`` never contains the expected expression.
    """

    status: str  # "correct", "wrong" or "invalid" (unreadable, refused, wrong kind)
    message: str
    student: str = ""
    expected: str = ""
    answer: str = ""  # the text as typed, for string answers
    diagnosis: Diagnosis | None = None
    details: str = ""
    method: str = ""  # "exact", "numeric", "shape", "parse"
    notes: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    @property
    def mistake(self) -> str | None:
        return self.diagnosis.id if self.diagnosis else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def attachments(self) -> tuple[Attachment, ...]:
        """The answer as read (students see it) and the expected one (instructors only)."""
        return (SymbolicAnswer(answer=self.student, method=self.method), ExpectedAnswer(answer=self.expected))


# -- reading an answer ------------------------------------------------------------------------------
def read_answer(answer: Any, symbols: Mapping[str, Any] | Iterable[Any]) -> Any:
    """The student's answer as a trusted sympy expression over ``symbols`` only.

    A sympy expression is re-read through its tree, so it passes the same whitelist and limits as a
    string, and its symbols become the caller's objects.
    """
    table = symbol_table(symbols)
    if isinstance(answer, str):
        return parse(answer, table)
    if isinstance(answer, list):
        return from_tree(answer, table)
    if isinstance(answer, sympy.Basic):
        return from_tree(to_tree(answer), table)
    if answer is None:
        raise SymbolicError("the function returned None: return a sympy expression or a string")
    reason = getattr(answer, "reason", None)  # the sandbox's Refused(reason)
    if isinstance(reason, str):
        raise SymbolicError(f"the function returned {reason}")
    raise SymbolicError(f"expected a sympy expression or a string, got {type(answer).__name__}")


# -- grading ----------------------------------------------------------------------------------------
def grade_answer(answer: Any, expected: Any, symbols: Mapping[str, Any] | Iterable[Any], *,
                 primitive: Any = None, variable: Any = None, candidates: Sequence[Candidate] = (),
                 seed: int = 0, timeout: float = 2.0, points: int = 48,
                 domains: Mapping[str, tuple[float, float]] | None = None) -> SymbolicVerdict:
    """Grade ``answer`` against the trusted ``expected`` expression.

    ``primitive`` is the function that was differentiated (it enables the diagnoses "the function
    instead of its derivative", "g(1 − g) for a g that is not σ" and "a chain-rule factor is missing")
    and ``variable`` the symbol of differentiation (default: the only scalar symbol). ``candidates``
    are the exercise's known mistakes, tried first. ``timeout`` bounds the exact proof; the numeric
    check takes milliseconds. ``domains`` maps scalar names to sampling intervals.
    """
    table = symbol_table(symbols)
    verdict = SymbolicVerdict("wrong", "", expected=pretty(expected),
                              answer=answer if isinstance(answer, str) else "")
    try:
        expr = read_answer(answer, table)
    except SymbolicError as e:
        return _invalid(verdict, e)
    verdict.student = pretty(expr)
    shape_problem = _shape_problem(expr, expected)
    if shape_problem is not None:
        return _shape_verdict(verdict, expr, expected, shape_problem, table, seed, candidates)
    rng = np.random.default_rng(seed)
    probe = Probe.of_expressions(expr, expected, draw_samples(list(table.values()), rng, points, domains))
    if probe.valid_fraction() < MIN_VALID:
        return _fill(verdict, "wrong", "your answer cannot be evaluated at most sample points "
                     "(a division by zero, a log of a negative number, an overflow?)", method="numeric")
    if probe.all_close():
        return _correct(verdict, expr, expected, timeout)
    variable = variable if variable is not None else _default_variable(table)
    generic = generic_candidates(expected, primitive, variable)
    diagnosis = probe.diagnose([*candidates, *generic])
    return _fill(verdict, "wrong", "your answer is not equivalent to the expected derivative",
                 diagnosis=diagnosis, method="numeric",
                 details=f"your answer: {expr}\n{probe.counterexample(table)}")


def _invalid(verdict: SymbolicVerdict, e: SymbolicError) -> SymbolicVerdict:
    first, _, rest = str(e).partition("\n")
    if isinstance(e, ShapeError) or getattr(e, "shape", False):
        missing = "a transpose missing" in first
        diagnosis = (Diagnosis("missing_transpose", "", "A transpose is missing: check the shape of every "
                               "factor of each product.", "pattern") if missing else
                     Diagnosis("wrong_shape", "", "The shapes of your matrices do not fit together.", "pattern"))
        return _fill(verdict, "wrong", f"shape error: {first}", details=rest, method="shape", diagnosis=diagnosis)
    where = "could not read your answer" if isinstance(e, ParseError) else "answer refused"
    return _fill(verdict, "invalid", f"{where}: {first}", details=rest, method="parse")


def _correct(verdict: SymbolicVerdict, expr: Any, expected: Any, timeout: float) -> SymbolicVerdict:
    proof = prove_equal(expr, expected, timeout)
    if proof == "equal":
        return _fill(verdict, "correct", "equivalent to the expected derivative", method="exact")
    note = {"timeout": f"sympy could not simplify the difference to 0 within {timeout:g} s (time limit)",
            "unproven": "sympy could not simplify the difference to 0"}[proof]
    verdict.notes.append(note + "; the answers agree at every sample point")
    return _fill(verdict, "correct", "equivalent to the expected derivative (checked numerically)",
                 method="numeric")


def _fill(verdict: SymbolicVerdict, status: str, message: str, **kw: Any) -> SymbolicVerdict:
    verdict.status, verdict.message = status, message
    for k, v in kw.items():
        setattr(verdict, k, v)
    return verdict


def _default_variable(table: Mapping[str, Any]) -> Any:
    scalars = [s for s in table.values() if not is_matrix(s)]
    return scalars[0] if scalars else None


# -- shapes -----------------------------------------------------------------------------------------
def _shape_problem(expr: Any, expected: Any) -> str | None:
    if is_matrix(expr) == is_matrix(expected) and (not is_matrix(expr) or expr.shape == expected.shape):
        return None
    if is_matrix(expr) and is_matrix(expected) and tuple(expr.shape) == tuple(expected.shape)[::-1]:
        return "transposed"
    return "wrong_shape"


def _shape_verdict(verdict: SymbolicVerdict, expr: Any, expected: Any, problem: str,
                   table: Mapping[str, Any], seed: int, candidates: Sequence[Candidate]) -> SymbolicVerdict:
    message = (f"your answer has shape {shape_str(expr)} but the derivative has shape {shape_str(expected)}"
               if is_matrix(expected) or is_matrix(expr) else "wrong shape")
    samples = draw_samples(list(table.values()), np.random.default_rng(seed), 12)
    diagnosis = next((c.diagnosis for c in candidates  # a known mistake of the same (wrong) shape
                      if _same_shape(c.expr, expr) and Probe.of_expressions(expr, c.expr, samples).all_close()),
                     None)
    if diagnosis is None:
        diagnosis = Diagnosis(problem, "", _shape_diagnosis(expr, expected, problem, samples), "pattern")
    return _fill(verdict, "wrong", message, diagnosis=diagnosis, method="shape",
                 details=f"your answer: {expr}")


def _same_shape(a: Any, b: Any) -> bool:
    return is_matrix(a) == is_matrix(b) and (not is_matrix(a) or tuple(a.shape) == tuple(b.shape))


def _shape_diagnosis(expr: Any, expected: Any, problem: str, samples: Sequence[Samples]) -> str:
    diagnosis = ""
    if problem == "transposed":
        if Probe.of_expressions(expr.T, expected, samples).all_close():
            diagnosis = ("Transposed: your answer is the transpose of the right one. A gradient has the "
                         "shape of its variable (a column, like x).")
        else:
            diagnosis = "The shape is transposed, and the values are wrong too."
    elif not is_matrix(expr):
        diagnosis = "Your answer is a scalar; the gradient of a function of a vector is a vector."
    return diagnosis


# -- the numeric comparison -------------------------------------------------------------------------
@dataclass
class Batch:
    """Values of the student's answer and of the expected one on one batch of sample points."""

    ev: Evaluator
    student: np.ndarray
    expected: np.ndarray
    keep: np.ndarray  # sample points used for the comparison
    samples: Samples | None = None


def _per_sample(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


def _close(a: np.ndarray, b: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
    """Per sample point: every entry of ``a`` within tolerance of ``b``."""
    a2, b2 = _per_sample(a), _per_sample(b)
    scale = np.maximum(np.abs(a2), np.abs(b2))
    return np.all(np.abs(a2 - b2) <= atol + rtol * scale, axis=1)


def _finite(x: np.ndarray) -> np.ndarray:
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
            a, e = ev(expr), ev(expected)
            keep = away_from_kinks(ev, points) & _finite(a) & _finite(e)
            batches.append(Batch(ev, a, e, keep, s))
        return cls(batches)

    def valid_fraction(self) -> float:
        total = sum(len(b.keep) for b in self.batches)
        return sum(int(b.keep.sum()) for b in self.batches) / max(total, 1)

    def all_close(self) -> bool:
        return all(bool(np.all(_close(b.student, b.expected, self.rtol, self.atol)[b.keep]))
                   for b in self.batches)

    # -- diagnosis ------------------------------------------------------------------------------
    def diagnose(self, candidates: Sequence[Candidate]) -> Diagnosis | None:
        """The first candidate that reproduces the student's values (and differs from the right
        answer), else a constant factor, else nothing."""
        for c in candidates:
            if self.reproduces(c.expr):
                return c.diagnosis
        factor = self.constant_factor()
        if factor is not None:
            return Diagnosis("constant_factor", "", factor_hint(factor), "pattern", factor)
        return None

    def reproduces(self, expr: Any) -> bool:
        """``expr`` matches the student's values on every usable point, and the right answer's on none
        of them all (a candidate equal to the right answer would name every correct submission)."""
        differs_from_expected = False
        for b in self.batches:
            try:
                v = np.broadcast_to(b.ev(expr), b.student.shape)
            except (ValueError, ArithmeticError, TypeError):  # unknown node, shapes that do not fit
                return False
            keep = b.keep & _finite(v)
            if not np.all(_close(b.student, v, self.rtol * 100, self.atol * 100)[keep]):
                return False
            differs_from_expected |= bool(np.any(~_close(v, b.expected, self.rtol, self.atol)[keep]))
        return differs_from_expected

    def constant_factor(self) -> float | None:
        a = np.concatenate([_per_sample(b.student)[b.keep].ravel() for b in self.batches])
        e = np.concatenate([_per_sample(b.expected)[b.keep].ravel() for b in self.batches])
        if not len(e) or not np.any(e):
            return None
        c = float(a @ e / (e @ e))
        if abs(c - 1) < 1e-6 or abs(c) < 1e-9 or not np.allclose(a, c * e, rtol=1e-6, atol=1e-9):
            return None
        return c

    def counterexample(self, table: Mapping[str, Any]) -> str:
        """One point where the answers differ, in words."""
        for b in self.batches:
            bad = np.flatnonzero(b.keep & ~_close(b.student, b.expected, self.rtol, self.atol))
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
    r, c = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return (f"with {sizes} and random matrices, entry [{r}, {c}] of your answer is {a[r, c]:.6g} instead "
            f"of {e[r, c]:.6g}")


# -- generic mistakes -------------------------------------------------------------------------------
GENERIC_IDS = ("value_not_derivative", "g_one_minus_g", "missing_chain_factor", "sign", "zero")


def generic_candidates(expected: Any, primitive: Any = None, variable: Any = None) -> list[Candidate]:
    """Mistakes that make sense for any derivative, most specific first."""
    out: list[Candidate] = []
    if primitive is not None and not is_matrix(primitive) and not is_matrix(expected):
        out.append(Candidate("value_not_derivative", "the function, not its derivative",
                             "You returned the function itself, not its derivative.", primitive))
        out.append(Candidate(
            "g_one_minus_g", "g(1 − g) for a function that is not σ",
            "You used g′ = g(1 − g), which holds only for the sigmoid g = σ. (Deck 004 prints it for "
            "tanh as well: that is a slide error, tanh′ = 1 − tanh².)", primitive * (1 - primitive)))
        if variable is not None:
            out += chain_rule_candidates(primitive, variable)
    out.append(Candidate("sign", "sign error", "Sign error: your answer is the negative of the derivative.",
                         -expected))
    zero = sympy.ZeroMatrix(*expected.shape) if is_matrix(expected) else sympy.S.Zero
    out.append(Candidate("zero", "zero", "Your answer is 0 everywhere.", zero))
    return out


@lru_cache(maxsize=128)  # differentiating the primitive again for every submission is wasted work
def chain_rule_candidates(f: Any, x: Any, limit: int = 10) -> tuple[Candidate, ...]:
    """Derivatives of ``f`` with one inner derivative dropped: d g(u)/dx taken as g′(u) instead of
    g′(u)·u′. One candidate per composite node (a function or a power of something that is not x)."""
    out = []
    t = sympy.Dummy("t")
    for node in _composites(f, x):
        u = node.args[0]
        du = sympy.diff(u, x)
        if du in (0, 1):
            continue
        outer = node.func(t, *node.args[1:]) if not node.is_Pow else t ** node.args[1]
        g_prime = sympy.diff(outer, t).subs(t, u)
        n = sympy.Dummy("n")
        F = f.xreplace({node: n})
        variant = (sympy.diff(F, x) + sympy.diff(F, n) * g_prime).subs(n, node)
        out.append(Candidate(
            "missing_chain_factor", "a chain-rule factor is missing",
            f"A chain-rule factor is missing: the derivative of {_name(node)} with u = {u} is "
            f"{_name(node, prime=True)}·u′, and you dropped u′ = {du}.", variant))
        if len(out) >= limit:
            break
    return tuple(out)


def _composites(f: Any, x: Any) -> list[Any]:
    found = []
    for node in sympy.preorder_traversal(f):
        is_fn = isinstance(node, sympy.Function) and len(node.args) == 1
        is_pow = node.is_Pow and node.args[1].is_Number
        if (is_fn or is_pow) and node.args[0] != x and node.args[0].has(x) \
                and not isinstance(node, sympy.Heaviside | sympy.Abs | sympy.sign):
            found.append(node)
    return list(dict.fromkeys(found))


def _name(node: Any, prime: bool = False) -> str:
    if node.is_Pow:
        n = node.args[1]
        return f"{n}·u^({n - 1})" if prime else f"u^{n}"
    return f"{node.func.__name__}′(u)" if prime else f"{node.func.__name__}(u)"


def factor_hint(c: float) -> str:
    frac = Fraction(c).limit_denominator(12)
    shown = str(frac) if abs(float(frac) - c) < 1e-9 * max(1.0, abs(c)) else f"{c:.4g}"
    hint = f"Off by a constant factor: your answer is {shown} times the right one."
    if frac == Fraction(1, 2):
        hint += " A factor 2 is missing (the 2 from differentiating a square?)."
    elif frac == 2:
        hint += " There is an extra factor 2."
    return hint


# -- code derivatives -------------------------------------------------------------------------------
def compare_values(values: Any, expected: Any, inputs: Mapping[Any, Any], *, rtol: float | None = None,
                   atol: float | None = None, candidates: Sequence[Candidate] = (), primitive: Any = None,
                   variable: Any = None) -> SymbolicVerdict:
    """Check numbers computed by the student's code against a trusted scalar expression.

    ``inputs`` maps each symbol of ``expected`` (or its name) to the tensor or array the student's
    function received; ``values`` is what it returned, elementwise, of the same shape. The tolerance
    defaults to the table's for the dtype of ``values`` (``grader.tolerances``). Points next to a kink
    (ReLU′ at 0) are not compared.
    """
    table = symbol_table([s for s in expected.free_symbols if isinstance(s, sympy.Symbol)])
    got, dtype = _as_float64(values)
    if rtol is None or atol is None:
        tol = _table_tolerance(dtype)
        rtol = tol[0] if rtol is None else rtol
        atol = tol[1] if atol is None else atol
    arrays = {(table[k] if isinstance(k, str) else k): _as_float64(v)[0] for k, v in inputs.items()}
    shape = next(iter(arrays.values())).shape
    verdict = SymbolicVerdict("wrong", "", expected=pretty(expected))
    if got.shape != shape:
        return _fill(verdict, "wrong", f"returned shape {tuple(got.shape)}, expected {tuple(shape)} (elementwise)",
                     method="numeric", diagnosis=Diagnosis("wrong_shape", "", "Return one value per input entry: "
                                                           "the result has the shape of the input.", "pattern"))
    flat = {k: v.reshape(-1) for k, v in arrays.items()}
    ev = Evaluator(flat, got.size)
    want = evaluate(expected, flat)
    keep = away_from_kinks(ev, kinks(expected)) & np.isfinite(want)
    probe = Probe([Batch(ev, got.reshape(-1), want, keep)], rtol=rtol, atol=atol)
    if probe.all_close():
        return _fill(verdict, "correct", "values match the derivative", method="numeric")
    variable = variable if variable is not None else _default_variable(table)
    diagnosis = probe.diagnose([*candidates, *generic_candidates(expected, primitive, variable)])
    return _fill(verdict, "wrong", "values do not match the derivative", diagnosis=diagnosis,
                 method="numeric", details=probe.counterexample(table))


def _as_float64(x: Any) -> tuple[np.ndarray, Any]:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the grader
        torch = None  # type: ignore[assignment]
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy(), x.dtype
    arr = np.asarray(x)
    return arr.astype(np.float64), arr.dtype


def _table_tolerance(dtype: Any) -> tuple[float, float]:
    import torch

    from grader.tolerances import tolerance

    if not isinstance(dtype, torch.dtype):
        dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float16): torch.float16}.get(
            np.dtype(dtype), torch.float64)
    tol = tolerance(dtype)
    return tol.rtol, tol.atol
