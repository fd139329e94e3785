"""Least squares: loss, gradient, solvers, the affine fit and ridge.

W (T, D) is the design matrix, one row per sample; theta (D,); y (T,). Every function returns tensors
with the dtype and device of its inputs. Do not modify the inputs in place. torch.autograd,
torch.func and .backward() are not allowed: write the gradients by hand.
"""

import torch


def ls_loss(W: torch.Tensor, theta: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """f(θ) = ‖Wθ − y‖², the sum of the squared residuals (no 1/T). Returns a 0-dim tensor."""
    raise NotImplementedError


def ls_grad(W: torch.Tensor, theta: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇f(θ), the gradient of ls_loss with respect to θ. Shape (D,), like θ."""
    raise NotImplementedError


def ls_solve(W: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The θ that minimises ‖Wθ − y‖², for W of full column rank (T ≥ D). Shape (D,).

    Must stay accurate when W is ill-conditioned (cond(W) up to 1e7 in float64).
    """
    raise NotImplementedError


def fit_affine(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) minimising g(θ) = (1/T) Σ_t (a·x_t + b − y_t)², for 1-D data x (T,), y (T,).

    Returns two 0-dim tensors: the slope a, then the intercept b.
    """
    raise NotImplementedError


def affine_grad(x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """∇g(θ) for g above, at θ = (a, b). Shape (2,): (∂g/∂a, ∂g/∂b)."""
    raise NotImplementedError


def ridge_solve(W: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """The θ that minimises ‖Wθ − y‖² + λ‖θ‖², for λ > 0 (any T and D). Shape (D,)."""
    raise NotImplementedError
