"""Equivalence and diagnosis: equivalent forms get full marks, wrong answers are named, a slow
simplification is cut off in time, and code derivatives are checked against formulas."""

from __future__ import annotations

import time

import numpy as np
import pytest
import sympy as sp
import torch

from grader.symbolic import Candidate, compare_values, grade_answer, matrix, scalar, sigma

x, z, y = scalar("x"), scalar("z"), scalar("y")
W, theta, yv = matrix("W", "T", "D"), matrix("theta", "D", 1), matrix("y", "T", 1)
w, xv = matrix("w", "D", 1), matrix("x", "D", 1)

SIG = 1 / (1 + sp.exp(-x))
D_SIGMOID = SIG * (1 - SIG)
D_TANH = 1 - sp.tanh(x) ** 2
D_RELU = sp.Heaviside(x, 0)
GRAD_LS = 2 * W.T * (W * theta - yv)


@pytest.mark.parametrize("answer", [
    "exp(-x)/(1+exp(-x))^2", "σ(x)(1 − σ(x))", "sigmoid(x) - sigmoid(x)^2", "e^x/(1+e^x)^2",
    "1/(2 + 2cosh(x))", sigma(x) * sigma(-x), sp.exp(-x) / (1 + sp.exp(-x)) ** 2,
])
def test_equivalent_forms_of_the_sigmoid_derivative(answer):
    v = grade_answer(answer, D_SIGMOID, [x], primitive=SIG)
    assert v.correct, v


@pytest.mark.parametrize("answer", [
    "sech(x)^2", "1 - tanh(x)**2", "4/(exp(x) + exp(-x))^2", "1/cosh(x)^2", "(1 - tanh(x))(1 + tanh(x))",
])
def test_equivalent_forms_of_the_tanh_derivative(answer):
    assert grade_answer(answer, D_TANH, [x], primitive=sp.tanh(x)).correct


@pytest.mark.parametrize("answer", [
    "Piecewise((0, x < 0), (1, True))", "H(x)", "Heaviside(x)", "Piecewise((1, x > 0), (0, True))",
    "(sign(x) + 1)/2", sp.Heaviside(x), sp.Piecewise((0, x <= 0), (1, True)),
])
def test_relu_derivative_is_compared_almost_everywhere(answer):
    v = grade_answer(answer, D_RELU, [x], primitive=sp.Max(0, x))
    assert v.correct, v


@pytest.mark.parametrize("answer", [
    "2*W.T*W*theta - 2*W.T*y", "2 Wᵀ(Wθ − y)", "2*W.T@(W@theta - y)", "W.T(2Wθ) - W.T(2y)",
    2 * W.T * W * theta - 2 * W.T * yv, (2 * W.T) @ (W @ theta - yv),
])
def test_equivalent_forms_of_the_least_squares_gradient(answer):
    v = grade_answer(answer, GRAD_LS, [W, theta, yv], timeout=20)  # generous: a loaded machine is slow
    assert v.correct, v
    assert v.method == "exact"


def test_correct_verdict_fields():
    v = grade_answer("sech(x)^2", D_TANH, [x], timeout=20)
    assert (v.status, v.message, v.method, v.mistake) == ("correct", "equivalent to the expected derivative",
                                                          "exact", None)
    assert v.student == "    2   \nsech (x)"
    assert "tanh" in v.expected and "tanh" not in v.details
    assert [a.answer for a in v.attachments()] == [v.student, v.expected]


# -- diagnoses --------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer, mistake, diagnosis", [
    ("sigma(x)", "value_not_derivative", "You returned the function itself, not its derivative."),
    ("-exp(-x)/(1+exp(-x))^2", "missing_chain_factor",
     "A chain-rule factor is missing: the derivative of exp(u) with u = -x is exp′(u)·u′, and you dropped "
     "u′ = -1."),
    ("-1/(1+exp(-x))^2", "missing_chain_factor",
     "A chain-rule factor is missing: the derivative of u^-1 with u = 1 + exp(-x) is -1·u^(-2)·u′, and you "
     "dropped u′ = -exp(-x)."),
    ("2σ(x)(1 − σ(x))", "constant_factor",
     "Off by a constant factor: your answer is 2 times the right one. There is an extra factor 2."),
    ("σ(x)(1 − σ(x))/3", "constant_factor", "Off by a constant factor: your answer is 1/3 times the right one."),
    ("0", "zero", "Your answer is 0 everywhere."),
])
def test_sigmoid_mistakes_are_named(answer, mistake, diagnosis):
    v = grade_answer(answer, D_SIGMOID, [x], primitive=SIG)
    assert (v.status, v.mistake, v.diagnosis.hint) == ("wrong", mistake, diagnosis)
    assert v.message == "your answer is not equivalent to the expected derivative"
    assert v.details.startswith("your answer: ")
    assert "at x = " in v.details and "the derivative is" in v.details


