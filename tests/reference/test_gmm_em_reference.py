"""reference/gmm_em.py against independent oracles: scipy.stats.multivariate_normal for the density,
torch.distributions (a MixtureSameFamily) for the log-likelihood and posteriors, and a direct numpy
M-step."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from reference import gmm_em as ref


def mixture(K=3, D=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    pi = torch.rand(K, generator=g, dtype=torch.float64) + 0.5
    means = 3 * torch.randn(K, D, generator=g, dtype=torch.float64)
    A = torch.randn(K, D, D, generator=g, dtype=torch.float64)
    covs = A @ A.transpose(1, 2) / D + 0.3 * torch.eye(D, dtype=torch.float64)
    X = 3 * torch.randn(20, D, generator=g, dtype=torch.float64)
    return X, pi / pi.sum(), means, covs


@pytest.mark.parametrize("D", [1, 2, 4])
def test_log_gaussian_is_scipy_logpdf(D):
    X, _, means, covs = mixture(D=D, seed=D)
    ours = ref.log_gaussian(X, means[0], covs[0])
    theirs = scipy.stats.multivariate_normal(means[0].numpy(), covs[0].numpy()).logpdf(X.numpy())
    np.testing.assert_allclose(ours.numpy(), np.atleast_1d(theirs), rtol=1e-10)


def test_e_step_and_log_likelihood_match_torch_distributions():
    X, pi, means, covs = mixture(seed=3)
    gmm = MixtureSameFamily(Categorical(probs=pi), MultivariateNormal(means, covariance_matrix=covs))
    torch.testing.assert_close(ref.log_likelihood(X, pi, means, covs), gmm.log_prob(X).sum())
    joint = MultivariateNormal(means, covariance_matrix=covs).log_prob(X[:, None, :]) + pi.log()
    torch.testing.assert_close(ref.e_step(X, pi, means, covs), torch.softmax(joint, dim=1))


def test_e_step_is_finite_far_from_every_component():
    X, pi, means, covs = mixture(seed=4)
    far = torch.tensor([[1e3, -1e3], [5e2, 0.0]], dtype=torch.float64)
    resp = ref.e_step(torch.cat([X, far]), pi, means, covs)
    assert bool(torch.isfinite(resp).all())
    torch.testing.assert_close(resp.sum(1), torch.ones(22, dtype=torch.float64))


def test_m_step_matches_numpy():
    X, _, _, _ = mixture(seed=5)
    g = torch.Generator().manual_seed(6)
    r = torch.rand(20, 3, generator=g, dtype=torch.float64)
    r = r / r.sum(1, keepdim=True)
    pi, means, covs = ref.m_step(X, r, reg=0.05)
    x, rn = X.numpy(), r.numpy()
    for k in range(3):
        w = rn[:, k]
        mu = (w[:, None] * x).sum(0) / w.sum()
        cov = np.cov(x.T, aweights=w, bias=True) + 0.05 * np.eye(2)
        np.testing.assert_allclose(means[k].numpy(), mu, rtol=1e-12)
        np.testing.assert_allclose(covs[k].numpy(), cov, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pi.numpy(), rn.mean(0), rtol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fit_never_decreases_and_keeps_the_dtype(dtype):
    X, pi, means, covs = (t.to(dtype) for t in mixture(seed=7))
    pi_, means_, covs_, history = ref.fit(X, pi, means, covs, n_iter=30, tol=-1.0)
    assert history.shape == (30,) and history.dtype == dtype and means_.dtype == dtype
    assert bool((history[1:] - history[:-1] >= -1e-3).all())
    torch.testing.assert_close(pi_.sum(), torch.tensor(1.0, dtype=dtype))
