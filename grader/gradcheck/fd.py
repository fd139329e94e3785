"""Finite differences along a direction, with an error model that keeps a correct gradient passing.

One *probe* compares the claimed directional derivative ``<g, v>`` with central differences of
``φ(t) = f(x + t·v/‖v‖)``. Errors of a central difference ``D(h)``:

* round-off: ``≈ eps_f·(|φ(h)| + |φ(−h)|) / 2h`` plus the rounding of ``x + t·u`` itself
  (``eps·Σ|g_i x_i| / h``): it grows as ``h`` shrinks;
* truncation: ``≈ h²·|φ'''|/6``: it shrinks as ``h`` shrinks, and is measured, not assumed, by
  comparing ``D(h)`` with ``D(h/4)`` (Richardson: the difference is 15/16 of the truncation of ``D(h)``).

A probe passes as soon as the claim lies within the claim's own tolerance plus the FD error bound
(usually after 2 evaluations). It fails only when two step sizes agree that the claim is off by more
than the tolerance, the whole step difference and the round-off bound together, *and* the second
difference ``φ(h) + φ(−h) − 2φ(0)`` scales like ``h²`` between the two steps: it scales like ``h`` when
the difference straddles a kink (ReLU, abs, max), and then smaller steps are tried. A kink that stays
at every step (``x`` sits on it) gives the status ``"kink"``: the caller localises it instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch

EPS64 = float(torch.finfo(torch.float64).eps)
ProbeStatus = Literal["pass", "fail", "kink"]
ScalarFunction = Callable[[dict[str, torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class FDSettings:
    """Knobs of the error model. The defaults are conservative: a false alarm costs more than a miss
    of an error below ~1e-8 relative (bugs are O(1))."""

    eps_f: float = 1e-13  # relative accuracy assumed for one float64 evaluation of f
    safety: float = 8.0  # multiplies every round-off bound
    ratio: float = 4.0  # step reduction between two step sizes
    max_refinements: int = 5  # steps h, h/4, ..., h/4^5 before giving up with "kink"


class FunctionError(RuntimeError):
    """``f`` raised, or returned something that is not a finite real scalar."""


class Evaluator:
    """Evaluates ``f`` at ``x`` moved along one tensor, counting evaluations.

    ``f`` gets a fresh copy of every tensor each time, so a function that modifies its inputs in
    place cannot corrupt the point of the check.
    """

    def __init__(self, f: ScalarFunction, x: Mapping[str, torch.Tensor]) -> None:
        self.f = f
        self.x = {k: v for k, v in x.items()}
        self.count = 0
        self.f0 = self._call(self.x)

    def at(self, name: str, u: torch.Tensor, t: float) -> float:
        moved = dict(self.x)
        moved[name] = self.x[name] + t * u
        return self._call(moved)

    def _call(self, params: Mapping[str, torch.Tensor]) -> float:
        self.count += 1
        fresh = {k: v.clone() for k, v in params.items()}
        try:
            with torch.no_grad():
                out = self.f(fresh)
        except Exception as e:  # noqa: BLE001 - any failure of user code is reported, not raised
            raise FunctionError(f"f raised {type(e).__name__}: {e}") from e
        return _as_scalar(out)


def _as_scalar(out: object) -> float:
    if isinstance(out, torch.Tensor):
        if out.numel() != 1:
            raise FunctionError(f"f must return a scalar, got a tensor of shape {tuple(out.shape)}")
        if out.is_complex():
            raise FunctionError("f must return a real scalar, got a complex one")
        return float(out.detach().reshape(()).to(torch.float64))
    if isinstance(out, (int, float)):
        return float(out)
    raise FunctionError(f"f must return a scalar tensor, got {type(out).__name__}")


@dataclass
class Probe:
    """One directional comparison. ``estimate`` and ``bound`` are for ``<true gradient, v>``."""

    status: ProbeStatus
    claim: float
    estimate: float
    bound: float  # error bound of the estimate (finite differences only)
    tolerance: float  # precision asked of the claim along v (from the claim's dtype)
    step: float
    evaluations: int
    # (h, φ(h), φ(−h)) for each step tried, in the unit direction: reused for one-sided checks
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    norm: float = 1.0
    note: str = ""

    @property
    def mismatch(self) -> float:
        return self.claim - self.estimate

    @property
    def reliable(self) -> bool:
        """The estimate's bound includes a measured truncation error (two step sizes or more)."""
        return len(self.samples) >= 2 and self.status != "kink"


# Claim errors seen through a random direction: for per-entry errors |e_i| ≤ w_i (the tolerance) and
# signs of v independent of them, Hoeffding gives P(|Σ e_i v_i| ≥ K·‖w·v‖₂) ≤ 2·exp(−K²/2) ≈ 5e-11.
# The worst case ‖w·v‖₁ grows like n instead of √n and would hide sparse errors in large tensors.
HOEFFDING_K = 7.0


