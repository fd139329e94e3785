"""reference/pca.py against independent oracles: numpy.cov (bias=True), numpy.linalg.svd of the centred
data, and the definition of the projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference import pca as ref

DTYPES = [torch.float64, torch.float32]


def data(N, D, dtype, seed=0, offset=0.0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D, generator=g, dtype=torch.float64) * torch.linspace(0.5, 3.0, D, dtype=torch.float64)
    return (X + offset).to(dtype)


def tol(dtype):
    return {"rtol": 1e-10, "atol": 1e-10} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N, D", [(30, 4), (5, 8), (2, 3)])
def test_covariance_is_numpy_cov_with_bias(N, D, dtype):
    X = data(N, D, dtype, offset=5.0)
    C = ref.covariance(X)
    assert C.dtype == dtype and C.shape == (D, D)
    np.testing.assert_allclose(C.double().numpy(), np.cov(X.double().numpy().T, bias=True), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N, D, P", [(40, 5, 3), (6, 9, 3), (20, 4, 4)])
def test_axes_and_eigenvalues_match_the_svd_of_the_centred_data(N, D, P, dtype):
    X = data(N, D, dtype, seed=N)
    V, lam = ref.principal_axes(X, P)
    assert V.shape == (D, P) and lam.shape == (P,) and V.dtype == dtype
    Xc = X.double().numpy() - X.double().numpy().mean(0)
    _, S, Wt = np.linalg.svd(Xc, full_matrices=False)
    np.testing.assert_allclose(lam.double().numpy(), (S**2 / N)[:P], **tol(dtype))
    signs = np.sign(np.sum(V.double().numpy() * Wt[:P].T, axis=0))
    np.testing.assert_allclose(V.double().numpy() * signs, Wt[:P].T, rtol=1e-3, atol=1e-4)
    assert bool((lam[:-1] >= lam[1:]).all())


def test_project_reconstruct_and_ratio():
    X = data(25, 6, torch.float64, offset=-3.0)
    mu = X.mean(0)
    V, lam = ref.principal_axes(X, 6)
    Z = ref.project(X, V, mu)
    np.testing.assert_allclose(ref.reconstruct(Z, V, mu).numpy(), X.numpy(), atol=1e-10)  # all axes: exact
    np.testing.assert_allclose(Z.var(0, unbiased=False).numpy(), lam.numpy(), rtol=1e-10)
    ratio = ref.explained_variance_ratio(X, 2)
    total = np.trace(np.cov(X.numpy().T, bias=True))
    np.testing.assert_allclose(ratio.numpy(), lam[:2].numpy() / total, rtol=1e-10)
