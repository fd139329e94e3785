"""What the search probes, and how often: the choices that only decide cost, never a verdict.

Each test compares evaluation or probe counts (deterministic), never times.
"""

from __future__ import annotations

import torch
from gradcheck_models import near_crossing, tanh_layer
from pytest import MonkeyPatch

from grader.gradcheck import check_gradients, locate
from grader.gradcheck import engine as engine_module
from grader.gradcheck.engine import _target, engine_tolerance
from grader.gradcheck.fd import Evaluator, Probe

D = torch.float64


def _rows_on_a_tie(rows: tuple[int, ...]) -> tuple[object, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``relu(X Wᵀ)`` summed, with the hidden units ``rows`` exactly at 0 on one sample: every entry of those
    rows of ``W`` is on a kink; the claim takes ReLU'(0) = 0, a valid subgradient."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 8, generator=g, dtype=D)
    x[0] = torch.arange(1, 9, dtype=D) / 4  # no zero: a tie in a row moves with each of its entries
    w = torch.randn(8, 8, generator=g, dtype=D)
    for r in rows:
        w[r, -1] = 0.0
        w[r, -1] = -float(x[0] @ w[r]) / float(x[0, -1])  # unit r is exactly 0 on sample 0
    c = torch.linspace(0.5, 1.5, 8, dtype=D)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return (torch.relu(x @ p["W"].T) * c).sum() + 0.1 * (p["W"] ** 2).sum()

    q = w.clone().requires_grad_(True)
    f({"W": q}).backward()
    assert q.grad is not None
    return f, {"W": w}, {"W": q.grad.detach()}


def _single_probes(monkeypatch: MonkeyPatch) -> list[int]:
    seen: list[int] = []
    real = locate.Target.probe

    def probe(self: locate.Target, idx: torch.Tensor, **kw: object) -> Probe:
        if idx.numel() == 1 and not kw.get("fresh"):
            seen.append(int(idx[0]))
        return real(self, idx, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(locate.Target, "probe", probe)
    return seen


def test_no_entry_is_probed_twice(monkeypatch: MonkeyPatch) -> None:
    # a right half reached unprobed used to be probed by the search and again when its entry was classified
    f, p, g = _rows_on_a_tie((2, 5))
    seen = _single_probes(monkeypatch)
    r = check_gradients(f, p, g)
    assert r.passed and r.tensor("W").localisation is not None
    assert len(r.tensor("W").localisation.kinks) == 16  # two whole rows
    assert seen and len(seen) == len(set(seen))


def test_a_small_block_on_dense_kinks_goes_to_single_entries(monkeypatch: MonkeyPatch) -> None:
    f, p, g = _rows_on_a_tie((2, 3, 5))
    singles = check_gradients(f, p, g)
    monkeypatch.setattr(locate, "_KINK_SINGLES", 1)  # halving all the way down
    halving = check_gradients(f, p, g)
    assert singles.passed and halving.passed
    kinks = singles.tensor("W").localisation.kinks  # type: ignore[union-attr]
    assert kinks == halving.tensor("W").localisation.kinks  # type: ignore[union-attr]
    assert len(kinks) == 24
    assert singles.evaluations < halving.evaluations


def test_a_lone_kink_is_still_found_by_halving(monkeypatch: MonkeyPatch) -> None:
    # sparse kinks: no block is "dense" (a kinked block with a kinked left half), so nothing goes to singles
    x = torch.tensor([0.0, 0.7, -0.3, 1.2, 0.4, -0.9, 0.2, 1.1], dtype=D)

    def f(q: dict[str, torch.Tensor]) -> torch.Tensor:
        return 3 * torch.relu(q["x"]).sum() + (q["x"] ** 2).sum()

    claim = 3 * (x > 0).to(D) + 2 * x
    seen = _single_probes(monkeypatch)
    r = check_gradients(f, {"x": x}, {"x": claim})
    assert r.passed
    assert r.tensor("x").localisation.kinks == [[0]]  # type: ignore[union-attr]
    assert len(seen) < 8  # not every entry on its own


def test_after_an_imprecise_joint_probe_the_smaller_tensors_are_probed_jointly_again(monkeypatch: MonkeyPatch) -> None:
    g = torch.Generator().manual_seed(0)
    p = {"W": torch.randn(40, 30, generator=g, dtype=D), "b": torch.randn(30, generator=g, dtype=D),
         "c": torch.randn(5, generator=g, dtype=D)}

    def f(q: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.tanh(q["W"] @ q["b"]).sum() + (q["c"] ** 3).sum()

    qs = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    f(qs).backward()
    claim = {k: v.grad.detach() for k, v in qs.items()}  # type: ignore[union-attr]
    groups: list[list[str]] = []
    real = engine_module.joint_probe

    def joint(targets: list[locate.Target]) -> Probe | None:
        groups.append([t.name for t in targets])
        out = real(targets)
        if out is not None and len(groups) == 1:  # as if the first were too imprecise to decide
            return Probe("unresolved", out.claim, out.estimate, out.bound, out.tolerance, out.step, out.evaluations)
        return out

    monkeypatch.setattr(engine_module, "joint_probe", joint)
    r = check_gradients(f, p, claim)
    assert r.passed
    assert groups == [["W", "b", "c"], ["b", "c"]]  # the largest, W, is left to its own probes
    assert r.evaluations == 1 + sum(t.evaluations for t in r.tensors)  # f(x), then each joint probe once


def test_a_kinked_joint_probe_is_not_retried_without_the_largest(monkeypatch: MonkeyPatch) -> None:
    f, p, g = _rows_on_a_tie((2,))
    p = {**p, "v": torch.tensor([0.5, -1.0], dtype=D)}
    g = {**g, "v": torch.tensor([1.0, -2.0], dtype=D)}

    def f2(q: dict[str, torch.Tensor]) -> torch.Tensor:
        return f(q) + (q["v"] ** 2).sum()  # type: ignore[operator]

    groups: list[list[str]] = []
    real = engine_module.joint_probe

    def joint(targets: list[locate.Target]) -> Probe | None:
        groups.append([t.name for t in targets])
        return real(targets)

    monkeypatch.setattr(engine_module, "joint_probe", joint)
    r = check_gradients(f2, p, g)
    assert r.passed
    assert groups == [["W", "v"]]  # a kink: the largest is no likelier to hold it than the others


def _banded_target() -> locate.Target:
    # as in test_entries_whose_rooms_are_far_apart_are_separated_before_halving: 0 beside 30-60, float32
    g = torch.Generator().manual_seed(0)
    n = 64
    a = torch.where(torch.arange(n) < 4, torch.zeros(n, dtype=D), 30 + 30 * torch.rand(n, generator=g, dtype=D))
    x = 1 + torch.rand(n, generator=g, dtype=D)
    ev = Evaluator(lambda q: 0.5 * (a * q["x"] ** 2).sum(), {"x": x})
    claim = (a * x).float()
    opts = engine_module._Options({}, {}, {}, 0, None, 1, "off", str, engine_module.FDSettings(), 16, 64, 24, 1024)
    return _target("x", ev, claim.to(D), engine_tolerance(claim), engine_module._rounding(torch.float32), opts, 0)


def test_a_band_holding_nearly_all_of_an_undecided_block_is_halved_without_a_probe() -> None:
    t = _banded_target()
    everything = torch.arange(t.n)
    bands = locate.room_blocks(t, [everything])
    big = max(bands, key=lambda b: b.numel())
    small = min(bands, key=lambda b: b.numel())
    assert big.numel() == 60 and small.numel() == 4
    limit = 2 * float((t.tau.reshape(-1) * t.direction(everything).abs().reshape(-1))[big].min())

    def undecided(bound: float, roundoff: float, measured: bool) -> locate.Node:
        q = Probe("unresolved", 0.0, 0.0, bound, 1.0, 1e-4, 6, roundoff=roundoff, measured_noise=measured)
        return locate.Node(everything, q)

    inferred = locate._band(t, undecided(10 * limit, 5 * limit, True), big)
    assert inferred.inferred and inferred.probe is not None and inferred.probe.status == "unresolved"
    assert not locate._band(t, undecided(10 * limit, 5 * limit, True), small).inferred  # a small band: probed
    assert not locate._band(t, undecided(0.5 * limit, 0.1 * limit, True), big).inferred  # it may pass: probed
    # round-off from the pessimistic model: a measured noise may yet decide the band, so it is probed
    assert not locate._band(t, undecided(10 * limit, 9.5 * limit, False), big).inferred
    assert locate._band(t, undecided(10 * limit, 5 * limit, False), big).inferred  # truncation alone is too wide


def test_a_large_block_that_cannot_pass_for_its_claims_rounding_is_not_evaluated(monkeypatch: MonkeyPatch) -> None:
    # float32 claim of 4096 entries: R = 5.4·ρ·‖g·w‖ alone is above twice the smallest room until the blocks are
    # small, so the search splits those blocks without a probe; blocks under 64 entries are always probed
    from grader.gradcheck import fd

    g = torch.Generator().manual_seed(1)
    a = 1 + torch.rand(4096, generator=g, dtype=D)
    x = torch.randn(4096, generator=g, dtype=D)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return 0.5 * (a * p["x"] ** 2).sum()

    hopeless_probed: list[int] = []
    real, least = fd._probe, locate._HOPELESS_MIN

    def counted(ev: Evaluator, name: str, w: torch.Tensor, claim: float, limits: fd.Limits, *args: object,
                **kw: object) -> Probe:
        n = sum(int(v.count_nonzero()) for v in w.values()) if isinstance(w, dict) else int(w.count_nonzero())
        if n >= least and limits.noise > fd.HOPELESS * limits.pass_limit:
            hopeless_probed.append(n)
        return real(ev, name, w, claim, limits, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(fd, "_probe", counted)
    r = check_gradients(f, {"x": x}, {"x": (a * x).float()})
    assert r.passed
    assert hopeless_probed == []
    monkeypatch.setattr(locate, "_HOPELESS_MIN", 10**9)  # every block probed, as before
    hopeless_probed.clear()
    assert check_gradients(f, {"x": x}, {"x": (a * x).float()}).passed
    assert hopeless_probed  # without the rule such blocks are evaluated (and cannot pass)


def test_below_a_kink_at_every_step_the_search_starts_lower(monkeypatch: MonkeyPatch) -> None:
    # the halves of a block kinked down to its smallest step start 16x above it, not at the first step again
    f, p, g = near_crossing()
    low = check_gradients(f, p, g)
    monkeypatch.setattr(locate, "_start", lambda t, parent: 0.0)  # every probe from the settings' first step
    again = check_gradients(f, p, g)
    assert low.passed and again.passed
    assert low.evaluations < again.evaluations



def _batch_norm_mlp(seed: int) -> tuple[object, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Linear, batch norm, softplus, logistic loss: smooth but strongly curved in ``W1`` (4,096 entries)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 32, generator=g, dtype=D)
    y = (torch.rand(64, generator=g) < 0.5).to(D)
    p = {
        "W1": torch.randn(128, 32, generator=g, dtype=D) / 6,
        "gamma": 1 + 0.1 * torch.randn(128, generator=g, dtype=D),
        "beta": 0.1 * torch.randn(128, generator=g, dtype=D),
        "w2": torch.randn(128, generator=g, dtype=D) / 12,
    }

    def f(q: dict[str, torch.Tensor]) -> torch.Tensor:
        z = x @ q["W1"].T
        z = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5) * q["gamma"] + q["beta"]
        out = torch.nn.functional.softplus(z) @ q["w2"]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out, y, reduction="sum")
        return loss + 0.01 * (q["W1"] ** 2).sum()

    q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    f(q).backward()
    return f, p, {k: v.grad.detach() for k, v in q.items()}  # type: ignore[union-attr]


def test_three_smooth_steps_keep_curvature_out_of_the_slope_jump_allowance(monkeypatch: MonkeyPatch) -> None:
    """With the three-step estimate of a slope jump (fd._slope_jump), the strongly curved ``W1`` passes whole; with
    the pair's own estimate, its quartic term holds the bound above the pass limit and ``W1`` is split."""
    from grader.gradcheck import fd

    f, p, g = _batch_norm_mlp(0)
    with_three = check_gradients(f, p, g)  # type: ignore[arg-type]
    pair_only = fd._slope_jump
    monkeypatch.setattr(fd, "_slope_jump", lambda at, big, ratio, three_steps: pair_only(at, big, ratio, False))
    without = check_gradients(f, p, g)  # type: ignore[arg-type]
    assert with_three.status == without.status == "passed"
    assert with_three.evaluations < without.evaluations - 10


def test_a_wrong_row_longer_than_the_search_breadth_is_located_entry_by_entry() -> None:
    """A row of 100 wrong entries needs more than ``max_blocks`` (64) blocks at once to reach single entries: the
    error is confined to 100 entries, so the search goes on (engine._LOCALISE_REGION) and locates them all."""
    f, p, true = tanh_layer((200, 100), batch=64, scale=0.1)
    claim = true.clone()
    claim[7] = claim[7] * 1.5 + 0.3 * true.abs().mean()
    loc = check_gradients(f, p, {"W": claim}).tensor("W").localisation  # type: ignore[arg-type]
    assert loc is not None and loc.complete and loc.mismatched == 100
    assert {e.index[0] for e in loc.entries} == {7}


def test_a_float32_row_is_not_scattered_by_the_order_an_undecided_search_left() -> None:
    """A float32 claim is split for precision by room (locate._split), which scatters a row of 784 entries over many
    blocks. A failing block is halved in index order, whatever order its ancestors left, so the row's entries stay
    in few blocks and are located one by one (halved in the order it was left in: a lower bound of 84, the search's
    breadth exhausted)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(64, 784, generator=g, dtype=D)
    w = torch.randn(10, 784, generator=g, dtype=D) * 0.1

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return (torch.tanh(a @ p["W"].T) ** 2).sum()

    q = w.clone().requires_grad_(True)
    f({"W": q}).backward()
    assert q.grad is not None
    claim = q.grad.detach().clone()
    claim[7] = claim[7] * 2 + 0.5 * claim.pow(2).mean().sqrt()
    loc = check_gradients(f, {"W": w}, {"W": claim.to(torch.float32)}).tensor("W").localisation
    assert loc is not None and loc.complete and loc.mismatched == 784
    assert {e.index[0] for e in loc.entries} == {7}


def test_an_error_spread_over_the_tensor_is_not_searched_entry_by_entry() -> None:
    """Every entry slightly off: the failing blocks hold the whole tensor, so the search stops at ``max_blocks`` and
    reports a lower bound, at a cost far below two evaluations per entry."""
    f, p, true = tanh_layer((200, 100), batch=64, scale=0.1)
    noise = torch.randn(true.shape, generator=torch.Generator().manual_seed(1), dtype=D)
    r = check_gradients(f, p, {"W": true * (1 + 1e-3 * noise)})  # type: ignore[arg-type]
    loc = r.tensor("W").localisation
    assert r.status == "failed" and loc is not None and not loc.complete
    assert r.evaluations < 2 * 20_000 / 10


def test_below_a_crossing_a_probe_held_by_round_off_stops_going_down() -> None:
    """A crossing 1.5e-5 from the point: the steps above it see a kink, the first smooth pair below it is held by
    round-off (|f| ≈ 1e6), and each smaller step would only add to that: the probe stops there (10 evaluations,
    not 12) and is, as before, a kink seen at the larger steps only."""
    from grader.gradcheck.fd import FDSettings, Limits, probe

    def f(q: dict[str, torch.Tensor]) -> torch.Tensor:
        t = q["x"][0]
        return 1e6 + 3.0 * t + 0.5 * t * t + 2.0 * torch.relu(t - 1.0 - 1.5e-5)

    ev = Evaluator(f, {"x": torch.tensor([1.0], dtype=D)})
    p = probe(ev, "x", torch.tensor([1.0], dtype=D), 4.0, Limits(1e-12, 1e-3), 0.0, FDSettings(measure_noise=False),
              kink_patience=5, entry=True)
    assert (p.status, p.note, p.persistent_kink) == ("kink", "kink at larger steps", False)
    assert p.evaluations == 10
