"""Common mistakes in the `jacobians` exercise, each written the way a student would write it.

Perceptron a = W x + b, y = σ(a), W (N, D), b (N,), x (D,). Jacobians in numerator layout, (N_out, N_in).
"""

from __future__ import annotations

import torch

from grader.mistakes import MistakeBook

CANARY = "dlg-canary-mistakes-jacobians-5054fb7020f2729a"  # never in a kit (tests/kit)

MISTAKES = MistakeBook("jacobians")


def _sigmoid_prime(a):
    s = torch.sigmoid(a)
    return s * (1 - s)


def _eye(n, like):
    return torch.eye(n, dtype=like.dtype, device=like.device)


# -- layout -----------------------------------------------------------------------------------------
MISTAKES.add_variant(
    "denominator_layout",
    name="transposed Jacobian (denominator layout)",
    hint="Your Jacobian is transposed: it has one row per input and one column per output (denominator "
         "layout). The course uses numerator layout: J[i, j] = ∂y_i/∂x_j, one row per output, shape "
         "(N, D). So ∂a/∂x = W (N, D), not Wᵀ, and ∂y/∂x = diag σ'(a) W, not Wᵀ diag σ'(a).",
    jac_a_x=lambda W, b, x: W.T.clone(),
    jac_y_x=lambda W, b, x: W.T * _sigmoid_prime(W @ x + b),
)


# -- the derivative of σ ----------------------------------------------------------------------------
def _sigma_jacobians(act):
    """jac_y_a, jac_y_x, jac_y_b, jac_y_wd written with ``act(W, b, x)`` in place of σ'(a)."""
    return dict(
        jac_y_a=lambda W, b, x: torch.diag(act(W, b, x)),
        jac_y_x=lambda W, b, x: act(W, b, x)[:, None] * W,
        jac_y_b=lambda W, b, x: torch.diag(act(W, b, x)),
        jac_y_wd=lambda W, b, x, d: x[d] * torch.diag(act(W, b, x)),
    )


MISTAKES.add_variant(
    "sigma_not_derivative",
    name="σ instead of σ'",
    hint="∂y/∂a needs the derivative of the sigmoid, σ'(a) = σ(a)(1 − σ(a)), on the diagonal, not σ(a) "
         "itself.",
    **_sigma_jacobians(lambda W, b, x: torch.sigmoid(W @ x + b)),
)

MISTAKES.add_variant(
    "sigma_prime_of_a",
    name="a(1 − a) instead of σ(a)(1 − σ(a))",
    hint="σ'(a) = σ(a)(1 − σ(a)): the formula s(1 − s) applies to the output s = σ(a), not to the "
         "pre-activation a. Compute s = torch.sigmoid(a) first.",
    **_sigma_jacobians(lambda W, b, x: (W @ x + b) * (1 - (W @ x + b))),
)

MISTAKES.add_variant(
    "sigma_prime_without_bias",
    name="σ' evaluated at Wx instead of Wx + b",
    hint="σ' is evaluated at the pre-activation a = Wx + b, bias included: ∂y/∂a = diag σ'(Wx + b).",
    **_sigma_jacobians(lambda W, b, x: _sigmoid_prime(W @ x)),
)


@MISTAKES.add("jac_y_a", name="σ' evaluated at x instead of a",
              hint="∂y/∂a = diag σ'(a) with a = Wx + b (N values): σ' is taken at the pre-activation, "
                   "not at the input x (D values), and the result is N×N.")
def jac_y_a_at_x(W, b, x):
    return torch.diag(_sigmoid_prime(x))


@MISTAKES.add("jac_y_x", name="diag σ'(a) on the wrong side of W",
              hint="∂y/∂x = ∂y/∂a · ∂a/∂x = diag σ'(a) W: the diagonal multiplies W from the left, which "
                   "scales row i by σ'(a_i) (sp[:, None] * W). W * sp broadcasts along the last axis: "
                   "it scales the columns, W diag σ'(a), and only runs when N = D.")
def jac_y_x_wrong_side(W, b, x):
    return W * _sigmoid_prime(W @ x + b)


# -- a = W x + b ------------------------------------------------------------------------------------
@MISTAKES.add("jac_a_b", name="vector of ones instead of I_N",
              hint="∂a/∂b is the Jacobian of an N-vector with respect to an N-vector: the N×N identity "
                   "I_N (∂a_i/∂b_j = 1 if i = j, else 0), not a vector of ones.")
def jac_a_b_ones(W, b, x):
    return torch.ones_like(b)


