"""The `pca` checks, graded through the sandbox: the reference and other correct solutions (an SVD with
flipped signs, a rotated basis of an equal-eigenvalue plane) get full marks, the 1/(N − 1) covariance is
named as such, and the key messages say what they should."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from exercise_helpers import bound, explain, failures

from grader.api import GradeOptions, grade
from grader.mistakes import load_book

EXERCISE = "pca"
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / f"{EXERCISE}.py"
BOOK = load_book(EXERCISE)
write, grade_source, grade_mistake = bound(EXERCISE)


def test_reference_gets_full_marks(sandbox):
    result = grade(EXERCISE, REFERENCE, GradeOptions(seed=11), sandbox=sandbox)
    assert result.full_marks, explain(result)
    assert result.problems == []


SVD_FLIPPED = '''
import torch

def covariance(X):
    Xc = X - X.mean(0, keepdim=True)
    return torch.einsum("ni,nj->ij", Xc, Xc) / X.shape[0]

def _svd(X):
    Xc = X - X.mean(0)
    _, S, Wt = torch.linalg.svd(Xc, full_matrices=False)
    return S, Wt

def principal_axes(X, P):
    S, Wt = _svd(X)
    return -Wt[:P].T, (S[:P] ** 2) / X.shape[0]      # every axis with the opposite sign

def project(X, V, mu):
    return torch.stack([(X - mu) @ V[:, i] for i in range(V.shape[1])], dim=1)

def reconstruct(Z, V, mu):
    return mu + sum(Z[:, i:i + 1] * V[:, i] for i in range(V.shape[1]))

def explained_variance_ratio(X, P):
    S, _ = _svd(X)
    var = S ** 2 / X.shape[0]
    return var[:P] / torch.trace(covariance(X))
'''

# eigh, then a rotation inside the equal-eigenvalue plane and random signs: still a correct answer
ROTATED = '''
import math
import torch
from reference.pca import covariance, project, reconstruct, explained_variance_ratio

def principal_axes(X, P):
    evals, evecs = torch.linalg.eigh(covariance(X))
    evals, evecs = evals.flip(0)[:P], evecs.flip(1)[:, :P]
    if P >= 2 and abs(float(evals[0] - evals[1])) <= 1e-4 * float(evals[0]):
        c, s = math.cos(0.7), math.sin(0.7)
        v0, v1 = evecs[:, 0].clone(), evecs[:, 1].clone()
        evecs = evecs.clone()
        evecs[:, 0], evecs[:, 1] = c * v0 + s * v1, -s * v0 + c * v1
    signs = torch.tensor([(-1.0) ** i for i in range(P)], dtype=X.dtype, device=X.device)
    return evecs * signs, evals
'''


@pytest.mark.parametrize("source", [SVD_FLIPPED, ROTATED], ids=["svd-flipped", "rotated-basis"])
@pytest.mark.parametrize("seed", range(4))
def test_other_correct_solutions_get_full_marks(sandbox, tmp_path, source, seed):
    result = grade_source(sandbox, tmp_path, source, seed)
    assert result.full_marks, explain(result)


def test_svd_flipped_in_float32(sandbox, tmp_path):
    result = grade_source(sandbox, tmp_path, SVD_FLIPPED, 5, dtypes=(torch.float32,))
    assert result.full_marks, explain(result)


def test_the_book_has_the_expected_mistakes():
    ids = {m.id for m in BOOK}
    assert len(ids) >= 8
    assert {"axes_ascending", "eigenvectors_as_rows", "no_centring", "cov_n_minus_1", "project_not_centred",
            "reconstruct_without_mean", "ratio_over_kept"} <= ids


def test_n_minus_1_is_named_as_such(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "cov_n_minus_1"))
    assert {"covariance_random", "eigenvalues_decreasing"} <= set(failed)
    assert "axes_up_to_sign" not in failed and "explained_variance_ratio" not in failed
    c = failed["covariance_random"]
    assert c.mistake == "cov_n_minus_1"
    assert "1/(N − 1)" in c.advice and "N/(N − 1)" in c.advice


def test_ascending_axes_fail_the_order_check(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "axes_ascending"))
    # the span of the P largest is right: where only the subspace is asked, the eigenvalues fail
    assert "principal_axes(X, 2)[1]" in failed["subspace_equal_eigenvalues"].message
    assert failed["eigenvalues_decreasing"].mistake == "axes_ascending"
    assert "ascending" in failed["eigenvalues_decreasing"].advice


NOT_ORTHONORMAL = '''
from reference.pca import covariance, project, reconstruct, explained_variance_ratio, principal_axes as _axes

def principal_axes(X, P):
    V, lam = _axes(X, P)
    return V * lam.sqrt(), lam        # scaled by the standard deviations
'''


def test_orthonormality_message(sandbox, tmp_path):
    failed = failures(grade_source(sandbox, tmp_path, NOT_ORTHONORMAL))
    c = failed["axes_orthonormal"]
    assert "not orthonormal" in c.message and "|VᵀV − I|" in c.details
    assert c.mistake is None


def test_statement_gives_the_conventions():
    text = (ROOT / "exercises" / EXERCISE / "statement.md").read_text(encoding="utf-8")
    assert "1/N" in text and "N/(N − 1)" in text and "ascending" in text
    assert "V Vᵀ" in text and "up to its sign" in text
