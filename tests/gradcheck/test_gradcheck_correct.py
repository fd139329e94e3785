"""A correct gradient is never flagged: seeds, dtypes, activations, kinks on and near the point."""

from __future__ import annotations

import math

import pytest
import torch
from gradcheck_models import autograd, gen, mlp

from grader.gradcheck import check_gradients


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "abs"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_correct_mlp_gradients_pass_for_many_seeds(act: str, dtype: torch.dtype) -> None:
    for seed in range(12):
        f, p, g = mlp(seed, act=act, dtype=dtype)
        r = check_gradients(f, p, g, seed=seed)
        assert r.passed, f"seed {seed}: {r.message}\n{r.details()}"


@pytest.mark.parametrize("act", ["sigmoid", "abs"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_point_on_kinks_is_never_a_false_alarm(act: str, dtype: torch.dtype) -> None:
    for seed in range(8):
        f, p, g = mlp(seed, act=act, dtype=dtype, on_kinks=True)
        r = check_gradients(f, p, g, seed=seed)
        assert r.status in ("passed", "inconclusive"), f"seed {seed}: {r.message}\n{r.details()}"


def test_relu_at_zero_is_excluded_with_a_note() -> None:
    x = torch.tensor([-1.0, 0.0, 2.0, 0.0, 3.0], dtype=torch.float64)
    c = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return (c * torch.relu(p["x"])).sum()

    r = check_gradients(f, {"x": x}, autograd(f, {"x": x}))
    assert r.passed, r.details()
    t = r.tensor("x")
    assert t.localisation is not None and sorted(t.localisation.kinks) == [[1], [3]]
    assert any("non-differentiable point" in n for n in t.notes)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.abs().sum(),
        lambda x: x.max(),
        lambda x: torch.clamp(x, -0.5, 0.5).pow(2).sum() + x.sum(),
        lambda x: x.reshape(4, 2).max(1).values.sum(),
    ],
    ids=["abs", "max_tie", "clamp", "maxpool_tie"],
)
def test_kinks_on_the_point(fn) -> None:  # noqa: ANN001
    x = torch.tensor([0.0, 1.0, 1.0, -0.5, 0.5, 0.0, 2.0, 2.0], dtype=torch.float64)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return fn(p["x"])

    r = check_gradients(f, {"x": x}, autograd(f, {"x": x}))
    assert r.passed, r.details()


def test_kink_close_to_the_point_is_resolved_by_smaller_steps() -> None:
    x = torch.tensor([2e-5, -1e-5, 0.4, -2.0], dtype=torch.float64)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return (torch.relu(p["x"]) * torch.arange(1.0, 5.0, dtype=torch.float64)).sum()

    r = check_gradients(f, {"x": x}, autograd(f, {"x": x}))
    assert r.passed and not r.tensor("x").notes, r.details()


def test_float32_claims_of_a_larger_mlp() -> None:
    for seed in range(5):
        f, p, g = mlp(seed, sizes=(64, 32, 16, 10), batch=16, dtype=torch.float32)
        assert all(v.dtype == torch.float32 for v in g.values())
        r = check_gradients(f, p, g, seed=seed)
        assert r.passed, r.details()


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e4])
def test_extreme_scales(scale: float) -> None:
    g0 = gen(3)
    w = torch.randn(6, 5, generator=g0, dtype=torch.float64) * scale
    xin = torch.randn(4, 5, generator=g0, dtype=torch.float64)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.tanh(xin @ p["W"].T / scale).pow(2).sum() * scale**2

    r = check_gradients(f, {"W": w}, autograd(f, {"W": w}))
    assert r.passed, r.details()


def test_empty_and_zero_dim_tensors() -> None:
    p = {"a": torch.tensor(0.7, dtype=torch.float64), "e": torch.zeros(0, 3, dtype=torch.float64)}

    def f(q: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.sin(q["a"]) + q["e"].sum()

    r = check_gradients(f, p, {"a": torch.tensor(math.cos(0.7)), "e": torch.zeros(0, 3)})
    assert r.passed, r.details()


def test_reproducible() -> None:
    f, p, g = mlp(1)
    a, b = check_gradients(f, p, g, seed=5), check_gradients(f, p, g, seed=5)
    assert [t.checks for t in a.tensors] == [t.checks for t in b.tensors]


def test_cost_of_a_correct_gradient_is_one_joint_probe() -> None:
    f, p, g = mlp(0)
    r = check_gradients(f, p, g)
    assert r.passed
    # base + one joint direction over all tensors × 2 step sizes × 2 evaluations (a third step when unclear)
    assert 1 + 4 <= r.evaluations <= 1 + 6
    assert sum(t.evaluations for t in r.tensors) == r.evaluations - 1
    # a second direction is probed tensor by tensor
    assert check_gradients(f, p, g, directions=2).evaluations >= 1 + 4 + 4 * len(p)


def test_a_joint_probe_never_passes_a_wrong_tensor_and_never_fails_one() -> None:
    f, p, g = mlp(0)
    bad = dict(g)
    bad["b2"] = g["b2"].clone()
    bad["b2"][3] += 1e-3
    r = check_gradients(f, p, bad)
    assert [t.name for t in r.failed_tensors] == ["b2"]
    assert [e.index for e in r.tensor("b2").localisation.entries] == [[3]]
