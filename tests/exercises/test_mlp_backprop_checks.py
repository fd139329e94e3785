"""The `mlp_backprop` checks, graded through the sandbox: the reference gets full marks for every seed
in float32 and float64, other correct solutions too, every mistake loses marks and is named, and the
key messages say what they should."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from exercise_helpers import bound, explain, failures

from grader.api import GradeOptions, grade
from grader.mistakes import load_book, mutant_source

EXERCISE = "mlp_backprop"
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / f"{EXERCISE}.py"
BOOK = load_book(EXERCISE)
MAX_SCORE = 15
write, grade_source, grade_mistake = bound(EXERCISE)


# -- the reference ----------------------------------------------------------------------------------
def test_reference_gets_full_marks_in_both_dtypes(sandbox):
    result = grade(EXERCISE, REFERENCE, GradeOptions(seed=123), sandbox=sandbox)
    assert result.full_marks, explain(result)
    assert result.problems == []


# Another correct solution: σ' from the pre-activation, a tuple cache, einsum, a per-sample mean.
ALTERNATIVE = '''
import torch

def forward(params, X):
    acts, pres = [X], []
    for i in range(1, 5):
        a = torch.einsum("tj,ij->ti", acts[-1], params[f"W{i}"]) + params[f"b{i}"]
        pres.append(a)
        acts.append(1 / (1 + torch.exp(-a)))
    return acts[-1], (tuple(acts), tuple(pres))

def loss(out, Y):
    return (out - Y).pow(2).sum(dim=1).mean()

def backward(params, cache, Y):
    acts, pres = cache
    T = Y.shape[0]
    g = 2 * (acts[-1] - Y) / T
    grads = {}
    for i in (4, 3, 2, 1):
        s = torch.sigmoid(pres[i - 1])
        g = g * s * (1 - s)
        grads[f"W{i}"] = torch.einsum("ti,tj->ij", g, acts[i - 1])
        grads[f"b{i}"] = g.sum(dim=0)
        g = torch.einsum("ti,ij->tj", g, params[f"W{i}"])
    grads["X"] = g
    return grads
'''


@pytest.mark.parametrize("seed", range(5))
def test_another_correct_solution_gets_full_marks(sandbox, tmp_path, seed):
    result = grade_source(sandbox, tmp_path, ALTERNATIVE, seed)
    assert result.full_marks, explain(result)


# -- the mistakes -----------------------------------------------------------------------------------
def test_the_book_has_the_expected_mistakes():
    ids = {m.id for m in BOOK}
    assert len(ids) >= 8
    assert {"sigma_instead_of_sigma_prime", "no_sigma_prime_at_output", "W_instead_of_W_transposed",
            "sum_instead_of_mean", "factor_two_missing", "bias_not_summed", "grad_X_missing",
            "preactivation_instead_of_activation"} <= ids


def test_every_mistake_is_named_in_float32_alone(sandbox, tmp_path):
    for m in BOOK:
        result = grade(EXERCISE, write(tmp_path, mutant_source(EXERCISE, m.id)),
                       GradeOptions(seed=4, dtypes=(torch.float32,)), sandbox=sandbox)
        assert any(c.mistake == m.id for c in result.checks), f"{m.id}:\n{explain(result)}"


# -- key messages -----------------------------------------------------------------------------------
def test_missing_transpose_is_caught_on_a_square_layer_only(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "W_instead_of_W_transposed"))
    # W4 and b4 do not depend on the transpose; the square W3 (4 → 4) spoils everything below it
    assert set(failed) == {"backward_hidden_layers", "backward_input", "backward_square_layers", "backward_gradcheck"}
    c = failed["backward_hidden_layers"]
    assert "['W2']" in c.message and "not close" in c.message
    assert "W instead of Wᵀ" in c.advice and "square" in c.advice


def test_bias_not_summed_message_gives_the_shapes(sandbox, tmp_path):
    c = failures(grade_mistake(sandbox, tmp_path, "bias_not_summed"))["backward_output_layer"]
    assert c.message == "backward (T = 6, float64)['b4'] has shape (6, 3), expected (3,)"
    assert "G_a.sum(0)" in c.advice


def test_missing_input_gradient_message(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "grad_X_missing"))
    assert set(failed) == {"backward_input", "backward_square_layers", "backward_batch_sizes", "backward_gradcheck"}
    assert "is missing key(s) 'X'" in failed["backward_square_layers"].message
    assert "\"X\"" in failed["backward_input"].advice


def test_sum_instead_of_mean_shows_only_for_a_batch(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "sum_instead_of_mean"))
    assert "forward_output" not in failed
    assert "T = 6" in failed["loss_value"].message  # T = 1 passed: a sum and a mean agree there
    assert "1/T" in failed["backward_output_layer"].advice


def test_missing_output_sigmoid_fails_the_forward_check(sandbox, tmp_path):
    c = failures(grade_mistake(sandbox, tmp_path, "no_sigmoid_at_output"))["forward_output"]
    assert c.mistake == "no_sigmoid_at_output" and "σ after every layer" in c.advice


AUTOGRAD = ALTERNATIVE.replace("def backward(params, cache, Y):", '''def backward(params, cache, Y):
    leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    return dict(zip(leaves, torch.autograd.grad(loss(forward(leaves, cache[0][0])[0], Y), list(leaves))))

def _unused(params, cache, Y):''')


def test_autograd_is_forbidden(sandbox, tmp_path):
    result = grade_source(sandbox, tmp_path, AUTOGRAD)
    assert any("torch.autograd" in p for p in result.problems), result.problems
    failed = failures(result)
    assert {"forward_output", "loss_value"}.isdisjoint(failed)
    # every check that calls backward, inputs_unchanged included, cannot run it
    backward_checks = {c.id for c in result.checks if c.id.startswith("backward")} | {"inputs_unchanged"}
    assert set(failed) == backward_checks
    assert all(c.status == "error" and "forbid" in c.message for c in failed.values())
    assert "by hand" in failed["backward_output_layer"].advice


def test_statement_gives_the_conventions_and_the_slide_errors():
    text = (ROOT / "exercises" / EXERCISE / "statement.md").read_text(encoding="utf-8")
    assert "without ½" in text and "(1/T) Σₜ ‖x⁴ₜ − yₜ‖²" in text
    assert "G_x⁴ = 2 (x⁴ − Y) / T" in text
    assert "σ'(s⁽ˡ⁺¹⁾)" in text  # deck 002's vanishing-gradient recursion, corrected
    assert '"X"' in text and "(Nᵢ, Nᵢ₋₁)" in text


# -- the gradient-check engine inside the exercise ---------------------------------------------------
ONE_WRONG_BIAS_ENTRY = '''from reference.mlp_backprop import *
from reference.mlp_backprop import backward as _backward


def backward(params, cache, Y):
    g = dict(_backward(params, cache, Y))
    g["b2"] = g["b2"].clone()
    g["b2"][1] += 0.5
    return g
'''


def test_gradcheck_locates_a_single_wrong_bias_entry(sandbox, tmp_path):
    c = failures(grade_source(sandbox, tmp_path, ONE_WRONG_BIAS_ENTRY))["backward_gradcheck"]
    assert c.message == "backward (float64): wrong gradient: db2"
    assert "b2: failed" in c.details and "1 of 4 entries wrong" in c.details and "b2(1,)" in c.details
    assert "db2 is right except for 1 of 4 entries: at (1,)" in c.advice
    tensors = {t["name"]: t for t in c.attachment("gradient").verdict["tensors"]}
    assert tensors["b2"]["status"] == "failed" and tensors["W2"]["status"] == "passed"


def test_gradcheck_names_the_known_mistake(sandbox, tmp_path):
    c = failures(grade_mistake(sandbox, tmp_path, "factor_two_missing"))["backward_gradcheck"]
    assert c.mistake == "factor_two_missing"
    assert c.advice.startswith("Likely mistake: factor 2 missing.")
