"""Checks for `derivatives`: each student function is called with sympy symbols and its answer is
graded by the symbolic engine (grader.symbolic): equivalent forms get full marks, a wrong answer is
shown back to the student with the likely mistake. The expected expression goes to ``data`` only
(``expected_expr``), for instructors.

Shapes: w, x (D, 1); W (T, D), theta (D, 1), y (T, 1), with symbolic sizes D and T, so an answer
that only works for square matrices is refused; the hidden check uses other names and concrete sizes.

A *string* answer's names are the parameters of the student's function (shared/CONVENTIONS.md):
``def d_tanh(x): return "1 - tanh(x)^2"`` is right when the hidden check calls ``d_tanh(u)``, and so is
``def d_tanh(z): return "1 - tanh(z)^2"``. The sandbox sends each function's parameter names when it loads
the file (``ctx.parameter_names``); where they are unknown, the contract's names are used. An f-string
answer, which writes the passed symbol's own name, reads the same.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import sympy as sp

from grader.checks import CheckContext, check
from grader.symbolic import Candidate, grade_answer, matrix, read_answer, scalar, sigma
from grader.symbolic.symbols import Sampled

Symbols = tuple[Any, ...]

# The arguments each function receives.
SYMBOLS: dict[str, Callable[[], Symbols]] = {
    "d_sigmoid": lambda: (scalar("x"),),
    "d_tanh": lambda: (scalar("x"),),
    "d_relu": lambda: (scalar("x"),),
    "d_softplus": lambda: (scalar("x"),),
    "grad_affine": lambda: (matrix("w", "D", 1), matrix("x", "D", 1), scalar("b")),
    "grad_sq_norm": lambda: (matrix("x", "D", 1),),
    "grad_least_squares": lambda: (matrix("W", "T", "D"), matrix("theta", "D", 1), matrix("y", "T", 1)),
    "d_bce_logit": lambda: (scalar("z"), scalar("y")),
}


# The function being differentiated, for the diagnosis ("σ instead of σ'", a missing chain factor).
def _bce(z: Any, y: Any) -> Any:
    return -(y * sp.log(sigma(z)) + (1 - y) * sp.log(1 - sigma(z)))


PRIMITIVES: dict[str, Callable[..., Any]] = {
    "d_sigmoid": lambda x: 1 / (1 + sp.exp(-x)),
    "d_tanh": sp.tanh,
    "d_relu": lambda x: sp.Max(0, x),
    "d_softplus": lambda x: sp.log(1 + sp.exp(x)),
    "d_bce_logit": _bce,
}
# Labels y are probabilities: sample them in [0, 1].
DOMAINS = {"d_bce_logit": lambda args: {args[1].name: (0.0, 1.0)}}


ANSWER_BUDGET = 2.0  # seconds to grade one answer (parse, probe, prove, diagnose): 9 answers fit the check's 20 s


def known_mistakes(mistakes: Any, fn: str, args: Symbols) -> list[Candidate]:
    """The exercise's mistakes for ``fn``, evaluated on these symbols (trusted code, in the grader)."""
    if mistakes is None:
        return []
    out = []
    for m in mistakes:
        if fn in m.overrides:
            value = m.overrides[fn](*args)  # in the student kit: a recorded, sampled expression
            expr = value if isinstance(value, Sampled) else read_answer(value, args)
            out.append(Candidate(m.id, m.name, m.hint, expr))
    return out


def parameter_names(reference: Any, fn: str) -> list[str]:
    """The contract's parameter names of ``fn``: the names a string answer uses for its arguments. In
    the student kit the reference is a replay of recorded outputs: its ``parameters`` mapping (fn ->
    names) when it has one, else the names of :data:`SYMBOLS` (the contract's)."""
    recorded = getattr(reference, "parameters", None)
    if isinstance(recorded, dict) and isinstance(recorded.get(fn), list | tuple) \
            and all(isinstance(n, str) for n in recorded[fn]):
        return list(recorded[fn])
    function = getattr(reference, fn, None)
    if inspect.isfunction(function):
        params = inspect.signature(function).parameters.values()
        if all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params):
            return [p.name for p in params]
    return [str(s.name) for s in SYMBOLS[fn]()]


def grade(answer: Any, reference: Any, mistakes: Any, fn: str, args: Symbols, seed: int,
          timeout: float = ANSWER_BUDGET, names: list[str] | None = None) -> Any:
    """The verdict on ``answer`` to ``fn(*args)``: what the checks run, and what the tests and the benchmark
    call directly. ``names``: the student's own parameter names (default: the contract's)."""
    expected = getattr(reference, fn)(*args)
    primitive = PRIMITIVES[fn](*args) if fn in PRIMITIVES else None
    domains = DOMAINS[fn](args) if fn in DOMAINS else None
    if names is None or len(names) != len(args):
        names = parameter_names(reference, fn)
    return grade_answer(answer, expected, args, names=names, primitive=primitive,
                        variable=args[0], candidates=known_mistakes(mistakes, fn, args), seed=seed,
                        timeout=timeout, domains=domains)


def expect_derivative(ctx: CheckContext, fn: str, args: Symbols) -> None:
    """Call the student's ``fn`` on ``args`` and grade the answer against the reference's."""
    answer = getattr(ctx.student, fn)(*args)
    verdict = grade(answer, ctx.reference, ctx.mistakes, fn, args, ctx.seed, names=ctx.parameter_names(fn))
    for note in verdict.notes:
        ctx.note(f"{fn}: {note}")
    if not verdict.correct:
        ctx.fail(f"{fn}: {verdict.message}", details=verdict.details, diagnosis=verdict.diagnosis,
                 attachments=verdict.attachments())


def _one(fn: str) -> Callable[[CheckContext], None]:
    def run(ctx: CheckContext) -> None:
        expect_derivative(ctx, fn, SYMBOLS[fn]())

    run.__name__ = fn
    return check(fn)(run)


d_sigmoid = _one("d_sigmoid")
d_tanh = _one("d_tanh")
d_relu = _one("d_relu")
d_softplus = _one("d_softplus")
grad_affine = _one("grad_affine")
grad_sq_norm = _one("grad_sq_norm")
grad_least_squares = _one("grad_least_squares")
d_bce_logit = _one("d_bce_logit")
