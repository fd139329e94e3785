"""Common wrong derivatives, written the way a student would, each with the hint they should see.

Three come from the slides themselves (see shared/CONVENTIONS.md, "Known errors in the slides"):
deck 004's tanh'(z) = g(z)(1 − g(z)), deck 003's Tanh(x) := (e^{−x} − eˣ)/(e^{−x} + eˣ), which is −tanh,
and deck 004's BCE printed without brackets.
"""

from __future__ import annotations

import sympy as sp

from grader.mistakes import MistakeBook

MISTAKES = MistakeBook("derivatives")


def _sigmoid(x):
    return 1 / (1 + sp.exp(-x))


@MISTAKES.add("d_sigmoid", name="σ instead of σ'",
              hint="That is σ(x) itself. Its derivative is σ(x)(1 − σ(x)).")
def sigmoid_value(x):
    return _sigmoid(x)


@MISTAKES.add("d_sigmoid", name="chain rule through e^{−x} forgotten",
              hint="The derivative of e^{−x} is −e^{−x}: with the −1 from the inner −x, "
                   "σ'(x) = +e^{−x}/(1 + e^{−x})².")
def sigmoid_inner_sign(x):
    return -sp.exp(-x) / (1 + sp.exp(-x)) ** 2


@MISTAKES.add("d_tanh", name="deck 004's tanh' = g(1 − g)",
              hint="g(1 − g) is the sigmoid's derivative. Deck 004 prints it for tanh too, which is a slide "
                   "error: tanh'(x) = 1 − tanh²(x).")
def tanh_slide_004(x):
    return sp.tanh(x) * (1 - sp.tanh(x))


@MISTAKES.add("d_tanh", name="deck 003's Tanh, which is −tanh",
              hint="Deck 003 defines Tanh(x) := (e^{−x} − eˣ)/(e^{−x} + eˣ), which is −tanh(x), so its "
                   "derivative has the wrong sign. With tanh(x) = (eˣ − e^{−x})/(eˣ + e^{−x}): 1 − tanh²(x).")
def tanh_slide_003(x):
    minus_tanh = (sp.exp(-x) - sp.exp(x)) / (sp.exp(-x) + sp.exp(x))
    return minus_tanh ** 2 - 1


@MISTAKES.add("d_tanh", name="the square is missing",
              hint="tanh'(x) = 1 − tanh²(x): the tanh is squared.")
def tanh_no_square(x):
    return 1 - sp.tanh(x)


@MISTAKES.add("d_relu", name="step flipped",
              hint="ReLU(x) = max(0, x) has slope 1 for x > 0 and 0 for x < 0: H(x), not H(−x).")
def relu_step_flipped(x):
    return sp.Heaviside(-x, 0)


@MISTAKES.add("d_softplus", name="chain rule through log(1 + eˣ) forgotten",
              hint="d/dx log(u) = u'/u with u = 1 + eˣ and u' = eˣ: eˣ/(1 + eˣ) = σ(x), not 1/(1 + eˣ).")
def softplus_no_chain(x):
    return 1 / (1 + sp.exp(x))


@MISTAKES.add("grad_affine", name="gradient written as a row",
              hint="A gradient has the shape of its variable: x is a column (D, 1), so ∇ₓ(b + wᵀx) = w, "
                   "not wᵀ.")
def affine_row(w, x, b):
    return w.T


@MISTAKES.add("grad_sq_norm", name="factor 2 missing",
              hint="∂(x_d²)/∂x_d = 2x_d: the gradient of ‖x‖² is 2x.")
def sq_norm_no_two(x):
    return x


@MISTAKES.add("grad_least_squares", name="factor 2 missing",
              hint="The gradient of ‖Wθ − y‖² is 2Wᵀ(Wθ − y): the 2 from the square is missing.")
def least_squares_no_two(W, theta, y):
    return W.T @ (W @ theta - y)


@MISTAKES.add("grad_least_squares", name="residual sign flipped",
              hint="With r = Wθ − y, ∂r/∂θ = +W: the gradient is 2Wᵀ(Wθ − y), not 2Wᵀ(y − Wθ).")
def least_squares_residual_sign(W, theta, y):
    return 2 * W.T @ (y - W @ theta)


@MISTAKES.add("grad_least_squares", name="row instead of column",
              hint="2(Wθ − y)ᵀW is the derivative ∂f/∂θ, a row (1, D). The gradient is its transpose, "
                   "2Wᵀ(Wθ − y), shaped like θ (D, 1).")
def least_squares_row(W, theta, y):
    return 2 * (W @ theta - y).T @ W


@MISTAKES.add("d_bce_logit", name="derivative with respect to ŷ, not z",
              hint="−y/ŷ + (1 − y)/(1 − ŷ) is ∂BCE/∂ŷ. The chain rule through ŷ = σ(z) multiplies it by "
                   "σ'(z) = ŷ(1 − ŷ), which gives σ(z) − y.")
def bce_wrt_prediction(z, y):
    p = _sigmoid(z)
    return -y / p + (1 - y) / (1 - p)


@MISTAKES.add("d_bce_logit", name="deck 004's BCE without brackets",
              hint="Deck 004 prints J = −(1/n) Σ y log ŷ + (1 − y) log(1 − ŷ): the minus sign must cover "
                   "both terms, −[y log ŷ + (1 − y) log(1 − ŷ)]. Then ∂/∂z = σ(z) − y.")
def bce_no_brackets(z, y):
    p = _sigmoid(z)
    return -y * (1 - p) - (1 - y) * p


@MISTAKES.add("d_bce_logit", name="y − σ(z)",
              hint="That is the negative gradient (the descent direction). The derivative of the loss is "
                   "σ(z) − y.")
def bce_sign(z, y):
    return y - _sigmoid(z)
