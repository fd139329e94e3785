"""Reference solution of the `least_squares` exercise.

Deck 001 "Exercise: Least Squares" and "Fitting an affine model via least squares", deck 003 ridge.
W (T, D) is the design matrix (one row per sample), theta (D,), y (T,).
"""

from __future__ import annotations

import torch

CANARY = "dlg-canary-reference-least_squares-a0244224365f7dee"  # never in a kit (tests/kit)


def _residual(W: torch.Tensor, theta: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # forward: r = Wθ − y, shape (T,)
    return W @ theta - y


def _affine_design(x: torch.Tensor) -> torch.Tensor:
    # row t is w_t = [x_t, 1], so that w_tᵀθ = a x_t + b for θ = [a, b]
    return torch.stack([x, torch.ones_like(x)], dim=1)


def _qr_solve(W: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # W = QR with Q (T, D) orthonormal and R (D, D) upper triangular. The normal equations
    # WᵀWθ = Wᵀy become RᵀRθ = RᵀQᵀy, i.e. Rθ = Qᵀy. WᵀW is never formed, so the conditioning
    # stays cond(R) = cond(W), and not cond(WᵀW) = cond(W)².
    Q, R = torch.linalg.qr(W)
    return torch.linalg.solve_triangular(R, (Q.T @ y)[:, None], upper=True)[:, 0]


def ls_loss(W: torch.Tensor, theta: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """f(θ) = ‖Wθ − y‖², a sum over the T samples (no 1/T). A 0-dim tensor."""
    r = _residual(W, theta, y)
    return (r * r).sum()


def ls_grad(W: torch.Tensor, theta: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇f(θ) = 2Wᵀ(Wθ − y), shape (D,).

    Chain rule with r = Wθ − y: ∂f/∂r = 2rᵀ (1×T) and ∂r/∂θ = W (T×D), so ∂f/∂θ = 2rᵀW (1×D),
    and the gradient is its transpose, shaped like θ.
    """
    return 2 * (W.T @ _residual(W, theta, y))


def ls_solve(W: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """argmin_θ ‖Wθ − y‖² for W of full column rank (T ≥ D), shape (D,), via a QR factorisation."""
    return _qr_solve(W, y)


def fit_affine(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) minimising g(θ) = (1/T) Σ_t (a x_t + b − y_t)², as two 0-dim tensors.

    g = (1/T)‖Wθ − y‖² with rows w_t = [x_t, 1]: the factor 1/T does not move the minimiser.
    """
    theta = ls_solve(_affine_design(x), y)
    return theta[0], theta[1]


def affine_grad(x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """∇g(θ) = (2/T) Wᵀ(Wθ − y), shape (2,), with rows w_t = [x_t, 1] and θ = [a, b].

    g is the mean of the squared errors, so its gradient is ls_grad divided by T.
    """
    W = _affine_design(x)
    return ls_grad(W, theta, y) / x.shape[0]


def ridge_solve(W: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """argmin_θ ‖Wθ − y‖² + λ‖θ‖² = (WᵀW + λI)⁻¹Wᵀy, shape (D,).

    The same problem as an ordinary least squares on a stacked matrix: ‖Wθ − y‖² + λ‖θ‖²
    = ‖[W; √λ I] θ − [y; 0]‖². Solving that by QR avoids forming WᵀW (see ls_solve).
    """
    D = W.shape[1]
    eye = torch.eye(D, dtype=W.dtype, device=W.device)
    W_aug = torch.cat([W, lam**0.5 * eye])
    y_aug = torch.cat([y, torch.zeros(D, dtype=y.dtype, device=y.device)])
    return _qr_solve(W_aug, y_aug)
