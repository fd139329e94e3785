"""Small seeded models for the gradient-check tests, with autograd gradients as the truth."""

from __future__ import annotations

from collections.abc import Callable

import torch

Params = dict[str, torch.Tensor]
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "abs": torch.abs,
}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def mlp(
    seed: int,
    sizes: tuple[int, ...] = (12, 9, 7, 3),
    batch: int = 5,
    act: str = "sigmoid",
    dtype: torch.dtype = torch.float64,
    on_kinks: bool = False,
) -> tuple[Callable[[Params], torch.Tensor], Params, Params]:
    """(f, params, true gradients). ``f`` is the mlp_backprop loss plus a max over each input row.

    ``on_kinks`` rounds everything to halves: exact zeros and ties put the point on kinks.
    """
    g = gen(seed)
    p: Params = {}
    for i in range(1, len(sizes)):
        p[f"W{i}"] = torch.randn(sizes[i], sizes[i - 1], generator=g, dtype=torch.float64) / sizes[i - 1] ** 0.5
        p[f"b{i}"] = torch.randn(sizes[i], generator=g, dtype=torch.float64) * 0.1
    p["X"] = torch.randn(batch, sizes[0], generator=g, dtype=torch.float64)
    if on_kinks:
        p = {k: torch.round(v * 2) / 2 for k, v in p.items()}
    p = {k: v.to(dtype) for k, v in p.items()}
    y = torch.rand(batch, sizes[-1], generator=g, dtype=torch.float64)
    n_layers = len(sizes) - 1
    phi = ACTIVATIONS[act]

    def f(q: Params) -> torch.Tensor:
        a = q["X"]
        for i in range(1, n_layers + 1):
            a = a @ q[f"W{i}"].T + q[f"b{i}"]
            a = phi(a) if i < n_layers else torch.sigmoid(a)
        return ((a - y.to(a.dtype)) ** 2).sum(1).mean() + 0.1 * q["X"].max(1).values.sum()

    return f, p, autograd(f, p)


def autograd(f: Callable[[Params], torch.Tensor], p: Params) -> Params:
    q = {k: v.detach().clone().requires_grad_(True) for k, v in p.items()}
    f(q).backward()
    return {k: v.grad.detach() for k, v in q.items()}  # type: ignore[union-attr]


def tanh_layer(
    shape: tuple[int, int], batch: int = 32, scale: float = 0.2
) -> tuple[Callable[[Params], torch.Tensor], Params, torch.Tensor]:
    """``(tanh(A W)²).sum()`` with ``W`` of ``shape`` (seed 0): (f, {"W": W}, the true gradient of W)."""
    g = gen(0)
    a = torch.randn(batch, shape[0], generator=g, dtype=torch.float64)
    w = torch.randn(*shape, generator=g, dtype=torch.float64) * scale

    def f(p: Params) -> torch.Tensor:
        return (torch.tanh(a @ p["W"]) ** 2).sum()

    return f, {"W": w}, autograd(f, {"W": w})["W"]


def replace(grads: Params, **new: torch.Tensor) -> Params:
    out = dict(grads)
    out.update(new)
    return out


def near_crossing(gap: float = 1e-5, n: int = 16) -> tuple[Callable[[Params], torch.Tensor], Params, Params]:
    """``relu(X Wᵀ)`` weighted and summed, plus an L2 term, with hidden unit 2 at ``gap`` above 0 on sample 0:
    a crossing near the point, not on it. Every block of ``W`` moves that unit, so the search over ``W`` meets
    a kink at every step down to about ``gap``, and more kinks (the other units) at the larger steps."""
    g = gen(3)
    x = torch.randn(6, n, generator=g, dtype=torch.float64)
    w = torch.randn(n, n, generator=g, dtype=torch.float64)
    w[2, -1] = 0.0
    w[2, -1] = (gap - float(x[0] @ w[2])) / float(x[0, -1])
    c = torch.linspace(0.5, 1.5, n, dtype=torch.float64)

    def f(q: Params) -> torch.Tensor:
        return (torch.relu(x @ q["W"].T) * c).sum() + 0.1 * (q["W"] ** 2).sum()

    return f, {"W": w}, autograd(f, {"W": w})
