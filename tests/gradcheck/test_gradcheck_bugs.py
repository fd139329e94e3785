"""Planted bugs: detected, located, diagnosed in words a student can act on."""

from __future__ import annotations

import math

import pytest
import torch
from gradcheck_models import autograd, gen, mlp, replace

from grader.gradcheck import check_gradients

SQUARE = (10, 8, 8, 3)  # W2 is square


def _only_failing(r, *names: str) -> None:  # noqa: ANN001
    assert r.status == "failed", r.details()
    assert sorted(t.name for t in r.failed_tensors) == sorted(names), r.details()


@pytest.mark.parametrize("seed", range(5))
def test_single_wrong_bias_entry_is_located_exactly(seed: int) -> None:
    f, p, g = mlp(seed, sizes=(20, 64, 16, 3))
    i = int(torch.randint(0, 64, (1,), generator=gen(seed)))
    b = g["b1"].clone()
    b[i] += 0.01
    r = check_gradients(f, p, replace(g, b1=b), seed=seed)
    _only_failing(r, "b1")
    t = r.tensor("b1")
    loc = t.localisation
    assert loc is not None and loc.complete and loc.mismatched == 1 and loc.method == "bisection"
    e = loc.entries[0]
    assert e.index == [i]
    assert e.claimed == pytest.approx(float(b[i]))
    assert e.true == pytest.approx(float(g["b1"][i]), abs=1e-7)
    assert t.diagnosis is not None and t.diagnosis.id == "some_entries_wrong"
    assert t.diagnosis.hint.startswith(f"db1 is right except for 1 of 64 entries: at ({i},) = ")


