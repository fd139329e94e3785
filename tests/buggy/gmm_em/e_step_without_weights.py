# allowed-diagnoses:
"""The E-step forgets the mixture weights π_k (responsibilities from the densities alone)."""
import torch

from reference.gmm_em import log_gaussian, log_likelihood, m_step


def e_step(X, pi, means, covs):
    a = torch.stack([log_gaussian(X, means[k], covs[k]) for k in range(len(pi))], 1)
    return torch.softmax(a, dim=1)


def fit(X, pi, means, covs, n_iter=100, tol=1e-6):
    history = []
    for _ in range(n_iter):
        pi, means, covs = m_step(X, e_step(X, pi, means, covs))
        history.append(log_likelihood(X, pi, means, covs))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
    return pi, means, covs, torch.stack(history)
