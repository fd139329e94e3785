"""Hand-written buggy submissions (tests/buggy/<exercise>/*.py), graded like any student file.

They are written the way students write (loops, their own helpers, other names), not copied from any
mistakes.py variant, so this test can catch a misdiagnosis, which the mistake test cannot (there the
mutant is the very variant the matcher replays). For each file the table says:

* ``expect``: ``"pass"`` (a valid solution written differently: full marks), ``"named"`` (loses marks, and
  at least one failed check names a mistake of ``allowed``), ``"named_or_none"`` (loses marks; a failed
  check names a mistake of ``allowed`` or nothing), ``"none"`` (loses marks, and no check names anything);
* ``allowed``: the only diagnosis ids any failed check may carry; anything else is a wrong diagnosis;
* ``only``: when given, exactly the checks that may fail (an in-place edit is charged once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.grading import GradeOptions, grade

BUGGY = Path(__file__).resolve().parents[1] / "buggy"


@dataclass(frozen=True)
class Case:
    exercise: str
    file: str
    expect: str
    allowed: frozenset[str] = frozenset()
    only: frozenset[str] | None = None


def case(exercise: str, file: str, expect: str, *allowed: str, only: tuple[str, ...] | None = None) -> Case:
    return Case(exercise, file, expect, frozenset(allowed), None if only is None else frozenset(only))


CASES = [
    # least_squares
    case("least_squares", "loop_gradient_without_two", "named", "ls_grad_without_two"),
    case("least_squares", "abs_loss", "none"),
    case("least_squares", "inverse_normal_equations", "named", "ls_solve_inverse", "ls_solve_normal_equations"),
    case("least_squares", "residual_in_place", "named", "input_modified", only=("inputs_unchanged",)),
    # jacobians: a step of ε/2 on each side is a valid central difference; an ignored ε is never "off by one"
    case("jacobians", "half_step_each_side", "pass"),
    case("jacobians", "fixed_step", "named", "numerical_eps_ignored"),
    case("jacobians", "fixed_step_eye", "named", "numerical_eps_ignored"),
    case("jacobians", "sigma_prime_vector", "named", "diagonal_as_vector"),
    case("jacobians", "ones_matrix", "none"),
    case("jacobians", "moving_x_in_place", "named", "input_modified", only=("inputs_unchanged",)),
    # mlp_backprop
    case("mlp_backprop", "mean_over_everything", "named", "mean_over_outputs_too"),
    case("mlp_backprop", "bias_keepdim", "named", "reshaped"),
    case("mlp_backprop", "sigma_prime_of_preactivation", "none"),
    case("mlp_backprop", "loss_in_place", "named", "input_modified", only=("inputs_unchanged",)),
    case("mlp_backprop", "rows_mixed_up", "named", "rows_swapped"),
    # softmax_ce: a naive BCE is NaN at p = 0, y = 0; that is not "BCE brackets missing"
    case("softmax_ce", "naive_bce", "named", "bce_nan_when_confident"),
    case("softmax_ce", "log_times_onehot", "named", "log_times_onehot"),
    case("softmax_ce", "logit_term_all_rows", "named", "logit_term_all_rows"),
    case("softmax_ce", "eps_in_log", "named", "log_p_plus_epsilon"),
    case("softmax_ce", "jacobian_diagonal", "named", "jacobian_diagonal_only"),
    case("softmax_ce", "softmax_for_probability", "named_or_none", "softmax_for_sigmoid"),
    case("softmax_ce", "grad_label_shifted", "none"),
    case("softmax_ce", "max_subtracted_in_place", "named", "softmax_in_place", only=("inputs_unchanged",)),
    # derivatives: answers as strings
    case("derivatives", "tanh_from_the_slides", "named", "tanh_slide_004"),
    case("derivatives", "softplus_exp", "none"),
    case("derivatives", "other_forms", "pass"),
    case("derivatives", "own_parameter_names", "pass"),
    case("derivatives", "gradient_rows", "named", "affine_row", "least_squares_row"),
]


def test_every_buggy_file_is_in_the_table() -> None:
    # conv, gmm_em and pca keep their expectations in each file (tests/exercises/test_buggy_new_exercises.py)
    on_disk = {(p.parent.name, p.stem) for p in BUGGY.glob("*/*.py") if p.parent.name not in ("conv", "gmm_em", "pca")}
    assert on_disk == {(_case(c).exercise, _case(c).file) for c in CASES}


def test_enough_files_per_exercise() -> None:
    for ex in ("least_squares", "jacobians", "mlp_backprop", "softmax_ce", "derivatives"):
        mine = [_case(c) for c in CASES if _case(c).exercise == ex]
        assert len([c for c in mine if c.expect != "pass"]) >= 3, ex
        assert any(c.expect == "none" for c in mine), f"{ex}: no file that must get no diagnosis"


def _case(p: Case | object) -> Case:
    return p if isinstance(p, Case) else p.values[0]  # type: ignore[attr-defined]


@pytest.mark.parametrize("c", CASES, ids=[f"{_case(c).exercise}:{_case(c).file}" for c in CASES])
def test_buggy_submission_diagnosis(c: Case, sandbox) -> None:
    r = grade(c.exercise, BUGGY / c.exercise / f"{c.file}.py", GradeOptions(seed=0), sandbox=sandbox)
    failed = [x for x in r.checks if not x.passed]
    seen = [(x.id, x.status, x.mistake, x.message) for x in failed]
    assert not any(x.status == "grader_error" for x in failed), seen
    if c.expect == "pass":
        assert failed == [], seen
        return
    assert r.score < r.max_score, f"{c.file} got full marks"
    wrong = [(x.id, x.mistake, x.advice) for x in failed if x.mistake is not None and x.mistake not in c.allowed]
    assert wrong == [], f"wrong diagnosis for {c.file}"
    if c.expect == "named":
        assert any(x.mistake in c.allowed for x in failed), seen
    if c.expect == "none":
        assert all(x.mistake is None for x in failed), seen
    if c.only is not None:
        assert {x.id for x in failed} == c.only, seen


# -- wording: first line says what failed, then the numbers, then the likely mistake ------------------------
def _failed(exercise: str, file: str, check_id: str, sandbox):  # noqa: ANN001, ANN202
    r = grade(exercise, BUGGY / exercise / f"{file}.py", GradeOptions(seed=0), sandbox=sandbox)
    return r, next(x for x in r.checks if x.id == check_id and not x.passed)


def test_wording_naive_bce_nan(sandbox) -> None:
    _, c = _failed("softmax_ce", "naive_bce", "bce_values", sandbox)
    assert c.message == ("bce(p, y) with p = 0 where y = 0 and p = 1 where y = 1, float64 contains NaN in 1 / 1 "
                         "entries where a finite value is expected")
    assert c.details.startswith("First at index (), where ")
    assert c.advice.startswith("Likely mistake: NaN for a confident right answer: 0 · log 0. At p = 0 with y = 0")
    assert "brackets" not in c.advice


def test_wording_value_mismatch_in_assert_close_style(sandbox) -> None:
    _, c = _failed("least_squares", "loop_gradient_without_two", "ls_grad_random", sandbox)
    assert c.message == "ls_grad (W 7×3, float64): Tensor-likes are not close!"
    lines = c.details.splitlines()
    assert lines[0].startswith("Mismatched elements: ") and lines[1].startswith("Greatest absolute difference: ")
    assert lines[2].startswith("Greatest relative difference: 0.5 at index ")
    assert c.advice.startswith("Likely mistake: factor 2 missing. The gradient of ‖Wθ − y‖² is 2Wᵀ(Wθ − y)")


def test_wording_ignored_eps(sandbox) -> None:
    _, c = _failed("jacobians", "fixed_step", "numerical_jacobian_uses_eps", sandbox)
    assert c.message == ("numerical_jacobian returns the same Jacobian for ε = 0.1 and ε = 0.05: it does not use "
                         "its eps argument")
    assert "must differ by about" in c.details and "the largest difference of yours is 0." in c.details
    assert c.advice.startswith("Likely mistake: ε ignored: a fixed step. numerical_jacobian(f, x, eps) must")


def test_wording_in_place_charged_once_with_notes(sandbox) -> None:
    r, c = _failed("jacobians", "moving_x_in_place", "inputs_unchanged", sandbox)
    assert c.message == "numerical_jacobian modified its input x in place"
    assert c.details == "The caller's tensor had changed after the call: inputs belong to the caller."
    assert c.advice.startswith("Likely mistake: input changed in place. Work on a new tensor (x = x - m, not x -= m")
    noted = [x.id for x in r.checks if any("modified its input x in place" in n for n in x.notes)]
    assert "numerical_jacobian_affine" in noted and all(x.passed for x in r.checks if x.id in noted)


def test_wording_no_diagnosis_says_only_what_was_measured(sandbox) -> None:
    _, c = _failed("mlp_backprop", "sigma_prime_of_preactivation", "backward_output_layer", sandbox)
    assert c.message == "backward (T = 6, float64)['W4']: Tensor-likes are not close!"
    assert c.details.startswith("Mismatched elements: 12 / 12 (100.0%)")
    assert c.diagnosis is None and "Likely mistake" not in c.advice
