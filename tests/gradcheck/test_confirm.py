"""Whether the located entries account for the whole error (engine._confirm): the claim corrected at those entries
is checked again under the pass rule, on fresh directions, and what that check finds wrong is located too."""

from __future__ import annotations

import pytest
import torch
from gradcheck_models import tanh_layer

from grader.gradcheck import check_gradients
from grader.gradcheck import engine as engine_module
from grader.gradcheck.engine import engine_tolerance

D = torch.float64


def _row_off_by(true: torch.Tensor, row: int, times_tau: float, dtype: torch.dtype) -> torch.Tensor:
    """``true`` with every entry of ``row`` off by ``times_tau`` times its tolerance (in the claim's dtype)."""
    tol = engine_tolerance(true.to(dtype))
    claim = true.clone()
    claim[row] += times_tau * (tol.atol + tol.rtol * true[row].abs())
    return claim.to(dtype)


def test_entries_the_search_missed_are_found_by_checking_the_corrected_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row of 64 entries, each 20τ off. The search holds its blocks to the fail rule only, so blocks where two
    errors cancel are not searched: 37 entries found. Checked again on fresh directions under the pass rule, the
    corrected claim gives up the other 27, and two further clean checks confirm the 64."""
    f, p, true = tanh_layer((48, 64))
    claim = _row_off_by(true, 40, 20.0, D)
    monkeypatch.setattr(engine_module, "_CONFIRM_ROUNDS", 0)
    alone = check_gradients(f, p, {"W": claim}, seed=0).tensor("W")  # type: ignore[arg-type]
    assert alone.localisation is not None and alone.localisation.mismatched < 64
    assert alone.diagnosis is None and "do not account for the whole measured error" in alone.notes[-1]
    monkeypatch.undo()
    t = check_gradients(f, p, {"W": claim}, seed=0).tensor("W")  # type: ignore[arg-type]
    loc = t.localisation
    assert loc is not None and loc.complete and loc.mismatched == 64
    assert {e.index[0] for e in loc.entries} == {40}
    assert not any("account" in n for n in t.notes)


def test_a_float32_row_is_confirmed_where_one_fresh_probe_could_not_resolve_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A float32 claim over 20,000 entries: one probe of the whole corrected claim is held by the claim's own
    rounding (the result used to say that the located entries could not be confirmed); the check splits it as any
    claim is split, and confirms the row. Its first check, with the wider weights, is held by that rounding too;
    the checks go on with the usual ones."""
    spreads: list[float] = []
    real = engine_module._target

    def target(*args: object, **kw: object) -> object:
        if len(args) > 7:
            spreads.append(args[7])  # type: ignore[arg-type]
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(engine_module, "_target", target)
    f, p, true = tanh_layer((200, 100), batch=64, scale=0.1)
    claim = true.clone()
    claim[7] = claim[7] * 1.5 + 0.3 * true.abs().mean()
    claim32 = claim.to(torch.float32)
    tol = engine_tolerance(claim32)
    off = (claim32.double() - true).abs() / (tol.atol + tol.rtol * claim32.double().abs())
    t = check_gradients(f, p, {"W": claim32}).tensor("W")  # type: ignore[arg-type]
    loc = t.localisation
    assert loc is not None and loc.complete
    assert int((off > 2).sum()) <= loc.mismatched <= int((off > 1).sum())
    assert not any("account" in n for n in t.notes)
    assert spreads[0] == engine_module._CONFIRM_SPREAD and spreads[-3:] == [2.0, 2.0, 2.0]


def test_entries_barely_above_twice_their_tolerance_do_not_hide_in_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row of 64 entries each 3τ off the same way: along a direction with ``|v|`` in ``U(1, 2)``, two neighbours
    cancel whenever their signs differ (about one time in two), and here three such checks in a row passed with two
    entries unlocated, so the row would be called right except for 62 entries. With the wider weights of the
    checks after a search that located several entries, all 64 are located."""
    f, p, true = tanh_layer((48, 64))
    claim = _row_off_by(true, 40, 3.0, D)
    monkeypatch.setattr(engine_module, "_CONFIRM_SPREAD", 2.0)
    narrow = check_gradients(f, p, {"W": claim}, seed=1).tensor("W")  # type: ignore[arg-type]
    assert narrow.localisation is not None and narrow.localisation.mismatched == 62
    assert not any("account" in n for n in narrow.notes)  # confirmed, wrongly: the limit the wider weights lift
    monkeypatch.undo()
    t = check_gradients(f, p, {"W": claim}, seed=1).tensor("W")  # type: ignore[arg-type]
    loc = t.localisation
    assert loc is not None and loc.complete and loc.mismatched == 64
    assert not any("account" in n for n in t.notes)


def test_the_checks_together_make_no_more_probes_than_one_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every entry of a float32 tensor slightly off (its gradient at a shifted point): the checks keep finding
    entries, and each is given only what the ones before left of one search's budget."""
    calls: list[tuple[int, int]] = []
    real = engine_module.resolve

    def resolve(t: object, nodes: object, **kw: object) -> object:
        res = real(t, nodes, **kw)  # type: ignore[arg-type]
        if kw.get("strict"):
            calls.append((int(kw["max_probes"]), res.probes))  # type: ignore[call-overload]
        return res

    monkeypatch.setattr(engine_module, "resolve", resolve)
    f, p, true = tanh_layer((16, 64))
    g = torch.Generator().manual_seed(5)
    shifted = {"W": p["W"] + 1e-3 * torch.randn(p["W"].shape, generator=g, dtype=D)}
    q = shifted["W"].clone().requires_grad_(True)
    f({"W": q}).backward()  # type: ignore[operator]
    assert q.grad is not None
    check_gradients(f, p, {"W": q.grad.to(torch.float32)}, seed=0)  # type: ignore[arg-type]
    assert calls
    budget = engine_module._budget(true.numel(), engine_module._Options(  # type: ignore[arg-type]
        {}, {}, {}, 0, None, 1, "auto", str, engine_module.FDSettings(), 16, 64, 24, 1024))
    budget += 2 * min(true.numel(), engine_module._LOCALISE_REGION)
    for (given, _), (before, used) in zip(calls[1:], calls, strict=False):
        assert given == before - used
    assert len(calls) >= 3 and calls[0][0] == budget and sum(used for _, used in calls) <= budget
