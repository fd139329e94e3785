"""Reference solution: principal component analysis (deck 001, "Principal Component Analysis").

Rows of ``X (N, D)`` are samples. With μ = (1/N) Σ_n x_n:

    C = (1/N) Σ_n (x_n − μ)(x_n − μ)ᵀ          the maximum-likelihood covariance, (D, D)
    C v_i = λ_i v_i,  λ_1 ≥ λ_2 ≥ … ≥ λ_D ≥ 0    C is symmetric: orthonormal eigenvectors
    z_n = Vᵀ (x_n − μ)                          coordinates on the P dominant axes V = [v_1 … v_P]
    x̂_n = V z_n + μ                             the reconstruction

Each v_i is defined only up to its sign, and when λ_i = λ_{i+1} only their span is defined.
"""

from __future__ import annotations

import torch

CANARY = "dlg-canary-reference-pca-606e02fd1d1d85ec"  # never in a kit (tests/kit)


def covariance(X: torch.Tensor) -> torch.Tensor:
    """``(1/N) Σ (x_n − μ)(x_n − μ)ᵀ``, shape ``(D, D)``.

    Centring first and then multiplying stays accurate for data far from the origin; the expanded
    form E[xxᵀ] − μμᵀ subtracts two huge, nearly equal numbers.
    """
    Xc = X - X.mean(dim=0)
    return Xc.T @ Xc / X.shape[0]


def _eig_descending(C: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues of the symmetric C in decreasing order, with their eigenvectors as columns.

    torch.linalg.eigh returns them in *ascending* order: flip both.
    """
    evals, evecs = torch.linalg.eigh(C)
    return evals.flip(0), evecs.flip(1)


def principal_axes(X: torch.Tensor, P: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(V, eigvals)``: the P dominant eigenvectors of the covariance as the columns of ``V (D, P)``,
    and their eigenvalues ``(P,)`` in decreasing order."""
    evals, evecs = _eig_descending(covariance(X))
    return evecs[:, :P], evals[:P]


def project(X: torch.Tensor, V: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """``Z = (X − μ) V``, shape ``(N, P)``: for one sample, z = Vᵀ(x − μ)."""
    return (X - mu) @ V


def reconstruct(Z: torch.Tensor, V: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """``X̂ = Z Vᵀ + μ``, shape ``(N, D)``: back to the data space, the mean added back."""
    return Z @ V.T + mu


def explained_variance_ratio(X: torch.Tensor, P: int) -> torch.Tensor:
    """``λ_i / Σ_j λ_j`` for the P dominant eigenvalues: the denominator sums *all* D eigenvalues
    (it is the trace of C, the total variance), not only the P kept ones."""
    evals, _ = _eig_descending(covariance(X))
    return evals[:P] / evals.sum()
