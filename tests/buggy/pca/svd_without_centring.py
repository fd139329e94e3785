# allowed-diagnoses: no_centring
"""An SVD-based PCA that forgets to centre the data before the SVD (the covariance itself is right)."""
import torch


def covariance(X):
    Xc = X - X.mean(0)
    return Xc.T @ Xc / X.shape[0]


def principal_axes(X, P):
    _, S, Vh = torch.linalg.svd(X, full_matrices=False)
    return Vh[:P].T, S[:P] ** 2 / X.shape[0]


def project(X, V, mu):
    return (X - mu) @ V


def reconstruct(Z, V, mu):
    return Z @ V.T + mu


def explained_variance_ratio(X, P):
    lam = torch.linalg.eigvalsh(covariance(X)).flip(0)
    return lam[:P] / lam.sum()
