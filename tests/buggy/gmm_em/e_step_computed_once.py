# allowed-diagnoses:
"""fit computes the responsibilities once, before the loop, and never updates them."""
import torch

from reference.gmm_em import e_step, log_gaussian, log_likelihood, m_step  # noqa: F401


def fit(X, pi, means, covs, n_iter=100, tol=1e-6):
    resp = e_step(X, pi, means, covs)
    history = []
    for _ in range(n_iter):
        pi, means, covs = m_step(X, resp)
        history.append(log_likelihood(X, pi, means, covs))
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol:
            break
    return pi, means, covs, torch.stack(history)
