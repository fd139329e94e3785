"""Finite differences along a direction, with an error model that never lets a doubtful probe pass.

One *probe* compares the claimed directional derivative ``c = <g, w>`` with central differences of
``φ(t) = f(x + t·w)``. The direction ``w = v ⊙ s ⊙ κ`` carries the scale ``s`` of each entry's block of
similar magnitudes (see :func:`entry_scale`), so a step ``t = h`` moves every entry by about ``h``
relative to its block: a tensor holding 1e-4 and 1e4 entries is probed at the right scale for both.
``κ ∈ [1, 64]`` weighs up entries whose tolerance is small, so that every entry of a block is seen with
a similar weight against its own tolerance. Errors of a
central difference ``D(h)``:

* round-off: ``≈ eps_f·(|φ(h)| + |φ(−h)|) / 2h`` plus the rounding of ``x + t·w`` itself
  (``eps·Σ|g_i x_i| / h``): it grows as ``h`` shrinks. ``eps_f`` is a pessimistic guess (1e-14) until a
  probe it leaves undecided has the noise of ``f`` measured (:func:`noise_level`, ECnoise, once per
  check: :meth:`Evaluator.measure_noise`); then each evaluation's round-off is bounded by 16 times the
  measured noise, floored at 8 float64 units of ``|φ|``;
* truncation: ``≈ h²·|φ'''|/6``: it shrinks as ``h`` shrinks, and is measured, not assumed, by
  comparing ``D(h)`` with ``D(h/4)`` (Richardson: the difference is 15/16 of the truncation of ``D(h)``).

The caller gives two limits (see :mod:`grader.gradcheck.locate`): the probe *passes* only when
``|estimate − claim| + bound + noise ≤ pass_limit`` (the bound is small against what a wrong entry
would show), and *fails* only when ``|estimate − claim| − bound > fail_limit`` (no claim within its
tolerance can be that far) on a measured, smooth step pair, and again on the next smaller pair (a kink
crossed between two steps can mimic a smooth pair once, hardly twice). In between, with a small bound,
the probe is ``"gray"``: the caller splits the block. When no step resolves the question the probe is
``"unresolved"``, never a pass. Every verdict rests on at least two step sizes (4 evaluations): a
single central difference can hide a wrong entry behind its unmeasured truncation. When round-off
dominates the first pair the step grows instead of shrinking.

Kinks (ReLU, abs, max): across a kink the second difference ``φ(h) + φ(−h) − 2φ(0)`` scales like ``h``,
not ``h²``. A kink seen at one step is remembered: a smaller step is called smooth only when its own
second difference is resolved above round-off and no longer shows the jump. A kink that stays at every
step gives ``"kink"``: the caller compares the claim with the one-sided derivatives of single entries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

EPS64 = float(torch.finfo(torch.float64).eps)
ProbeStatus = Literal["pass", "fail", "gray", "kink", "unresolved"]
ScalarFunction = Callable[[dict[str, torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class FDSettings:
    """Knobs of the error model. The defaults are conservative: a false alarm costs more than a miss
    of an error below the guarantee (bugs are O(1))."""

    eps_f: float = 1e-14  # relative accuracy assumed for one float64 evaluation of f
    safety: float = 8.0  # multiplies every round-off bound of the pessimistic model (and the measured one's floor)
    ratio: float = 4.0  # step reduction between two step sizes
    max_refinements: int = 5  # steps h, h/4, ..., h/4^5 before giving up
    step: float = 4e-4  # first step, relative to each entry's scale (the second is a quarter of it)
    measure_noise: bool = True  # measure f's noise (ECnoise) when eps_f leaves a probe undecided


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
        self.f0 = self._call({})
        # Measured noise of f near x (see measure_noise): None until measured; NaN when the measurement
        # failed (the pessimistic model of FDSettings then stays in force)
        self.noise: float | None = None
        # Evaluations along the last direction, by step: a probe re-run with the measured noise reuses them
        self._memo_u: object = None
        self._memo_name = ""
        self._memo: dict[float, float] = {}

    def at(self, name: str, u: torch.Tensor | Mapping[str, torch.Tensor], t: float) -> float:
        """``f(x + t·u)``: ``u`` moves tensor ``name``, or, as a dict, several tensors at once (a joint
        probe of the whole model, see :func:`grader.gradcheck.locate.joint_probe`). The values along the
        last direction object are remembered (not counted again)."""
        if u is not self._memo_u or name != self._memo_name:
            self._memo_u, self._memo_name, self._memo = u, name, {}
        memo = self._memo
        if t in memo:
            return memo[t]
        if isinstance(u, Mapping):
            moved = {k: torch.add(self.x[k], uk, alpha=t) for k, uk in u.items()}
        else:
            moved = {name: torch.add(self.x[name], u, alpha=t)}
        value = memo[t] = self._call(moved)
        return value

    def measure_noise(self, ceiling: float = 1e-14) -> float:
        """Measure, once per check, the noise level (standard deviation) of ``f`` near ``x``: :func:`noise_level`
        on ``f(x + i·δ·u)``, ``i = −6…6`` (12 evaluations besides ``f0``; a second try with another ``δ`` when
        the first is too large or too small, or finds a level above ``ceiling``: then 100× closer), along a
        seeded direction ``u`` that moves *every* entry of every tensor by a relative ``±(1…2)·δ``. The
        round-off of an evaluation is a property of the computation of ``f`` near ``x``; a probe that moves
        fewer entries leaves more of that computation unchanged (its rounding errors cancel in differences),
        so this measurement is the one to reuse for every later probe of the check. Returns the noise, or NaN
        when it could not be measured or is not below ``ceiling·|f0|`` (the pessimistic model's level): a kink
        within ±6δ shows in the differences as a large "noise" (a jump of the slope, not round-off), so a
        measurement that large says nothing reliable and the caller keeps its pessimistic model."""
        if self.noise is not None:
            return self.noise
        self.noise = math.nan
        u = _noise_direction(self.x)
        delta, tried = NOISE_STEP, set()
        half = NOISE_POINTS // 2
        while delta not in tried:
            tried.add(delta)
            values = [self.f0 if i == 0 else
                      self._call({k: torch.add(v, u[k], alpha=i * delta) for k, v in self.x.items()})
                      for i in range(-half, half + 1)]
            if not all(math.isfinite(v) for v in values):
                break
            level, verdict = noise_level(values)
            if level is not None:
                if level < ceiling * abs(self.f0):
                    self.noise = level
                    break
                if delta < NOISE_STEP:
                    break
                delta /= 100  # above the pessimistic level: most likely a kink within ±6δ; once more, closer
                continue
            # one more try, 100× smaller (f not flat to its noise) or larger (f did not move); never back
            delta = delta / 100 if verdict == "too large" and delta <= NOISE_STEP else (
                delta * 100 if verdict == "too small" and delta >= NOISE_STEP else delta)
        return self.noise

    def _call(self, moved: Mapping[str, torch.Tensor]) -> float:
        """``f`` at ``x`` with the tensors of ``moved`` in place of their own: those the caller has just made
        and holds no other reference to; every other tensor is passed as a copy."""
        self.count += 1
        args = {k: moved[k] if k in moved else v.clone() for k, v in self.x.items()}
        try:
            if torch.is_grad_enabled():
                with torch.no_grad():
                    out = self.f(args)
            else:  # check_gradients runs under no_grad already: entering it again for every call costs a little
                out = self.f(args)
        except Exception as e:  # noqa: BLE001 - any failure of user code is reported, not raised
            raise FunctionError(f"f raised {type(e).__name__}: {e}") from e
        return _as_scalar(out)


# δ of the noise measurement, in the probe's units (a relative move of each entry): small enough that the
# smooth part of f is gone from its higher differences, large enough to move every entry by many ulps
NOISE_STEP = 1e-6
# Points of the measurement, and the factor on the measured σ in every round-off bound. From 13 points the
# estimate is below σ/3 with probability ~1e-3 (9 points: 4e-3 below σ/5); with 16·σ, the error of a
# central difference (two evaluations) exceeds its round-off bound with probability < 1e-10 for Gaussian
# or uniform noise, the estimate's own spread included (simulated; 9 points and 8·σ: 2e-4).
NOISE_POINTS = 13
NOISE_SAFETY = 16.0


def _noise_direction(x: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The direction of the noise measurement: :func:`relative_direction` with its own seed."""
    return relative_direction(x, 20_111)


def relative_direction(x: Mapping[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Seeded ``±U(1, 2)`` times each entry's scale (:func:`entry_scale`) on every tensor: a relative move."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in x.items():
        r = torch.rand(v.shape, generator=gen, dtype=torch.float64) * 2 - 1
        scale = torch.from_numpy(entry_scale(np.abs(v.numpy().reshape(-1))).reshape(v.shape))
        out[k] = torch.sign(r) * (1 + r.abs()) * scale
    return out


def noise_level(values: list[float]) -> tuple[float | None, str]:
    """The noise level of ``f`` from ``m + 1`` values at equally spaced points (Moré & Wild, "Estimating
    computational noise", SIAM J. Sci. Comput. 33(3), 2011: ECnoise).

    The ``k``-th differences of a smooth function at a tiny spacing ``δ`` are ``O(δ^k)``; those of noise
    of standard deviation σ have a mean square of ``σ²·(2k)!/(k!)²``. So ``σ_k = sqrt(γ_k·mean(Δ^k²))``,
    ``γ_k = (k!)²/(2k)!``, estimates σ once the smooth part has vanished: three consecutive orders agree
    within a factor 4 and the differences change sign. Where the paper returns ``σ_k``, this returns the
    largest of the three agreeing estimates (a smaller estimate would allow a smaller error bound).
    Returns ``(σ, "ok")``, or ``(None, why)``: ``"too large"`` (the values vary too much: δ too large),
    ``"too small"`` (fewer than half of them distinct: δ moves ``f`` below its rounding; also the case
    of a function flat to the last bit, whose noise is then unknown, not zero).
    """
    m = len(values) - 1
    lo, hi = min(values), max(values)
    if hi - lo > 0.1 * max(abs(lo), abs(hi)):
        return None, "too large"
    if len(set(values)) <= (m + 1) // 2:
        return None, "too small"
    d = list(values)
    gamma = 1.0
    levels: list[float] = []
    sign_change: list[bool] = []
    for j in range(1, m + 1):
        d = [d[i + 1] - d[i] for i in range(len(d) - 1)]
        gamma *= 0.5 * j / (2 * j - 1)
        levels.append(math.sqrt(gamma * sum(v * v for v in d) / len(d)))
        sign_change.append(min(d) * max(d) < 0)
    for k in range(m - 2):
        trio = levels[k : k + 3]
        if max(trio) <= 4 * min(trio) and sign_change[k]:
            return max(trio), "ok"
    return None, "too large"


def _as_scalar(out: object) -> float:
    if isinstance(out, torch.Tensor):
        if out.numel() != 1:
            raise FunctionError(f"f must return a scalar, got a tensor of shape {tuple(out.shape)}")
        if out.is_complex():
            raise FunctionError("f must return a real scalar, got a complex one")
        return float(out.item())
    if isinstance(out, (int, float)):
        return float(out)
    raise FunctionError(f"f must return a scalar tensor, got {type(out).__name__}")


@dataclass(frozen=True)
class Limits:
    """What decides a probe, in the claim's units along ``w``.

    ``pass_limit``: the largest ``|mismatch| + bound + noise`` that still proves no entry of the block
    is off by more than twice its tolerance; ``fail_limit``: the largest ``|mismatch|`` a claim within
    its tolerance can show (with probability ≥ 1 − 1e-6); ``noise``: the claim's own rounding, seen
    through ``w``.
    """

    pass_limit: float
    fail_limit: float
    noise: float = 0.0


@dataclass
class Probe:
    """One directional comparison. ``estimate`` and ``bound`` are for ``<true gradient, w>``."""

    status: ProbeStatus
    claim: float
    estimate: float
    bound: float  # error bound of the estimate (finite differences only)
    tolerance: float  # fail limit: the room a claim within its tolerance has along w
    step: float
    evaluations: int
    # (h, φ(h), φ(−h)) for each step tried: reused for one-sided derivatives
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    norm: float = 1.0
    note: str = ""
    pass_limit: float = 0.0
    roundoff: float = math.inf  # the part of ``bound`` that is round-off (inf: unknown)
    persistent_kink: bool = True  # a "kink" seen down to the smallest step tried (not only at larger ones)
    on_point: bool = False  # a "kink" the probe stopped on because it is on the point itself (see _stop_on_kink)
    smooth: tuple[float, float, float] | None = None  # a kink at larger steps only: (bound, estimate, round-off)
    # of its best smooth smaller pair
    measured_noise: bool = False  # its round-off came from the measured noise of f (not the pessimistic eps_f)
    # (the part of its bound that is not round-off, the estimate) of the smooth pair where that part is smallest
    least_rest: tuple[float, float] | None = None

    @property
    def mismatch(self) -> float:
        return self.claim - self.estimate

    @property
    def reliable(self) -> bool:
        """The estimate's bound includes a measured truncation error (two step sizes or more)."""
        return len(self.samples) >= 2 and self.status in ("pass", "fail", "gray") and math.isfinite(self.bound)


# Claim errors seen through a random direction: for per-entry errors |e_i| ≤ τ_i and signs of w
# independent of them, Hoeffding gives P(|Σ e_i w_i| ≥ K·‖τ·w‖₂) ≤ 2·exp(−K²/2) < 1e-6 for K = 5.4.
HOEFFDING_K = 5.4


def entry_scale(a: np.ndarray, bands: np.ndarray | None = None) -> np.ndarray:
    """The per-entry step scale from ``a = |x|`` (flat, float64): ``|x_i|``, floored at a tenth of the RMS of
    the entry's magnitude band; a non-finite entry gets the RMS of its band's finite ones.

    ``bands`` labels each entry's band (``0…k−1``, :func:`grader.gradcheck.locate.magnitude_bands`; ``None``:
    one band), so a 1e-4 entry is never moved like a 1e4 one; the floor keeps a peer that happens to be near
    zero movable by a step that rises above round-off. (In numpy: on the small tensors of a check, torch's
    per-operation dispatch would cost more than the arithmetic.)
    """
    if bands is None:
        total = float(np.dot(a, a)) if a.size else 0.0
        if math.isfinite(total):  # every entry finite (the usual case: one reduction tells)
            rms = math.sqrt(total / a.size) if total > 0 else 1.0
            return np.maximum(a, 0.1 * rms)
    else:
        sq = np.bincount(bands, weights=a * a).tolist()
        if math.isfinite(sum(sq)):  # every entry finite: per band, in Python (a band's RMS is a few scalars)
            rms_b = [math.sqrt(q / max(c, 1)) for q, c in zip(sq, np.bincount(bands).tolist(), strict=True)]
            floor = [0.1 * (r if math.isfinite(r) and r > 0 else 1.0) for r in rms_b]
            out = np.asarray(floor)[bands]
            return np.maximum(a, out, out=out)
    if bands is None:
        bands = np.zeros(a.size, dtype=np.intp)
    finite = np.isfinite(a)
    every = bool(finite.all())
    count = np.bincount(bands) if every else np.bincount(bands, weights=finite)
    sq = np.bincount(bands, weights=a * a if every else np.where(finite, a, 0.0) ** 2)
    typical = np.sqrt(sq / np.maximum(count, 1))
    typical = np.where(np.isfinite(typical) & (typical > 0), typical, 1.0)[bands]
    return np.maximum(a, 0.1 * typical) if every else np.where(finite, np.maximum(a, 0.1 * typical), typical)


def probe(
    ev: Evaluator,
    name: str,
    w: torch.Tensor | Mapping[str, torch.Tensor],
    claim: float,
    limits: Limits,
    xerr: float,
    settings: FDSettings,
    *,
    min_steps: int = 1,
    quick: bool = False,
    kink_patience: int = 0,
    split_hopeless: bool = False,
    entry: bool = False,
) -> Probe:
    """Compare ``claim = <g, w>`` with finite differences along ``w`` (see the module docstring).

    Round-off is first bounded with the pessimistic ``settings.eps_f``; the first probe of a check that
    this leaves undecided measures the noise of ``f`` (:meth:`Evaluator.measure_noise`, 12 evaluations,
    once per check) and is decided again with it, reusing its evaluations; every later probe uses the
    measured noise from the start. A correct model decided at once never pays for the measurement.

    ``split_hopeless`` (block searches): when the claim's own rounding alone (``limits.noise``, a float32
    claim summed over thousands of entries) exceeds ``HOPELESS`` times the pass limit, the block could not pass
    whatever ``f`` shows: ``"gray"`` is returned without an evaluation (bound infinite), and the caller splits
    the block as it would have. Only a failure found at once is given up; it is found in the halves.
    """
    if isinstance(w, torch.Tensor) and not bool(w.any()):  # (a joint direction, a dict, is non-zero by construction)
        return Probe("pass", claim, 0.0, 0.0, limits.fail_limit, 0.0, 0)
    if split_hopeless and limits.noise > HOPELESS * limits.pass_limit:
        return Probe("gray", claim, claim, math.inf, limits.fail_limit, 0.0, 0, pass_limit=limits.pass_limit,
                     note="not probed: the claim's own rounding alone exceeds the pass limit")
    start = ev.count

    def decide() -> Probe:  # under the noise model in force; a second run reuses the first's evaluations
        return _probe(ev, name, w, claim, limits, xerr, settings, quick=quick, kink_patience=kink_patience,
                      entry=entry)

    p = decide()
    # Only when round-off stands in the way (without it the probe would decide), and not after a kink at every
    # step: a kink on the point would be straddled by the measurement too (see measure_noise). After a kink seen
    # at the larger steps only, the smooth smaller pairs are what a measured noise may decide
    if ev.noise is None and settings.measure_noise and _roundoff_bound(p, limits):
        if math.isfinite(ev.measure_noise(settings.eps_f)):
            p = decide()
    p.evaluations = ev.count - start
    return p


def evaluation_error(ev: Evaluator, s: FDSettings) -> Callable[[float], float]:
    """The bound on the round-off of one evaluation of ``f`` of value ``v``, under the noise model in force:
    ``NOISE_SAFETY`` times the measured noise (scaled with ``|v|/|f0|``), floored at ``safety`` float64 units
    of ``|v|``; or, unmeasured, ``safety·eps_f·|v|``."""
    if ev.noise is not None and math.isfinite(ev.noise):
        sigma, ref = ev.noise, max(abs(ev.f0), 1e-300)
        return lambda v: max(NOISE_SAFETY * sigma * max(1.0, abs(v) / ref), s.safety * EPS64 * abs(v))
    return lambda v: s.safety * s.eps_f * abs(v)


def _probe(
    ev: Evaluator,
    name: str,
    w: torch.Tensor | Mapping[str, torch.Tensor],
    claim: float,
    limits: Limits,
    xerr: float,
    settings: FDSettings,
    *,
    quick: bool = False,
    kink_patience: int = 0,
    entry: bool = False,
) -> Probe:
    """One probe (see :func:`probe`) under the noise model in force: the measured noise of ``f`` when
    there is one, else the pessimistic ``eps_f``.

    ``xerr`` bounds ``eps·Σ|g_i x_i|`` over the support of ``w`` (rounding of the moved point).
    Every verdict rests on two step sizes (4 evaluations), so that the truncation error is measured:
    a single central difference can hide a wrong entry behind its own truncation. ``min_steps`` is kept
    for callers that ask for a measurement; 2 is always the case. ``quick`` (for localisation inside a
    tensor already proved wrong) does not confirm a failure at a second pair. ``kink_patience > 0``
    gives up with ``"kink"`` after that many step pairs in a row straddle a kink (for blocks, which are
    split anyway; single entries look further down).
    ``entry``: the probe moves a single entry, whose kink is compared with its one-sided derivatives, so a
    kink must be *on the point* for the probe to stop there: the central differences ``D(h)`` and ``D(h/4)``
    agree (on the point, ``D`` is the mean of the one-sided slopes at every step, whatever the curvature),
    within ``ON_POINT_ENTRY`` of the slope jump. A crossing ``d`` away makes them differ by about
    ``1.5·J·d/h``: one more than about ``7e-4·h`` away is followed down the steps until they are smooth, where
    the claim is held to its tolerance. Blocks, split anyway, stop when ``Δ²`` scales like ``h`` within 5%
    (or like ``J·h + Q·h²`` over three steps). (Entries used the blocks' rule before: a conv net's entries
    1e-6 from a ReLU crossing were called kinks, and a claim 8% off at one of them passed as a subgradient.)
    """
    c, s = claim, settings
    start = ev.count
    # samples by step: h -> (D(h), round-off bound of D(h), second difference, its noise)
    at: dict[float, tuple[float, float, float, float]] = {}
    samples: list[tuple[float, float, float]] = []
    jump = 0.0  # the largest slope jump seen so far (0: no kink seen)

    roundoff = math.inf  # the round-off part of the bound last computed (inf: none computed)

    def done(status: ProbeStatus, est: float, bound: float, h: float, note: str = "") -> Probe:
        samples.sort(key=lambda q: -q[0])  # largest step first: one_sided uses the two smallest
        return Probe(status, claim, est, bound, limits.fail_limit, h, ev.count - start, samples, 1.0, note,
                     limits.pass_limit, roundoff if math.isfinite(bound) else math.inf, measured_noise=measured,
                     least_rest=least)

    measured = ev.noise is not None and math.isfinite(ev.noise)
    err = evaluation_error(ev, s)

    def sample(h: float) -> bool:
        fp, fm = ev.at(name, w, h), ev.at(name, w, -h)
        if not (math.isfinite(fp) and math.isfinite(fm)):
            return False
        samples.append((h, fp, fm))
        # f exactly unchanged by ±h: its change on either side is below one rounding unit of f (a larger one
        # would move f), so the round-off of the difference and of the second difference is that unit, not
        # the noise model's (which, on a large f, would hide the flatness: an unused parameter next to a loss
        # of 1e5 stayed unresolved, its slope-jump allowance made of noise alone)
        if fp == fm == ev.f0:
            r_pm = EPS64 * (abs(fp) + abs(fm))
            n2 = 2 * r_pm
        else:
            r_pm = err(fp) + err(fm)
            n2 = r_pm + 2 * err(ev.f0)
        at[h] = (
            (fp - fm) / (2 * h),
            (r_pm + 2 * s.safety * xerr) / (2 * h),
            fp + fm - 2 * ev.f0,
            n2 + 3 * s.safety * xerr,
        )
        return True

    h = s.step
    if not sample(h):
        return done("kink", 0.0, math.inf, h, "f is not finite near the point")
    lo_h = hi_h = h
    down, failed_once, kinked, on_point = True, False, 0, False
    prev_diff = 0.0
    best: tuple[float, float, float, float] | None = None  # (bound, estimate, step, its round-off part)
    least: tuple[float, float] | None = None  # see Probe.least_rest
    last: tuple[float, float, float] | None = None  # (small step, estimate, round-off) of the last smooth pair
    for _ in range(s.max_refinements):
        if down:
            big, small = lo_h, lo_h / s.ratio
            lo_h = small
        else:
            big, small = hi_h * s.ratio, hi_h
            hi_h = big
        new = small if down else big
        if not sample(new):
            return done("kink", at[small if not down else big][0], math.inf, new, "f is not finite near the point")
        (db, rb, d2b, n2b), (ds, rs, d2s, n2s) = at[big], at[small]
        est = ds + (ds - db) / (s.ratio**2 - 1)
        trunc = abs(ds - db) / (s.ratio**2 - 1)  # ≈ the truncation of D(small); est's own is far below it
        bound, ro = trunc + rs + rb, rs + rb
        if not _second_difference_consistent(d2b, d2s, n2b, n2s, s.ratio):
            jump = max(jump, abs(d2b) / big)
            down, kinked = True, kinked + 1  # a kink within ±h: only smaller steps can tell
            # Δ² ∝ h at both steps: the kink is on the point itself (a crossing near it, reached by the larger
            # step only, gives another ratio): smaller steps would show the same, so one pair is enough
            if kink_patience and _stop_on_kink(at, big, s.ratio, entry):
                on_point = True
                break
            if kink_patience and kinked >= kink_patience:
                break
            continue
        if jump > 0.0 and (abs(d2s) + n2s) / small >= 0.5 * jump:
            down, kinked = True, kinked + 1  # the kink seen before may hide in round-off: not smooth yet
            if kink_patience and kinked >= kink_patience:
                break
            continue
        kinked = 0
        three_steps = False
        if last is not None and last[0] == big:
            three_steps = True
            # Three steps h, h/4, h/16, smooth throughout: the two Richardson estimates differ by 255 times
            # the error of the second (D = φ' + a·h² + b·h⁴ + …, Richardson leaves b·h⁴); their whole
            # difference, plus both pairs' round-off, bounds it with a 255× margin, far tighter than the
            # truncation of D(h/4) when the truncation dominates
            three = abs(est - last[1]) + last[2] + 2 * (rs + rb)
            if three < bound:
                bound, ro = three, last[2] + 2 * (rs + rb)
        last = (small, est, rs + rb)
        # A kink on the point with a slope jump J adds J·h to the second difference (besides the h² of
        # the smooth part) and J/2 to every central difference, which Richardson does not remove: J/2 is
        # added to the bound, round-off included, so that a jump too small to break the h² scaling, or
        # hidden in round-off, is not forgotten (see _slope_jump for how J is bounded).
        jump_part, jump_ro = _slope_jump(at, big, s.ratio, three_steps)
        bound += jump_part
        ro += jump_ro
        roundoff = ro
        if best is None or bound < best[0]:
            best = (bound, est, small, ro)
        if least is None or bound - ro < least[0]:
            least = (bound - ro, est)
        verdict = _decide(abs(est - c), bound, limits)
        if quick and verdict is not None:
            return done(verdict, est, bound, small)
        if verdict == "fail" and not failed_once:
            failed_once, down = True, True  # a failure must hold at the next smaller step too
            prev_diff = ds - db
            continue
        if verdict == "fail" and _first_order(prev_diff, ds - db, s.ratio):
            # the differences shrink like h, not h²: φ is not twice differentiable here (relu², a max
            # of smooth pieces), so Richardson's h² model does not hold: extrapolate to first order
            est = ds + (ds - db) / (s.ratio - 1)
            bound += abs(ds - db) / (s.ratio - 1)
            verdict = _decide(abs(est - c), bound, limits)
        if verdict is not None:
            return done(verdict, est, bound, small)
        failed_once = False
        if rs + rb > trunc and jump == 0.0 and hi_h * s.ratio <= _MAX_STEP_UP * s.step:
            down = False  # round-off dominates: a larger step is more accurate
        elif not down:
            break  # truncation dominates above, round-off below: no better pair exists
        elif jump > 0.0 and rs + rb > trunc:
            break  # below a kink seen at the larger steps, round-off dominates: smaller steps only add to it
    if jump > 0.0:
        # kinked == 0: the smallest steps were smooth (a crossing near the point, reached by the larger steps
        # only) but did not resolve the claim: still "kink" (an entry's one-sided derivatives are compared),
        # but not a persistent one
        p = done("kink", at[lo_h][0], math.inf, lo_h, "kink at every step" if kinked else "kink at larger steps")
        p.persistent_kink, p.on_point = kinked > 0, on_point
        if not kinked and best is not None:
            p.smooth = (best[0], best[1], best[3])
        return p
    if best is not None:
        roundoff = best[3]
        return done("unresolved", best[1], best[0], best[2], "finite differences could not resolve the claim")
    return done("unresolved", at[lo_h][0], math.inf, lo_h, "finite differences could not resolve the claim")


def _slope_jump(
    at: dict[float, tuple[float, float, float, float]], big: float, ratio: float, three_steps: bool
) -> tuple[float, float]:
    """Half a slope jump ``J`` on the point, as it enters a smooth pair's bound, and the round-off part of it.

    With ``Δ²(h) = J·h + C·h² + Q·h⁴`` (a kink on the point and the smooth part, which is even in ``h``), one
    pair ``(h, h/r)`` gives ``|Δ²(h) − r²·Δ²(h/r)| / ((r − 1)·h) = |J − Q·h³·(r + 1)/r²|``: the smooth part's
    ``h⁴`` term stays in it, and on a strongly curved ``f`` (a batch norm, a mixture) it is what holds a
    whole tensor's bound above its pass limit. When the step before, ``r·h``, was smooth too, three steps
    remove it: ``E₁ = Δ²(r·h) − r²·Δ²(h)``, ``E₂ = Δ²(h) − r²·Δ²(h/r)`` and ``E₁ − r⁴·E₂ = (r − 1)(r³ − 1)·J·r·h``
    exactly, for any ``C`` and ``Q``. But a crossing near the point reached by ``r·h`` only (not on it) enters
    ``E₁`` and not the pair's own estimate, which is then the smaller one. Each estimate is exact in its own
    model; off it, it is usually the larger (the h⁴ term or the crossing adds to it), while a kink on the point
    enters both alike: the smaller is taken. It is an estimate, not a bound: a model error of the opposite sign
    can hide part of a jump in either (the 5% smoothness test before it bounds how much). The noise of each
    second difference enters with its weight."""
    r = ratio
    small = big / r
    (_, _, d2b, n2b), (_, _, d2s, n2s) = at[big], at[small]
    noise = n2b + r * r * n2s
    scale = 2 * (r - 1) * big
    pair = ((abs(d2b - r * r * d2s) + noise) / scale, noise / scale)
    if not three_steps:
        return pair
    top = big * r
    d2t, n2t = at[top][2], at[top][3]
    noise3 = n2t + (r * r + r**4) * n2b + r**6 * n2s
    scale3 = 2 * (r - 1) * (r**3 - 1) * top
    three = ((abs((d2t - r * r * d2b) - r**4 * (d2b - r * r * d2s)) + noise3) / scale3, noise3 / scale3)
    return min(pair, three)


def _roundoff_bound(p: Probe, limits: Limits) -> bool:
    """The probe would pass or fail if its bound had no round-off part: a measured, smaller noise may
    decide it (a mismatch or a spread of rooms too large for the pass limit would not be helped). A kink
    seen at the larger steps only is judged on its smooth smaller pairs (``p.smooth``)."""
    status, bound, roundoff, m = p.status, p.bound, p.roundoff, abs(p.mismatch)
    if status == "kink" and not p.persistent_kink and p.smooth is not None:
        (bound, estimate, roundoff), status = p.smooth, "unresolved"
        m = abs(p.claim - estimate)
    if status not in ("gray", "unresolved") or not math.isfinite(roundoff):
        return False
    rest = bound - roundoff
    if status == "unresolved" and roundoff >= rest and m <= limits.fail_limit:
        return True  # round-off is most of the bound: the blocks this one is split into would meet it too
    if m + rest + limits.noise <= limits.pass_limit or m - rest > limits.fail_limit:
        return True
    # the pair with the smallest bound may be one where truncation dominates; a smaller step, held back by
    # round-off alone, may pass with a smaller noise
    if p.least_rest is None:
        return False
    rest, estimate = p.least_rest
    return abs(p.claim - estimate) + rest + limits.noise <= limits.pass_limit


HOPELESS = 1.0  # see probe(split_hopeless=True)
ON_POINT_ENTRY = 1e-3  # see _probe(entry=True)
_MAX_STEP_UP = 256.0  # a probe may grow its step to this many times the first one


def _first_order(prev: float, cur: float, ratio: float) -> bool:
    """Successive step differences shrink by ``ratio`` (error ∝ h) rather than ``ratio²`` (∝ h²)."""
    if cur == 0.0:
        return False
    q = abs(prev / cur)
    return q < 0.5 * ratio * ratio


def _decide(m: float, bound: float, limits: Limits) -> ProbeStatus | None:
    if m + bound + limits.noise <= limits.pass_limit:
        return "pass"
    if m - bound > limits.fail_limit:
        return "fail"
    if 2 * bound <= max(limits.pass_limit, 0.0) or bound <= 0.1 * m:
        return "gray"
    return None


def _second_difference_consistent(a: float, b: float, na: float, nb: float, ratio: float) -> bool:
    """``a = Δ²(h)`` and ``b = Δ²(h/ratio)`` scale like ``h²``, as on a smooth function.

    Across a kink the second difference scales like ``h`` (ratio 4 instead of 16), or jumps.
    """
    r2 = ratio**2
    return abs(a - r2 * b) <= 0.05 * abs(a) + na + r2 * nb


def _stop_on_kink(at: dict[float, tuple[float, float, float, float]], big: float, ratio: float, entry: bool) -> bool:
    """The kink a kinked pair ``(big, big/ratio)`` straddles is on the point: smaller steps would show the
    same, so a probe stops going down (see ``entry`` in :func:`_probe`). ``at[h]`` holds ``(D(h), its
    round-off, Δ²(h), its noise)``."""
    small = big / ratio
    (db, rb, d2b, n2b), (ds, rs, d2s, n2s) = at[big], at[small]
    if entry:
        return abs(db - ds) <= ON_POINT_ENTRY * abs(d2b) / big + rb + rs
    if _kink_on_point(d2b, d2s, n2b, n2s, ratio):
        return True
    top = big * ratio  # the step before (three kinked steps in a row): Δ² = J·h + Q·h² on all three
    return top in at and _kink_and_curvature((at[top][2], d2b, d2s), (at[top][3], n2b, n2s), top, ratio)


def _kink_on_point(a: float, b: float, na: float, nb: float, ratio: float) -> bool:
    """``a = Δ²(h)`` and ``b = Δ²(h/ratio)`` scale like ``h``: a slope jump at the point itself."""
    return abs(a - ratio * b) <= 0.05 * abs(a) + na + ratio * nb


def _kink_and_curvature(d2: tuple[float, float, float], n2: tuple[float, float, float], h: float, ratio: float) -> bool:
    """``Δ²`` at ``h, h/r, h/r²`` is ``J·h + Q·h²``: a slope jump on the point plus the smooth curvature.

    :func:`_kink_on_point` asks for ``Δ² ∝ h`` and misses a kink on the point when the curvature is not small
    beside it (a block of many entries); ``Δ²/h = J + Q·h`` is then linear in ``h``, which three steps test. A
    crossing near the point, between the steps, breaks the line and is followed down. This only says where a
    block probe may stop going down (its block is split either way): it decides nothing."""
    hs = (h, h / ratio, h / ratio**2)
    s1, s2, s3 = (d / hk for d, hk in zip(d2, hs, strict=True))
    noise = n2[0] / hs[0] + (1 + ratio) * n2[1] / hs[1] + ratio * n2[2] / hs[2]
    return abs((s1 - s2) - ratio * (s2 - s3)) <= 0.05 * max(abs(s1), abs(s2), abs(s3)) + noise


def one_sided(p: Probe, f0: float) -> tuple[float, float]:
    """Left and right derivatives along the probe's direction, from its samples.

    Richardson on one-sided differences (error ∝ h) over the two smallest steps.
    """
    if not p.samples:
        return p.estimate, p.estimate
    h1, (bwd1, fwd1) = p.samples[-1][0], _quotients(p.samples[-1], f0)
    if len(p.samples) == 1:
        return bwd1 * p.norm, fwd1 * p.norm
    h0, (bwd0, fwd0) = p.samples[-2][0], _quotients(p.samples[-2], f0)
    q = h0 / h1
    right = (q * fwd1 - fwd0) / (q - 1)
    left = (q * bwd1 - bwd0) / (q - 1)
    return left * p.norm, right * p.norm


def one_sided_curvature(p: Probe, f0: float) -> float:
    """How fast a piece's slope moves along the probe's direction (per unit step, squared): a one-sided difference
    at step ``h`` is its slope at 0 plus ``C·h/2``, so those at the probe's two smallest steps differ by
    ``C·(h0 − h1)/2`` (their round-off included; the larger of the two sides). Infinite from one step."""
    if len(p.samples) < 2:
        return math.inf
    h0, (bwd0, fwd0) = p.samples[-2][0], _quotients(p.samples[-2], f0)
    h1, (bwd1, fwd1) = p.samples[-1][0], _quotients(p.samples[-1], f0)
    return 2 * max(abs(fwd1 - fwd0), abs(bwd1 - bwd0)) * p.norm / (h0 - h1)


def _quotients(sample: tuple[float, float, float], f0: float) -> tuple[float, float]:
    """The backward and forward difference quotients of a sample ``(h, φ(h), φ(−h))``."""
    h, fp, fm = sample
    return (f0 - fm) / h, (fp - f0) / h
