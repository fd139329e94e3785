"""The corpus (tests/symbolic/corpus.py) through the engine as the `derivatives` checks call it: every
correct answer gets full marks at several seeds, every near miss loses marks with the right words in its
diagnosis and not the wrong ones, every hostile answer is an "invalid answer" verdict with a clear
message (never an exception), and string answers mean the student's parameter names.

Seed 0 runs the whole grading (forked child, exact proof); the other seeds run the part that depends on
the seed (``decide_numerically``: probes, 30-digit and far checks), which keeps the suite fast."""

from __future__ import annotations

import pytest

from exercises.derivatives import checks
from exercises.derivatives.instructor.checks import RENAMED
from grader.mistakes import load_book
from grader.symbolic import decide_numerically
from reference import derivatives as reference
from tests.symbolic.corpus import CORRECT, HOSTILE, WRONG, Case

BOOK = load_book("derivatives")
FUNCTIONS = set(checks.SYMBOLS)
BUDGET = 10.0  # generous: the machine that runs the tests is shared; the verdict, not the time, is asserted


def full(case: Case, seed: int = 0, renamed: bool = False):
    args = (RENAMED if renamed else checks.SYMBOLS)[case.fn]()
    return checks.grade(case.build(args), reference, BOOK, case.fn, args, seed, timeout=BUDGET)


def numeric(case: Case, seed: int, renamed: bool = False):
    args = (RENAMED if renamed else checks.SYMBOLS)[case.fn]()
    fn = case.fn
    return decide_numerically(
        case.build(args), getattr(reference, fn)(*args), args, names=checks.parameter_names(reference, fn),
        primitive=checks.PRIMITIVES[fn](*args) if fn in checks.PRIMITIVES else None, variable=args[0],
        candidates=checks.known_mistakes(BOOK, fn, args), seed=seed,
        domains=checks.DOMAINS[fn](args) if fn in checks.DOMAINS else None)


def text(v) -> str:
    return "\n".join([v.message, v.details, v.diagnosis.sentence if v.diagnosis else ""])


def test_the_corpus_is_large_and_covers_every_function():
    assert len(CORRECT) >= 60 and len(WRONG) >= 40
    assert {c.fn for c in CORRECT} == FUNCTIONS == {c.fn for c in WRONG}


@pytest.mark.parametrize("case", CORRECT, ids=[c.label for c in CORRECT])
def test_correct_answers_get_full_marks(case):
    v = full(case)
    assert v.correct, (v.message, v.details, v.notes)
    for seed in (1, 2):
        v = numeric(case, seed)
        assert v.correct, (seed, v.message, v.details)


STRINGS = [c for c in CORRECT if isinstance(c.answer, str)]


@pytest.mark.parametrize("case", STRINGS, ids=[c.label for c in STRINGS])
def test_a_strings_names_are_the_students_parameters(case):
    """The hidden check passes other symbols (u, a, v, A, p, ...): "1 - tanh(x)^2" from def d_tanh(x)
    still means the derivative at the symbol passed for x."""
    v = numeric(case, seed=0, renamed=True)
    assert v.correct, (v.message, v.details)


@pytest.mark.parametrize("case", WRONG, ids=[c.label for c in WRONG])
def test_near_misses_lose_marks_and_are_diagnosed_with_the_right_words(case):
    v = full(case)
    assert v.status == "wrong", (v.status, v.message)
    said = text(v)
    for word in case.words:
        assert word in said, (word, said)
    for word in case.not_words:
        assert word not in said, (word, said)
    assert numeric(case, seed=1).status == "wrong"


@pytest.mark.parametrize("case", HOSTILE, ids=[c.label for c in HOSTILE])
def test_hostile_answers_are_invalid_with_a_clear_message(case):
    v = full(case)
    assert v.status == "invalid", (v.status, v.message)
    said = text(v)
    for word in case.words:
        assert word in said, (word, said)
    for word in case.not_words:
        assert word not in said, (word, said)
    assert "Traceback" not in said and "Opaque" not in said


RIGHT_ANSWERS = ["σ(x)(1 − σ(x))", "1 − tanh²", "1 − tanh(x)²", "sech²", "H(x)", "2x", "2Wᵀ(Wθ − y)",
                 "σ(z) − y", "e^{−x}/(1 + e^{−x})²", "eˣ/(1 + eˣ) = σ"]


def test_hints_never_hand_over_the_right_answer():
    from grader.symbolic import generic_candidates, scalar

    x = scalar("x")
    hints = [m.hint for m in BOOK] + [m.name for m in BOOK]
    hints += [c.hint for c in generic_candidates(1 - checks.sp.tanh(x) ** 2, checks.sp.tanh(x), x)]
    for hint in hints:
        for answer in RIGHT_ANSWERS:
            assert answer not in hint, (answer, hint)