def claim_tolerance(g: torch.Tensor, v: torch.Tensor, rtol: float, atol: float) -> float:
    """How far ``<g, v>`` may be from ``<∇f, v>`` when every entry of g is within (rtol, atol)."""
    w = (rtol * g.abs() + atol) * v.abs()
    return float(min(w.sum(), HOEFFDING_K * w.pow(2).sum().sqrt()))


def default_step(x: torch.Tensor, settings: FDSettings) -> float:
    """``eps_f^(1/3)`` balances round-off and truncation for unit scales; larger for large ``x``."""
    rms = float(x.pow(2).mean().sqrt()) if x.numel() else 0.0
    return settings.eps_f ** (1 / 3) * max(1.0, rms if math.isfinite(rms) else 1.0)


def probe(
    ev: Evaluator,
    name: str,
    v: torch.Tensor,
    claim: float,
    tolerance: float,
    xerr: float,
    h0: float,
    settings: FDSettings,
    *,
    min_steps: int = 1,
) -> Probe:
    """Compare ``claim = <g, v>`` with finite differences along ``v``.

    ``tolerance`` is how far ``claim`` may be from the truth because of the claim's own precision;
    ``xerr`` bounds ``eps·Σ|g_i x_i|`` over the support of ``v`` (rounding of the moved point).
    ``min_steps=2`` forces a measured truncation error (a *measurement*, used for hypotheses).
    """
    nv = float(v.norm())
    if nv == 0.0 or not math.isfinite(nv):
        return Probe("pass", claim, 0.0, 0.0, tolerance, 0.0, 0)
    u = v / nv
    c, tl, xe = claim / nv, tolerance / nv, xerr / nv
    start = ev.count
    s = settings
    ds: list[float] = []
    rs: list[float] = []
    d2s: list[float] = []
    n2s: list[float] = []
    samples: list[tuple[float, float, float]] = []

    def done(status: ProbeStatus, est: float, bound: float, h: float, note: str = "") -> Probe:
        return Probe(status, claim, est * nv, bound * nv, tolerance, h, ev.count - start, samples, nv, note)

    for k in range(s.max_refinements + 1):
        h = h0 / s.ratio**k
        fp, fm = ev.at(name, u, h), ev.at(name, u, -h)
        if not (math.isfinite(fp) and math.isfinite(fm)):
            return done("kink", ds[-1] if ds else 0.0, math.inf, h, "f is not finite near the point")
        samples.append((h, fp, fm))
        ds.append((fp - fm) / (2 * h))
        rs.append((s.eps_f * (abs(fp) + abs(fm)) + 2 * xe) / (2 * h))
        d2s.append(fp + fm - 2 * ev.f0)
        n2s.append(s.safety * (s.eps_f * (abs(fp) + abs(fm) + 2 * abs(ev.f0)) + 3 * xe))
        if k == 0:
            if min_steps <= 1 and abs(ds[0] - c) <= tl + s.safety * rs[0]:
                return done("pass", ds[0], s.safety * rs[0], h)
            continue
        est = ds[-1] + (ds[-1] - ds[-2]) / (s.ratio**2 - 1)
        bound = abs(ds[-1] - ds[-2]) + s.safety * (rs[-1] + rs[-2])
        smooth = _second_difference_consistent(d2s[-2], d2s[-1], n2s[-2], n2s[-1], s.ratio)
        if k + 1 < min_steps or not smooth:
            continue  # a kink within ±h: only a smaller step can tell
        return done("pass" if abs(est - c) <= tl + bound else "fail", est, bound, h)
    return done("kink", ds[-1], abs(ds[-1] - ds[-2]) + s.safety * (rs[-1] + rs[-2]), h, "kink at every step")


def _second_difference_consistent(a: float, b: float, na: float, nb: float, ratio: float) -> bool:
    """``a = Δ²(h)`` and ``b = Δ²(h/ratio)`` scale like ``h²``, as on a smooth function.

    Across a kink the second difference scales like ``h`` (ratio 4 instead of 16), or jumps.
    """
    r2 = ratio**2
    return abs(a - r2 * b) <= 0.5 * abs(a) + na + r2 * nb


def one_sided(p: Probe, f0: float) -> tuple[float, float]:
    """Left and right derivatives along the probe's direction (scaled by its norm), from its samples.

    Richardson on one-sided differences (error ∝ h) over the two smallest steps.
    """
    if not p.samples:
        return p.estimate, p.estimate

    def fwd(h: float, fp: float) -> float:
        return (fp - f0) / h

    def bwd(h: float, fm: float) -> float:
        return (f0 - fm) / h

    (h1, fp1, fm1) = p.samples[-1]
    if len(p.samples) == 1:
        return bwd(h1, fm1) * p.norm, fwd(h1, fp1) * p.norm
    (h0, fp0, fm0) = p.samples[-2]
    q = h0 / h1
    right = (q * fwd(h1, fp1) - fwd(h0, fp0)) / (q - 1)
    left = (q * bwd(h1, fm1) - bwd(h0, fm0)) / (q - 1)
    return left * p.norm, right * p.norm
