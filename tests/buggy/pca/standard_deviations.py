# allowed-diagnoses: scaled
"""Returns the standard deviations along the axes (singular values / √N) instead of the eigenvalues.

On the equal-eigenvalue case (λ₁ = λ₂ = 3) √λ is exactly λ times 1/√3: a "scaled" diagnosis is right there.
"""
import torch


def covariance(X):
    Xc = X - X.mean(0)
    return Xc.T @ Xc / X.shape[0]


def principal_axes(X, P):
    _, S, Vh = torch.linalg.svd(X - X.mean(0), full_matrices=False)
    return Vh[:P].T, S[:P] / X.shape[0] ** 0.5


def project(X, V, mu):
    return (X - mu) @ V


def reconstruct(Z, V, mu):
    return Z @ V.T + mu


def explained_variance_ratio(X, P):
    _, S, _ = torch.linalg.svd(X - X.mean(0), full_matrices=False)
    return (S ** 2 / (S ** 2).sum())[:P]
