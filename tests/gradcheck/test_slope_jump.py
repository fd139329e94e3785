"""How a smooth pair's bound allows for a slope jump on the point (grader.gradcheck.fd._slope_jump), and when
a probe's round-off is worth measuring (fd._roundoff_bound).

A kink on the point with a slope jump J adds J·h to every second difference Δ²(h) and up to J/2 to the gap
between a valid subgradient and the central difference; a smooth pair's bound carries J/2. One pair
(h, h/4) estimates J with the smooth part's h⁴ term left in it; three steps remove it. Neither alone is
right beside a crossing reached only by the largest step, so the smaller of the two is taken.
"""

from __future__ import annotations

import pytest

from grader.gradcheck.fd import Limits, Probe, _roundoff_bound, _slope_jump

R = 4.0
H = 1e-3
STEPS = (H * R, H, H / R)  # h1, h2 = big, h3 = small


def table(delta2: dict[float, float], noise: float = 0.0) -> dict[float, tuple[float, float, float, float]]:
    """``at[h] = (D(h), its round-off, Δ²(h), its noise)``: only the second differences matter here."""
    return {h: (0.0, 0.0, d2, noise) for h, d2 in delta2.items()}


def second_differences(jump: float, curvature: float, quartic: float) -> dict[float, float]:
    return {h: jump * h + curvature * h * h + quartic * h**4 for h in STEPS}


def test_a_smooth_functions_quartic_term_is_not_taken_for_a_slope_jump() -> None:
    at = table(second_differences(0.0, 3.0, 5e6))
    pair, _ = _slope_jump(at, H, R, three_steps=False)
    three, _ = _slope_jump(at, H, R, three_steps=True)
    assert pair > 1e-4  # |J − Q·h³·(r + 1)/r²| / 2 with J = 0: the pair keeps the quartic term
    assert three < 1e-9 * pair


@pytest.mark.parametrize("three_steps", [False, True])
def test_a_jump_on_the_point_is_counted_in_full(three_steps: bool) -> None:
    at = table(second_differences(0.8, -2.0, 0.0))
    part, roundoff = _slope_jump(at, H, R, three_steps=three_steps)
    assert part == pytest.approx(0.4, rel=1e-9)  # J/2
    assert roundoff == 0.0


def test_a_crossing_reached_by_the_largest_step_only_leaves_the_pair_estimate() -> None:
    d2 = second_differences(0.0, 3.0, 0.0)
    d2[STEPS[0]] += 0.5 * STEPS[0]  # a slope change between h2 and h1: seen by Δ²(h1) only
    at = table(d2)
    pair, _ = _slope_jump(at, H, R, three_steps=False)
    three, _ = _slope_jump(at, H, R, three_steps=True)
    assert pair < 1e-12
    assert three == pair  # the three-step estimate (about 0.05) is not the one taken


def test_the_noise_of_every_second_difference_is_in_the_part_and_its_round_off() -> None:
    at = table(second_differences(0.0, 1.0, 0.0), noise=1e-12)
    for three_steps in (False, True):
        part, roundoff = _slope_jump(at, H, R, three_steps=three_steps)
        assert part >= roundoff > 0.0


def _probe(bound: float, roundoff: float, estimate: float, least: tuple[float, float] | None) -> Probe:
    return Probe("unresolved", 1.0, estimate, bound, 1e-3, H, 8, roundoff=roundoff, least_rest=least)


def test_round_off_is_measured_when_a_smaller_step_would_pass_without_it() -> None:
    """The pair with the smallest bound is held by its truncation (its round-off alone would not decide it); a
    smaller-step pair, whose truncation is far below, fails to pass only by its round-off: measuring the noise
    is worth it."""
    limits = Limits(pass_limit=1e-6, fail_limit=1e-3)
    best_pair = _probe(bound=3e-6, roundoff=1e-6, estimate=1.0, least=None)
    assert not _roundoff_bound(best_pair, limits)
    with_smaller = _probe(bound=3e-6, roundoff=1e-6, estimate=1.0, least=(2e-7, 1.0 + 1e-7))
    assert _roundoff_bound(with_smaller, limits)
    too_far = _probe(bound=3e-6, roundoff=1e-6, estimate=1.0, least=(2e-7, 1.0 + 5e-6))
    assert not _roundoff_bound(too_far, limits)


def test_a_parameter_f_does_not_use_passes_beside_a_large_loss() -> None:
    """f unchanged to the bit at ±h: its change is below one rounding unit, so neither the difference nor the
    slope-jump allowance carries the noise model's round-off. Beside a loss of 1e5 whose measured noise is many
    rounding units (weights of 1e-4 and 1e4 in one tensor), that allowance, made of noise alone, exceeded the
    room of an entry whose claim is 0 (``atol``): here the wrong claim stayed "inconclusive" instead of failing
    (and with the benchmark's ``scaled`` model, a right claim of 0 for an added unused parameter did)."""
    import torch

    from grader.gradcheck import check_gradients

    gen = torch.Generator().manual_seed(0)
    s = 10.0 ** torch.tensor([-4.0, 4.0] * 512, dtype=torch.float64)
    x = torch.randn(64, 1024, generator=gen, dtype=torch.float64) / s
    w_true = torch.randn(1024, generator=gen, dtype=torch.float64) * s
    y = x @ w_true + torch.randn(64, generator=gen, dtype=torch.float64)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return 0.5 * ((x @ p["w"] - y) ** 2).sum() * 1e3  # "unused" never enters

    w0 = w_true * (1 + 0.1 * torch.randn(1024, generator=gen, dtype=torch.float64))
    params = {"w": w0, "unused": torch.tensor([0.7, -1.3], dtype=torch.float64)}
    w = w0.clone().requires_grad_(True)
    f({"w": w}).backward()
    claimed = {"w": w.grad, "unused": torch.zeros(2, dtype=torch.float64)}
    assert 1e4 < float(f(params)) < 1e7
    r = check_gradients(f, params, claimed)
    assert {t.name: t.status for t in r.tensors} == {"w": "passed", "unused": "passed"}, [t.notes for t in r.tensors]
    wrong = check_gradients(f, params, {**claimed, "unused": torch.tensor([0.0, 1e-4], dtype=torch.float64)})
    assert {t.name: t.status for t in wrong.tensors}["unused"] == "failed"
