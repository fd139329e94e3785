"""Principal component analysis.

X has shape (N, D): one sample per row. Every function returns tensors with the dtype and device of its
inputs. Do not modify the inputs in place. sklearn.decomposition is not allowed.
"""

import torch


def covariance(X: torch.Tensor) -> torch.Tensor:
    """C = (1/N) Σ_n (x_n − μ)(x_n − μ)ᵀ, shape (D, D), with μ the mean of the rows (1/N, not 1/(N − 1))."""
    raise NotImplementedError


def principal_axes(X: torch.Tensor, P: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(V, eigvals): V (D, P) has the P dominant eigenvectors of the covariance as orthonormal columns,
    eigvals (P,) their eigenvalues in decreasing order."""
    raise NotImplementedError


def project(X: torch.Tensor, V: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Z = (X − μ) V, shape (N, P). mu has shape (D,)."""
    raise NotImplementedError


def reconstruct(Z: torch.Tensor, V: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """X̂ = Z Vᵀ + μ, shape (N, D)."""
    raise NotImplementedError


def explained_variance_ratio(X: torch.Tensor, P: int) -> torch.Tensor:
    """(P,): the P largest eigenvalues of the covariance, each divided by the sum of all D eigenvalues."""
    raise NotImplementedError
