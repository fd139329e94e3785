"""Common mistakes in PCA, each with the hint a student should see.

Every variant is the reference with one thing done wrong. Those that change the covariance change
every function built on it, so they replace ``covariance``, ``principal_axes`` and
``explained_variance_ratio`` together.
"""

from __future__ import annotations

import torch

from grader.mistakes import MistakeBook
from reference.pca import _eig_descending, covariance

CANARY = "dlg-canary-mistakes-pca-9a91791e1870254e"  # never in a kit (tests/kit)

MISTAKES = MistakeBook("pca")


def _axes_from(C: torch.Tensor, P: int) -> tuple[torch.Tensor, torch.Tensor]:
    evals, evecs = _eig_descending(C)
    return evecs[:, :P], evals[:P]


def _ratio_from(C: torch.Tensor, P: int) -> torch.Tensor:
    evals, _ = _eig_descending(C)
    return evals[:P] / evals.sum()


# -- the covariance ---------------------------------------------------------------------------------
def _cov_unbiased(X):
    return covariance(X) * X.shape[0] / (X.shape[0] - 1)


MISTAKES.add_variant(
    "cov_n_minus_1", name="1/(N − 1) covariance instead of 1/N",
    hint="This exercise uses the maximum-likelihood covariance C = (1/N) Σ (x_n − μ)(x_n − μ)ᵀ, as deck 001 "
         "does. Dividing by N − 1 (the unbiased estimate, torch.cov's default) is also common, but it scales "
         "C and every eigenvalue by N/(N − 1). The axes and the explained-variance ratios do not change.",
    covariance=_cov_unbiased,
    principal_axes=lambda X, P: _axes_from(_cov_unbiased(X), P))


def _cov_uncentred(X):
    return X.T @ X / X.shape[0]


MISTAKES.add_variant(
    "no_centring", name="data not centred",
    hint="Subtract the mean first: C = (1/N) Σ (x_n − μ)(x_n − μ)ᵀ. Without it XᵀX/N is the second moment "
         "about the origin, and for data far from the origin its first axis points at the mean, not along "
         "the direction of largest variance.",
    covariance=_cov_uncentred,
    principal_axes=lambda X, P: _axes_from(_cov_uncentred(X), P),
    explained_variance_ratio=lambda X, P: _ratio_from(_cov_uncentred(X), P))


# -- the axes ---------------------------------------------------------------------------------------
@MISTAKES.add("principal_axes", name="axes in ascending order",
              hint="torch.linalg.eigh returns the eigenvalues in ascending order. You kept the P largest "
                   "but in that order: flip them (and the columns of V with them) so that λ₁ ≥ λ₂ ≥ … and "
                   "V[:, 0] is the direction of largest variance.")
def axes_ascending(X, P):
    evals, evecs = torch.linalg.eigh(covariance(X))
    return evecs[:, -P:], evals[-P:]


@MISTAKES.add("principal_axes", name="smallest eigenvalues kept",
              hint="torch.linalg.eigh returns the eigenvalues in ascending order, so its first P columns "
                   "are the directions of *least* variance. The principal axes are the eigenvectors of the "
                   "P largest eigenvalues.")
def smallest_axes(X, P):
    evals, evecs = torch.linalg.eigh(covariance(X))
    return evecs[:, :P], evals[:P]


@MISTAKES.add("principal_axes", name="eigenvectors taken as rows",
              hint="torch.linalg.eigh (like numpy.linalg.eigh) returns the eigenvectors as the *columns* of "
                   "its second output: v_i = evecs[:, i]. evecs[i] is a row, which is not an eigenvector.")
def eigenvectors_as_rows(X, P):
    evals, evecs = _eig_descending(covariance(X))
    return evecs[:P, :].T, evals[:P]


# -- project and reconstruct ------------------------------------------------------------------------
@MISTAKES.add("project", name="no centring in project",
              hint="The coordinates on the axes are taken from the mean: Z = (X − μ) V. X V measures from "
                   "the origin instead.")
def project_not_centred(X, V, mu):
    return X @ V


@MISTAKES.add("reconstruct", name="μ missing in reconstruct",
              hint="project removed the mean, so reconstruct must add it back: X̂ = Z Vᵀ + μ.")
def reconstruct_without_mean(Z, V, mu):
    return Z @ V.T


# -- the explained variance -------------------------------------------------------------------------
@MISTAKES.add("explained_variance_ratio", name="ratio over the kept components only",
              hint="The explained-variance ratio of axis i is λ_i divided by the *total* variance, the sum of "
                   "all D eigenvalues (the trace of C), not by the sum of the P kept ones: the ratios of the "
                   "kept axes add up to less than 1 unless nothing is lost.")
def ratio_over_kept(X, P):
    evals, _ = _eig_descending(covariance(X))
    return evals[:P] / evals[:P].sum()


@MISTAKES.add("explained_variance_ratio", name="variances instead of ratios",
              hint="explained_variance_ratio returns fractions of the total variance, λ_i / Σ_j λ_j, between "
                   "0 and 1; the eigenvalues λ_i themselves are the explained variances.")
def variances_not_ratios(X, P):
    evals, _ = _eig_descending(covariance(X))
    return evals[:P]
