"""A Gaussian mixture model fitted by EM.

X (N, D): one point per row. pi (K,), means (K, D), covs (K, D, D) full covariances, resp (N, K).
Every function returns tensors with the dtype and device of its inputs. Do not modify the inputs in place.
sklearn.mixture is not allowed.
"""

import torch


def log_gaussian(X: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """log N(x_n; mean, cov) for every row x_n of X, shape (N,). mean (D,), cov (D, D)."""
    raise NotImplementedError


def e_step(X: torch.Tensor, pi: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """Responsibilities r (N, K): r_nk = π_k N(x_n; c_k, Σ_k) / Σ_j π_j N(x_n; c_j, Σ_j).
    Compute them in the log domain: they must stay finite for points far from every component."""
    raise NotImplementedError


def m_step(X: torch.Tensor, resp: torch.Tensor,
           reg: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(pi, means, covs) from the responsibilities: with r̄_k = Σ_n r_nk, π_k = r̄_k / N,
    c_k = Σ_n r_nk x_n / r̄_k, Σ_k = Σ_n r_nk (x_n − c_k)(x_n − c_k)ᵀ / r̄_k + reg·I."""
    raise NotImplementedError


def log_likelihood(X: torch.Tensor, pi: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """Σ_n log Σ_k π_k N(x_n; c_k, Σ_k), a 0-dim tensor."""
    raise NotImplementedError


def fit(X: torch.Tensor, pi: torch.Tensor, means: torch.Tensor, covs: torch.Tensor, n_iter: int = 100,
        tol: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """EM from the given start, at most n_iter iterations (E-step then M-step), stopping when the
    log-likelihood gains less than tol. Returns (pi, means, covs, history): history (n,) holds the
    log-likelihood after each iteration."""
    raise NotImplementedError