def test_deck_004_tanh_error_is_named():
    v = grade_answer("tanh(x)(1 − tanh(x))", D_TANH, [x], primitive=sp.tanh(x))
    assert v.mistake == "g_one_minus_g"
    assert v.diagnosis.hint.startswith("You used g′ = g(1 − g), which holds only for the sigmoid g = σ. (Deck 004")


def test_deck_003_tanh_sign_error_is_a_sign_error():
    deck_003_tanh = "(e^(-x) - e^x)/(e^(-x) + e^x)"
    derivative_of_deck_003_tanh = f"({deck_003_tanh})^2 - 1"  # Tanh' = Tanh² − 1, since Tanh = −tanh
    assert grade_answer(derivative_of_deck_003_tanh, -D_TANH, [x]).correct
    v = grade_answer(derivative_of_deck_003_tanh, D_TANH, [x], primitive=sp.tanh(x))  # wrong for tanh
    assert (v.mistake, v.diagnosis.hint) == ("sign", "Sign error: your answer is the negative of the derivative.")


def test_exercise_candidates_come_first_and_are_worded_like_the_mistake_book():
    slide = Candidate("tanh_slide_003", "deck 003's Tanh, which is −tanh", "Deck 003 defines Tanh := ...",
                      sp.tanh(x) ** 2 - 1)
    v = grade_answer("tanh(x)^2 - 1", D_TANH, [x], primitive=sp.tanh(x), candidates=[slide])
    assert v.mistake == "tanh_slide_003"
    assert v.diagnosis.sentence == "Likely mistake: deck 003's Tanh, which is −tanh. Deck 003 defines Tanh := ..."


def test_candidate_equal_to_the_right_answer_names_nothing():
    same = Candidate("oops", "not a mistake", "...", sp.sech(x) ** 2)
    assert grade_answer("2 sech(x)^2", D_TANH, [x], candidates=[same]).mistake == "constant_factor"


@pytest.mark.parametrize("answer, mistake, diagnosis", [
    ("W.T(Wθ − y)", "constant_factor",
     "Off by a constant factor: your answer is 1/2 times the right one. A factor 2 is missing (the 2 from "
     "differentiating a square?)."),
    ("2W.T(y − Wθ)", "sign", "Sign error: your answer is the negative of the derivative."),
    ("2 W (W θ - y)", "missing_transpose",
     "A transpose is missing: check the shape of every factor of each product."),
    ("2(Wθ − y)ᵀW", "transposed",
     "Transposed: your answer is the transpose of the right one. A gradient has the shape of its variable "
     "(a column, like x)."),
])
def test_matrix_mistakes_are_named(answer, mistake, diagnosis):
    v = grade_answer(answer, GRAD_LS, [W, theta, yv])
    assert (v.status, v.mistake, v.diagnosis.hint) == ("wrong", mistake, diagnosis)


def test_wrong_shape_message():
    v = grade_answer("2(Wθ − y)ᵀW", GRAD_LS, [W, theta, yv])
    assert v.message == "your answer has shape 1×D but the derivative has shape D×1"
    v = grade_answer("w.T", w, [w, xv, scalar("b")])
    assert v.message == "your answer has shape 1×D but the derivative has shape D×1"


def test_matrix_answers_are_probed_with_several_non_square_sizes():
    # WᵀW θ − Wᵀ y equals the right answer only if ... never; WWᵀ-type answers cannot even be built.
    v = grade_answer("2 W.T W theta", GRAD_LS, [W, theta, yv])
    assert v.status == "wrong"
    assert "with D = " in v.details and "random matrices" in v.details


def test_unreadable_answer_is_invalid_with_the_caret():
    v = grade_answer("sigma(x))", D_SIGMOID, [x])
    assert (v.status, v.message) == ("invalid", "could not read your answer: unexpected ')' at column 9")
    assert v.details == "  sigma(x))\n          ^"
    assert v.answer == "sigma(x))"


@pytest.mark.parametrize("answer, message", [
    (None, "answer refused: the function returned None: return a sympy expression or a string"),
    (3.5, "answer refused: expected a sympy expression or a string, got a float"),
    (["Symbol", "x"], "answer refused: expected a sympy expression or a string, got a Python list"),
    (sp.Symbol("q"), "answer refused: unknown symbol 'q' (the variables are x)"),
])
def test_wrong_kinds_of_answers(answer, message):
    v = grade_answer(answer, D_SIGMOID, [x])
    assert (v.status, v.message) == ("invalid", message)


def test_refused_value_from_the_sandbox_is_explained():
    class Refused:  # what grader.sandbox.codec returns for an object it will not read
        reason = "a sympy object we cannot read (unsupported function 'erf')"

    v = grade_answer(Refused(), D_SIGMOID, [x])
    assert v.message == ("answer refused: the function returned a sympy object we cannot read "
                         "(unsupported function 'erf')")


