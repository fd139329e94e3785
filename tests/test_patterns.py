"""grader.patterns: the right id AND the right words, and silence on correct answers."""

from __future__ import annotations

import pytest
import torch

from grader.diagnosis import Diagnosis
from grader.patterns import describe_factor, measured_factor, name_pattern, rearrangements
from grader.tolerances import Tolerance, tolerance


def _randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


E = _randn(5, 3)


def _pattern(actual: torch.Tensor, expected: torch.Tensor = E, **kw: object) -> Diagnosis:
    p = name_pattern(actual, expected, name="dW3", **kw)  # type: ignore[arg-type]
    assert p is not None, "expected a pattern"
    assert isinstance(p, Diagnosis) and p.source == "pattern", "patterns are the one Diagnosis type"
    assert "dW3" in p.hint, "the hint must name the tensor"
    assert p.sentence == p.hint, "a pattern's hint is its whole sentence (it names no catalogued mistake)"
    return p


# -- never a pattern on a correct answer ------------------------------------------------------------
@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_correct_answer_is_never_named(seed: int, dtype: torch.dtype) -> None:
    e = _randn(6, 4, seed=seed)
    noise = 1e-6 if dtype == torch.float32 else 1e-11
    a = (e * (1 + noise * _randn(6, 4, seed=seed + 100))).to(dtype)
    assert name_pattern(a, e, name="g") is None


@pytest.mark.parametrize(
    "a,e",
    [
        (torch.tensor(1.0), torch.tensor(1.0)),
        (torch.empty(0), torch.empty(0)),
        (torch.zeros(3), torch.zeros(3)),
        (torch.tensor([1, 2, 3]), torch.tensor([1.0, 2.0, 3.0])),
        (torch.tensor([float("nan"), 1.0]), torch.tensor([float("nan"), 1.0])),
        (torch.tensor([float("inf"), 1.0]), torch.tensor([float("inf"), 1.0])),
    ],
)
def test_equal_edge_cases_are_not_named(a: torch.Tensor, e: torch.Tensor) -> None:
    assert name_pattern(a, e) is None


@pytest.mark.parametrize(
    "a,e",
    [
        (torch.tensor(True), torch.tensor(1.5)),
        (torch.tensor([1.0, float("nan")]), torch.tensor([float("inf"), 1.0])),
        (torch.empty(0, 3), torch.empty(3, 0)),
        (torch.tensor(3), torch.tensor([1.0, 2.0])),
        (torch.ones(2, dtype=torch.complex64), torch.ones(2)),
        (torch.tensor([[1.0]]), torch.tensor([2.5])),
    ],
)
def test_odd_inputs_do_not_crash(a: torch.Tensor, e: torch.Tensor) -> None:
    p = name_pattern(a, e)
    assert p is None or (isinstance(p, Diagnosis) and p.source == "pattern" and p.hint != "")


# -- rearrangements ----------------------------------------------------------------------------------
def test_transposed_non_square() -> None:
    p = _pattern(E.T)
    assert p.id == "transposed"
    assert p.hint.startswith("dW3 is the correct value transposed")
    assert "shape (3, 5) where (5, 3) is expected" in p.hint


def test_transposed_square_mentions_same_shape() -> None:
    e = _randn(4, 4)
    p = _pattern(e.T, e)
    assert p.id == "transposed"
    assert "rows and columns are swapped" in p.hint and "square" in p.hint


def test_reshaped_instead_of_transposed_same_shape() -> None:
    p = _pattern(E.T.reshape(5, 3))
    assert p.id == "reshaped_not_transposed"
    assert "reshaped instead of transposed" in p.hint and "use .T" in p.hint


def test_reshaped_to_transpose_shape() -> None:
    p = _pattern(E.reshape(3, 5))
    assert p.id == "reshaped_not_transposed"
    assert "the transpose's shape (3, 5)" in p.hint and "(5, 3)" in p.hint


def test_right_values_wrong_shape() -> None:
    p = _pattern(E.reshape(1, 15))
    assert p.id == "reshaped"
    assert "right values in the wrong shape: (1, 15) instead of (5, 3)" in p.hint


