"""The `jacobians` checks, graded through the sandbox: the reference gets full marks, every mistake
loses marks and is named, and the key messages (a transposed Jacobian above all) say what they should."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from exercise_helpers import bound, explain, failures

from grader.api import GradeOptions, grade
from grader.mistakes import load_book

EXERCISE = "jacobians"
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / f"{EXERCISE}.py"
BOOK = load_book(EXERCISE)
write, grade_source, grade_mistake = bound(EXERCISE)


# -- the reference ----------------------------------------------------------------------------------
def test_reference_gets_full_marks_in_float32_only(sandbox):
    result = grade(EXERCISE, REFERENCE, GradeOptions(seed=11, dtypes=(torch.float32,)), sandbox=sandbox)
    assert result.full_marks, explain(result)


ALTERNATIVE = '''
import torch

def _sp(W, b, x):
    s = 1 / (1 + torch.exp(-(W @ x + b)))
    return s * (1 - s)

def jac_a_x(W, b, x):
    return W

def jac_a_b(W, b, x):
    return torch.eye(len(b), dtype=b.dtype, device=b.device)

def jac_a_wd(W, b, x, d):
    return torch.eye(W.shape[0], dtype=W.dtype, device=W.device) * x[d]

def jac_y_a(W, b, x):
    return torch.diag(_sp(W, b, x))

def jac_y_x(W, b, x):
    return torch.diag(_sp(W, b, x)) @ W

def jac_y_b(W, b, x):
    return jac_y_a(W, b, x) @ jac_a_b(W, b, x)

def jac_y_wd(W, b, x, d):
    return jac_y_a(W, b, x) @ jac_a_wd(W, b, x, d)

def numerical_jacobian(f, x, eps=1e-6):
    E = torch.eye(x.shape[0], dtype=x.dtype, device=x.device) * eps
    return torch.stack([(f(x + E[j]) - f(x - E[j])) / (2 * eps) for j in range(x.shape[0])]).T
'''


@pytest.mark.parametrize("seed", range(5))
def test_another_correct_solution_gets_full_marks(sandbox, tmp_path, seed):
    result = grade(EXERCISE, write(tmp_path, ALTERNATIVE), GradeOptions(seed=seed), sandbox=sandbox)
    assert result.full_marks, explain(result)


# -- the mistakes -----------------------------------------------------------------------------------
def test_the_book_has_the_expected_mistakes():
    ids = {m.id for m in BOOK}
    assert len(ids) >= 6
    assert {"denominator_layout", "sigma_not_derivative", "jac_y_x_wrong_side", "jac_a_wd_scalar",
            "numerical_forward_difference", "numerical_eps_not_halved", "numerical_jacobian_transposed"} <= ids


# -- key messages -----------------------------------------------------------------------------------
TRANSPOSED = '''
import torch
from reference.jacobians import jac_a_x, jac_a_b, jac_a_wd, jac_y_a, jac_y_b, jac_y_wd, numerical_jacobian

def jac_y_x(W, b, x):
    s = torch.sigmoid(W @ x + b)
    return W.T @ torch.diag(s * (1 - s))
'''


def test_transposed_jacobian_is_diagnosed_as_transposed(sandbox, tmp_path):
    result = grade(EXERCISE, write(tmp_path, TRANSPOSED), GradeOptions(seed=0), sandbox=sandbox)
    failed = failures(result)
    assert set(failed) == {"jac_y_x_layout", "jac_y_x_square", "jacobians_fixed"}, explain(result)
    layout = failed["jac_y_x_layout"]
    assert layout.message.startswith("jac_y_x is transposed")
    assert "numerator layout" in layout.message and "(N, D) = (3, 5)" in layout.message
    assert "you returned (5, 3)" in layout.message
    assert layout.mistake == "denominator_layout" and "denominator layout" in layout.advice
    square = failed["jac_y_x_square"]  # same shape when N = D: only the values show the transpose
    assert square.mistake == "denominator_layout" and "transposed" in square.advice.lower()


ONLY_SQUARE_TRANSPOSE = '''
import torch
from reference.jacobians import jac_a_x, jac_a_b, jac_a_wd, jac_y_a, jac_y_b, jac_y_wd, numerical_jacobian

def jac_y_x(W, b, x):
    s = torch.sigmoid(W @ x + b)
    J = torch.diag(s * (1 - s)) @ W
    return J.T.clone() if J.shape[0] == J.shape[1] else J
'''


def test_a_square_transpose_is_named_by_the_generic_pattern_too(sandbox, tmp_path):
    result = grade(EXERCISE, write(tmp_path, ONLY_SQUARE_TRANSPOSE), GradeOptions(seed=1), sandbox=sandbox)
    failed = failures(result)
    assert set(failed) == {"jac_y_x_square"}, explain(result)
    assert "transposed" in failed["jac_y_x_square"].advice.lower()


WRONG_SIDE = '''
import torch
from reference.jacobians import jac_a_x, jac_a_b, jac_a_wd, jac_y_a, jac_y_b, jac_y_wd, numerical_jacobian

def jac_y_x(W, b, x):
    s = torch.sigmoid(W @ x + b)
    return W * (s * (1 - s))
'''


def test_diagonal_on_the_wrong_side(sandbox, tmp_path):
    result = grade(EXERCISE, write(tmp_path, WRONG_SIDE), GradeOptions(seed=2), sandbox=sandbox)
    failed = failures(result)
    layout = failed["jac_y_x_layout"]  # N ≠ D: the broadcast fails, and the hint explains why
    assert layout.status == "error" and "s[:, None] * W" in layout.advice
    square = failed["jac_y_x_square"]
    assert square.status == "failed" and square.mistake == "jac_y_x_wrong_side"


FORWARD = '''
import torch
from reference.jacobians import jac_a_x, jac_a_b, jac_a_wd, jac_y_a, jac_y_x, jac_y_b, jac_y_wd

def numerical_jacobian(f, x, eps=1e-6):
    J = []
    for j in range(len(x)):
        xp = x.clone()
        xp[j] += eps
        J.append((f(xp) - f(x)) / eps)
    return torch.stack(J, dim=1)
'''


def test_forward_differences_are_named(sandbox, tmp_path):
    result = grade(EXERCISE, write(tmp_path, FORWARD), GradeOptions(seed=0), sandbox=sandbox)
    failed = failures(result)
    assert "numerical_jacobian_central" in failed and "numerical_jacobian_affine" not in failed
    c = failed["numerical_jacobian_central"]
    assert c.mistake == "numerical_forward_difference" and "order ε²" in c.advice


def test_statement_states_the_layout():
    text = (ROOT / "exercises" / EXERCISE / "statement.md").read_text(encoding="utf-8")
    assert "J[i, j] = ∂u_i/∂v_j" in text and "(N, D)" in text
    assert "( f(x + ε e_j) − f(x − ε e_j) ) / (2ε)" in text
