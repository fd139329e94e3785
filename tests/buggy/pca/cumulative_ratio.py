# allowed-diagnoses:
"""Returns the cumulative explained-variance ratio (what a scree plot shows) instead of each axis' share."""
import torch


def covariance(X):
    Xc = X - X.mean(0)
    return Xc.T @ Xc / X.shape[0]


def principal_axes(X, P):
    evals, evecs = torch.linalg.eigh(covariance(X))
    order = torch.argsort(evals, descending=True)[:P]
    return evecs[:, order], evals[order]


def project(X, V, mu):
    return (X - mu) @ V


def reconstruct(Z, V, mu):
    return Z @ V.T + mu


def explained_variance_ratio(X, P):
    lam = torch.sort(torch.linalg.eigvalsh(covariance(X)), descending=True).values
    return torch.cumsum(lam / lam.sum(), 0)[:P]
