"""Derivatives and gradients, by hand.

Each function receives sympy symbols and returns the derivative as a sympy expression built from them,
for example ``1 - sp.tanh(x)**2``. Scalars are ``sympy.Symbol``; vectors and matrices are
``sympy.MatrixSymbol`` (columns: x has shape (D, 1)), so use ``@`` (or ``*``) for matrix products and
``.T`` for the transpose.

You may also return a string on one line, whose names are your parameters: ``"2x e^(x^2)"``. Strings may use
σ(x) / sigma(x), H(x) / Heaviside(x), tanh, sech, exp, log, max, Piecewise((0, x < 0), (1, True)), ^ or
** for powers, Wᵀ / W.T / W^T and implicit products (2x, 2 W.T(W θ − y)).

sympy.diff and Derivative are not allowed: derive by hand, sympy only holds your formula.
"""

import sympy as sp  # noqa: F401 - for your answers: sp.exp, sp.tanh, sp.Heaviside, ...


def d_sigmoid(x):
    """σ'(x), where σ(x) = 1/(1 + e^{−x})."""
    raise NotImplementedError


def d_tanh(x):
    """tanh'(x)."""
    raise NotImplementedError


def d_relu(x):
    """ReLU'(x) for ReLU(x) = max(0, x), everywhere except at the kink x = 0."""
    raise NotImplementedError


def d_softplus(x):
    """The derivative of softplus(x) = log(1 + eˣ)."""
    raise NotImplementedError


def grad_affine(w, x, b):
    """∇ₓ f for f(x) = b + wᵀx, with w and x of shape (D, 1) and a scalar b. Shape (D, 1)."""
    raise NotImplementedError


def grad_sq_norm(x):
    """∇ₓ g for g(x) = ‖x‖² = xᵀx, x of shape (D, 1). Shape (D, 1)."""
    raise NotImplementedError


def grad_least_squares(W, theta, y):
    """∇θ ‖Wθ − y‖², for W (T, D), theta (D, 1), y (T, 1). Shape (D, 1), like theta."""
    raise NotImplementedError


def d_bce_logit(z, y):
    """∂ℓ/∂z for ℓ(z, y) = −[y log σ(z) + (1 − y) log(1 − σ(z))], the binary cross-entropy of the
    prediction ŷ = σ(z) against the label y, differentiated with respect to the logit z."""
    raise NotImplementedError
