"""The `softmax_ce` checks, graded through the sandbox: the reference gets full marks for every seed in
float32 and float64, another correct solution too, every mistake loses marks and is named, and the key
messages say what they should."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from exercise_helpers import bound, explain, failures

from grader.api import GradeOptions, grade
from grader.mistakes import load_book, mutant_source

EXERCISE = "softmax_ce"
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / f"{EXERCISE}.py"
BOOK = load_book(EXERCISE)
MAX_SCORE = 20
write, grade_source, grade_mistake = bound(EXERCISE)


# -- the reference ----------------------------------------------------------------------------------
def test_reference_gets_full_marks_in_both_dtypes(sandbox):
    result = grade(EXERCISE, REFERENCE, GradeOptions(seed=123), sandbox=sandbox)
    assert result.full_marks, explain(result)
    assert result.problems == []


# Another correct solution: max().values, gather, xlogy, softplus, an in-place update of its own tensor.
ALTERNATIVE = '''
import torch
import torch.nn.functional as F

def softmax(z):
    e = (z - z.max(dim=-1, keepdim=True).values).exp()
    return e / e.sum(dim=-1, keepdim=True)

def log_softmax(z):
    s = z - z.max(dim=-1, keepdim=True).values
    return s - s.exp().sum(dim=-1, keepdim=True).log()

def cross_entropy(z, labels):
    return -log_softmax(z).gather(1, labels[:, None]).mean()

def cross_entropy_grad(z, labels):
    g = softmax(z)
    g[torch.arange(z.shape[0]), labels] -= 1  # g is a new tensor: changing it is fine
    return g / z.shape[0]

def softmax_jacobian(z1):
    s = softmax(z1)
    return torch.diag_embed(s) - s[:, None] * s[None, :]

def bce(p, y):
    y = y.to(p.dtype)
    return -(torch.xlogy(y, p) + torch.xlogy(1 - y, 1 - p)).mean()

def bce_with_logits(z, y):
    y = y.to(z.dtype)
    return (F.softplus(-z) + (1 - y) * z).mean()

def bce_with_logits_grad(z, y):
    return (torch.sigmoid(z) - y) / len(z)
'''


@pytest.mark.parametrize("seed", range(5))
def test_another_correct_solution_gets_full_marks(sandbox, tmp_path, seed):
    for dtypes in ((torch.float64,), (torch.float32,)):
        result = grade_source(sandbox, tmp_path, ALTERNATIVE, seed, dtypes=dtypes)
        assert result.full_marks, explain(result)
        assert result.problems == []


# -- the mistakes -----------------------------------------------------------------------------------
def test_the_book_has_the_expected_mistakes():
    ids = {m.id for m in BOOK}
    assert len(ids) >= 8
    assert {"no_max_subtraction", "wrong_axis", "log_of_softmax", "missing_1_over_T", "one_hot_sign",
            "naive_bce_with_logits", "softmax_in_place"} <= ids
    assert "overflow for logits above 88: subtract the max" in BOOK["no_max_subtraction"].hint.lower()


def test_every_mistake_is_named_in_float32_alone(sandbox, tmp_path):
    for m in BOOK:
        result = grade(EXERCISE, write(tmp_path, mutant_source(EXERCISE, m.id)),
                       GradeOptions(seed=4, dtypes=(torch.float32,)), sandbox=sandbox)
        assert any(c.mistake == m.id for c in result.checks), f"{m.id}:\n{explain(result)}"


# -- key messages -----------------------------------------------------------------------------------
def test_overflow_message(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "no_max_subtraction"))
    assert {"softmax_values", "log_softmax_values", "cross_entropy_values"}.isdisjoint(failed)
    c = failed["softmax_large_logits"]
    assert "contains NaN" in c.message and "where a finite value is expected" in c.message
    assert "Overflow for logits above 88: subtract the max" in c.advice
    assert "contains inf" in failed["log_softmax_large_logits"].message


def test_log_of_softmax_message(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "log_of_softmax"))
    assert set(failed) == {"log_softmax_large_logits", "cross_entropy_large_logits"}
    c = failed["cross_entropy_large_logits"]
    assert "gaps up to 1e4" in c.message and "inf" in c.message
    assert "log(softmax(z))" in c.advice


def test_naive_bce_with_logits_message(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "naive_bce_with_logits"))
    assert set(failed) == {"bce_with_logits_values"}
    c = failed["bce_with_logits_values"]
    assert "against the labels" in c.message and "contains inf" in c.message
    assert "softplus" in c.advice


def test_in_place_edit_is_charged_once_and_names_the_argument(sandbox, tmp_path):
    r = grade_mistake(sandbox, tmp_path, "softmax_in_place")
    failed = failures(r)
    assert set(failed) == {"inputs_unchanged"}  # the values are right: only the one check charges the edit
    c = failed["inputs_unchanged"]
    assert c.message == "softmax modified its input z in place"
    assert c.mistake == "softmax_in_place" and "z = z - z.amax" in c.advice
    noted = next(x for x in r.checks if x.id == "softmax_values")
    assert any("softmax modified its input z in place" in n and "inputs_unchanged" in n for n in noted.notes)


BCE_IN_PLACE = ALTERNATIVE.replace('''def bce(p, y):
    y = y.to(p.dtype)''', '''def bce(p, y):
    y = y.to(p.dtype)
    p.clamp_(1e-12, 1 - 1e-12)''')


def test_in_place_outside_softmax_gets_the_generic_hint(sandbox, tmp_path):
    c = failures(grade_source(sandbox, tmp_path, BCE_IN_PLACE))["inputs_unchanged"]
    assert c.message == "bce modified its input p in place"
    assert c.mistake == "input_modified" and "x = x - m" in c.advice


def test_missing_1_over_T_shows_only_for_a_batch(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "missing_1_over_T"))
    assert set(failed) == {"cross_entropy_grad_values", "bce_with_logits_grad_values"}
    assert "T = 7" in failed["cross_entropy_grad_values"].message


def test_wrong_axis_and_label_indexing_messages(sandbox, tmp_path):
    c = failures(grade_mistake(sandbox, tmp_path, "wrong_axis"))["softmax_values"]
    assert "dim=-1" in c.advice
    c = failures(grade_mistake(sandbox, tmp_path, "labels_all_rows"))["cross_entropy_values"]
    assert "T = 7" in c.message and "torch.arange(T), labels" in c.advice
    c = failures(grade_mistake(sandbox, tmp_path, "labels_from_one"))["cross_entropy_values"]
    assert "0 to C − 1" in c.advice


LIBRARY = ALTERNATIVE.replace('''def log_softmax(z):
    s = z - z.max(dim=-1, keepdim=True).values
    return s - s.exp().sum(dim=-1, keepdim=True).log()''', '''def log_softmax(z):
    return z - torch.logsumexp(z, dim=-1, keepdim=True)''')


def test_library_shortcuts_are_forbidden(sandbox, tmp_path):
    result = grade_source(sandbox, tmp_path, LIBRARY)
    assert any("torch.logsumexp" in p for p in result.problems), result.problems
    failed = failures(result)
    assert {"log_softmax_values", "cross_entropy_values"} <= set(failed)
    assert "softmax_values" not in failed


def test_statement_gives_the_conventions_and_the_slide_errors():
    text = (ROOT / "exercises" / EXERCISE / "statement.md").read_text(encoding="utf-8")
    assert "σ(−a)" in text  # deck 001's softmax label
    assert "−(1/n) Σ [y log ŷ + (1 − y) log(1 − ŷ)]" in text  # deck 004's brackets
    assert "outputs[range(batch_size), labels]" in text  # deck 001's myCrossEntropyLoss
    assert "max(z, 0) − y·z + log(1 + e^(−|z|))" in text
    assert "numbered from 0 to C − 1" in text and "from `0` to `C − 1`" in text