@pytest.mark.parametrize("n", [2**8, 2**12, 2**16, 2**17])
def test_single_wrong_entry_costs_log_n_evaluations(n: int) -> None:
    c = torch.rand(n, generator=gen(n), dtype=torch.float64) + 0.5
    x = torch.randn(n, generator=gen(n + 1), dtype=torch.float64)

    def f(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return (c * torch.sin(p["x"])).sum()

    claim = c * torch.cos(x)
    i = int(torch.randint(0, n, (1,), generator=gen(n + 2)))
    claim[i] += 0.05  # 5% of one entry: above the FD noise of a sum over 131k terms
    r = check_gradients(f, {"x": x}, {"x": claim})
    loc = r.tensor("x").localisation
    assert loc is not None and loc.complete and [e.index for e in loc.entries] == [[i]]
    # bisection (4-6 evaluations per probe, a failure is confirmed at a second step pair), plus a fixed
    # cost: three measured directions to test hypotheses, three checks of the corrected claim on fresh
    # directions (engine._confirm; up to 24 evaluations each over 131k entries), and at most one
    # measurement of f's noise per check (12 evaluations)
    assert r.evaluations <= 8 * math.log2(n) + 100, r.evaluations


def test_scaled_by_two() -> None:
    f, p, g = mlp(0)
    r = check_gradients(f, p, replace(g, W2=2 * g["W2"]))
    _only_failing(r, "W2")
    d = r.tensor("W2").diagnosis
    assert d is not None and d.id == "scaled" and d.factor == 2.0
    assert d.hint.startswith("dW2 is off by a factor of 2: it equals 2 × the correct value")
    loc = r.tensor("W2").localisation
    assert loc is not None and loc.method == "hypothesis" and loc.mismatched == loc.total == 63


def test_missing_one_over_t_is_named_with_t() -> None:
    f, p, g = mlp(1, batch=5)
    r = check_gradients(f, p, replace(g, b3=5 * g["b3"]), factors={"T": 5})
    d = r.tensor("b3").diagnosis
    assert d is not None and d.id == "summed_not_averaged"
    assert "db3 is T = 5 times too large: a sum over T where the mean is needed" in d.hint


def test_any_constant_factor() -> None:
    f, p, g = mlp(2)
    d = check_gradients(f, p, replace(g, W1=0.37 * g["W1"])).tensor("W1").diagnosis
    assert d is not None and d.id == "scaled" and d.factor == pytest.approx(0.37, rel=1e-4)
    assert "off by a factor of 0.37" in d.hint


def test_sign_flip() -> None:
    f, p, g = mlp(3)
    r = check_gradients(f, p, replace(g, W3=-g["W3"]))
    _only_failing(r, "W3")
    d = r.tensor("W3").diagnosis
    assert d is not None and d.id == "sign_flipped" and "dW3 has the wrong sign" in d.hint


def test_transposed_square_weight() -> None:
    f, p, g = mlp(4, sizes=SQUARE)
    r = check_gradients(f, p, replace(g, W2=g["W2"].T.contiguous()))
    _only_failing(r, "W2")
    d = r.tensor("W2").diagnosis
    assert d is not None and d.id == "transposed"
    assert "dW2 is the correct value transposed: rows and columns are swapped" in d.hint


def test_transposed_non_square_is_a_shape_error_with_a_diagnosis() -> None:
    f, p, g = mlp(5)
    r = check_gradients(f, p, replace(g, W1=g["W1"].T))
    t = r.tensor("W1")
    assert t.status == "wrong_shape" and t.claimed_shape == [12, 9]
    assert t.diagnosis is not None and t.diagnosis.id == "transposed"
    assert "you returned shape (12, 9) where (9, 12) is expected" in t.diagnosis.hint


def test_reshaped_instead_of_transposed() -> None:
    f, p, g = mlp(6)
    r = check_gradients(f, p, replace(g, W1=g["W1"].T.reshape(9, 12)))
    d = r.tensor("W1").diagnosis
    assert d is not None and d.id == "reshaped_not_transposed" and "use .T, not .reshape" in d.hint


def test_zero_gradient() -> None:
    f, p, g = mlp(7)
    r = check_gradients(f, p, replace(g, X=torch.zeros_like(g["X"])))
    _only_failing(r, "X")
    d = r.tensor("X").diagnosis
    assert d is not None and d.id == "zero" and d.hint.startswith("dX is all zeros")


def test_bias_not_summed_over_the_batch() -> None:
    f, p, g = mlp(8, batch=6)
    # per-sample bias gradients: their sum is the true gradient
    per_sample = torch.stack([g["b1"] / 6 + 0.01 * k for k in range(6)])
    per_sample[0] -= per_sample.sum(0) - g["b1"]
    r = check_gradients(f, p, replace(g, b1=per_sample))
    t = r.tensor("b1")
    assert t.status == "wrong_shape"
    assert t.diagnosis is not None and t.diagnosis.id == "not_summed_over_batch"
    assert "db1 is not summed over the batch: you returned one row per sample, shape (6, 9)" in t.diagnosis.hint


def test_some_rows_wrong() -> None:
    f, p, g = mlp(9, sizes=(30, 40, 5, 3))
    w = g["W1"].clone()
    w[7] *= 3.0
    w[21] = 0.0
    r = check_gradients(f, p, replace(g, W1=w))
    t = r.tensor("W1")
    assert t.localisation is not None and t.localisation.complete
    assert t.localisation.mismatched == int((w != g["W1"]).sum())
    assert t.diagnosis is not None and t.diagnosis.id == "some_rows_wrong"
    assert "rows 7, 21 are wrong (2 of 40)" in t.diagnosis.hint


def test_sparse_perturbation_is_detected_and_estimated() -> None:
    f, p, g = mlp(10, sizes=(256, 128, 10), batch=8)
    w = g["W1"].clone()
    mask = torch.rand(w.shape, generator=gen(3)) < 0.01
    w[mask] *= 1.5
    r = check_gradients(f, p, replace(g, W1=w))
    _only_failing(r, "W1")
    loc = r.tensor("W1").localisation
    assert loc is not None and not loc.complete and loc.mismatched > 0
    assert all(bool(mask[tuple(e.index)]) for e in loc.entries)  # every reported entry is truly wrong


def test_missing_and_non_finite() -> None:
    f, p, g = mlp(11)
    bad = dict(g)
    del bad["b2"]
    x = g["X"].clone()
    x[1, 2] = math.nan
    bad["X"] = x
    r = check_gradients(f, p, bad)
    assert r.tensor("b2").status == "missing"
    t = r.tensor("X")
    assert t.status == "failed" and t.diagnosis is not None and t.diagnosis.id == "not_finite"
    assert "1 NaN or infinite entry (at (1, 2))" in t.diagnosis.hint


def test_float32_claim_with_a_bug() -> None:
    f, p, g = mlp(12, dtype=torch.float32)
    r = check_gradients(f, p, replace(g, W1=g["W1"] * 0.5))
    _only_failing(r, "W1")
    d = r.tensor("W1").diagnosis
    assert d is not None and d.factor == 0.5 and r.tensor("W1").dtype == "float32"


def test_known_mistake_is_named() -> None:
    f, p, g = mlp(13)
    wrong = replace(g, W3=g["W3"] * 0.5, b3=g["b3"] * 0.5)
    mistakes = {
        "no_two": ("factor 2 missing", "The 2 of the square is missing in the output delta.", {"W3": wrong["W3"]}),
        "other": ("something else", "nope", {"W3": g["W3"] * 3}),
    }
    r = check_gradients(f, p, replace(g, W3=wrong["W3"]), mistakes=mistakes)
    d = r.tensor("W3").diagnosis
    assert d is not None and d.source == "mistake" and d.id == "no_two"
    assert r.mistake is not None and r.mistake.id == "no_two"
    assert r.message == "wrong gradient: dW3 (factor 2 missing)"


def test_true_gradients_give_exact_localisation() -> None:
    f, p, g = mlp(14, sizes=(40, 30, 3))
    w = g["W1"].clone()
    w[3, 4] += 0.5
    w[10, :5] *= -1
    r = check_gradients(f, p, replace(g, W1=w), true_grads=g)
    loc = r.tensor("W1").localisation
    assert loc is not None and loc.method == "reference" and loc.complete
    assert loc.mismatched == int((~torch.isclose(w, g["W1"], rtol=1e-7, atol=1e-9)).sum())
    assert loc.entries[0].index == [3, 4] and loc.entries[0].source == "reference"
    assert r.evaluations < 60  # no finite-difference localisation needed


def test_fd_localisation_even_with_true_gradients() -> None:
    f, p, g = mlp(15, sizes=(40, 30, 3))
    w = g["W1"].clone()
    w[3, 4] += 0.5
    r = check_gradients(f, p, replace(g, W1=w), true_grads=g, locate_mode="fd")
    loc = r.tensor("W1").localisation
    assert loc is not None and loc.method == "bisection" and [e.index for e in loc.entries] == [[3, 4]]


def test_error_map_for_a_small_tensor() -> None:
    f, p, g = mlp(16)
    b = g["b2"].clone()
    b[4] += 1.0
    t = check_gradients(f, p, replace(g, b2=b)).tensor("b2")
    assert t.error_map is not None and len(t.error_map) == 1 and len(t.error_map[0]) == 7
    assert [k for k, v in enumerate(t.error_map[0]) if v > 0] == [4]


def test_tolerance_follows_the_claim_dtype() -> None:
    """A float64 claim is held to float64's tolerance: a 1e-4 relative error fails, not in float32."""
    f, p, g = mlp(17)
    r = check_gradients(f, p, replace(g, W1=g["W1"] * (1 + 1e-4)))
    assert r.tensor("W1").status == "failed"
    r32 = check_gradients(f, p, replace(g, W1=(g["W1"] * (1 + 1e-5)).float()))
    assert r32.tensor("W1").passed  # within float32's rtol = 1e-4


def test_relu_network_bug_with_kinks() -> None:
    f, p, g = mlp(18, act="relu")
    b = g["b1"].clone()
    b[2] += 0.05
    r = check_gradients(f, p, replace(g, b1=b))
    _only_failing(r, "b1")


def test_locate_off() -> None:
    f, p, g = mlp(19)
    r = check_gradients(f, p, replace(g, W1=g["W1"] + 0.1), locate_mode="off")
    assert r.tensor("W1").status == "failed" and r.tensor("W1").localisation is None


def test_autograd_helper_sanity() -> None:
    f, p, g = mlp(0)
    assert set(g) == set(p) and autograd(f, p)["W1"].shape == p["W1"].shape
