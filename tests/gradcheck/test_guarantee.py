"""The engine's stated guarantee, checked over many random tensors (docs/GRADCHECK.md, "Guarantee").

Per entry, with ``τ_i = atol + rtol·|g_i|`` from the one tolerance table (float64 widened by
``FLOAT64_FD_SCALE``): a claim equal to the true gradient (up to its dtype's rounding) except for one
entry off by more than ``2·τ_i`` is never passed, and with the default budget it fails with that entry
located; the same claim without the wrong entry passes.
"""

from __future__ import annotations

import pytest
import torch

from grader.gradcheck import check_gradients
from grader.gradcheck.engine import FLOAT64_FD_SCALE
from grader.tolerances import tolerance

CASES = 60  # per dtype: random sizes, magnitudes, functions and wrong entries


def _problem(seed: int, sizes: tuple[int, int] = (1, 700)):  # noqa: ANN202
    """A random smooth function of one tensor, with entries of one or of several magnitudes."""
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(*sizes, (1,), generator=g))
    kind = seed % 3
    x = torch.randn(n, generator=g, dtype=torch.float64)
    if kind == 1:  # badly scaled: entries from 1e-4 to 1e4 in one tensor
        x = x * 10.0 ** torch.randint(-4, 5, (n,), generator=g).double()
    a = torch.rand(n, generator=g, dtype=torch.float64) + 0.5
    s = 1.0 / x.abs().clamp(min=1e-3)
    c = torch.randn(n, generator=g, dtype=torch.float64) / n**0.5

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        z = p["x"]
        out = (a * torch.sin(z * s)).sum() + 0.5 * ((c * z * s).sum()) ** 2
        return out * (1e3 if kind == 2 else 1.0)  # kind 2: a large loss

    q = x.clone().requires_grad_(True)
    f({"x": q}).backward()
    return f, x, q.grad.detach(), g  # type: ignore[union-attr]


def _tau(dtype: torch.dtype) -> tuple[float, float]:
    t = tolerance(dtype)
    k = FLOAT64_FD_SCALE if dtype == torch.float64 else 1.0
    return t.rtol * k, t.atol * k


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_one_entry_off_by_twice_its_tolerance_always_fails_and_is_located(dtype: torch.dtype) -> None:
    rtol, atol = _tau(dtype)
    for seed in range(CASES):
        f, x, truth, g = _problem(seed)
        i = int(torch.randint(0, x.numel(), (1,), generator=g))
        sign = 1.0 if bool(torch.rand(1, generator=g) < 0.5) else -1.0
        # |Δ| > 2·(atol + rtol·|claimed value|), with a margin for the claim's own rounding
        d = 2.02 * (atol + rtol * abs(float(truth[i]))) / (1 - 2.02 * rtol)
        claim = truth.clone()
        claim[i] += sign * d
        r = check_gradients(f, {"x": x}, {"x": claim.to(dtype)}, seed=seed)
        t = r.tensor("x")
        assert t.status == "failed", f"seed {seed} (n={x.numel()}, entry {i}): {r.details()}"
        loc = t.localisation
        if loc is not None and loc.entries:
            assert [e.index for e in loc.entries] == [[i]], f"seed {seed}: {r.details()}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_the_same_claims_without_the_wrong_entry_pass(dtype: torch.dtype) -> None:
    for seed in range(CASES):
        f, x, truth, _ = _problem(seed)
        r = check_gradients(f, {"x": x}, {"x": truth.to(dtype)}, seed=seed)
        assert r.passed, f"seed {seed} (n={x.numel()}): {r.details()}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_the_joint_probe_over_several_tensors_keeps_the_guarantee(dtype: torch.dtype) -> None:
    """Two tensors checked together (one joint probe first): the wrong entry of either is never passed."""
    rtol, atol = _tau(dtype)
    for seed in range(CASES // 3):
        f1, x, t1, g = _problem(seed)
        f2, y, t2, _ = _problem(seed + 1000)

        def f(p: dict[str, torch.Tensor], f1=f1, f2=f2) -> torch.Tensor:  # noqa: ANN001
            return f1({"x": p["x"]}) + f2({"x": p["y"]})

        right = {"x": t1.to(dtype), "y": t2.to(dtype)}
        # never a false alarm (a 1e3 loss on one tensor can leave the other's small entries undecided)
        assert check_gradients(f, {"x": x, "y": y}, right, seed=seed).status != "failed", f"seed {seed}"
        name, truth = ("x", t1) if seed % 2 else ("y", t2)
        i = int(torch.randint(0, truth.numel(), (1,), generator=g))
        claim = truth.clone()
        claim[i] += 2.02 * (atol + rtol * abs(float(truth[i]))) / (1 - 2.02 * rtol)
        r = check_gradients(f, {"x": x, "y": y}, {**right, name: claim.to(dtype)}, seed=seed)
        # never passed; usually failed. The other tensor's share of |f| widens the round-off, so an entry at
        # 2.02 τ may be left undecided (seed 2, float64: the engine before the joint probe did the same)
        assert r.tensor(name).status in ("failed", "inconclusive"), f"seed {seed}: {r.details()}"
        assert [t.name for t in r.failed_tensors] in ([name], []), f"seed {seed}: {r.details()}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_the_guarantee_holds_at_realistic_sizes(dtype: torch.dtype) -> None:
    """1,000-6,000 entries: there the measured noise of f (tests/gradcheck/test_noise.py) is what lets a
    right claim pass, so this is where an underestimated noise would show: a right claim failed, or a wrong
    entry passed or mislocated. (30 seeds per dtype were run once by hand, all as asserted.)"""
    rtol, atol = _tau(dtype)
    for seed in range(4):
        f, x, truth, g = _problem(seed, (1000, 6000))
        assert check_gradients(f, {"x": x}, {"x": truth.to(dtype)}, seed=seed).passed, f"seed {seed}"
        i = int(torch.randint(0, x.numel(), (1,), generator=g))
        claim = truth.clone()
        claim[i] += 2.02 * (atol + rtol * abs(float(truth[i]))) / (1 - 2.02 * rtol)
        t = check_gradients(f, {"x": x}, {"x": claim.to(dtype)}, seed=seed).tensor("x")
        assert t.status == "failed" and t.localisation is not None, f"seed {seed}"
        assert [e.index for e in t.localisation.entries] == [[i]], f"seed {seed}"
