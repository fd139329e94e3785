"""Reference solution of the `jacobians` exercise (deck 001, "Exercises: Jacobians").

The simple perceptron on one sample:  a = W x + b,  y = σ(a),  with W (N, D), b (N,), x (D,).

Every Jacobian is in numerator layout: J[i, j] = ∂(output)_i / ∂(input)_j, shape (N_out, N_in).
Each function is the chain rule written out: the forward value it needs, then the local derivative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

CANARY = "dlg-canary-reference-jacobians-253c2a1e19d34429"  # never in a kit (tests/kit)

if TYPE_CHECKING:
    from collections.abc import Callable


def _pre_activation(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # forward: a = W x + b, shape (N,)
    return W @ x + b


def _sigmoid_prime(a: torch.Tensor) -> torch.Tensor:
    # σ'(a) = σ(a)(1 − σ(a)): written with σ itself, so it never overflows for large |a|
    s = torch.sigmoid(a)
    return s * (1 - s)


def _eye(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.eye(n, dtype=like.dtype, device=like.device)


# -- a = W x + b ----------------------------------------------------------------------------------
def jac_a_x(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂a/∂x = W, shape (N, D): row i is the gradient of a_i = ŵ_iᵀx + b_i, i.e. the row ŵ_iᵀ of W."""
    return W.clone()  # a copy: the caller may modify the Jacobian without touching W


def jac_a_b(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂a/∂b = I_N, shape (N, N): a_i depends on b_i alone, with slope 1."""
    return _eye(b.shape[0], b)


def jac_a_wd(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, d: int) -> torch.Tensor:
    """∂a/∂w_d = x_d I_N, shape (N, N), where w_d is column d of W (0-based).

    a = Σ_d w_d x_d + b, so the column w_d enters a only through the term x_d w_d.
    """
    return x[d] * _eye(W.shape[0], W)


# -- y = σ(a) -------------------------------------------------------------------------------------
def jac_y_a(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂y/∂a = diag σ'(a) at a = W x + b, shape (N, N): σ acts entry by entry, so y_i sees a_i only."""
    return torch.diag(_sigmoid_prime(_pre_activation(W, b, x)))


def jac_y_x(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂y/∂x = ∂y/∂a · ∂a/∂x = diag σ'(Wx + b) W, shape (N, D).

    diag(s) W scales row i of W by s_i: computed as a broadcast instead of building the diagonal.
    """
    s = _sigmoid_prime(_pre_activation(W, b, x))
    return s[:, None] * W


def jac_y_b(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂y/∂b = ∂y/∂a · ∂a/∂b = diag σ'(Wx + b) · I_N, shape (N, N)."""
    return jac_y_a(W, b, x)


def jac_y_wd(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, d: int) -> torch.Tensor:
    """∂y/∂w_d = ∂y/∂a · ∂a/∂w_d = x_d diag σ'(Wx + b), shape (N, N). σ' is taken at the whole a."""
    return x[d] * jac_y_a(W, b, x)


# -- finite differences ---------------------------------------------------------------------------
def numerical_jacobian(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """Central differences: column j is (f(x + ε e_j) − f(x − ε e_j)) / (2ε), shape (N, D).

    The error of a central difference is O(ε²) (the even terms of the Taylor series cancel), against
    O(ε) for a one-sided one. Column j is the derivative with respect to x_j: numerator layout.
    """
    columns = []
    for j in range(x.shape[0]):
        step = torch.zeros_like(x)
        step[j] = eps
        columns.append((f(x + step) - f(x - step)) / (2 * eps))
    return torch.stack(columns, dim=1)