def test_transposed_and_scaled() -> None:
    p = _pattern(2 * E.T)
    assert p.id == "transposed" and p.factor == 2.0
    assert "also off by a factor of 2" in p.hint


# -- constant factors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "c,words", [(2.0, "a factor of 2:"), (0.5, "a factor of 1/2:"), (-2.0, "a factor of −2:"), (4.0, "of 4:")]
)
def test_common_factors(c: float, words: str) -> None:
    p = _pattern(c * E)
    assert p.id == "scaled" and p.factor == c
    assert words in p.hint


def test_sign_flip() -> None:
    p = _pattern(-E)
    assert p.id == "sign_flipped" and p.factor == -1.0
    assert "wrong sign" in p.hint and "−1 × the correct value" in p.hint


def test_named_factor_one_over_t() -> None:
    p = _pattern(E / 7, factors={"T": 7.0, "N": 5.0})
    assert p.id == "averaged_not_summed"
    assert "off by a factor of 1/T = 1/7" in p.hint


def test_named_factor_t_means_sum_instead_of_mean() -> None:
    p = _pattern(5 * E, factors={"T": 7.0, "N": 5.0})
    assert p.id == "summed_not_averaged" and p.factor == 5.0
    assert "N = 5 times too large" in p.hint and "divide by N" in p.hint


def test_slide_affine_grad_factor_two_over_t_dropped() -> None:
    # deck 001 drops 2/T: the claim is T/2 times the gradient
    p = _pattern(E * 3.5, factors={"T": 7})
    assert p.id == "scaled" and p.factor == 3.5
    assert "T/2 = 3.5" in p.hint


def test_any_other_constant() -> None:
    p = _pattern(3.7 * E)
    assert p.id == "scaled" and p.factor == pytest.approx(3.7)
    assert "a factor of 3.7" in p.hint


def test_float32_claim_with_factor() -> None:
    p = _pattern((2 * E).float())
    assert p.id == "scaled" and p.factor == 2.0


def test_constant_needs_two_nonzero_entries() -> None:
    e = torch.tensor([0.0, 0.0, 1.0])
    p = name_pattern(torch.tensor([0.0, 0.0, 1.37]), e)
    assert p is not None and p.id == "some_entries_wrong"  # not "scaled by 1.37"
    assert name_pattern(torch.tensor([0.0, 0.0, 2.0]), e).id == "scaled"  # type: ignore[union-attr]


def test_describe_factor() -> None:
    assert describe_factor(1 / 7, {"T": 7}) == (1 / 7, "1/T = 1/7")
    assert describe_factor(-0.5) == (-0.5, "−1/2")
    assert describe_factor(1.2345) is None


# -- zero, missing, non-finite ---------------------------------------------------------------------
def test_zero() -> None:
    p = _pattern(torch.zeros(5, 3))
    assert p.id == "zero"
    assert "all zeros" in p.hint and "never computed" in p.hint


def test_zero_wrong_shape() -> None:
    p = _pattern(torch.zeros(1))
    assert p.id == "zero" and "shape (1,) instead of (5, 3)" in p.hint


def test_missing() -> None:
    p = _pattern(torch.empty(0))
    assert p.id == "missing" and "is empty (shape (0,))" in p.hint


def test_not_finite() -> None:
    a = E.clone()
    a[2, 1] = float("nan")
    p = _pattern(a)
    assert p.id == "not_finite"
    assert "1 NaN or infinite entry (at (2, 1))" in p.hint


# -- batch -----------------------------------------------------------------------------------------------
def test_bias_not_summed_over_batch() -> None:
    per_sample = _randn(7, 3)
    p = _pattern(per_sample, per_sample.sum(0))
    assert p.id == "not_summed_over_batch"
    assert "not summed over the batch" in p.hint
    assert "shape (7, 3)" in p.hint and "over the 7 samples, shape (3,)" in p.hint


def test_not_averaged_over_batch() -> None:
    per_sample = _randn(7, 3)
    p = _pattern(per_sample, per_sample.mean(0))
    assert p.id == "not_averaged_over_batch" and p.factor == pytest.approx(1 / 7)
    assert "mean over the 7 samples" in p.hint


