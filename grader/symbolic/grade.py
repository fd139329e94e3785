"""Grading a derivative: is the student's answer equivalent to the expected one, and if not, why?

Two entry points, both returning a :class:`SymbolicVerdict`:

* :func:`grade_answer`: a symbolic answer (a string the student typed, a sympy expression, or a tree
  from the sandbox) against the expected expression;
* :func:`compare_values`: numbers computed by the student's code (``d_sigmoid(x)`` on a tensor)
  against a trusted expression at the same points.

Equivalence is decided on seeded probe points (log-uniform out to ±60, both sides of every kink, see
:mod:`grader.symbolic.numeric`): a point where the answers differ (confirmed with 30 digits) is a proof
that they differ, and that is when the diagnosis runs. When they agree everywhere, their difference is
evaluated once more with 30 digits (a difference of 1e-10 is a wrong answer, :mod:`.residual`), then
sympy is asked for an exact proof (:mod:`.exact`); when it leaves a residual, the residual is probed far
out and around its own kinks before the answer is accepted. Asking sympy first would spend its whole
time budget on every wrong answer for nothing: it cannot prove that two expressions differ.

All of it runs in a forked child killed at the deadline (:mod:`.isolate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import sympy

from grader.diagnosis import Diagnosis
from grader.results import Attachment, ExpectedAnswer, SymbolicAnswer
from grader.symbolic import isolate, residual
from grader.symbolic.build import is_condition, is_matrix
from grader.symbolic.candidates import Candidate, generic_candidates
from grader.symbolic.errors import ParseError, ShapeError, SymbolicError
from grader.symbolic.exact import difference_left, is_zero, quick_zero
from grader.symbolic.functions import pretty
from grader.symbolic.numeric import (
    SPAN,
    Evaluator,
    Samples,
    away_from_kinks,
    draw_samples,
    evaluate,
    kinks,
    with_kink_sides,
)
from grader.symbolic.parser import parse, symbol_table
from grader.symbolic.probe import Batch, Probe
from grader.symbolic.symbols import Sampled, shape_str
from grader.symbolic.tree import from_tree, kind_of, to_tree

__all__ = ["BUDGET", "Candidate", "SymbolicVerdict", "compare_values", "decide_numerically", "generic_candidates",
           "grade_answer", "read_answer", "string_table"]

MIN_VALID = 0.5  # below this fraction of usable sample points the answer is "undefined"


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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SymbolicVerdict:
        """The verdict sent by the grading child (JSON)."""
        fields = dict(d)
        diagnosis = fields.pop("diagnosis", None)
        verdict = cls(**fields)
        verdict.diagnosis = Diagnosis.from_dict(diagnosis) if diagnosis else None
        verdict.notes = list(verdict.notes)
        return verdict

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
        expr = parse(answer, table)
    elif isinstance(answer, sympy.Basic):
        expr = from_tree(to_tree(answer), table)
    elif answer is None:
        raise SymbolicError("the function returned None: return a sympy expression or a string")
    else:
        reason = getattr(answer, "reason", None)  # the sandbox's Refused(reason)
        if isinstance(reason, str):
            raise SymbolicError(f"the function returned {reason}")
        type_name = getattr(answer, "type_name", None)  # the sandbox's Opaque handle
        kind = kind_of(type_name if isinstance(type_name, str) else type(answer).__name__)
        raise SymbolicError(f"expected a sympy expression or a string, got {kind}")
    if is_condition(expr) or isinstance(expr, sympy.Tuple):
        raise SymbolicError("the answer must be an expression, not a condition (such as x > 0) or a tuple")
    if isinstance(expr, sympy.Expr) and expr.has(sympy.I):
        raise SymbolicError("the answer is not a real number: it contains the imaginary unit")
    return expr


# -- grading ----------------------------------------------------------------------------------------
BUDGET = 2.0  # seconds for the whole grading of one answer, unless the caller gives its own


def grade_answer(answer: Any, expected: Any, symbols: Mapping[str, Any] | Iterable[Any], *,
                 names: Sequence[str] | None = None, primitive: Any = None, variable: Any = None,
                 candidates: Sequence[Candidate] = (), seed: int = 0, timeout: float = BUDGET, points: int = 48,
                 domains: Mapping[str, tuple[float, float]] | None = None) -> SymbolicVerdict:
    """Grade ``answer`` against the trusted ``expected`` expression.

    The whole grading (reading, probing, the exact proof, the diagnosis) runs in a forked child killed
    after ``timeout`` seconds (:mod:`grader.symbolic.isolate`); whatever happens there, the result is a
    verdict. ``names`` are the names a *string* answer uses for ``symbols``, in order: the parameters of
    the student's function (a string's names are the student's own; the grader may pass other symbols).
    ``primitive`` is the function that was differentiated (it enables the diagnoses "the function
    instead of its derivative", "g(1 − g) for a g that is not σ" and "a chain-rule factor is missing")
    and ``variable`` the symbol of differentiation (default: the first scalar symbol). ``candidates``
    are the exercise's known mistakes. ``domains`` maps scalar names to sampling intervals.
    """
    typed = answer if isinstance(answer, str) else ""
    expected_text = _pretty_or_str(expected)
    warm_up()

    def work(emit: isolate.Emit) -> None:
        job = _Job(answer, expected, symbol_table(symbols), names, primitive, variable, candidates, seed,
                   points, domains, emit)
        job.verdict.expected, job.verdict.answer = expected_text, typed
        job.run()

    def on_error(e: BaseException) -> dict[str, Any]:
        return SymbolicVerdict("invalid", _failure_message(e), expected=expected_text, answer=typed,
                               method="parse").to_dict()

    data, how = isolate.run(work, timeout, on_error)
    if data is None:
        reason = (f"grading your answer took longer than {timeout:g} s (simplify it, or write it differently)"
                  if how == "timeout" else "grading your answer stopped without a result (too large?)")
        return SymbolicVerdict("invalid", reason, expected=expected_text, answer=typed, method="timeout")
    verdict = SymbolicVerdict.from_dict(data)
    if how == "timeout":  # the interim verdict: numeric agreement, the exact proof was cut off
        verdict.notes.append(f"sympy could not simplify the difference to 0 within {timeout:g} s (time limit); "
                             "the answers agree at every sample point")
    elif how != "final":
        verdict.notes.append("sympy stopped before it could simplify the difference (out of memory?); the "
                             "answers agree at every sample point")
    return verdict


_warm: list[bool] = []


def warm_up() -> None:
    """Run the engine's code paths once in this process before the first fork. A child inherits what the
    parent has imported and cached; without this, every child imports sympy's simplifier, mpmath's
    functions and the printers anew (about 0.3 s per answer, measured in BENCHMARKS.md)."""
    if _warm:
        return
    _warm.append(True)
    from grader.symbolic.symbols import matrix, scalar

    x, w = scalar("x"), matrix("w", "D", 1)
    sig = 1 / (1 + sympy.exp(-x))
    try:
        for answer in ("-σ(x)(1 - σ(x))", "2 Heaviside(x) + |x|", "σ(x) - σ(x)^2"):
            decide_numerically(answer, sig * (1 - sig), [x], primitive=sig, seed=0)
        decide_numerically("2w", w, [w])
        difference_left(sympy.sech(x) ** 2, 1 - sympy.tanh(x) ** 2)
        difference_left(2 * w - w, w)
    except Exception:  # noqa: BLE001 - warming is an optimisation; grading itself reports any failure
        pass


def decide_numerically(answer: Any, expected: Any, symbols: Mapping[str, Any] | Iterable[Any], *,
                       names: Sequence[str] | None = None, primitive: Any = None, variable: Any = None,
                       candidates: Sequence[Candidate] = (), seed: int = 0, points: int = 48,
                       domains: Mapping[str, tuple[float, float]] | None = None) -> SymbolicVerdict:
    """The part of :func:`grade_answer` that depends on the seed (reading, probing, the 30-digit and far
    checks, the diagnosis), in this process, without the exact proof and without a deadline: for tests
    over many seeds and for benchmarks. A correct answer comes back as "correct (checked numerically)"."""
    out: list[dict[str, Any]] = []
    job = _Job(answer, expected, symbol_table(symbols), names, primitive, variable, candidates, seed, points,
               domains, lambda v, final: out.append(v))
    job.run(prove=False)
    return SymbolicVerdict.from_dict(out[-1])


def _failure_message(e: BaseException) -> str:
    if isinstance(e, RecursionError):
        return "answer refused: it is nested too deeply to evaluate"
    text = str(e).split("\n")[0][:200]
    return f"answer refused: it cannot be evaluated as a real-valued formula ({type(e).__name__}: {text})"


def _pretty_or_str(expr: Any) -> str:
    try:
        return pretty(expr)
    except Exception:  # noqa: BLE001 - a display problem must not stop grading
        return str(expr)


class _Job:
    """One answer's grading, in the child: each step either ends with a final verdict or goes on."""

    def __init__(self, answer: Any, expected: Any, table: dict[str, Any], names: Sequence[str] | None,
                 primitive: Any, variable: Any, candidates: Sequence[Candidate], seed: int, points: int,
                 domains: Mapping[str, tuple[float, float]] | None, emit: isolate.Emit) -> None:
        self.answer, self.expected, self.table = answer, expected, table
        # names in messages ("at x = 1.2"): a string answer's own names for the symbols passed
        shown = list(names or ()) if isinstance(answer, str) else []
        self.shown = {(shown[i] if i < len(shown) else k): s for i, (k, s) in enumerate(table.items())}
        self.names, self.primitive, self.candidates = names, primitive, candidates
        self.variable = variable if variable is not None else _default_variable(table)
        self.seed, self.points, self.domains, self.emit = seed, points, domains, emit
        self.verdict = SymbolicVerdict("wrong", "")

    def final(self, verdict: SymbolicVerdict) -> None:
        self.emit(verdict.to_dict(), True)

    def run(self, prove: bool = True) -> None:
        """``prove=False`` stops after the numeric decision (the interim verdict): what the seed changes."""
        v = self.verdict
        try:
            table = string_table(self.table, self.names) if isinstance(self.answer, str) else self.table
            expr = read_answer(self.answer, table)
        except SymbolicError as e:
            return self.final(_invalid(v, e))
        self.display = self.renamed(expr)
        v.student = _pretty_or_str(self.display)
        shape_problem = _shape_problem(expr, self.expected)
        if shape_problem is not None:
            return self.final(_shape_verdict(v, expr, self.expected, shape_problem, self.table, self.seed,
                                             self.candidates))
        probe = self.probe(expr)
        if probe.valid_fraction() < MIN_VALID:
            return self.final(_fill(v, "wrong", "your answer cannot be evaluated at most sample points "
                                    "(a division by zero, a log of a negative number, an overflow?)",
                                    method="numeric"))
        gap = probe.confirmed_gap(expr, self.expected, self.shown)
        if gap is not None:
            return self.final(self.wrong(expr, probe, gap, on_probes=True))
        tiny = residual.high_precision_gap(expr, self.expected, probe.kept_points(), self.shown)
        if tiny is not None:
            return self.final(_fill(v, "wrong", "your answer is not equivalent to the expected derivative",
                                    method="numeric", details=f"your answer: {self.display}\n{tiny}",
                                    diagnosis=Diagnosis("tiny_difference", "", TINY_HINT, "pattern")))
        far = residual.far_gap(expr, self.expected, [expr, self.expected], probe.batches[0].samples,
                               self.variable, self.shown)
        if far is not None:
            return self.final(self.wrong(expr, probe, far))
        if isinstance(self.expected, Sampled):  # the student kit: no formula to prove it with (docs/SYMBOLIC.md)
            return self.final(_fill(v, "correct", "equivalent to the expected derivative", method="sampled"))
        self.emit(_fill(v, "correct", "equivalent to the expected derivative (checked numerically)",
                        method="numeric").to_dict(), False)
        if not prove:
            return None
        left = prove_difference(expr, self.expected)
        if left is None:
            return self.final(_fill(v, "correct", "equivalent to the expected derivative", method="exact"))
        far = residual.far_gap(expr, self.expected, [left], probe.batches[0].samples, self.variable, self.shown)
        if far is not None:
            return self.final(self.wrong(expr, probe, far))
        v.notes.append("sympy could not simplify the difference to 0; the answers agree at every sample point")
        return self.final(v)

    def renamed(self, expr: Any) -> Any:
        """``expr`` written with the names the student used (a string's names), for display only."""
        from grader.symbolic.symbols import scalar

        swap = {}
        for name, sym in self.shown.items():
            if name != str(sym.name):
                swap[sym] = sympy.MatrixSymbol(name, *sym.shape) if is_matrix(sym) else scalar(name)
        try:
            return expr.xreplace(swap) if swap else expr
        except Exception:  # noqa: BLE001 - display only
            return expr

    def probe(self, expr: Any) -> Probe:
        if isinstance(self.expected, Sampled):  # its own points: it is known nowhere else
            return Probe.of_expressions(expr, self.expected, self.expected.batches("probe", self.domains))
        rng = np.random.default_rng(self.seed)
        samples = draw_samples(list(self.table.values()), rng, self.points, self.domains)
        if not is_matrix(self.expected):
            samples = [with_kink_sides(s, [expr, self.expected], self.variable, SPAN) for s in samples]
        return Probe.of_expressions(expr, self.expected, samples)

    def wrong(self, expr: Any, probe: Probe, where: str, on_probes: bool = False) -> SymbolicVerdict:
        """``on_probes``: the difference shows on the probe points (not only far out, or in a window)."""
        generic = generic_candidates(self.expected, self.primitive, self.variable)
        diagnosis = probe.diagnose([*self.candidates, *generic], expr)
        if diagnosis is None and on_probes and probe.nearly_close():
            diagnosis = Diagnosis("tiny_difference", "", TINY_HINT, "pattern")
        return _fill(self.verdict, "wrong", "your answer is not equivalent to the expected derivative",
                     diagnosis=diagnosis, method="numeric", details=f"your answer: {self.display}\n{where}")


TINY_HINT = ("Your answer differs from the derivative by a tiny amount (a rounded or perturbed constant?). "
             "A formula is compared exactly: write the exact constants.")


def string_table(table: Mapping[str, Any], names: Sequence[str] | None) -> dict[str, Any]:
    """The names a string answer may use: the student's parameter names for the symbols passed (in
    order), and the symbols' own names where they do not clash with a parameter name (so that an
    f-string answer, which writes the passed symbol's name, reads the same)."""
    if not names:
        return dict(table)
    symbols = list(table.values())
    own = {str(n): s for n, s in zip(names, symbols, strict=False)}
    return {**{k: s for k, s in table.items() if k not in own}, **own}


def _invalid(verdict: SymbolicVerdict, e: SymbolicError) -> SymbolicVerdict:
    first, _, rest = str(e).partition("\n")
    if isinstance(e, ShapeError) or getattr(e, "shape", False):
        diagnosis = _shape_error_diagnosis(first)
        return _fill(verdict, "wrong", f"shape error: {first}", details=rest, method="shape", diagnosis=diagnosis)
    where = "could not read your answer" if isinstance(e, ParseError) else "answer refused"
    return _fill(verdict, "invalid", f"{where}: {first}", details=rest, method="parse")


def _shape_error_diagnosis(message: str) -> Diagnosis:
    if "transpose missing" in message:
        return Diagnosis("missing_transpose", "", "A transpose is missing: check the shape of every factor of "
                         "each product.", "pattern")
    if "transpose too many" in message:
        return Diagnosis("extra_transpose", "", "A transpose too many: a factor of a product is transposed "
                         "where it should not be.", "pattern")
    return Diagnosis("wrong_shape", "", "The shapes of your matrices do not fit together.", "pattern")


def prove_difference(expr: Any, expected: Any) -> Any:
    """None when sympy shows the difference is 0, else what it leaves of the difference."""
    if quick_zero(expr, expected):
        return None
    left = difference_left(expr, expected)
    return None if is_zero(left) else left

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
    samples = (expected.batches("probe") if isinstance(expected, Sampled)
               else draw_samples(list(table.values()), np.random.default_rng(seed), 12))
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
    diagnosis = probe.diagnose([*candidates, *generic_candidates(expected, primitive, variable)], None)
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
