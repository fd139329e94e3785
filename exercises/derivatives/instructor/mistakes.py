"""Common wrong derivatives, written the way a student would, each with the hint they should see.

Three come from the slides themselves (see shared/CONVENTIONS.md, "Known errors in the slides"):
deck 004's tanh'(z) = g(z)(1 − g(z)), deck 003's Tanh(x) := (e^{−x} − eˣ)/(e^{−x} + eˣ), which is −tanh,
and deck 004's BCE printed without brackets.

A hint says what is wrong and how to find the right answer, never the answer itself: a student must not
be able to collect the answers by submitting wrong ones (tests/symbolic/test_corpus.py checks it).
"""

from __future__ import annotations

import sympy as sp

from grader.mistakes import MistakeBook

CANARY = "dlg-canary-mistakes-derivatives-8313d0afbbd3ed5a"  # never in a kit (tests/kit)

MISTAKES = MistakeBook("derivatives")


def _sigmoid(x):
    return 1 / (1 + sp.exp(-x))


@MISTAKES.add("d_sigmoid", name="σ instead of σ'",
              hint="That is σ(x) itself, not its derivative.")
def sigmoid_value(x):
    return _sigmoid(x)


@MISTAKES.add("d_sigmoid", name="chain rule through e^{−x} forgotten",
              hint="The derivative of e^{−x} is −e^{−x}: the inner −x contributes a factor −1, which cancels "
                   "the − of the outer derivative, so σ' is positive.")
def sigmoid_inner_sign(x):
    return -sp.exp(-x) / (1 + sp.exp(-x)) ** 2


@MISTAKES.add("d_tanh", name="deck 004's tanh' = g(1 − g)",
              hint="g(1 − g) is the sigmoid's derivative. Deck 004 prints it for tanh too, which is a slide "
                   "error: differentiate tanh = sinh/cosh with the quotient rule.")
def tanh_slide_004(x):
    return sp.tanh(x) * (1 - sp.tanh(x))


@MISTAKES.add("d_tanh", name="deck 003's Tanh, which is −tanh",
              hint="Deck 003 defines Tanh(x) := (e^{−x} − eˣ)/(e^{−x} + eˣ), which is −tanh(x), so its "
                   "derivative has the wrong sign. Start from tanh(x) = (eˣ − e^{−x})/(eˣ + e^{−x}).")
def tanh_slide_003(x):
    minus_tanh = (sp.exp(-x) - sp.exp(x)) / (sp.exp(-x) + sp.exp(x))
    return minus_tanh ** 2 - 1


@MISTAKES.add("d_tanh", name="the square is missing",
              hint="A power is missing: the quotient rule on sinh/cosh gives a square.")
def tanh_no_square(x):
    return 1 - sp.tanh(x)


@MISTAKES.add("d_relu", name="step flipped",
              hint="Your step is flipped: check the slope of max(0, x) on each side of 0.")
def relu_step_flipped(x):
    return sp.Heaviside(-x, 0)


@MISTAKES.add("d_softplus", name="chain rule through log(1 + eˣ) forgotten",
              hint="d/dx log(u) = u'/u with u = 1 + eˣ: the inner derivative u' is missing.")
def softplus_no_chain(x):
    return 1 / (1 + sp.exp(x))


@MISTAKES.add("grad_affine", name="gradient written as a row",
              hint="A gradient has the shape of its variable: x is a column (D, 1), and your answer is a row.")
def affine_row(w, x, b):
    return w.T


@MISTAKES.add("grad_sq_norm", name="factor 2 missing",
              hint="The power rule on x_d² brings down a factor that your answer does not have.")
def sq_norm_no_two(x):
    return x


@MISTAKES.add("grad_least_squares", name="factor 2 missing",
              hint="The factor from differentiating the square is missing.")
def least_squares_no_two(W, theta, y):
    return W.T @ (W @ theta - y)


@MISTAKES.add("grad_least_squares", name="residual sign flipped",
              hint="With r = Wθ − y, ∂r/∂θ = +W: your residual has the wrong sign.")
def least_squares_residual_sign(W, theta, y):
    return 2 * W.T @ (y - W @ theta)


@MISTAKES.add("grad_least_squares", name="row instead of column",
              hint="Your answer is the derivative ∂f/∂θ, a row (1, D). The gradient is a column shaped like "
                   "θ (D, 1).")
def least_squares_row(W, theta, y):
    return 2 * (W @ theta - y).T @ W


@MISTAKES.add("d_bce_logit", name="derivative with respect to ŷ, not z",
              hint="−y/ŷ + (1 − y)/(1 − ŷ) is ∂BCE/∂ŷ. The chain rule through ŷ = σ(z) multiplies it by σ'(z); "
                   "then simplify.")
def bce_wrt_prediction(z, y):
    p = _sigmoid(z)
    return -y / p + (1 - y) / (1 - p)


@MISTAKES.add("d_bce_logit", name="deck 004's BCE without brackets",
              hint="Deck 004 prints J = −(1/n) Σ y log ŷ + (1 − y) log(1 − ŷ): the minus sign must cover "
                   "both terms, −[y log ŷ + (1 − y) log(1 − ŷ)].")
def bce_no_brackets(z, y):
    p = _sigmoid(z)
    return -y * (1 - p) - (1 - y) * p


@MISTAKES.add("d_bce_logit", name="y − σ(z)",
              hint="That is the negative gradient (the descent direction), not the derivative of the loss.")
def bce_sign(z, y):
    return y - _sigmoid(z)
