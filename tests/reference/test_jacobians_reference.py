"""The `jacobians` reference against independent oracles: torch.func.jacrev and closed forms."""

from __future__ import annotations

import pytest
import torch
from torch.func import jacrev

from reference import jacobians as ref

CONTRACT = {"jac_a_x", "jac_a_b", "jac_a_wd", "jac_y_a", "jac_y_x", "jac_y_b", "jac_y_wd",
            "numerical_jacobian"}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-6)}


def perceptron(N: int, D: int, dtype: torch.dtype = torch.float64, device: str = "cpu", seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    W, b, x = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((N, D), (N,), (D,)))
    return W.to(device, dtype), b.to(device, dtype), x.to(device, dtype)


def autograd_jacobians(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, d: int) -> dict[str, torch.Tensor]:
    """Every Jacobian of the contract, by reverse-mode autodiff of the forward pass."""

    def a_of(W_, b_, x_):
        return W_ @ x_ + b_

    def y_of(W_, b_, x_):
        return torch.sigmoid(W_ @ x_ + b_)

    a = a_of(W, b, x)
    return {
        "jac_a_x": jacrev(a_of, argnums=2)(W, b, x),
        "jac_a_b": jacrev(a_of, argnums=1)(W, b, x),
        "jac_a_wd": jacrev(a_of, argnums=0)(W, b, x)[:, :, d],  # ∂a/∂W[:, d]
        "jac_y_a": jacrev(torch.sigmoid)(a),
        "jac_y_x": jacrev(y_of, argnums=2)(W, b, x),
        "jac_y_b": jacrev(y_of, argnums=1)(W, b, x),
        "jac_y_wd": jacrev(y_of, argnums=0)(W, b, x)[:, :, d],
    }


def call(name: str, W, b, x, d):
    fn = getattr(ref, name)
    return fn(W, b, x, d) if name.endswith("_wd") else fn(W, b, x)


def test_module_exposes_exactly_the_contract():
    public = {k for k, v in vars(ref).items() if callable(v) and not k.startswith("_")}
    assert public == CONTRACT


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("N", "D"), [(3, 5), (4, 2), (1, 3), (3, 1), (4, 4)])
@pytest.mark.parametrize("seed", range(3))
def test_jacobians_match_autograd(N, D, dtype, device, seed):
    W, b, x = perceptron(N, D, dtype, device, seed)
    d = seed % D
    expected = autograd_jacobians(*(t.double() for t in (W, b, x)), d)
    for name, want in expected.items():
        got = call(name, W, b, x, d)
        assert got.shape == want.shape, name
        assert got.dtype == dtype and got.device.type == device, name
        torch.testing.assert_close(got.double(), want.to(device), **TOL[dtype], msg=name)


def test_closed_forms_at_zero_preactivation():
    # With x = 0 and b = 0, a = 0 and σ'(0) = 1/4: ∂y/∂x = W/4, ∂y/∂b = I/4, ∂y/∂w_d = 0.
    W = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]], dtype=torch.float64)
    b, x = torch.zeros(2, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    torch.testing.assert_close(ref.jac_y_x(W, b, x), W / 4)
    torch.testing.assert_close(ref.jac_y_b(W, b, x), torch.eye(2, dtype=torch.float64) / 4)
    torch.testing.assert_close(ref.jac_y_wd(W, b, x, 1), torch.zeros(2, 2, dtype=torch.float64))
    torch.testing.assert_close(ref.jac_a_wd(W, b, torch.tensor([0.0, 7.0, 0.0], dtype=torch.float64), 1),
                               7 * torch.eye(2, dtype=torch.float64))


def test_sigmoid_derivative_is_finite_for_large_preactivations():
    W = torch.tensor([[1000.0], [-1000.0]], dtype=torch.float64)
    J = ref.jac_y_a(W, torch.zeros(2, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    assert torch.isfinite(J).all() and (J >= 0).all()


def test_inputs_are_not_modified_and_jac_a_x_is_a_copy():
    W, b, x = perceptron(3, 4)
    W0, b0, x0 = W.clone(), b.clone(), x.clone()
    J = ref.jac_a_x(W, b, x)
    J.zero_()
    for name in CONTRACT - {"numerical_jacobian"}:
        call(name, W, b, x, 2)
    assert torch.equal(W, W0) and torch.equal(b, b0) and torch.equal(x, x0)


# -- numerical_jacobian ---------------------------------------------------------------------------
def nonlinear(x: torch.Tensor) -> torch.Tensor:
    """R^4 -> R^3, with nonzero second and third derivatives."""
    return torch.stack([torch.sin(x[0]) * x[1], torch.exp(0.3 * x[2]) + x[3] ** 3, x.pow(2).sum()])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", range(5))
def test_numerical_jacobian_matches_autograd_in_float64(seed, device):
    x = torch.randn(4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device)
    x0 = x.clone()
    J = ref.numerical_jacobian(nonlinear, x)
    assert J.shape == (3, 4) and J.dtype == torch.float64 and J.device.type == device
    torch.testing.assert_close(J, jacrev(nonlinear)(x), rtol=1e-7, atol=1e-8)
    assert torch.equal(x, x0)


def test_numerical_jacobian_of_a_linear_map_is_the_matrix():
    A = torch.randn(2, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = torch.randn(5, dtype=torch.float64)
    torch.testing.assert_close(ref.numerical_jacobian(lambda v: A @ v, x), A, rtol=1e-8, atol=1e-9)


def test_numerical_jacobian_uses_central_differences():
    # f(x) = x³ (elementwise): the central difference is 3x² + ε², the forward one 3x² + 3xε + ε².
    x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    eps = 1e-2
    J = ref.numerical_jacobian(lambda v: v**3, x, eps=eps)
    torch.testing.assert_close(J, torch.diag(3 * x**2 + eps**2), rtol=1e-10, atol=1e-10)


def test_numerical_jacobian_error_is_second_order():
    x = torch.tensor([0.3, -0.7, 1.1, 0.2], dtype=torch.float64)
    exact = jacrev(nonlinear)(x)
    errors = [float((ref.numerical_jacobian(nonlinear, x, eps=h) - exact).abs().max()) for h in (1e-2, 5e-3)]
    assert 3.5 < errors[0] / errors[1] < 4.5  # halving ε divides an O(ε²) error by 4


def test_numerical_jacobian_keeps_float32():
    x = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float32)
    A = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    J = ref.numerical_jacobian(lambda v: A @ v + v.pow(2).sum(), x, eps=1e-2)
    assert J.dtype == torch.float32
    torch.testing.assert_close(J.double(), (A + 2 * x).double(), rtol=1e-4, atol=1e-4)


def test_numerical_jacobian_agrees_with_the_analytic_perceptron_jacobian():
    W, b, x = perceptron(3, 5, seed=4)
    J = ref.numerical_jacobian(lambda v: torch.sigmoid(W @ v + b), x)
    torch.testing.assert_close(J, ref.jac_y_x(W, b, x), rtol=1e-7, atol=1e-9)
