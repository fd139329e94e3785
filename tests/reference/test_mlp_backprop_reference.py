"""reference/mlp_backprop.py against independent oracles: torch.nn layers, torch autograd,
torch.func and central finite differences."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reference import mlp_backprop as ref

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float64, torch.float32]
# (N_0, …, N_4): non-square layers, one square layer (6 → 6), all square, a single output.
SIZES = [(5, 7, 6, 6, 3), (4, 4, 4, 4, 4), (3, 8, 2, 5, 1)]
PARAM_KEYS = [f"W{i}" for i in range(1, 5)] + [f"b{i}" for i in range(1, 5)]


def make_problem(sizes, T, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(device, dtype)

    params = {}
    for i in range(1, 5):
        params[f"W{i}"] = randn(sizes[i], sizes[i - 1], scale=sizes[i - 1] ** -0.5)
        params[f"b{i}"] = randn(sizes[i], scale=0.3)
    X = randn(T, sizes[0])
    Y = torch.rand(T, sizes[4], generator=g, dtype=torch.float64).to(device, dtype)
    return params, X, Y


def tol(dtype):
    return {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 2e-5, "atol": 1e-6}


def torch_loss(params, X, Y):
    """The same network and loss, from torch.nn.functional building blocks."""
    x = X
    for i in range(1, 5):
        x = torch.sigmoid(F.linear(x, params[f"W{i}"], params[f"b{i}"]))
    return F.mse_loss(x, Y, reduction="sum") / X.shape[0]


def autograd_grads(params, X, Y):
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    Xl = X.detach().clone().requires_grad_(True)
    torch_loss(leaves, Xl, Y).backward()
    grads = {k: v.grad for k, v in leaves.items()}
    grads["X"] = Xl.grad
    return grads


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("T", [1, 9])
def test_forward_and_loss_match_torch_nn(sizes, T, dtype, device):
    params, X, Y = make_problem(sizes, T, dtype, device)
    out, _ = ref.forward(params, X)
    x = X
    for i in range(1, 5):  # nn.Linear + nn.Sigmoid with our weights
        lin = torch.nn.Linear(sizes[i - 1], sizes[i]).to(device, dtype)
        with torch.no_grad():
            lin.weight.copy_(params[f"W{i}"])
            lin.bias.copy_(params[f"b{i}"])
            x = torch.nn.Sigmoid()(lin(x))
    torch.testing.assert_close(out, x, **tol(dtype))
    assert out.shape == (T, sizes[4]) and out.dtype == dtype and out.device.type == device
    L = ref.loss(out, Y)
    assert L.dim() == 0 and L.dtype == dtype
    torch.testing.assert_close(L, F.mse_loss(x, Y, reduction="sum") / T, **tol(dtype))
    torch.testing.assert_close(L, ((x - Y) ** 2).sum(1).mean(), **tol(dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("T", [1, 2, 9])
def test_backward_matches_autograd(sizes, T, dtype, device):
    params, X, Y = make_problem(sizes, T, dtype, device, seed=T)
    _, cache = ref.forward(params, X)
    grads = ref.backward(params, cache, Y)
    assert set(grads) == set(PARAM_KEYS) | {"X"}
    expected = autograd_grads(params, X, Y)
    for k, g in grads.items():
        assert g.shape == (X if k == "X" else params[k]).shape, k
        assert g.dtype == dtype and g.device.type == device, k
        torch.testing.assert_close(g, expected[k], **tol(dtype), msg=lambda m, k=k: f"{k}: {m}")


@pytest.mark.parametrize("sizes", SIZES)
def test_backward_matches_torch_func_grad(sizes):
    params, X, Y = make_problem(sizes, 6, torch.float64, "cpu", seed=3)
    expected = torch.func.grad(torch_loss, argnums=(0, 1))(params, X, Y)
    grads = ref.backward(params, ref.forward(params, X)[1], Y)
    for k in PARAM_KEYS:
        torch.testing.assert_close(grads[k], expected[0][k], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grads["X"], expected[1], rtol=1e-10, atol=1e-12)


def test_backward_matches_central_differences():
    params, X, Y = make_problem(SIZES[0], 4, torch.float64, "cpu", seed=7)
    grads = ref.backward(params, ref.forward(params, X)[1], Y)
    eps = 1e-6
    variables = {**params, "X": X}
    for k, v in variables.items():
        for flat in range(0, v.numel(), 3):  # every third entry keeps the test fast
            def at(delta, k=k, flat=flat):
                moved = {kk: vv.clone() for kk, vv in variables.items()}
                moved[k].view(-1)[flat] += delta
                X_ = moved.pop("X")
                return ref.loss(ref.forward(moved, X_)[0], Y)

            numeric = (at(eps) - at(-eps)) / (2 * eps)
            assert abs(float(numeric) - float(grads[k].reshape(-1)[flat])) < 1e-8, (k, flat)


def test_loss_is_mean_of_squared_norms_without_half():
    out = torch.tensor([[1.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    Y = torch.tensor([[0.0, 0.0], [0.5, 1.5]], dtype=torch.float64)
    assert float(ref.loss(out, Y)) == pytest.approx((1.0 + 1.0) / 2)


def test_backward_is_the_gradient_of_the_mean_loss():
    """A batch of copies of one sample has the same per-sample gradients: the mean keeps them."""
    params, X, Y = make_problem(SIZES[0], 1, torch.float64, "cpu", seed=11)
    one = ref.backward(params, ref.forward(params, X)[1], Y)
    many = ref.backward(params, ref.forward(params, X.repeat(5, 1))[1], Y.repeat(5, 1))
    for k in PARAM_KEYS:
        torch.testing.assert_close(many[k], one[k])
    torch.testing.assert_close(many["X"], one["X"].repeat(5, 1) / 5)


def test_inputs_are_not_modified():
    params, X, Y = make_problem(SIZES[0], 5, torch.float32, "cpu")
    before = {k: v.clone() for k, v in {**params, "X": X, "Y": Y}.items()}
    _, cache = ref.forward(params, X)
    ref.backward(params, cache, Y)
    ref.loss(ref.forward(params, X)[0], Y)
    for k, v in {**params, "X": X, "Y": Y}.items():
        assert torch.equal(v, before[k]), k


def test_no_autograd_graph_is_used():
    """Backward is by hand: it works under no_grad and returns tensors without a graph."""
    params, X, Y = make_problem(SIZES[1], 3, torch.float64, "cpu")
    with torch.no_grad():
        grads = ref.backward(params, ref.forward(params, X)[1], Y)
    assert all(not g.requires_grad for g in grads.values())
    torch.testing.assert_close(grads["W1"], autograd_grads(params, X, Y)["W1"])


def test_public_api_is_the_contract():
    public = {k for k, v in vars(ref).items() if callable(v) and not k.startswith("_")}
    assert public == {"forward", "loss", "backward"}