def test_undefined_answer():
    v = grade_answer("log(-1 - x^2)", D_SIGMOID, [x])
    assert v.status == "wrong" and v.message.startswith("your answer cannot be evaluated at most sample points")


def test_domains_restrict_sampling():
    # sqrt(y²) = y only for y ≥ 0: on labels in [0, 1] the two are the same derivative.
    expected = sigma(z) - y
    assert grade_answer("sigma(z) - sqrt(y^2)", expected, [z, y], domains={"y": (0.0, 1.0)}).correct
    assert not grade_answer("sigma(z) - sqrt(y^2)", expected, [z, y], domains={"y": (-1.0, 1.0)}).correct


def test_seeded():
    a = grade_answer("tanh(x)", D_TANH, [x], seed=3)
    b = grade_answer("tanh(x)", D_TANH, [x], seed=3)
    assert a.details == b.details


def test_a_simplification_that_takes_sympy_minutes_is_cut_off():
    # Equivalent to sech²(x), but sympy.simplify works on this for minutes: the numeric verdict stands.
    slow = " + ".join(f"tanh({k}x)^2 + sech({k}x)^2" for k in range(1, 10)) + " - 9 + sech(x)^2"
    v = grade_answer(slow, D_TANH, [x], timeout=1.0)
    assert v.correct and v.method == "numeric"
    assert v.message == "equivalent to the expected derivative (checked numerically)"
    assert v.notes == ["sympy could not simplify the difference to 0 within 1 s (time limit); the answers "
                       "agree at every sample point"]


# -- time and isolation: the whole grading runs in a child; whatever happens there is a verdict ------------
def test_an_answer_that_stalls_the_grading_is_an_invalid_verdict(monkeypatch):
    import grader.symbolic.grade as g

    g.warm_up()  # in this process, before the patch below: only the child must run the patched step

    def stall(self, expr):  # as if probing this answer took forever (in the child: the parent kills it)
        time.sleep(60)

    monkeypatch.setattr(g._Job, "probe", stall)
    v = grade_answer("sech(x)^2", D_TANH, [x], timeout=0.5)
    assert (v.status, v.method) == ("invalid", "timeout")
    assert v.message == "grading your answer took longer than 0.5 s (simplify it, or write it differently)"


@pytest.mark.parametrize("error", [RuntimeError("boom"), RecursionError(), ZeroDivisionError("x")])
def test_an_exception_anywhere_in_the_grading_is_an_invalid_verdict(monkeypatch, error):
    import grader.symbolic.grade as g

    g.warm_up()  # in this process, before the patch below: only the child must run the patched step

    def fail(self, expr):
        raise error

    monkeypatch.setattr(g._Job, "probe", fail)
    v = grade_answer("sech(x)^2", D_TANH, [x])
    assert v.status == "invalid" and v.message.startswith("answer refused: ")
    assert "Traceback" not in v.message


def test_a_child_that_dies_without_a_verdict_is_an_invalid_verdict(monkeypatch):
    import os

    import grader.symbolic.grade as g

    g.warm_up()  # in this process, before the patch below: only the child must run the patched step

    monkeypatch.setattr(g._Job, "probe", lambda self, expr: os._exit(3))
    v = grade_answer("sech(x)^2", D_TANH, [x])
    assert v.status == "invalid" and "without a result" in v.message


# -- the decision rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", ["1 - tanh(x)^2 + 1e-10", "1 - tanh(x)^2 + 1e-10 x", "(1 + 1e-12)(1 - tanh(x)^2)"])
def test_a_tiny_difference_is_a_wrong_answer(answer):
    """The documented rule (grader/tolerances.py, "digits30"): a formula is the derivative or it is not."""
    v = grade_answer(answer, D_TANH, [x])
    assert (v.status, v.mistake) == ("wrong", "tiny_difference")


@pytest.mark.parametrize("answer", ["0.1 * 10 * sech(x)^2", "2.5e-1 * 4 * (1 - tanh(x)^2)", "1.0/cosh(x)^2"])
def test_decimal_literals_are_not_tiny_differences(answer):
    assert grade_answer(answer, D_TANH, [x]).correct


@pytest.mark.parametrize("answer", ["1 - tanh(x)^2 + Heaviside(|x| - 4)/100", "1 - tanh(x)^2 + Heaviside(-x - 5)/100",
                                    "sech(x)^2 + Heaviside(x - 70)", "sech(x)^2 + Heaviside(x - 3000)"])
def test_a_difference_only_far_out_is_caught(answer):
    assert grade_answer(answer, D_TANH, [x]).status == "wrong"


