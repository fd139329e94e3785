"""The `gmm_em` checks, graded through the sandbox: the reference and other correct solutions
(MultivariateNormal.log_prob inside log_gaussian, a loop-based EM with another stopping rule and a list
history) get full marks, and the key messages say what they should."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from exercise_helpers import bound, explain, failures

from grader.api import GradeOptions, grade
from grader.mistakes import load_book

EXERCISE = "gmm_em"
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / f"{EXERCISE}.py"
BOOK = load_book(EXERCISE)
write, grade_source, grade_mistake = bound(EXERCISE)


def test_reference_gets_full_marks(sandbox):
    result = grade(EXERCISE, REFERENCE, GradeOptions(seed=9), sandbox=sandbox)
    assert result.full_marks, explain(result)
    assert result.problems == []


MULTIVARIATE_NORMAL = '''
import torch
from torch.distributions import MultivariateNormal

def log_gaussian(X, mean, cov):
    return MultivariateNormal(mean, covariance_matrix=cov).log_prob(X)

def _joint(X, pi, means, covs):
    return torch.stack([pi[k].log() + log_gaussian(X, means[k], covs[k]) for k in range(len(pi))], dim=1)

def e_step(X, pi, means, covs):
    a = _joint(X, pi, means, covs)
    m = a.max(dim=1, keepdim=True).values
    w = torch.exp(a - m)
    return w / w.sum(dim=1, keepdim=True)

def m_step(X, resp, reg=0.0):
    N, D = X.shape
    nk = resp.sum(0)
    means = torch.einsum("nk,nd->kd", resp, X) / nk[:, None]
    diff = X[:, None, :] - means[None]                     # (N, K, D)
    covs = torch.einsum("nk,nkd,nke->kde", resp, diff, diff) / nk[:, None, None]
    covs = covs + reg * torch.eye(D, dtype=X.dtype, device=X.device)
    return nk / N, means, covs

def log_likelihood(X, pi, means, covs):
    a = _joint(X, pi, means, covs)
    m = a.max(dim=1, keepdim=True).values
    return (m[:, 0] + torch.log(torch.exp(a - m).sum(dim=1))).sum()

def fit(X, pi, means, covs, n_iter=100, tol=1e-6):
    history = []
    for i in range(n_iter):
        resp = e_step(X, pi, means, covs)
        pi, means, covs = m_step(X, resp)
        history.append(log_likelihood(X, pi, means, covs))
        if i > 0 and abs(float(history[-1]) - float(history[-2])) < tol:
            break
    return pi, means, covs, [float(h) for h in history]
'''


@pytest.mark.parametrize("seed", range(4))
def test_multivariate_normal_solution_gets_full_marks(sandbox, tmp_path, seed):
    result = grade_source(sandbox, tmp_path, MULTIVARIATE_NORMAL, seed)
    assert result.full_marks, explain(result)


def test_multivariate_normal_solution_in_float32(sandbox, tmp_path):
    result = grade_source(sandbox, tmp_path, MULTIVARIATE_NORMAL, 7, dtypes=(torch.float32,))
    assert result.full_marks, explain(result)


def test_the_book_has_the_expected_mistakes():
    ids = {m.id for m in BOOK}
    assert len(ids) >= 8
    assert {"covariance_divided_by_N", "covariance_around_overall_mean", "responsibilities_not_normalised",
            "normalised_over_points", "e_step_outside_log_domain", "pi_not_normalised", "log_det_halved",
            "mean_log_likelihood", "reg_ignored"} <= ids


def test_naive_e_step_fails_only_far_from_the_components(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "e_step_outside_log_domain"))
    assert set(failed) == {"e_step_far_points"}, explain(grade_mistake(sandbox, tmp_path, "e_step_outside_log_domain"))
    c = failed["e_step_far_points"]
    assert "NaN or inf" in c.message and "underflows" in c.details
    assert c.mistake == "e_step_outside_log_domain" and "logsumexp" in c.advice


def test_responsibilities_on_the_wrong_axis_are_named_by_the_invariant(sandbox, tmp_path):
    c = failures(grade_mistake(sandbox, tmp_path, "normalised_over_points"))["responsibilities_sum_to_one"]
    assert "sum to" in c.message and "not 1" in c.message
    assert c.mistake == "normalised_over_points" and "dim=1" in c.advice


def test_pi_not_normalised_is_named_by_the_invariant(sandbox, tmp_path):
    c = failures(grade_mistake(sandbox, tmp_path, "pi_not_normalised"))["m_step_invariants"]
    assert "π sum to 16" in c.message and c.mistake == "pi_not_normalised"


DECREASING = MULTIVARIATE_NORMAL.replace(
    "        history.append(log_likelihood(X, pi, means, covs))",
    "        history.append(log_likelihood(X, pi, means, covs) - 0.5 * i)   # bookkeeping gone wrong")


def test_a_decreasing_history_is_reported(sandbox, tmp_path):
    failed = failures(grade_source(sandbox, tmp_path, DECREASING))
    assert set(failed) == {"fit_history_never_decreases"}, explain(grade_source(sandbox, tmp_path, DECREASING))
    c = failed["fit_history_never_decreases"]
    assert "decreased from iteration" in c.message and "rounding allows" in c.details
    assert c.mistake is None


def test_statement_gives_the_e_step_and_the_log_domain():
    text = (ROOT / "exercises" / EXERCISE / "statement.md").read_text(encoding="utf-8")
    assert "r_nk = π_k N(x_n; c_k, Σ_k) / Σ_j π_j N(x_n; c_j, Σ_j)" in text
    assert "0/0" in text and "logsumexp" in text and "never decreases" in text.lower()