def test_not_summed_and_scaled() -> None:
    per_sample = _randn(7, 3)
    p = _pattern(2 * per_sample, per_sample.sum(0))
    assert p.id == "not_summed_over_batch" and p.factor == 2.0
    assert "also off by a factor of 2" in p.hint


def test_summed_where_per_sample_needed() -> None:
    per_sample = _randn(7, 3)
    p = _pattern(per_sample.sum(0), per_sample)
    assert p.id == "summed_over_batch"
    assert "summed over the batch" in p.hint and "one row per sample" in p.hint


# -- partial ---------------------------------------------------------------------------------------------
def test_some_rows_wrong_lists_rows() -> None:
    a = E.clone()
    a[1] += 1.0
    a[3] -= 2.0
    p = _pattern(a)
    assert p.id == "some_rows_wrong"
    assert "rows 1, 3 are wrong (2 of 5)" in p.hint


def test_two_swapped_rows_are_named_as_swapped() -> None:
    a = E.clone()
    a[[1, 3]] = E[[3, 1]]
    p = _pattern(a)
    assert p.id == "rows_swapped"
    assert p.hint.startswith("dW3 has rows 1 and 3 swapped: row 1 holds what row 3 should, and row 3 what "
                             "row 1 should; the others are right.")


def test_permuted_columns_are_named_with_where_each_went() -> None:
    e = _randn(4, 5)
    a = e.clone()
    a[:, [1, 3, 4]] = e[:, [3, 4, 1]]
    p = _pattern(a, e)
    assert p.id == "columns_swapped"
    assert p.hint == ("dW3 has columns 1, 3, 4 in the wrong places: column 1 holds column 3's, column 3 holds column "
                      "4's, column 4 holds column 1's; the others are right. Look for an index mix-up.")


def test_wrong_rows_that_hold_no_other_rows_values_are_not_called_swapped() -> None:
    a = E.clone()
    a[[1, 3]] = E[[3, 1]] * 2  # moved and scaled: not what another row should hold
    assert _pattern(a).id == "some_rows_wrong"
    b = E.clone()
    b[1] = E[3]  # row 1 holds row 3's values, but row 3 is right: a copy, not a swap
    assert _pattern(b).id == "some_rows_wrong"


def test_only_some_rows_right() -> None:
    a = E + 1.0
    a[0] = E[0]
    p = _pattern(a)
    assert p.id == "some_rows_wrong"
    assert "only row 0 is right (4 of 5 rows are wrong)" in p.hint


def test_some_columns_wrong() -> None:
    a = E.clone()
    a[:, 2] = 0.0
    p = _pattern(a)
    assert p.id == "some_columns_wrong"
    assert "column 2 is wrong (1 of 3)" in p.hint


@pytest.mark.parametrize(
    ("where", "expected", "words"),
    [
        # rows of two entries: one wrong entry is half its row, which does not make the row wrong
        ((1, 0), "some_entries_wrong", "right except for 1 of 8 entries: at (1, 0)"),
        ((2, slice(None)), "some_rows_wrong", "row 2 is wrong (1 of 4)"),
    ],
)
def test_a_short_row_is_wrong_only_when_wrong_throughout(where: tuple, expected: str, words: str) -> None:
    e = _randn(4, 2)
    a = e.clone()
    a[where] += 5.0
    p = _pattern(a, e)
    assert p.id == expected
    assert words in p.hint


def test_few_entries_wrong_says_where_and_values() -> None:
    e = _randn(10, 10)
    a = e.clone()
    a[4, 7] = 123.0
    p = _pattern(a, e)
    assert p.id == "some_entries_wrong"
    assert "right except for 1 of 100 entries: at (4, 7) = 123 instead of" in p.hint


def test_many_wrong_entries_is_not_a_pattern() -> None:
    assert name_pattern(_randn(5, 3, seed=1), E) is None


def test_explicit_tolerance_is_used() -> None:
    a = E * 1.001
    assert name_pattern(a, E, tol=Tolerance(rtol=1e-2, atol=1e-3)) is None
    assert name_pattern(a, E) is not None


