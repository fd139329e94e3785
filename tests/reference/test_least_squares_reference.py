"""The `least_squares` reference against independent oracles: numpy, scipy, autograd, closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from reference import least_squares as ref

CONTRACT = {"ls_loss", "ls_grad", "ls_solve", "fit_affine", "affine_grad", "ridge_solve"}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float64, torch.float32]
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-4, atol=1e-5)}
SHAPES = [(7, 3), (12, 5), (3, 1), (5, 5)]


def problem(T: int, D: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*s, generator=g, dtype=torch.float64) for s in ((T, D), (D,), (T,)))


def ill_conditioned(T: int, D: int, cond: float, seed: int = 0) -> torch.Tensor:
    """W = U diag(s) Vᵀ with singular values log-spaced from 1 down to 1/cond."""
    g = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(T, D, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
    s = torch.logspace(0, -math.log10(cond), D, dtype=torch.float64)
    return U @ torch.diag(s) @ V.T


def to(device: str, dtype: torch.dtype, *ts: torch.Tensor):
    return tuple(t.to(device, dtype) for t in ts)


def check_kind(t: torch.Tensor, shape: tuple[int, ...], dtype: torch.dtype, device: str) -> None:
    assert isinstance(t, torch.Tensor)
    assert tuple(t.shape) == shape and t.dtype == dtype and t.device.type == device


def test_module_exposes_exactly_the_contract():
    public = {k for k, v in vars(ref).items() if callable(v) and not k.startswith("_")}
    assert public == CONTRACT


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("T", "D"), SHAPES)
def test_ls_loss_matches_numpy(T, D, dtype, device):
    W, theta, y = problem(T, D, seed=T * D)
    expected = np.sum((W.numpy() @ theta.numpy() - y.numpy()) ** 2)
    got = ref.ls_loss(*to(device, dtype, W, theta, y))
    check_kind(got, (), dtype, device)
    assert float(got) == pytest.approx(expected, rel=TOL[dtype]["rtol"])


def test_ls_loss_closed_form():
    W = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64)
    theta = torch.tensor([1.0, -1.0], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    # Wθ = (−1, −1, −1), residual (−1, −2, −3): 1 + 4 + 9 = 14
    assert float(ref.ls_loss(W, theta, y)) == 14.0
    # ∇ = 2Wᵀr = 2 (1·−1 + 3·−2 + 5·−3, 2·−1 + 4·−2 + 6·−3) = (−44, −56)
    torch.testing.assert_close(ref.ls_grad(W, theta, y), torch.tensor([-44.0, -56.0], dtype=torch.float64))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("T", "D"), SHAPES)
def test_ls_grad_matches_autograd(T, D, dtype, device):
    W, theta, y = problem(T, D, seed=T + D)
    th = theta.clone().requires_grad_(True)
    ((W @ th - y) ** 2).sum().backward()
    got = ref.ls_grad(*to(device, dtype, W, theta, y))
    check_kind(got, (D,), dtype, device)
    torch.testing.assert_close(got.cpu().double(), th.grad, **TOL[dtype])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("T", "D"), [(7, 3), (12, 5), (3, 1), (20, 4)])
@pytest.mark.parametrize("seed", range(3))
def test_ls_solve_matches_scipy(T, D, dtype, device, seed):
    W, _, y = problem(T, D, seed)
    expected, *_ = scipy.linalg.lstsq(W.numpy(), y.numpy())
    got = ref.ls_solve(*to(device, dtype, W, y))
    check_kind(got, (D,), dtype, device)
    # float32: the forward error of least squares grows like cond(W)² ‖r‖: allow a little more
    tol = TOL[dtype] if dtype == torch.float64 else dict(rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(got.cpu().double(), torch.from_numpy(expected), **tol)


@pytest.mark.parametrize("seed", range(10))
def test_ls_solve_stays_accurate_when_ill_conditioned(seed):
    # A consistent system y = Wθ*: a backward-stable solver recovers θ* to ≈ cond(W)·u, the normal
    # equations only to ≈ cond(W)²·u (cond 1e7: 1e-9 against 1e-2).
    cond = 1e7
    W = ill_conditioned(20, 6, cond, seed)
    assert float(torch.linalg.cond(W)) == pytest.approx(cond, rel=1e-3)
    theta_star = torch.randn(6, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64)
    y = W @ theta_star
    u = torch.finfo(torch.float64).eps
    bound = 10 * cond * u * float(theta_star.norm())
    err = float((ref.ls_solve(W, y) - theta_star).norm())
    assert err < bound
    scipy_sol, *_ = scipy.linalg.lstsq(W.numpy(), y.numpy())
    assert float(np.linalg.norm(scipy_sol - theta_star.numpy())) < bound  # the oracle agrees
    normal_eq = torch.linalg.inv(W.T @ W) @ W.T @ y
    assert float((normal_eq - theta_star).norm()) > 100 * bound  # and the test has teeth


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(3))
def test_fit_affine_matches_polyfit(seed, dtype, device):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(9, generator=g, dtype=torch.float64)
    y = 1.5 * x - 0.25 + 0.1 * torch.randn(9, generator=g, dtype=torch.float64)
    a_exp, b_exp = np.polyfit(x.numpy(), y.numpy(), 1)
    a, b = ref.fit_affine(*to(device, dtype, x, y))
    check_kind(a, (), dtype, device)
    check_kind(b, (), dtype, device)
    assert float(a) == pytest.approx(a_exp, rel=TOL[dtype]["rtol"], abs=TOL[dtype]["atol"])
    assert float(b) == pytest.approx(b_exp, rel=TOL[dtype]["rtol"], abs=TOL[dtype]["atol"])


def test_fit_affine_recovers_an_exact_line():
    x = torch.tensor([-2.0, 0.0, 1.0, 3.0], dtype=torch.float64)
    a, b = ref.fit_affine(x, 3 * x - 2)
    assert float(a) == pytest.approx(3.0) and float(b) == pytest.approx(-2.0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T", [2, 5, 11])
def test_affine_grad_is_the_gradient_of_the_mean_loss(T, dtype, device):
    g = torch.Generator().manual_seed(T)
    x, y, theta = (torch.randn(n, generator=g, dtype=torch.float64) for n in (T, T, 2))
    th = theta.clone().requires_grad_(True)
    ((th[0] * x + th[1] - y) ** 2).mean().backward()  # g(θ) = (1/T) Σ (a x_t + b − y_t)²
    got = ref.affine_grad(*to(device, dtype, x, y, theta))
    check_kind(got, (2,), dtype, device)
    torch.testing.assert_close(got.cpu().double(), th.grad, **TOL[dtype])


def test_affine_grad_vanishes_at_the_fit():
    x = torch.randn(8, dtype=torch.float64)
    y = torch.randn(8, dtype=torch.float64)
    a, b = ref.fit_affine(x, y)
    grad = ref.affine_grad(x, y, torch.stack([a, b]))
    torch.testing.assert_close(grad, torch.zeros(2, dtype=torch.float64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("T", "D", "lam"), [(7, 3, 0.5), (4, 6, 2.0), (10, 2, 0.0), (5, 5, 1e-3)])
def test_ridge_solve_matches_the_closed_form(T, D, lam, dtype, device):
    W, _, y = problem(T, D, seed=T * 10 + D)
    Wn, yn = W.numpy(), y.numpy()
    expected = np.linalg.solve(Wn.T @ Wn + lam * np.eye(D), Wn.T @ yn)
    got = ref.ridge_solve(*to(device, dtype, W, y), lam)
    check_kind(got, (D,), dtype, device)
    tol = TOL[dtype] if dtype == torch.float64 else dict(rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(got.cpu().double(), torch.from_numpy(expected), **tol)


def test_ridge_solve_zeroes_the_gradient_of_the_penalised_loss():
    W, _, y = problem(6, 4, seed=3)
    lam = 0.7
    theta = ref.ridge_solve(W, y, lam).requires_grad_(True)
    (((W @ theta - y) ** 2).sum() + lam * (theta**2).sum()).backward()
    torch.testing.assert_close(theta.grad, torch.zeros(4, dtype=torch.float64), rtol=0, atol=1e-12)


def test_ridge_with_zero_lambda_is_least_squares():
    W, _, y = problem(9, 3, seed=5)
    torch.testing.assert_close(ref.ridge_solve(W, y, 0.0), ref.ls_solve(W, y), rtol=1e-12, atol=1e-12)


def test_inputs_are_not_modified():
    W, theta, y = problem(6, 3)
    x = W[:, 0].clone()
    saved = [t.clone() for t in (W, theta, y, x)]
    ref.ls_loss(W, theta, y)
    ref.ls_grad(W, theta, y)
    ref.ls_solve(W, y)
    ref.fit_affine(x, y)
    ref.affine_grad(x, y, theta[:2])
    ref.ridge_solve(W, y, 1.0)
    for before, after in zip(saved, (W, theta, y, x), strict=True):
        assert torch.equal(before, after)
