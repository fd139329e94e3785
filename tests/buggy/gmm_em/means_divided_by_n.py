# allowed-diagnoses:
"""The M-step divides the weighted sum of the points by N instead of r̄_k to get the means."""
import torch

from reference.gmm_em import e_step, log_gaussian, log_likelihood  # noqa: F401


def m_step(X, resp, reg=0.0):
    N, D = X.shape
    nk = resp.sum(0)
    means = resp.T @ X / N
    covs = torch.stack([(resp[:, k, None] * (X - means[k])).T @ (X - means[k]) / nk[k] for k in range(len(nk))])
    return nk / N, means, covs + reg * torch.eye(D, dtype=X.dtype, device=X.device)


def fit(X, pi, means, covs, n_iter=100, tol=1e-6):
    history = []
    for _ in range(n_iter):
        pi, means, covs = m_step(X, e_step(X, pi, means, covs))
        history.append(log_likelihood(X, pi, means, covs))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
    return pi, means, covs, torch.stack(history)
