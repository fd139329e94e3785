"""reference/softmax_ce.py against independent oracles: torch.nn.functional, torch autograd,
torch.func.jacrev and scipy.special."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F

from reference import softmax_ce as ref

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float64, torch.float32]
SHAPES = [(1, 5), (7, 3), (4, 4), (2, 3, 6)]


def tol(dtype):
    return {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 2e-5, "atol": 1e-6}


def logits(shape, dtype, device, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(device, dtype)


def labels_for(T, C, device, seed=0):
    g = torch.Generator().manual_seed(seed + 1)
    lab = torch.randint(0, C, (T,), generator=g)
    lab[0] = 0  # both ends of the range
    lab[-1] = C - 1
    return lab.to(device)


def huge_logits(dtype, device):
    """Rows with |z| up to 1e4, gaps of thousands, all-equal and all-very-negative rows."""
    z = torch.tensor([
        [1e4, 0.0, -1e4, 5.0],
        [-1e4, -1e4 + 1, -1e4 + 2, -1e4 + 3],
        [1000.0, 1000.0, 1000.0, 1000.0],
        [88.0, 89.0, 100.0, -3.0],
        [0.5, -0.5, 1e3, -1e3],
    ], dtype=torch.float64)
    return z.to(device, dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_and_log_softmax_match_torch_and_scipy(shape, dtype, device):
    z = logits(shape, dtype, device)
    s, ls = ref.softmax(z), ref.log_softmax(z)
    for out in (s, ls):
        assert out.shape == z.shape and out.dtype == dtype and out.device.type == device
    torch.testing.assert_close(s, F.softmax(z, dim=-1), **tol(dtype))
    torch.testing.assert_close(ls, F.log_softmax(z, dim=-1), **tol(dtype))
    zn = z.double().cpu().numpy()
    np.testing.assert_allclose(s.double().cpu().numpy(), scipy.special.softmax(zn, axis=-1), **tol(dtype))
    lse = scipy.special.logsumexp(zn, axis=-1, keepdims=True)
    np.testing.assert_allclose(ls.double().cpu().numpy(), zn - lse, **tol(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_finite_for_huge_logits(dtype, device):
    z = huge_logits(dtype, device)
    s, ls = ref.softmax(z), ref.log_softmax(z)
    assert torch.isfinite(s).all() and torch.isfinite(ls).all()
    torch.testing.assert_close(s, F.softmax(z, dim=-1), **tol(dtype))
    torch.testing.assert_close(ls, F.log_softmax(z, dim=-1), **tol(dtype))
    torch.testing.assert_close(s.sum(-1), torch.ones(len(z), dtype=dtype, device=device), **tol(dtype))
    zn = z.double().cpu().numpy()
    expected = zn - scipy.special.logsumexp(zn, axis=-1, keepdims=True)
    np.testing.assert_allclose(ls.double().cpu().numpy(), expected, **tol(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T,C", [(1, 5), (7, 3), (4, 4), (16, 10)])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_cross_entropy_and_its_gradient_match_torch(T, C, scale, dtype, device):
    z = logits((T, C), dtype, device, scale=scale, seed=T * C)
    lab = labels_for(T, C, device, seed=T)
    ce = ref.cross_entropy(z, lab)
    assert ce.dim() == 0 and ce.dtype == dtype and torch.isfinite(ce)
    torch.testing.assert_close(ce, F.cross_entropy(z, lab), **tol(dtype))
    zl = z.detach().clone().requires_grad_(True)
    F.cross_entropy(zl, lab).backward()
    g = ref.cross_entropy_grad(z, lab)
    assert g.shape == (T, C) and g.dtype == dtype and g.device.type == device
    torch.testing.assert_close(g, zl.grad, **tol(dtype))


def test_cross_entropy_against_numpy_by_hand():
    z = logits((6, 4), torch.float64, "cpu", seed=5)
    lab = labels_for(6, 4, "cpu")
    zn = z.numpy()
    logp = zn - scipy.special.logsumexp(zn, axis=1, keepdims=True)
    expected = -logp[np.arange(6), lab.numpy()].mean()
    assert float(ref.cross_entropy(z, lab)) == pytest.approx(expected, rel=1e-12)
    onehot = np.eye(4)[lab.numpy()]
    np.testing.assert_allclose(ref.cross_entropy_grad(z, lab).numpy(),
                               (scipy.special.softmax(zn, axis=1) - onehot) / 6, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("C", [1, 2, 5])
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_softmax_jacobian_matches_jacrev(C, scale, dtype, device):
    z1 = logits((C,), dtype, device, scale=scale, seed=C)
    J = ref.softmax_jacobian(z1)
    assert J.shape == (C, C) and J.dtype == dtype and J.device.type == device
    expected = torch.func.jacrev(lambda v: F.softmax(v, dim=-1))(z1)
    torch.testing.assert_close(J, expected, **tol(dtype))
    torch.testing.assert_close(J, J.T, **tol(dtype))  # diag(s) − s sᵀ is symmetric
    torch.testing.assert_close(J.sum(0), torch.zeros(C, dtype=dtype, device=device), **tol(dtype))


def test_softmax_jacobian_is_numerator_layout_for_a_known_case():
    z1 = torch.tensor([0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(ref.softmax_jacobian(z1), torch.tensor([[0.25, -0.25], [-0.25, 0.25]],
                                                                      dtype=torch.float64))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_matches_torch(dtype, device):
    g = torch.Generator().manual_seed(0)
    p = (torch.rand(9, generator=g, dtype=torch.float64) * 0.98 + 0.01).to(device, dtype)
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1, 1], dtype=dtype, device=device)
    out = ref.bce(p, y)
    assert out.dim() == 0 and out.dtype == dtype
    torch.testing.assert_close(out, F.binary_cross_entropy(p, y), **tol(dtype))
    # integer labels are accepted too
    torch.testing.assert_close(ref.bce(p, y.long()), out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_of_a_confident_right_answer_is_zero(dtype):
    p = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=dtype)
    y = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=dtype)
    assert float(ref.bce(p, y)) == 0.0
    torch.testing.assert_close(ref.bce(p, y), F.binary_cross_entropy(p, y))
    # a confident wrong answer is clamped at 100 per sample, as in PyTorch
    torch.testing.assert_close(ref.bce(p, 1 - y), F.binary_cross_entropy(p, 1 - y))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 20.0, 1e4])
def test_bce_with_logits_and_gradient_match_torch(scale, dtype, device):
    g = torch.Generator().manual_seed(int(scale))
    z = (torch.randn(11, generator=g, dtype=torch.float64) * scale).to(device, dtype)
    y = (torch.rand(11, generator=g) < 0.5).to(device, dtype)
    y[0], y[-1] = 0.0, 1.0
    out = ref.bce_with_logits(z, y)
    assert out.dim() == 0 and out.dtype == dtype and torch.isfinite(out)
    torch.testing.assert_close(out, F.binary_cross_entropy_with_logits(z, y), **tol(dtype))
    zl = z.detach().clone().requires_grad_(True)
    F.binary_cross_entropy_with_logits(zl, y).backward()
    grad = ref.bce_with_logits_grad(z, y)
    assert grad.shape == z.shape and grad.dtype == dtype and grad.device.type == device
    torch.testing.assert_close(grad, zl.grad, **tol(dtype))


def test_bce_with_logits_agrees_with_bce_of_sigmoid_where_both_are_accurate():
    z = torch.linspace(-8, 8, 17, dtype=torch.float64)
    y = (torch.arange(17) % 2).double()
    torch.testing.assert_close(ref.bce_with_logits(z, y), ref.bce(torch.sigmoid(z), y))


def test_extreme_logits_give_exact_large_losses():
    z = torch.tensor([1e4, -1e4], dtype=torch.float32)
    y = torch.tensor([0.0, 1.0])
    assert float(ref.bce_with_logits(z, y)) == pytest.approx(1e4)
    zz = torch.tensor([[1e4, -1e4]], dtype=torch.float32)
    assert float(ref.cross_entropy(zz, torch.tensor([1]))) == pytest.approx(2e4)


def test_inputs_are_not_modified():
    z = logits((5, 4), torch.float32, "cpu", scale=50.0)
    lab = labels_for(5, 4, "cpu")
    zb = torch.randn(5, dtype=torch.float32)
    p, y = torch.sigmoid(zb), (zb > 0).float()
    saved = [t.clone() for t in (z, lab, zb, p, y)]
    ref.softmax(z), ref.log_softmax(z), ref.cross_entropy(z, lab), ref.cross_entropy_grad(z, lab)
    ref.softmax_jacobian(z[0]), ref.bce(p, y), ref.bce_with_logits(zb, y), ref.bce_with_logits_grad(zb, y)
    for before, after in zip(saved, (z, lab, zb, p, y), strict=True):
        assert torch.equal(before, after)


def test_public_api_is_the_contract():
    public = {k for k, v in vars(ref).items() if callable(v) and not k.startswith("_")}
    assert public == {"softmax", "log_softmax", "cross_entropy", "cross_entropy_grad", "softmax_jacobian",
                      "bce", "bce_with_logits", "bce_with_logits_grad"}
