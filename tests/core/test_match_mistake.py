"""CheckContext.match_mistake: a mistake is named only when the submission confirms its variant
(grader.diagnosis.confirms_variant), for structured values too; non-finite agreement counts only for
mistakes declared nonfinite."""

from __future__ import annotations

import math

import torch

import reference.softmax_ce as ref
from grader.checks import CheckContext, StudentAPI, confirms_tree
from grader.mistakes import MistakeBook, load_book
from grader.tolerances import tolerance

TOL = tolerance(torch.float64).scaled(10.0)
P = torch.tensor([0.0, 1.0, 0.3, 0.0, 1.0], dtype=torch.float64)  # confident right answers, and one 0.3
Y = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0], dtype=torch.float64)


def _ctx(book: MistakeBook | None) -> CheckContext:
    def no_student(name, args, kwargs):  # noqa: ANN001, ANN202 - never called here
        raise AssertionError("the matcher runs trusted variants only")

    return CheckContext(check_id="bce_values", student=StudentAPI(no_student), reference=ref, mistakes=book)


def _bce(api, p, y):  # noqa: ANN001, ANN202
    return api.bce(p, y)


def test_naive_bce_nan_is_not_brackets_missing() -> None:
    # the student's naive BCE is NaN at p = 0, y = 0; the brackets-missing variant is NaN there too
    naive = -(Y * torch.log(P) + (1 - Y) * torch.log(1 - P)).mean()
    assert math.isnan(float(naive))
    only_brackets = MistakeBook("softmax_ce")
    only_brackets.add("bce", name="BCE brackets missing", hint="…")(load_book("softmax_ce")["bce_brackets"]
                                                                      .overrides["bce"])
    expected = ref.bce(P, Y)
    assert _ctx(only_brackets).match_mistake(_bce, (P, Y), {}, naive, expected, TOL) is None
    found = _ctx(load_book("softmax_ce")).match_mistake(_bce, (P, Y), {}, naive, expected, TOL)
    assert found is not None and found.id == "bce_nan_when_confident"


def test_finite_disagreement_is_not_a_match() -> None:
    p = torch.tensor([0.2, 0.7, 0.4], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)
    wrong = ref.bce(p, y) * 1.5  # no catalogued mistake does this
    assert _ctx(load_book("softmax_ce")).match_mistake(_bce, (p, y), {}, wrong, ref.bce(p, y), TOL) is None
    brackets = load_book("softmax_ce")["bce_brackets"].overrides["bce"](p, y)
    found = _ctx(load_book("softmax_ce")).match_mistake(_bce, (p, y), {}, brackets, ref.bce(p, y), TOL)
    assert found is not None and found.id == "bce_brackets"


def test_confirms_tree_structure_and_values() -> None:
    e = {"W": torch.ones(2, 3, dtype=torch.float64), "X": torch.zeros(4, dtype=torch.float64)}
    v = {"W": 2 * torch.ones(2, 3, dtype=torch.float64), "X": torch.zeros(4, dtype=torch.float64)}
    assert confirms_tree({"X": e["X"], "W": v["W"]}, e, v, TOL)  # key order does not matter
    assert not confirms_tree(e, e, v, TOL)  # the right answer never confirms a mistake
    assert not confirms_tree(v, e, e, TOL)  # a variant equal to the reference is no evidence
    assert not confirms_tree({"W": v["W"]}, e, v, TOL)  # a key missing where the variant has it
    missing = {"W": e["W"], "X": None}
    assert confirms_tree(missing, e, missing, TOL)  # the same missing value: the structure is the evidence
    row = torch.ones(1, 3, dtype=torch.float64)
    assert confirms_tree(row, torch.ones(3, dtype=torch.float64), row, TOL)
    assert not confirms_tree(2 * row, torch.ones(3, dtype=torch.float64), row, TOL)
    assert not confirms_tree("text", e, v, TOL)


def test_nonfinite_agreement_only_for_declared_variants() -> None:
    e = torch.tensor([1.0, 2.0], dtype=torch.float64)
    v = torch.tensor([math.inf, 2.0], dtype=torch.float64)
    a = torch.tensor([math.inf, 2.0], dtype=torch.float64)
    assert not confirms_tree(a, e, v, TOL)
    assert confirms_tree(a, e, v, TOL, nonfinite=True)
    assert not confirms_tree(torch.tensor([math.nan, 2.0], dtype=torch.float64), e, v, TOL, nonfinite=True)


def test_an_arbitrary_factor_is_a_measurement_in_the_details() -> None:
    from grader.checks import measured_factor_line, pattern_diagnosis
    from grader.compare import compare_tree

    e = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
    m = compare_tree("dW4", 0.53 * e, e, tol=tolerance(torch.float64), dtype=torch.float64, device=None)
    assert m is not None
    assert pattern_diagnosis(m, None, tolerance(torch.float64)) is None
    assert measured_factor_line(m, tolerance(torch.float64)) == "Yours is 0.53 × the expected value, in every entry."
    m2 = compare_tree("dW4", 2 * e, e, tol=tolerance(torch.float64), dtype=torch.float64, device=None)
    assert m2 is not None and pattern_diagnosis(m2, None, tolerance(torch.float64)).id == "scaled"  # type: ignore[union-attr]
