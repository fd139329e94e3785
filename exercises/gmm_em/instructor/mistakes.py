"""Common mistakes in EM for a Gaussian mixture, each with the hint a student should see.

A mistake in one piece (the log-density, the normalisation of the responsibilities, the M-step, the
log-likelihood) shows in every function built on it, so each variant is a whole API assembled by
``_api`` from the reference's pieces with one of them replaced.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from grader.mistakes import MistakeBook
from reference import gmm_em as ref

CANARY = "dlg-canary-mistakes-gmm_em-ceabcc12a09a09b0"  # never in a kit (tests/kit)

MISTAKES = MistakeBook("gmm_em")


def _normalise_rows(a: torch.Tensor) -> torch.Tensor:
    return torch.exp(a - torch.logsumexp(a, dim=1, keepdim=True))


def _api(*, log_gaussian: Callable = ref.log_gaussian, responsibilities: Callable = _normalise_rows,
         m_step: Callable = ref.m_step,
         total: Callable = lambda a: torch.logsumexp(a, dim=1).sum()) -> dict[str, Callable]:
    """The student API with some pieces replaced (``a`` is the (N, K) matrix of log π_k + log N(x_n; …))."""

    def log_weighted(X, pi, means, covs):
        return torch.stack([torch.log(pi[k]) + log_gaussian(X, means[k], covs[k]) for k in range(pi.shape[0])], 1)

    def e_step(X, pi, means, covs):
        return responsibilities(log_weighted(X, pi, means, covs))

    def log_likelihood(X, pi, means, covs):
        return total(log_weighted(X, pi, means, covs))

    def fit(X, pi, means, covs, n_iter=100, tol=1e-6):
        history = []
        for _ in range(n_iter):
            pi, means, covs = m_step(X, e_step(X, pi, means, covs))
            history.append(log_likelihood(X, pi, means, covs))
            if len(history) > 1 and float(history[-1] - history[-2]) < tol:
                break
        return pi, means, covs, torch.stack(history)

    return {"log_gaussian": log_gaussian, "e_step": e_step, "m_step": m_step, "log_likelihood": log_likelihood,
            "fit": fit}


def _log_gaussian_with(*, log_det_factor: float = 1.0, inverse: bool = True, d_in_2pi: bool = True) -> Callable:
    def log_gaussian(X, mean, cov):
        D = X.shape[1]
        diff = X - mean
        M = torch.linalg.inv(cov) if inverse else cov
        maha = ((diff @ M) * diff).sum(dim=1)
        log_det = log_det_factor * torch.logdet(cov)
        return -0.5 * ((D if d_in_2pi else 1) * math.log(2 * math.pi) + log_det + maha)

    return log_gaussian


def _m_step_with(*, divide_by_n: bool = False, overall_mean: bool = False, normalise_pi: bool = True,
                 use_reg: bool = True) -> Callable:
    def m_step(X, resp, reg=0.0):
        N, D = X.shape
        r_bar = resp.sum(0)
        pi = r_bar / N if normalise_pi else r_bar
        means = resp.T @ X / r_bar[:, None]
        eye = torch.eye(D, dtype=X.dtype, device=X.device)
        covs = []
        for k in range(resp.shape[1]):
            diff = X - (X.mean(0) if overall_mean else means[k])
            S = (resp[:, k, None] * diff).T @ diff / (N if divide_by_n else r_bar[k])
            covs.append(S + (reg * eye if use_reg else 0 * eye))
        return pi, means, torch.stack(covs)

    return m_step


# -- the log-density --------------------------------------------------------------------------------
MISTAKES.add_variant(
    "log_det_halved", name="log-determinant wrong by a factor 2",
    hint="log N(x; c, Σ) = −½ (D log 2π + log det Σ + (x − c)ᵀ Σ⁻¹ (x − c)). With the Cholesky factor Σ = L Lᵀ, "
         "log det Σ = 2 Σ_i log L_ii: the sum of the logs of L's diagonal is only half of it.",
    **_api(log_gaussian=_log_gaussian_with(log_det_factor=0.5)))

MISTAKES.add_variant(
    "covariance_not_inverted", name="Σ instead of Σ⁻¹ in the exponent",
    hint="The squared Mahalanobis distance is (x − c)ᵀ Σ⁻¹ (x − c), with the inverse of the covariance "
         "(solve Σ z = x − c, or use the Cholesky factor), not (x − c)ᵀ Σ (x − c).",
    **_api(log_gaussian=_log_gaussian_with(inverse=False)))

MISTAKES.add_variant(
    "two_pi_not_raised_to_D", name="(2π)^D missing its power",
    hint="The normalising constant of a D-dimensional Gaussian is (2π)^(D/2) (det Σ)^(1/2): its log is "
         "½ (D log 2π + log det Σ). The D multiplies log 2π.",
    **_api(log_gaussian=_log_gaussian_with(d_in_2pi=False)))


# -- the E-step -------------------------------------------------------------------------------------
MISTAKES.add_variant(
    "responsibilities_not_normalised", name="responsibilities not normalised",
    hint="r_nk = π_k N(x_n; c_k, Σ_k) / Σ_j π_j N(x_n; c_j, Σ_j): divide each row by its sum over the K "
         "components, so that every point's responsibilities add up to 1.",
    **_api(responsibilities=torch.exp))

MISTAKES.add_variant(
    "normalised_over_points", name="responsibilities normalised over the wrong axis",
    hint="Each point shares itself among the components: the sum over k (along dim=1, the K columns) is 1 "
         "for every point n. Normalising along dim=0 makes each component's column sum to 1 instead.",
    **_api(responsibilities=lambda a: torch.exp(a - torch.logsumexp(a, dim=0, keepdim=True))))


def _naive(a: torch.Tensor) -> torch.Tensor:
    p = torch.exp(a)
    return p / p.sum(dim=1, keepdim=True)


MISTAKES.add_variant(
    "e_step_outside_log_domain", name="E-step outside the log domain", nonfinite=True,
    hint="exp(log π_k + log N(x_n; …)) underflows to 0 for every k when x_n is far from all components "
         "(N(x; c, Σ) = exp(−½ distance²)), and 0/0 gives NaN. Stay in logs: with a_nk = log π_k + log N(…), "
         "r_nk = exp(a_nk − logsumexp_j a_nj), where logsumexp subtracts the row's maximum first.",
    **_api(responsibilities=_naive))


# -- the M-step -------------------------------------------------------------------------------------
MISTAKES.add_variant(
    "covariance_divided_by_N", name="covariance divided by N instead of r̄_k",
    hint="Σ_k is the weighted average Σ_n r_nk (x_n − c_k)(x_n − c_k)ᵀ / r̄_k with r̄_k = Σ_n r_nk, the "
         "effective number of points of component k: the same denominator as the mean c_k, not N.",
    **_api(m_step=_m_step_with(divide_by_n=True)))

MISTAKES.add_variant(
    "covariance_around_overall_mean", name="covariance taken around the overall mean",
    hint="Each component's covariance is taken around its own new mean c_k = Σ_n r_nk x_n / r̄_k, not "
         "around the mean of all the data.",
    **_api(m_step=_m_step_with(overall_mean=True)))

MISTAKES.add_variant(
    "pi_not_normalised", name="mixture weights not normalised",
    hint="π_k = r̄_k / N: the weights are fractions of the N points and sum to 1. r̄_k alone sums to N.",
    **_api(m_step=_m_step_with(normalise_pi=False)))

MISTAKES.add_variant(
    "reg_ignored", name="reg ignored",
    hint="m_step(X, resp, reg) adds reg·I to every covariance (Σ_k + reg·I): it keeps a component that "
         "collapses onto a few points from becoming singular.",
    **_api(m_step=_m_step_with(use_reg=False)))


# -- the log-likelihood -----------------------------------------------------------------------------
MISTAKES.add_variant(
    "mean_log_likelihood", name="mean instead of sum in the log-likelihood",
    hint="The log-likelihood of the data is the sum over the N points, Σ_n log Σ_k π_k N(x_n; c_k, Σ_k), "
         "not their mean.",
    **_api(total=lambda a: torch.logsumexp(a, dim=1).mean()))

MISTAKES.add_variant(
    "log_likelihood_outside_log_domain", name="log-likelihood outside the log domain", nonfinite=True,
    hint="log Σ_k exp(a_nk) is −inf when every exp(a_nk) underflows (x_n far from all components). Use "
         "logsumexp: log Σ_k exp(a_nk) = m_n + log Σ_k exp(a_nk − m_n) with m_n = max_k a_nk.",
    **_api(total=lambda a: torch.log(torch.exp(a).sum(dim=1)).sum()))
