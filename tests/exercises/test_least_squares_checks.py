"""The `least_squares` checks, graded through the sandbox: the reference gets full marks, every mistake
loses marks and is named, and the key messages say what they should."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from exercise_helpers import bound, explain, failures

from grader.api import GradeOptions, grade
from grader.mistakes import load_book

EXERCISE = "least_squares"
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / f"{EXERCISE}.py"
BOOK = load_book(EXERCISE)
write, grade_source, grade_mistake = bound(EXERCISE)


# -- the reference ----------------------------------------------------------------------------------
def test_reference_gets_full_marks_in_float32_only(sandbox):
    # The ill-conditioned check runs in float64 whatever the run's dtypes.
    result = grade(EXERCISE, REFERENCE, GradeOptions(seed=7, dtypes=(torch.float32,)), sandbox=sandbox)
    assert result.full_marks, explain(result)


ALTERNATIVE = '''
import torch

def ls_loss(W, theta, y):
    return torch.linalg.vector_norm(W @ theta - y) ** 2

def ls_grad(W, theta, y):
    return 2 * W.T @ W @ theta - 2 * W.T @ y

def ls_solve(W, y):
    return torch.linalg.pinv(W) @ y

def fit_affine(x, y):
    xm, ym = x.mean(), y.mean()
    a = ((x - xm) * (y - ym)).sum() / ((x - xm) ** 2).sum()
    return a, ym - a * xm

def affine_grad(x, y, theta):
    r = theta[0] * x + theta[1] - y
    return torch.stack([2 * (r * x).mean(), 2 * r.mean()])

def ridge_solve(W, y, lam):
    eye = torch.eye(W.shape[1], dtype=W.dtype, device=W.device)
    return torch.linalg.solve(W.T @ W + lam * eye, W.T @ y)
'''

LSTSQ = ALTERNATIVE.replace("torch.linalg.pinv(W) @ y", "torch.linalg.lstsq(W, y[:, None]).solution[:, 0]")


@pytest.mark.parametrize("source", [ALTERNATIVE, LSTSQ], ids=["pinv", "lstsq"])
@pytest.mark.parametrize("seed", range(5))
def test_other_correct_solutions_get_full_marks(sandbox, tmp_path, source, seed):
    result = grade(EXERCISE, write(tmp_path, source), GradeOptions(seed=seed), sandbox=sandbox)
    assert result.full_marks, explain(result)


# -- the mistakes -----------------------------------------------------------------------------------
def test_the_book_has_the_expected_mistakes():
    ids = {m.id for m in BOOK}
    assert len(ids) >= 6
    assert {"ls_grad_without_two", "ls_solve_inverse", "affine_grad_slide", "fit_affine_swapped",
            "ridge_lambda_ones", "ls_grad_sign"} <= ids


# -- key messages -----------------------------------------------------------------------------------
NORMAL_EQUATIONS = '''
import torch
from reference.least_squares import ls_loss, ls_grad, fit_affine, affine_grad, ridge_solve

def ls_solve(W, y):
    A = W.T @ W
    return torch.linalg.inv(A) @ (W.T @ y)
'''


def test_ill_conditioning_message(sandbox, tmp_path):
    result = grade(EXERCISE, write(tmp_path, NORMAL_EQUATIONS), GradeOptions(seed=3), sandbox=sandbox)
    failed = failures(result)
    assert set(failed) == {"ls_solve_ill_conditioned"}, explain(result)
    c = failed["ls_solve_ill_conditioned"]
    assert c.status == "failed"
    assert "ill-conditioned" in c.message and "cond(WᵀW) = cond(W)²" in c.message
    assert c.mistake == "ls_solve_inverse"
    assert "normal equations" in c.advice and "cond(WᵀW) = cond(W)²" in c.advice
    assert "QR" in c.advice and "lstsq" in c.advice
    assert "cond(W)·u" in c.details


SLIDE_GRADIENT = '''
import torch
from reference.least_squares import ls_loss, ls_grad, ls_solve, fit_affine, ridge_solve

def affine_grad(x, y, theta):
    W = torch.stack([x, torch.ones_like(x)], dim=1)
    return 2 * W.T @ (W @ theta - y)
'''


def test_slide_gradient_message(sandbox, tmp_path):
    result = grade(EXERCISE, write(tmp_path, SLIDE_GRADIENT), GradeOptions(seed=0), sandbox=sandbox)
    failed = failures(result)
    assert set(failed) == {"affine_grad_random", "affine_grad_mean_factor"}, explain(result)
    c = failed["affine_grad_mean_factor"]
    assert c.mistake == "affine_grad_slide"
    assert "slide" in c.advice and "(2/T)Wᵀ(Wθ − y)" in c.advice
    assert "(7, 3)" in c.message


def test_statement_names_the_slide_errors():
    text = (ROOT / "exercises" / EXERCISE / "statement.md").read_text(encoding="utf-8")
    assert "(2/T) Wᵀ(Wθ − y)" in text and "cond(WᵀW) = cond(W)²" in text
    assert "‖Y − Xᵀθ‖²" in text  # deck 003's transposed least squares, named as a mistake
