"""Known wrong answers: the exercise's catalogued mistakes and the generic ones every derivative has.

A candidate is named only when the student's values reproduce it *and*, for a mistake that is a
formula (a catalogued mistake, "the function instead of its derivative", a dropped chain-rule factor),
the answer's form matches it: the same functions appear in both (:func:`form`). Values alone are not
enough: −σ(x)(1 − σ(x)) has the values of "the chain rule through e^{−x} forgotten", but nothing of its
form; the simplest explanation, a sign error, is the one to give.

Hints say what is wrong, never the full right answer: a student must not be able to collect the
answers by submitting wrong ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import sympy
from sympy.core.function import AppliedUndef

from grader.diagnosis import Diagnosis
from grader.symbolic.build import is_matrix
from grader.symbolic.functions import sigma
from grader.symbolic.symbols import Sampled

# Form-free patterns: they transform the right answer, so any form of it can show them.
SIMPLE_IDS = ("sign", "zero", "constant_factor")
# Generic candidates that are formulas (built from the primitive): their form is compared too.
FORMULA_IDS = ("value_not_derivative", "g_one_minus_g", "missing_chain_factor")
GENERIC_IDS = (*FORMULA_IDS, *SIMPLE_IDS)


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


def form(expr: Any, *, lenient: bool = False) -> frozenset[str]:
    """The functions an expression is written with: ``{"exp"}`` for e^{−x}/(1 + e^{−x})², ``{"sigma"}``
    for σ(x)(1 − σ(x)). ``lenient`` counts σ as exp (σ is a quotient of exponentials), for a second,
    weaker match when nothing simpler explains the answer."""
    names = set()
    for f in expr.atoms(sympy.Function, AppliedUndef):
        name = type(f).__name__
        names.add("exp" if lenient and (isinstance(f, sigma) or name == "sigma") else name)
    return frozenset(names)


def same_form(candidate: Any, student: Any, *, lenient: bool = False) -> bool:
    """The candidate's formula is written with the same functions as the student's answer. A sampled
    candidate (the student kit) keeps only a salted hash of its :func:`form`."""
    mine = form(student, lenient=lenient)
    if isinstance(candidate, Sampled):
        return candidate.has_form(mine, lenient=lenient)
    return form(candidate, lenient=lenient) == mine


def generic_candidates(expected: Any, primitive: Any = None, variable: Any = None) -> list[Candidate]:
    """Mistakes that make sense for any derivative: formulas built from the primitive first."""
    out: list[Candidate] = []
    if primitive is not None and not is_matrix(primitive) and not is_matrix(expected):
        out.append(Candidate("value_not_derivative", "the function, not its derivative",
                             "You returned the function itself, not its derivative.", primitive))
        out.append(Candidate(
            "g_one_minus_g", "g(1 − g) for a function that is not σ",
            "You used g′ = g(1 − g), which holds only for the sigmoid g = σ. (Deck 004 prints it for tanh "
            "as well: that is a slide error.)", primitive * (1 - primitive)))
        if variable is not None:
            out += chain_rule_candidates(primitive, variable)
    out.append(Candidate("sign", "sign error", "Sign error: your answer is the negative of the derivative.",
                         -expected))
    return out


ZERO_EVERYWHERE = "Your answer is 0 everywhere."
ZERO_ON_RANGE = "Your answer is 0 at every tested point, but the derivative is not."


def zero_diagnosis(expr: Any) -> Diagnosis:
    """"0 everywhere" only when the answer *is* 0; otherwise what was measured."""
    everywhere = expr is None or expr == 0 or isinstance(expr, sympy.ZeroMatrix)
    return Diagnosis("zero", "", ZERO_EVERYWHERE if everywhere else ZERO_ON_RANGE, "pattern")


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
