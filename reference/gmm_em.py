"""Reference solution: a Gaussian mixture fitted by EM (deck 001, "Gaussian mixture models", "GMM EM").

``X (N, D)``, ``pi (K,)``, ``means (K, D)``, ``covs (K, D, D)``, ``resp (N, K)``.

    log N(x; c, Σ) = −½ (D log 2π + log det Σ + (x − c)ᵀ Σ⁻¹ (x − c))
    E-step:  r_nk = π_k N(x_n; c_k, Σ_k) / Σ_j π_j N(x_n; c_j, Σ_j)
    M-step:  r̄_k = Σ_n r_nk,  π_k = r̄_k / N,  c_k = Σ_n r_nk x_n / r̄_k,
             Σ_k = Σ_n r_nk (x_n − c_k)(x_n − c_k)ᵀ / r̄_k + reg·I
    log-likelihood = Σ_n log Σ_k π_k N(x_n; c_k, Σ_k)

Everything is computed with logarithms: a density far from its mean is exp(−½·distance²), which is 0 in
floating point long before its logarithm is large.
"""

from __future__ import annotations

import math

import torch

CANARY = "dlg-canary-reference-gmm_em-9b689a6cf9843dbe"  # never in a kit (tests/kit)


def log_gaussian(X: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``log N(x_n; mean, cov)`` for every row of X, shape ``(N,)``.

    The squared Mahalanobis distance (x − c)ᵀ Σ⁻¹ (x − c) solves Σ z = x − c instead of forming Σ⁻¹, and
    log det Σ comes from slogdet, never from det Σ itself (which under- or overflows in high dimension).
    """
    D = X.shape[1]
    diff = X - mean  # (N, D)
    z = torch.linalg.solve(cov, diff.T)  # (D, N): Σ⁻¹ (x_n − c) for every n
    mahalanobis = (diff.T * z).sum(dim=0)
    log_det = torch.linalg.slogdet(cov).logabsdet
    return -0.5 * (D * math.log(2 * math.pi) + log_det + mahalanobis)


def _log_weighted(X: torch.Tensor, pi: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """``log π_k + log N(x_n; c_k, Σ_k)``, shape ``(N, K)``: the log of the numerator of r_nk."""
    return torch.stack([torch.log(pi[k]) + log_gaussian(X, means[k], covs[k]) for k in range(pi.shape[0])], dim=1)


def e_step(X: torch.Tensor, pi: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """Responsibilities ``(N, K)``, each row summing to 1.

    log r_nk = a_nk − logsumexp_j a_nj with a_nk = log π_k + log N(x_n; c_k, Σ_k): logsumexp subtracts the
    row's maximum before exponentiating, so the largest term is exp(0) = 1 and nothing underflows to 0/0.
    """
    a = _log_weighted(X, pi, means, covs)
    return torch.exp(a - torch.logsumexp(a, dim=1, keepdim=True))


def m_step(X: torch.Tensor, resp: torch.Tensor, reg: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(pi, means, covs)`` maximising the expected complete log-likelihood for these responsibilities."""
    N, D = X.shape
    r_bar = resp.sum(dim=0)  # (K,): the effective number of points of each component
    pi = r_bar / N
    means = (resp.T @ X) / r_bar[:, None]
    eye = torch.eye(D, dtype=X.dtype, device=X.device)
    covs = []
    for k in range(resp.shape[1]):
        diff = X - means[k]  # around the component's own (new) mean
        covs.append((resp[:, k, None] * diff).T @ diff / r_bar[k] + reg * eye)
    return pi, means, torch.stack(covs)


def log_likelihood(X: torch.Tensor, pi: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """``Σ_n log Σ_k π_k N(x_n; c_k, Σ_k)``, a 0-dim tensor (a sum over the points, not a mean)."""
    return torch.logsumexp(_log_weighted(X, pi, means, covs), dim=1).sum()


def fit(X: torch.Tensor, pi: torch.Tensor, means: torch.Tensor, covs: torch.Tensor, n_iter: int = 100,
        tol: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """EM from the given start: ``(pi, means, covs, history)``, history ``(n,)`` holding the log-likelihood
    after each iteration. EM never decreases it; iterations stop when it gains less than ``tol``."""
    history = []
    for _ in range(n_iter):
        pi, means, covs = m_step(X, e_step(X, pi, means, covs))
        history.append(log_likelihood(X, pi, means, covs))
        if len(history) > 1 and float(history[-1] - history[-2]) < tol:
            break
    return pi, means, covs, torch.stack(history)