def test_an_unstable_but_equivalent_form_is_not_called_wrong():
    # cosh² − sinh² = 1 cancels catastrophically in float64 at x = 60; 30 digits (then 90) see it is 1.
    assert grade_answer("(cosh(x)^2 - sinh(x)^2)/cosh(x)^2", D_TANH, [x]).correct


def test_kink_margins_are_distances_in_x():
    from grader.symbolic.numeric import Evaluator, away_from_kinks

    xs = np.array([-3.0, -0.5, -1e-5, 1e-5, 0.5, 3.0])
    keep = away_from_kinks(Evaluator({x: xs}, len(xs)), [x / 300])
    assert keep.tolist() == [True, True, False, False, True, True]
    # H(x/300 − 0.005) switches at x = 1.5: wrong on (0, 1.5), which a margin in the argument hid
    assert grade_answer("Heaviside(x/300 - 0.005)", D_RELU, [x]).status == "wrong"
    assert grade_answer("Heaviside(x/300)", D_RELU, [x]).correct


def test_a_window_between_two_kinks_is_probed():
    assert grade_answer("Heaviside(x - 0.001)", D_RELU, [x]).status == "wrong"


def test_a_kink_argument_that_is_zero_on_a_region_keeps_the_region():
    # x + |x| is 0 for every x < 0: there H(0) decides, and is compared
    assert grade_answer("Heaviside(x + |x|, 0)", D_RELU, [x]).correct
    assert grade_answer("Heaviside(x + |x|, 1)", D_RELU, [x]).status == "wrong"


def test_a_string_answer_uses_the_students_names():
    u = scalar("u")
    expected = 1 - sp.tanh(u) ** 2
    assert grade_answer("1 - tanh(x)^2", expected, [u], names=["x"]).correct
    assert grade_answer("1 - tanh(u)^2", expected, [u], names=["x"]).correct  # an f-string's name
    v = grade_answer("1 - tanh(q)^2", expected, [u], names=["x"])
    assert v.message.startswith("could not read your answer: unknown name 'q' (your variables: ")


# -- code derivatives -------------------------------------------------------------------------------
def test_code_derivative_matches_formula():
    t = torch.linspace(-4, 4, 101, dtype=torch.float32)
    s = torch.sigmoid(t)
    v = compare_values(s * (1 - s), sigma(x) * (1 - sigma(x)), {"x": t})
    assert v.correct, v


def test_code_derivative_relu_is_not_compared_at_the_kink():
    t = torch.linspace(-2, 2, 41, dtype=torch.float64)  # contains 0
    assert compare_values((t > 0).to(t.dtype) * 0 + (t >= 0).to(t.dtype), sp.Heaviside(x, 0), {x: t}).correct


def test_code_derivative_mistake_is_named():
    t = torch.linspace(-3, 3, 50, dtype=torch.float64)
    v = compare_values(torch.tanh(t) * (1 - torch.tanh(t)), 1 - sp.tanh(x) ** 2, {"x": t}, primitive=sp.tanh(x))
    assert (v.status, v.mistake) == ("wrong", "g_one_minus_g")
    assert v.details.startswith("at x = ")


def test_code_derivative_uses_the_dtype_tolerance():
    t = np.linspace(-3, 3, 50)
    exact = 1 - np.tanh(t) ** 2
    assert compare_values((exact * (1 + 1e-5)).astype(np.float32), D_TANH, {"x": t.astype(np.float32)}).correct
    assert not compare_values(exact * (1 + 1e-5), D_TANH, {"x": t}).correct


def test_code_derivative_wrong_shape():
    t = torch.zeros(5, dtype=torch.float64)
    v = compare_values(torch.zeros(5, 1, dtype=torch.float64), D_TANH, {"x": t})
    assert (v.mistake, v.message) == ("wrong_shape", "returned shape (5, 1), expected (5,) (elementwise)")


def test_a_point_is_described_with_the_students_names():
    u = scalar("u")
    v = grade_answer("tanh(x)", 1 - sp.tanh(u) ** 2, [u], names=["x"])
    assert v.status == "wrong" and "\nat x = " in v.details and "u =" not in v.details and "(u)" not in v.details
    assert v.student == "tanh(x)"


def test_an_answer_that_exhausts_memory_is_an_invalid_verdict(monkeypatch):
    import grader.symbolic.grade as g

    g.warm_up()  # in this process, before the patch below: only the child must run the patched step
    from grader.symbolic import isolate

    def hog(self, expr):  # as if probing this answer needed more memory than the child may have
        return [bytearray(1 << 20) for _ in range(1 << 14)]  # 16 GiB, beyond the child's limit

    monkeypatch.setattr(isolate, "MEMORY", 64 << 20)  # keep the test light on a shared machine
    monkeypatch.setattr(g._Job, "probe", hog)
    v = grade_answer("sech(x)^2", D_TANH, [x], timeout=30)
    assert v.status == "invalid" and "MemoryError" in v.message
