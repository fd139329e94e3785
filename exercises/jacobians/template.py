"""Jacobians of the simple perceptron  a = W x + b,  y = σ(a).

W (N, D), b (N,), x (D,): one sample, 1-D vectors. σ is the logistic sigmoid 1/(1 + e^(−a)).
Every Jacobian is in numerator layout: J[i, j] = ∂(output)_i / ∂(input)_j, one row per output.
Return tensors with the dtype and device of the inputs, and do not modify the inputs in place.
torch.autograd, torch.func and .backward() are not allowed: derive the Jacobians by hand.
"""

import torch


def jac_a_x(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂a/∂x, shape (N, D)."""
    raise NotImplementedError


def jac_a_b(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂a/∂b, shape (N, N)."""
    raise NotImplementedError


def jac_a_wd(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, d: int) -> torch.Tensor:
    """∂a/∂w_d, where w_d = W[:, d] is column d of W (d counted from 0). Shape (N, N)."""
    raise NotImplementedError


def jac_y_a(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂y/∂a at a = W x + b, shape (N, N)."""
    raise NotImplementedError


def jac_y_x(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂y/∂x, shape (N, D)."""
    raise NotImplementedError


def jac_y_b(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂y/∂b, shape (N, N)."""
    raise NotImplementedError


def jac_y_wd(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, d: int) -> torch.Tensor:
    """∂y/∂w_d, where w_d = W[:, d] (d counted from 0). Shape (N, N)."""
    raise NotImplementedError


def numerical_jacobian(f, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The Jacobian of f at x by central finite differences, shape (N, D).

    f maps a tensor of shape (D,) to a tensor of shape (N,). Column j approximates ∂f/∂x_j.
    """
    raise NotImplementedError
