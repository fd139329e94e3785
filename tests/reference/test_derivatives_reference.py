"""The `derivatives` reference against independent oracles: sympy.diff of the forward definitions
(written here from the formulas, not imported), central finite differences in float64 with numpy,
and torch.autograd on the matrix gradients at concrete sizes."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import sympy as sp
import torch

from reference import derivatives as ref

CONTRACT = ["d_sigmoid", "d_tanh", "d_relu", "d_softplus", "grad_affine", "grad_sq_norm", "grad_least_squares",
            "d_bce_logit"]
x, z, y = sp.Symbol("x", real=True), sp.Symbol("z", real=True), sp.Symbol("y", real=True)

# The forward functions, from their definitions (deck 001, deck 004, CONVENTIONS.md).
FORWARD = {
    "d_sigmoid": 1 / (1 + sp.exp(-x)),
    "d_tanh": (sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x)),
    "d_softplus": sp.log(1 + sp.exp(x)),
}


def test_contract_is_exactly_the_public_api():
    public = [n for n, v in vars(ref).items() if callable(v) and not n.startswith("_")]
    assert sorted(public) == sorted(CONTRACT)
    for name in CONTRACT:
        assert inspect.getdoc(getattr(ref, name))


@pytest.mark.parametrize("name", sorted(FORWARD))
def test_scalar_derivatives_equal_sympy_diff(name):
    assert sp.simplify(getattr(ref, name)(x) - sp.diff(FORWARD[name], x)) == 0


def test_bce_logit_equals_sympy_diff():
    s = 1 / (1 + sp.exp(-z))
    bce = -(y * sp.log(s) + (1 - y) * sp.log(1 - s))
    assert sp.simplify(ref.d_bce_logit(z, y) - sp.diff(bce, z)) == 0


def test_relu_derivative_is_the_step_with_zero_at_the_kink():
    d = ref.d_relu(x)
    assert [d.subs(x, v) for v in (-2, -0.5, 0, 0.5, 3)] == [0, 0, 0, 1, 1]
    relu = sp.Max(0, x)
    for v in (-1.5, -0.1, 0.2, 2.0):  # away from the kink, it is sympy's derivative of max(0, x)
        assert sp.diff(relu, x).subs(x, v) == d.subs(x, v)


FD_FUNCTIONS = {  # numpy forward functions for finite differences
    "d_sigmoid": lambda t: 1 / (1 + np.exp(-t)),
    "d_tanh": np.tanh,
    "d_relu": lambda t: np.maximum(0, t),
    "d_softplus": lambda t: np.log1p(np.exp(t)),
}


@pytest.mark.parametrize("name", sorted(FD_FUNCTIONS))
def test_scalar_derivatives_match_finite_differences(name):
    f = FD_FUNCTIONS[name]
    points = np.array([-3.0, -1.2, -0.3, 0.4, 1.7, 2.9])
    h = 1e-6
    fd = (f(points + h) - f(points - h)) / (2 * h)
    d = sp.lambdify(x, getattr(ref, name)(x), "numpy")  # trusted: the reference's own expression
    np.testing.assert_allclose(np.broadcast_to(d(points), points.shape).astype(float), fd, rtol=1e-7, atol=1e-8)


def test_bce_logit_matches_finite_differences():
    def bce(t, label):
        p = 1 / (1 + np.exp(-t))
        return -(label * np.log(p) + (1 - label) * np.log(1 - p))

    d = sp.lambdify((z, y), ref.d_bce_logit(z, y), "numpy")
    h = 1e-6
    for t in (-2.0, -0.1, 0.7, 3.0):
        for label in (0.0, 0.3, 1.0):
            fd = (bce(t + h, label) - bce(t - h, label)) / (2 * h)
            assert d(t, label) == pytest.approx(fd, rel=1e-6, abs=1e-8)


def _concrete(expr, values):
    """A matrix expression with concrete matrices substituted, as a float64 tensor."""
    m = expr.subs({k: sp.Matrix(v.numpy()) for k, v in values.items()}).doit()
    return torch.tensor(np.array(m.evalf(), dtype=np.float64))


@pytest.mark.parametrize("T, D", [(5, 3), (2, 4), (1, 1)])
def test_matrix_gradients_match_autograd(T, D):
    g = torch.Generator().manual_seed(T * 10 + D)
    Wt, th, yt = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((T, D), (D, 1), (T, 1)))
    w, xv = (torch.randn(D, 1, generator=g, dtype=torch.float64) for _ in range(2))
    W_, th_, y_ = sp.MatrixSymbol("W", T, D), sp.MatrixSymbol("theta", D, 1), sp.MatrixSymbol("y", T, 1)
    w_, x_ = sp.MatrixSymbol("w", D, 1), sp.MatrixSymbol("x", D, 1)
    b_ = sp.Symbol("b", real=True)

    th_req = th.clone().requires_grad_()
    ((Wt @ th_req - yt) ** 2).sum().backward()
    assert torch.allclose(_concrete(ref.grad_least_squares(W_, th_, y_), {W_: Wt, th_: th, y_: yt}), th_req.grad)

    x_req = xv.clone().requires_grad_()
    (0.5 + (w.T @ x_req).sum()).backward()
    assert torch.allclose(_concrete(ref.grad_affine(w_, x_, b_), {w_: w, x_: xv}), x_req.grad)

    x_req = xv.clone().requires_grad_()
    (x_req ** 2).sum().backward()
    assert torch.allclose(_concrete(ref.grad_sq_norm(x_), {x_: xv}), x_req.grad)


def test_matrix_gradients_have_the_shape_of_the_variable():
    T, D = sp.symbols("T D", integer=True, positive=True)
    W_, th_, y_ = sp.MatrixSymbol("W", T, D), sp.MatrixSymbol("theta", D, 1), sp.MatrixSymbol("y", T, 1)
    assert ref.grad_least_squares(W_, th_, y_).shape == (D, 1)
    assert ref.grad_sq_norm(th_).shape == (D, 1)
    assert ref.grad_affine(th_, th_, sp.Symbol("b")).shape == (D, 1)
