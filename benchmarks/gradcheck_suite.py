"""Model families and planted bugs for the gradient-engine suite (used by ``bench_gradcheck.py``).

Six families, each in float32 and float64 (the claimed gradients come from autograd run in that dtype;
finite differences always run in float64 on the same point):

* ``conv``: conv2d + ReLU + 2×2 max-pool + linear, squared error;
* ``ties``: a piecewise-linear net whose inputs and weights are rounded to halves: exact zeros of
  ReLU and ties of max (several entries on kinks at once);
* ``scaled``: linear-Gaussian regression with weights of 1e-4 and 1e4 in one tensor and features
  scaled to match (128 weights, a loss of about 1e5–1e6);
* ``gru``: a 6-step GRU cell, hidden size 48 (9,216 entries; sigmoid gates, products of gates and
  states), mean squared error;
* ``mixture``: negative log-likelihood of a 1-D Gaussian mixture (log-sum-exp, softplus widths);
* ``bnmlp``: batch normalisation + softplus MLP + L2 penalty, logistic loss.

``make(..., large=True)`` gives realistic sizes (conv 8,288 entries: 16 channels on 3×16×16 images;
scaled 1,025; gru 9,216; mixture 2,112: 64 diagonal Gaussians in 16 dimensions; bnmlp 4,480; ties
unchanged): the benchmark's "realistic sizes" tables (correct gradients, and one seed of each bug kind).

Bugs (a kind, the tensor it is planted in, the mask of wrong entries, and the diagnosis ids that
would be right): one entry just above the guarantee (2.5 τ), one entry grossly wrong (both planted
off kinks: at a kink a claim between the one-sided derivatives is a valid subgradient), a row, a column,
the gradient at a slightly shifted point, a tiny global scaling (1 + 5·rtol), a factor 2, a sign flip,
a transpose (square tensors), a zero gradient, and 2% of the entries perturbed. In a table of its own,
``near_kink``: one entry next to a kink but not on it, given a claim between the slopes seen across the
kink (see :func:`near_kink`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from grader.gradcheck.engine import engine_tolerance

Params = dict[str, torch.Tensor]
FAMILIES = ("conv", "ties", "scaled", "gru", "mixture", "bnmlp")
BUG_KINDS = ("entry_edge", "entry_big", "row", "column", "shifted", "tiny_scale", "factor2", "sign", "transpose",
             "zero", "sparse")
# planted only where an entry sits that near a kink (conv at realistic sizes), in a table of its own
ALL_KINDS = (*BUG_KINDS, "near_kink")
ACCEPTABLE = {
    "entry_edge": {"some_entries_wrong"},
    "entry_big": {"some_entries_wrong"},
    "row": {"some_rows_wrong", "some_entries_wrong"},
    "column": {"some_columns_wrong", "some_entries_wrong"},
    "shifted": set(),
    "tiny_scale": {"scaled"},
    "factor2": {"scaled"},
    "sign": {"sign_flipped"},
    "transpose": {"transposed"},
    "zero": {"zero"},
    "sparse": {"some_entries_wrong"},
    "near_kink": {"some_entries_wrong"},
}


@dataclass
class Problem:
    family: str
    f: Callable[[Params], torch.Tensor]
    params: Params  # float64
    grads: Params  # autograd in the problem's dtype
    dtype: torch.dtype


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _grads(f: Callable[[Params], torch.Tensor], p: Params, dtype: torch.dtype) -> Params:
    q = {k: v.to(dtype).clone().requires_grad_(True) for k, v in p.items()}
    f(q).backward()
    return {k: v.grad.detach() for k, v in q.items()}  # type: ignore[union-attr]


def make(family: str, seed: int, dtype: torch.dtype, large: bool = False) -> Problem:
    """The claim is autograd run in ``dtype``, except for ``scaled``: there float32 autograd is itself
    outside float32's tolerance on a few entries (a sum of 64 terms of 1e4·r cancels to far less; measured
    up to 12 τ), so its float32 claim is the float64 gradient rounded to float32: right up to its dtype's
    rounding, which is what the guarantee is about.

    ``large``: the realistic sizes of ``LARGE_SIZES`` (``ties`` and ``gru`` are the same either way)."""
    g = _gen(seed * 31 + FAMILIES.index(family))
    f, p = _BUILDERS[family](g, large)
    if family == "scaled":
        return Problem(family, f, p, {k: v.to(dtype) for k, v in _grads(f, p, torch.float64).items()}, dtype)
    return Problem(family, f, p, _grads(f, p, dtype), dtype)


def on_kink(pr: Problem, name: str, i: int) -> bool:
    """Entry ``i`` of tensor ``name`` sits on a kink: its one-sided derivatives differ (used to plant the
    single-entry bugs of ``ties`` off kinks, where the rule "caught when off by more than 2τ" applies)."""
    left, right = _one_sided(pr, name, i, 1e-4)
    return abs(right - left) > 1e-3 * (1.0 + abs(left + right) / 2)


def _one_sided(pr: Problem, name: str, i: int, rel: float) -> tuple[float, float]:
    """(left, right) difference quotients of ``f`` along entry ``i`` of ``name`` at a step ``rel·(1 + |x_i|)``."""
    x = {k: v.clone() for k, v in pr.params.items()}
    h = rel * (1.0 + abs(float(x[name].reshape(-1)[i])))
    with torch.no_grad():
        f0 = float(pr.f(x))
        x[name].view(-1)[i] += h
        fp = float(pr.f(x))
        x[name].view(-1)[i] -= 2 * h
        fm = float(pr.f(x))
    return (f0 - fm) / h, (fp - f0) / h


def near_kink(
    pr: Problem, name: str, true: torch.Tensor, g: torch.Generator, tries: int = 1000
) -> tuple[int, float] | None:
    """An entry next to a kink but not on it, and a wrong claim for it: halfway between the slopes seen at a
    step of 1e-4 (they differ, and still at 1e-5: a crossing that close), while at 1e-9 they agree with each
    other and with the true gradient (smooth at the point). None when no entry of ``name`` is that close to a
    crossing (steps relative to ``1 + |x_i|``)."""
    flat = true.reshape(-1)
    for _ in range(tries):
        i = int(torch.randint(0, true.numel(), (1,), generator=g))
        left, right = _one_sided(pr, name, i, 1e-4)
        if abs(right - left) <= 1e-3 * (1.0 + abs(left) + abs(right)):
            continue
        l1, r1 = _one_sided(pr, name, i, 1e-5)  # close: the crossing is also within 1e-5
        if abs(r1 - l1) <= 1e-4 * (1.0 + abs(l1) + abs(r1)):
            continue
        l2, r2 = _one_sided(pr, name, i, 1e-9)
        if abs(r2 - l2) <= 1e-4 * (1.0 + abs(float(flat[i]))) and abs(r2 - float(flat[i])) <= 1e-4 * (
                1.0 + abs(float(flat[i]))):
            return i, 0.5 * (left + right)
    return None


def _conv(g: torch.Generator, large: bool):  # noqa: ANN202
    (b, cin, side, cout, out), scale = ((4, 3, 16, 16, 10), 28) if large else ((2, 2, 8, 4, 3), 6)
    feat = cout * ((side - 2) // 2) ** 2
    x = torch.randn(b, cin, side, side, generator=g, dtype=torch.float64)
    y = torch.randn(b, out, generator=g, dtype=torch.float64)
    p = {
        "K": torch.randn(cout, cin, 3, 3, generator=g, dtype=torch.float64) / (5 if large else 4),
        "c": 0.1 * torch.randn(cout, generator=g, dtype=torch.float64),
        "W": torch.randn(out, feat, generator=g, dtype=torch.float64) / scale,
    }

    def f(q: Params) -> torch.Tensor:
        h = F.max_pool2d(torch.relu(F.conv2d(x.to(q["K"].dtype), q["K"], q["c"])), 2)
        return ((h.flatten(1) @ q["W"].T - y.to(h.dtype)) ** 2).sum() / 2

    return f, p


def _ties(g: torch.Generator, large: bool):  # noqa: ANN202, ARG001 - one size: its cost is its kinks
    def half(t: torch.Tensor) -> torch.Tensor:
        return torch.round(t * 2) / 2

    x = half(torch.randn(6, 8, generator=g, dtype=torch.float64))
    p = {
        "W1": half(torch.randn(8, 8, generator=g, dtype=torch.float64)),
        "b1": half(torch.randn(8, generator=g, dtype=torch.float64)),
        "W2": half(torch.randn(4, 8, generator=g, dtype=torch.float64)),
    }

    def f(q: Params) -> torch.Tensor:
        h = torch.relu(x.to(q["W1"].dtype) @ q["W1"].T + q["b1"])
        o = h @ q["W2"].T
        return o.reshape(6, 2, 2).max(-1).values.sum() + 0.1 * (o**2).sum()

    return f, p


def _scaled(g: torch.Generator, large: bool):  # noqa: ANN202
    n, d = (64, 1024) if large else (32, 128)
    s = 10.0 ** torch.tensor([-4.0, 4.0] * (d // 2), dtype=torch.float64)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) / s  # features matched to the weights' scales
    w_true = torch.randn(d, generator=g, dtype=torch.float64) * s
    y = x @ w_true + torch.randn(n, generator=g, dtype=torch.float64)
    p = {"w": w_true * (1 + 0.1 * torch.randn(d, generator=g, dtype=torch.float64)),
         "b": torch.randn(1, generator=g, dtype=torch.float64)}

    def f(q: Params) -> torch.Tensor:
        r = x.to(q["w"].dtype) @ q["w"] + q["b"] - y.to(q["w"].dtype)
        return 0.5 * (r**2).sum() * 1e3

    return f, p


def _gru(g: torch.Generator, large: bool):  # noqa: ANN202, ARG001 - 9,216 entries either way
    d, h, steps, batch = 16, 48, 6, 8
    xs = torch.randn(steps, batch, d, generator=g, dtype=torch.float64)
    target = torch.randn(batch, h, generator=g, dtype=torch.float64)
    p = {k: torch.randn(h, d + h, generator=g, dtype=torch.float64) / 8 for k in ("Wz", "Wr", "Wh")}

    def f(q: Params) -> torch.Tensor:
        st = torch.zeros(batch, h, dtype=q["Wz"].dtype)
        for t in range(steps):
            xt = xs[t].to(st.dtype)
            z = torch.sigmoid(torch.cat([xt, st], 1) @ q["Wz"].T)
            r = torch.sigmoid(torch.cat([xt, st], 1) @ q["Wr"].T)
            c = torch.tanh(torch.cat([xt, r * st], 1) @ q["Wh"].T)
            st = (1 - z) * st + z * c
        return ((st - target.to(st.dtype)) ** 2).mean()

    return f, p


def _mixture(g: torch.Generator, large: bool):  # noqa: ANN202
    if large:
        return _mixture_nd(g)
    k, n = 5, 40
    data = torch.randn(n, generator=g, dtype=torch.float64) * 2
    p = {
        "mu": torch.randn(k, generator=g, dtype=torch.float64) * 2,
        "rho": torch.randn(k, generator=g, dtype=torch.float64) * 0.3,
        "logits": torch.randn(k, generator=g, dtype=torch.float64),
    }

    def f(q: Params) -> torch.Tensor:
        sigma = F.softplus(q["rho"]) + 0.1
        z = (data.to(sigma.dtype)[:, None] - q["mu"]) / sigma
        logp = torch.log_softmax(q["logits"], 0) - 0.5 * z**2 - torch.log(sigma)
        return -torch.logsumexp(logp, 1).sum()

    return f, p


def _mixture_nd(g: torch.Generator):  # noqa: ANN202
    k, n, dim = 64, 64, 16
    data = torch.randn(n, dim, generator=g, dtype=torch.float64) * 2
    p = {
        "mu": torch.randn(k, dim, generator=g, dtype=torch.float64) * 2,
        "rho": torch.randn(k, dim, generator=g, dtype=torch.float64) * 0.3,
        "logits": torch.randn(k, generator=g, dtype=torch.float64),
    }

    def f(q: Params) -> torch.Tensor:  # diagonal Gaussians in 16 dimensions
        sigma = F.softplus(q["rho"]) + 0.1
        z = (data.to(sigma.dtype)[:, None, :] - q["mu"]) / sigma
        logp = torch.log_softmax(q["logits"], 0) - (0.5 * z**2 + torch.log(sigma)).sum(-1)
        return -torch.logsumexp(logp, 1).sum()

    return f, p


def _bnmlp(g: torch.Generator, large: bool):  # noqa: ANN202
    (n, d, h), s1, s2 = ((64, 32, 128), 6, 12) if large else ((12, 7, 9), 3, 3)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = (torch.rand(n, generator=g) < 0.5).double()
    p = {
        "W1": torch.randn(h, d, generator=g, dtype=torch.float64) / s1,
        "gamma": 1 + 0.1 * torch.randn(h, generator=g, dtype=torch.float64),
        "beta": 0.1 * torch.randn(h, generator=g, dtype=torch.float64),
        "w2": torch.randn(h, generator=g, dtype=torch.float64) / s2,
    }

    def f(q: Params) -> torch.Tensor:
        h = x.to(q["W1"].dtype) @ q["W1"].T
        h = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-5) * q["gamma"] + q["beta"]
        o = F.softplus(h) @ q["w2"]
        return F.binary_cross_entropy_with_logits(o, y.to(o.dtype), reduction="sum") + 0.01 * (q["W1"] ** 2).sum()

    return f, p


_BUILDERS = {"conv": _conv, "ties": _ties, "scaled": _scaled, "gru": _gru, "mixture": _mixture, "bnmlp": _bnmlp}


@dataclass
class Bug:
    kind: str
    name: str  # the tensor
    claimed: Params
    mask: torch.Tensor  # wrong entries (beyond 2τ)
    loose: torch.Tensor  # entries beyond τ (may be reported wrong)


def plant(pr: Problem, kind: str, seed: int) -> Bug | None:
    """Plant one bug of ``kind`` in a tensor of ``pr`` (None when the kind does not apply)."""
    g = _gen(seed * 7 + ALL_KINDS.index(kind))
    names = [k for k, v in pr.grads.items() if v.numel() > 1]
    if kind in ("row", "column", "transpose"):
        names = [k for k in names if pr.grads[k].dim() == 2 and min(pr.grads[k].shape) >= 2]
        if kind == "transpose":
            names = [k for k in names if pr.grads[k].shape[0] == pr.grads[k].shape[1]]
    if not names:
        return None
    name = names[int(torch.randint(0, len(names), (1,), generator=g))]
    true = pr.grads[name].to(torch.float64)
    tol = engine_tolerance(pr.grads[name])
    new = true.clone()
    flat = new.view(-1)
    rms = float(true.pow(2).mean().sqrt()) or 1.0
    if kind in ("entry_edge", "entry_big"):
        i = int(torch.randint(0, true.numel(), (1,), generator=g))
        for _ in range(50):  # off kinks (see on_kink); random data never sits on one
            if not on_kink(pr, name, i):
                break
            i = int(torch.randint(0, true.numel(), (1,), generator=g))
        if kind == "entry_edge":
            d = 2.5 * (tol.atol + tol.rtol * abs(float(flat[i]))) / (1 - 2.5 * tol.rtol)
        else:
            d = 0.5 * rms + 0.5 * abs(float(flat[i]))
        flat[i] += d if bool(torch.rand(1, generator=g) < 0.5) else -d
    elif kind == "row":
        r = int(torch.randint(0, true.shape[0], (1,), generator=g))
        new[r] = true[r] * 2 + 0.5 * rms
    elif kind == "column":
        c = int(torch.randint(0, true.shape[1], (1,), generator=g))
        new[:, c] = 0.0 if float(true[:, c].abs().max()) > 10 * tol.atol else true[:, c] + rms
    elif kind == "shifted":
        point = {k: v.clone() for k, v in pr.params.items()}
        point[name] = point[name] + 1e-2 * (point[name].abs().mean() + 1e-3) * torch.randn(
            point[name].shape, generator=g, dtype=torch.float64)
        new = _grads(pr.f, point, torch.float64)[name]
    elif kind == "tiny_scale":
        new = true * (1 + 5 * tol.rtol)
    elif kind == "factor2":
        new = true * 2
    elif kind == "sign":
        new = -true
    elif kind == "transpose":
        new = true.T.contiguous()
    elif kind == "zero":
        new = torch.zeros_like(true)
    elif kind == "near_kink":  # the first tensor, from the drawn one on, that has such an entry
        for other in names[names.index(name):] + names[:names.index(name)]:
            found = near_kink(pr, other, pr.grads[other].to(torch.float64), g)
            if found is not None:
                name, true = other, pr.grads[other].to(torch.float64)
                tol = engine_tolerance(pr.grads[name])
                new = true.clone()
                new.view(-1)[found[0]] = found[1]
                break
        else:
            return None
    elif kind == "sparse":
        m = torch.rand(true.shape, generator=g) < 0.02
        if not bool(m.any()):
            m.view(-1)[0] = True
        new[m] = true[m] * 1.5 + 0.5 * rms
    claimed = dict(pr.grads)
    claimed[name] = new.to(pr.dtype)
    back = claimed[name].to(torch.float64)
    err, tau = (back - true).abs(), tol.atol + tol.rtol * back.abs()
    mask = err > 2 * tau
    if pr.family == "ties":  # (the one family whose data sit exactly on kinks)
        for i in mask.reshape(-1).nonzero().flatten().tolist():
            if subgradient(pr, name, i, float(back.reshape(-1)[i]), float(tau.reshape(-1)[i])):
                mask.view(-1)[i] = False  # a claim between the one-sided derivatives at a kink is a valid one
    if not bool(mask.any()):
        return None  # nothing above the guarantee (e.g. a transpose of a symmetric tensor)
    return Bug(kind, name, claimed, mask, err > tau)


def subgradient(pr: Problem, name: str, i: int, claim: float, tau: float) -> bool:
    """Entry ``i`` of ``name`` sits on a kink (see :func:`on_kink`) and ``claim`` lies between its one-sided
    derivatives, within ``τ``: a valid subgradient, which the engine passes with a note (issue 9's rule), so a
    planted bug that lands there is not counted as a wrong entry to locate."""
    if not on_kink(pr, name, i):
        return False
    left, right = _one_sided(pr, name, i, 1e-4)
    return min(left, right) - tau <= claim <= max(left, right) + tau
