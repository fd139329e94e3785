"""Reference solution of the `derivatives` exercise (symbolic).

Deck 001 "Exercises: Simple Derivatives / Gradients", deck 004 activation functions. Each function
receives sympy symbols (scalars as ``Symbol``, vectors and matrices as ``MatrixSymbol``: w, x (D, 1),
W (T, D), theta (D, 1), y (T, 1)) and returns the derivative as a sympy expression in them.
"""

from __future__ import annotations

import sympy as sp

CANARY = "dlg-canary-reference-derivatives-7ceb6e08964d6cc9"  # never in a kit (tests/kit)


def _sigmoid(x):
    # σ(x) = 1/(1 + e^{−x}), written out: the reference needs nothing but sympy.
    return 1 / (1 + sp.exp(-x))


def d_sigmoid(x):
    """σ'(x) = e^{−x}/(1 + e^{−x})² = σ(x)(1 − σ(x))."""
    # The product form is the one backprop uses: it needs only the forward value σ(x).
    s = _sigmoid(x)
    return s * (1 - s)


def d_tanh(x):
    """tanh'(x) = 1 − tanh²(x) (= sech²(x)). Not tanh(1 − tanh): that is deck 004's slide error."""
    return 1 - sp.tanh(x) ** 2


def d_relu(x):
    """ReLU'(x) = H(x): 0 for x < 0, 1 for x > 0, and 0 at the kink by convention."""
    # sympy's Heaviside(0) is ½ unless told otherwise; ReLU'(0) = 0 is the course's (and PyTorch's) choice.
    return sp.Heaviside(x, 0)


def d_softplus(x):
    """softplus(x) = log(1 + eˣ), so softplus'(x) = eˣ/(1 + eˣ) = σ(x)."""
    return _sigmoid(x)


def grad_affine(w, x, b):
    """∇ₓ(b + wᵀx) = w: the function is linear in x, its gradient is the coefficient vector."""
    return w


def grad_sq_norm(x):
    """∇ₓ‖x‖² = 2x: each ∂(Σ x_d²)/∂x_d is 2x_d."""
    return 2 * x


def grad_least_squares(W, theta, y):
    """∇θ‖Wθ − y‖² = 2Wᵀ(Wθ − y), shape (D, 1) like θ."""
    # Chain rule with r = Wθ − y: ∂‖r‖²/∂r = 2rᵀ (1×T), ∂r/∂θ = W (T×D): the row 2rᵀW, transposed.
    return 2 * W.T @ (W @ theta - y)


def d_bce_logit(z, y):
    """∂/∂z of BCE(σ(z), y) = −[y log σ(z) + (1 − y) log(1 − σ(z))]: it is σ(z) − y."""
    # log σ(z) has derivative 1 − σ(z) and log(1 − σ(z)) has −σ(z): −[y(1 − σ) − (1 − y)σ] = σ − y.
    return _sigmoid(z) - y
