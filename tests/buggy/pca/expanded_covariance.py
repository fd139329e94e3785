# allowed-diagnoses:
"""Covariance by the expanded formula E[xxᵀ] − μμᵀ: right on paper, but it cancels catastrophically for
data far from the origin in float32."""
import torch


def covariance(X):
    mu = X.mean(0)
    return X.T @ X / X.shape[0] - torch.outer(mu, mu)


def principal_axes(X, P):
    evals, evecs = torch.linalg.eigh(covariance(X))
    return evecs[:, -P:].flip(1), evals[-P:].flip(0)


def project(X, V, mu):
    return (X - mu) @ V


def reconstruct(Z, V, mu):
    return Z @ V.T + mu


def explained_variance_ratio(X, P):
    evals = torch.linalg.eigvalsh(covariance(X)).flip(0)
    return evals[:P] / evals.sum()