@MISTAKES.add("jac_a_wd", name="x_d instead of x_d I_N",
              hint="a is a vector of N entries and w_d a column of N entries, so ∂a/∂w_d is an N×N "
                   "matrix: a = Σ_d x_d w_d + b gives ∂a/∂w_d = x_d I_N, not the number x_d.")
def jac_a_wd_scalar(W, b, x, d):
    return x[d]


@MISTAKES.add("jac_a_wd", name="∂a/∂x_d instead of ∂a/∂w_d",
              hint="w_d is column d of W, a vector of N weights. ∂a/∂x_d is the column w_d; "
                   "∂a/∂w_d = x_d I_N (N×N): the roles of x_d and w_d are swapped.")
def jac_a_wd_column(W, b, x, d):
    return W[:, d].clone()


@MISTAKES.add("jac_y_wd", name="x_d missing in ∂y/∂w_d",
              hint="Chain rule: ∂y/∂w_d = ∂y/∂a · ∂a/∂w_d = diag σ'(a) · x_d I_N = x_d diag σ'(a). "
                   "The factor x_d from ∂a/∂w_d is missing.")
def jac_y_wd_missing_xd(W, b, x, d):
    return torch.diag(_sigmoid_prime(W @ x + b))


# -- finite differences -----------------------------------------------------------------------------
@MISTAKES.add("numerical_jacobian", name="forward differences",
              hint="(f(x + εe_j) − f(x))/ε is a forward difference, with an error of order ε. The central "
                   "difference (f(x + εe_j) − f(x − εe_j))/(2ε) cancels the even Taylor terms: its error is "
                   "of order ε².")
def numerical_forward_difference(f, x, eps=1e-6):
    fx = f(x)
    columns = []
    for j in range(x.shape[0]):
        step = torch.zeros_like(x)
        step[j] = eps
        columns.append((f(x + step) - fx) / eps)
    return torch.stack(columns, dim=1)


@MISTAKES.add("numerical_jacobian", name="central difference divided by ε instead of 2ε",
              hint="The points x + εe_j and x − εe_j are 2ε apart: the central difference is "
                   "(f(x + εe_j) − f(x − εe_j))/(2ε). Dividing by ε doubles the Jacobian.")
def numerical_eps_not_halved(f, x, eps=1e-6):
    columns = []
    for j in range(x.shape[0]):
        step = torch.zeros_like(x)
        step[j] = eps
        columns.append((f(x + step) - f(x - step)) / eps)
    return torch.stack(columns, dim=1)


@MISTAKES.add("numerical_jacobian", name="transposed numerical Jacobian, shape (D, N)",
              hint="Perturbing x_j gives ∂y/∂x_j for all outputs: that is column j of the Jacobian, not "
                   "row j. Stack the differences as columns (torch.stack(..., dim=1)) to get numerator "
                   "layout, shape (N, D).")
def numerical_jacobian_transposed(f, x, eps=1e-6):
    rows = []
    for j in range(x.shape[0]):
        step = torch.zeros_like(x)
        step[j] = eps
        rows.append((f(x + step) - f(x - step)) / (2 * eps))
    return torch.stack(rows)


@MISTAKES.add("numerical_jacobian", name="ε ignored: a fixed step",
              hint="numerical_jacobian(f, x, eps) must difference with the step it is given, x ± eps·e_j, "
                   "divided by 2·eps. A step fixed inside the function (h = 1e-5) ignores the caller's "
                   "choice: in float32 the caller passes a large ε because round-off costs about u·|f|/ε.")
def numerical_eps_ignored(f, x, eps=1e-6):
    h = 1e-5
    columns = []
    for j in range(x.shape[0]):
        step = torch.zeros_like(x)
        step[j] = h
        columns.append((f(x + step) - f(x - step)) / (2 * h))
    return torch.stack(columns, dim=1)


# -- a diagonal matrix returned as a vector -------------------------------------------------------------
MISTAKES.add_variant(
    "diagonal_as_vector",
    name="σ'(a) as a vector instead of diag σ'(a)",
    hint="∂y/∂a is the Jacobian of an N-vector with respect to an N-vector: an N×N matrix. Its off-diagonal "
         "entries are 0 because y_i depends on a_i only, so it is diag σ'(a) (torch.diag(s * (1 - s))), "
         "not the vector σ'(a) of its diagonal.",
    jac_y_a=lambda W, b, x: _sigmoid_prime(W @ x + b),
    jac_y_b=lambda W, b, x: _sigmoid_prime(W @ x + b),
    jac_y_wd=lambda W, b, x, d: x[d] * _sigmoid_prime(W @ x + b),
)