def test_to_dict() -> None:
    assert _pattern(2 * E).to_dict()["factor"] == 2.0


# -- arbitrary factors: a measurement, not a diagnosis, when asked -----------------------------------------
def test_arbitrary_factor_is_only_measured_when_asked() -> None:
    assert name_pattern(3.7 * E, E, any_factor=False) is None
    assert measured_factor(3.7 * E, E) == pytest.approx(3.7)
    assert name_pattern(2 * E, E, any_factor=False).id == "scaled"  # type: ignore[union-attr]
    assert measured_factor(E + 0.1 * _randn(5, 3, seed=4), E) is None


def test_rank_one_gradient_with_a_wrong_shared_scalar_is_not_named() -> None:
    # at T = 1 with one output, dW = g·xᵀ: a wrong σ' in the scalar g scales the whole row
    x = _randn(1, 6, seed=2)
    assert name_pattern(0.5275 * x, x, any_factor=False) is None


# -- localised diagnoses need grossly wrong entries and all others right --------------------------------------
def test_step_error_everywhere_is_not_localised() -> None:
    # a numerical Jacobian with another valid step: every entry off by about 2.5e-7, a few past the tolerance
    # (the old matcher said "right except for 2 of 20 entries … index off by one" here)
    e = 4 + 0.3 * _randn(4, 5, seed=3)
    e[1, 2], e[3, 0] = 0.8, -1.1
    a = e + 2.5e-7 * (1 + 0.1 * _randn(4, 5, seed=5))
    tol = tolerance(torch.float64)
    assert int((~torch.isclose(a, e, rtol=tol.rtol, atol=tol.atol)).sum()) == 2, "the premise: two exceed"
    assert name_pattern(a, e, name="J") is None


def test_underflowed_zeros_are_not_localised() -> None:
    # with a purely relative tolerance, entries that underflowed to 0 are wrong but tiny next to the rest
    e = _randn(6, 4, seed=6)
    e[2, 1], e[4, 3] = 3e-30, -2e-28
    a = e.clone()
    a[2, 1] = a[4, 3] = 0.0
    assert name_pattern(a, e, name="g", tol=Tolerance(rtol=1e-7, atol=0.0)) is None


def test_gross_entries_among_right_ones_are_localised() -> None:
    e = _randn(6, 4, seed=7)
    a = e.clone()
    a[3, 2] = e[3, 1]  # an index off by one
    p = name_pattern(a, e, name="g")
    assert p is not None and p.id == "some_entries_wrong"
    assert "right except for 1 of 24 entries: at (3, 2) = " in p.hint


def test_one_entry_slightly_wrong_among_gross_ones_is_not_localised() -> None:
    e = _randn(6, 4, seed=8)
    a = e.clone()
    a[0, 0] += 5.0
    a[5, 3] = e[5, 3] * (1 + 5e-7)  # past the tolerance, but only just
    assert name_pattern(a, e, name="g") is None


# -- the one rearrangement list ------------------------------------------------------------------------
def test_rearrangements_map_a_claim_back_onto_the_shape() -> None:
    square = _randn(3, 3, seed=9)
    assert [i for i, _ in rearrangements(square, (3, 3))] == ["identity", "transposed"]
    found = dict(rearrangements(E.T, (5, 3)))
    assert list(found) == ["transposed", "reshaped_not_transposed"]
    assert torch.equal(found["transposed"], E) and torch.equal(found["reshaped_not_transposed"], E.T.reshape(5, 3))
    same = dict(rearrangements(E.T.reshape(5, 3), (5, 3)))
    assert torch.equal(same["reshaped_not_transposed"], E)
    per_sample = _randn(7, 3, seed=10)
    batch = dict(rearrangements(per_sample, (3,)))
    assert torch.allclose(batch["not_summed_over_batch"], per_sample.sum(0))
    assert torch.allclose(batch["not_averaged_over_batch"], per_sample.mean(0))
    assert list(dict(rearrangements(E.reshape(1, 15), (5, 3)))) == ["reshaped"]
