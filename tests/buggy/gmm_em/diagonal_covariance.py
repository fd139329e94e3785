# allowed-diagnoses:
"""log_gaussian uses only the diagonal of the covariance (as if the features were independent)."""
import math

import torch

from reference.gmm_em import m_step


def log_gaussian(X, mean, cov):
    var = torch.diagonal(cov)
    return -0.5 * (X.shape[1] * math.log(2 * math.pi) + torch.log(var).sum() + (((X - mean) ** 2) / var).sum(1))


def _joint(X, pi, means, covs):
    return torch.stack([torch.log(pi[k]) + log_gaussian(X, means[k], covs[k]) for k in range(len(pi))], 1)


def e_step(X, pi, means, covs):
    a = _joint(X, pi, means, covs)
    return torch.exp(a - torch.logsumexp(a, 1, keepdim=True))


def log_likelihood(X, pi, means, covs):
    return torch.logsumexp(_joint(X, pi, means, covs), 1).sum()


def fit(X, pi, means, covs, n_iter=100, tol=1e-6):
    history = []
    for _ in range(n_iter):
        pi, means, covs = m_step(X, e_step(X, pi, means, covs))
        history.append(log_likelihood(X, pi, means, covs))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
    return pi, means, covs, torch.stack(history)
