"""The measured noise of f (ECnoise, grader.gradcheck.fd.noise_level / Evaluator.measure_noise).

The engine bounds the round-off of each evaluation by NOISE_SAFETY times the measured noise (floored at a
few float64 units of |f|). These tests check that this bound is never below the true round-off, on
synthetic noise of known size and on float64 sums whose exact value is known (long double), that it
is small on smooth float64 functions, and that a kink inside the measurement window is not taken for
noise.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from gradcheck_models import gen

from grader.gradcheck import check_gradients
from grader.gradcheck.fd import EPS64, NOISE_POINTS, NOISE_SAFETY, NOISE_STEP, Evaluator, FDSettings, noise_level

D = torch.float64


@pytest.mark.parametrize("kind", ["gauss", "uniform"])
def test_the_bound_from_a_noise_estimate_covers_known_noise(kind: str) -> None:
    rng = random.Random(1)
    half = NOISE_POINTS // 2
    for _ in range(300):
        sigma = 10.0 ** rng.uniform(-14, -8)
        a = [rng.uniform(-1, 1) for _ in range(3)]

        def noise(sigma: float = sigma) -> float:
            return rng.gauss(0, sigma) if kind == "gauss" else rng.uniform(-sigma * 3**0.5, sigma * 3**0.5)

        def phi(t: float, a: list[float] = a) -> float:
            return 1.0 + a[0] * t + a[1] * t * t + a[2] * t**3

        values = [phi(i * NOISE_STEP) + noise() for i in range(-half, half + 1)]
        level, why = noise_level(values)
        assert level is not None, why
        assert sigma / 4 < level < 4 * sigma
        # the round-off bound of a central difference (two evaluations) covers fresh errors of the same noise
        worst = max(abs(noise() - noise()) for _ in range(200))
        assert worst <= 2 * NOISE_SAFETY * level


def _sum_of_sines(n: int, seed: int):  # noqa: ANN202
    c = torch.rand(n, generator=gen(seed), dtype=D) + 0.5
    x = 3 * torch.randn(n, generator=gen(seed + 1), dtype=D)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return (c * torch.sin(p["x"])).sum() + 100.0

    def exact(z: torch.Tensor) -> float:  # the same sum in long double: its error is ~1e-3 of float64's
        zl = z.numpy().astype(np.longdouble)
        return float(np.sum(c.numpy().astype(np.longdouble) * np.sin(zl)) + np.longdouble(100.0))

    return f, x, exact


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="needs an extended-precision long double")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_measured_noise_bounds_the_true_round_off_of_a_float64_sum(seed: int) -> None:
    f, x, exact = _sum_of_sines(3000, seed)
    ev = Evaluator(f, {"x": x})
    u = (torch.rand(x.shape, generator=gen(seed + 7), dtype=D) + 1) * x.abs().clamp(min=0.1)
    sigma = ev.measure_noise()
    assert math.isfinite(sigma)
    f0 = abs(ev.f0)
    assert sigma <= 8 * EPS64 * f0  # small on a smooth float64 function: a few units of |f|
    for t in (1e-7, 3e-6, 1e-5, 4e-4, -1e-4, 2.5e-5, -3.9e-7):
        z = x + t * u
        err = abs(float(f({"x": z})) - exact(z))
        assert err <= NOISE_SAFETY * sigma, (t, err, sigma)


def test_a_kink_inside_the_window_is_not_taken_for_noise() -> None:
    x = torch.tensor([0.0, 1.0, -2.0], dtype=D)
    ev = Evaluator(lambda p: torch.relu(p["x"]).sum(), {"x": x})
    assert math.isnan(ev.measure_noise())  # the jump of the slope is no noise


def test_a_flat_function_has_no_measurable_noise() -> None:
    assert noise_level([1.0] * NOISE_POINTS) == (None, "too small")
    assert noise_level([float(i) for i in range(NOISE_POINTS)])[0] is None  # f varies too much: δ too large


def test_a_large_smooth_float64_tensor_is_decided_in_tens_of_evaluations() -> None:
    # 2,048 entries in float64: with eps_f = 1e-14 the round-off model splits it into many blocks (75
    # evaluations; 289 before undecided blocks were halved by room); with the measured noise, about 40
    g = gen(0)
    x = torch.randn(64, 32, generator=g, dtype=D)
    y = (torch.rand(64, generator=g) < 0.5).double()
    w = torch.randn(64, 32, generator=g, dtype=D) / 6
    v = torch.randn(64, generator=g, dtype=D) / 8

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        h = torch.nn.functional.softplus(x @ p["W"].T)
        return torch.nn.functional.binary_cross_entropy_with_logits(h @ v, y, reduction="sum")

    q = w.clone().requires_grad_(True)
    f({"W": q}).backward()
    claim = q.grad.detach()  # type: ignore[union-attr]
    measured = check_gradients(f, {"W": w}, {"W": claim})
    pessimistic = check_gradients(f, {"W": w}, {"W": claim}, fd=FDSettings(measure_noise=False))
    assert measured.passed and pessimistic.status != "failed"
    assert measured.evaluations <= 60 and measured.evaluations < pessimistic.evaluations
    bad = claim.clone()
    bad[5, 7] += 2.5 * (1e-7 + 1e-5 * abs(float(claim[5, 7])))  # just above the guarantee (float64 τ ×100)
    t = check_gradients(f, {"W": w}, {"W": bad}).tensor("W")
    assert t.status == "failed" and t.localisation is not None
    assert [e.index for e in t.localisation.entries] == [[5, 7]]


def test_a_kink_inside_the_first_window_is_measured_again_closer() -> None:
    # a ReLU crossing 2e-6 along the measurement's own direction: at δ = 1e-6 the differences find a "level"
    # (3e-6) far above the pessimistic one, which is the kink; 100x closer the window misses it
    from grader.gradcheck.fd import _noise_direction

    x = 1 + torch.rand(50, generator=gen(0), dtype=D)
    u = _noise_direction({"x": x})["x"]
    c = float(x[0] + 2e-6 * u[0])

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return 1e-3 * (p["x"] ** 2).sum() + 10 * torch.relu(p["x"][0] - c)

    ev = Evaluator(f, {"x": x})
    first = [float(f({"x": x + i * NOISE_STEP * u})) for i in range(-(NOISE_POINTS // 2), NOISE_POINTS // 2 + 1)]
    level, verdict = noise_level(first)
    assert verdict == "ok" and level is not None and level > 1e-14 * abs(ev.f0)  # the kink, not round-off
    noise = ev.measure_noise()
    assert math.isfinite(noise) and noise < 1e-14 * abs(ev.f0)
    assert ev.count == 1 + 2 * (NOISE_POINTS - 1)  # f0, then two windows


def test_after_a_kink_at_the_larger_steps_only_the_smooth_pairs_decide_whether_to_measure() -> None:
    from grader.gradcheck.fd import Limits, Probe, _roundoff_bound

    lim = Limits(pass_limit=1e-6, fail_limit=1e-3)
    # the smooth smaller pairs: bound 5e-6, of which round-off 4.8e-6; without it they would pass
    near = Probe("kink", 1.0, 0.0, math.inf, 1e-3, 1e-6, 12, persistent_kink=False, smooth=(5e-6, 1.0, 4.8e-6))
    assert _roundoff_bound(near, lim)
    every = Probe("kink", 1.0, 0.0, math.inf, 1e-3, 1e-6, 12, persistent_kink=True, smooth=(5e-6, 1.0, 4.8e-6))
    assert not _roundoff_bound(every, lim)  # a kink at every step: the measurement would straddle it
    truncated = Probe("kink", 1.0, 0.0, math.inf, 1e-3, 1e-6, 12, persistent_kink=False, smooth=(5e-6, 1.0, 1e-7))
    assert not _roundoff_bound(truncated, lim)  # truncation stands in the way: a measurement would not help
