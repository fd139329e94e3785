"""Checks for `jacobians`: the perceptron's Jacobians and central finite differences.

N ≠ D in most cases, so a transposed Jacobian has the wrong shape and is diagnosed as such; one check
uses N = D, where a transpose or a diagonal on the wrong side keeps the shape and only the values tell.
Pre-activations stay of order 1 (W ~ N(0, 1/D)), so σ'(a) is far from 0 and every mistake on σ' shows.

The functions handed to the student's numerical_jacobian are defined here, at module level, and sent
with grader.checks.trusted: the student's process imports this module to rebuild them.
"""

from __future__ import annotations

import torch

from grader.checks import CheckContext, CheckFailed, check, trusted
from grader.compare import compare_tree
from grader.errors import StudentException
from grader.format import dtype_name

# (N, D): outputs × inputs, never square here
SHAPES = ((3, 5), (4, 2))
SQUARE = 4



def _perceptron(ctx: CheckContext, N: int, D: int, dtype: torch.dtype):
    W = ctx.randn(N, D, dtype=dtype, scale=D**-0.5)
    return W, ctx.randn(N, dtype=dtype, scale=0.5), ctx.randn(D, dtype=dtype)


# -- functions sent to numerical_jacobian ------------------------------------------------------------
def affine_map(x: torch.Tensor, A: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """x ↦ A x + c, R^D → R^N: its Jacobian is A."""
    return A @ x + c


def quadratic_map(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """x ↦ A x + B (x ⊙ x): a central difference is exact on it for any ε (no third derivative)."""
    return A @ x + B @ (x * x)


def smooth_map(x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """x ↦ sin(A x) + A (x ⊙ x): curved in every direction, so a one-sided difference is off by O(ε)."""
    return torch.sin(A @ x) + A @ (x * x)


def perceptron_map(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x ↦ σ(W x + b): its Jacobian is jac_y_x."""
    return torch.sigmoid(W @ x + b)


# -- a = W x + b ------------------------------------------------------------------------------------
@check("jac_a_x_b")
def jac_a_x_b(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for N, D in SHAPES:
            W, b, x = _perceptron(ctx, N, D, dtype)
            ctx.expect_close("jac_a_x", W, b, x, label=f"jac_a_x (N = {N}, D = {D}, {dtype_name(dtype)})")
            ctx.expect_close("jac_a_b", W, b, x, label=f"jac_a_b (N = {N}, D = {D}, {dtype_name(dtype)})")


@check("jac_a_wd")
def jac_a_wd(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for N, D in SHAPES:
            W, b, x = _perceptron(ctx, N, D, dtype)
            for d in range(D):
                ctx.expect_close("jac_a_wd", W, b, x, d,
                                 label=f"jac_a_wd with d = {d} (N = {N}, D = {D}, {dtype_name(dtype)})")


# -- y = σ(a) -------------------------------------------------------------------------------------
@check("jac_y_a")
def jac_y_a(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for N, D in SHAPES:
            W, b, x = _perceptron(ctx, N, D, dtype)
            ctx.expect_close("jac_y_a", W, b, x, label=f"jac_y_a (N = {N}, D = {D}, {dtype_name(dtype)})")


@check("jac_y_x_layout")
def jac_y_x_layout(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for N, D in SHAPES:
            W, b, x = _perceptron(ctx, N, D, dtype)
            label = f"jac_y_x (N = {N} outputs, D = {D} inputs, {dtype_name(dtype)})"
            try:
                ctx.expect_close("jac_y_x", W, b, x, label=label)
            except CheckFailed as failed:
                raise _name_transpose(failed, N, D) from None
            except StudentException as e:
                if "must match the size" in e.message and not e.hint:
                    e.hint = BROADCAST_HINT
                raise


BROADCAST_HINT = (
    "diag σ'(a) · W scales row i of W by σ'(a_i): write s[:, None] * W or torch.diag(s) @ W. "
    "W * s broadcasts s along the last axis (the D columns), which fails when N ≠ D and computes "
    "W · diag(s), the diagonal on the wrong side, when N = D."
)


def _name_transpose(failed: CheckFailed, N: int, D: int) -> CheckFailed:
    """A transposed Jacobian gets a message that says so, whichever way it was recognised."""
    if failed.diagnosis is None or failed.diagnosis.id not in ("denominator_layout", "transposed"):
        return failed
    return CheckFailed(
        f"jac_y_x is transposed: numerator layout asks for one row per output, shape (N, D) = ({N}, {D}), "
        f"and you returned ({D}, {N})",
        details=failed.details, diagnosis=failed.diagnosis, hint=failed.hint, attachments=failed.attachments)


@check("jac_y_x_square")
def jac_y_x_square(ctx: CheckContext) -> None:
    # N = D: a transpose, or diag σ'(a) multiplied on the right, no longer changes the shape.
    for dtype in ctx.dtypes:
        W, b, x = _perceptron(ctx, SQUARE, SQUARE, dtype)
        ctx.expect_close("jac_y_x", W, b, x, label=f"jac_y_x (N = D = {SQUARE}, {dtype_name(dtype)})")


@check("jac_y_b_wd")
def jac_y_b_wd(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for N, D in SHAPES:
            W, b, x = _perceptron(ctx, N, D, dtype)
            ctx.expect_close("jac_y_b", W, b, x, label=f"jac_y_b (N = {N}, D = {D}, {dtype_name(dtype)})")
            for d in range(D):
                ctx.expect_close("jac_y_wd", W, b, x, d,
                                 label=f"jac_y_wd with d = {d} (N = {N}, D = {D}, {dtype_name(dtype)})")


@check("jacobians_fixed")
def jacobians_fixed(ctx: CheckContext) -> None:
    # a = W x + b = (1, 0): σ'(0) = 1/4 and σ'(1) = σ(1)(1 − σ(1)) ≈ 0.1966, easy to check by hand.
    for dtype in ctx.dtypes:
        W, b, x = (torch.tensor(v, dtype=dtype, device=ctx.device)
                   for v in ([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]], [0.0, -0.5], [1.0, 0.0, 0.0]))
        for fn in ("jac_y_a", "jac_y_x", "jac_y_b"):
            ctx.expect_close(fn, W, b, x, label=f"{fn} at W = [[1, 2, 0], [0.5, −1, 3]], b = (0, −0.5), "
                             f"x = (1, 0, 0), so a = (1, 0) ({dtype_name(dtype)})")
        ctx.expect_close("jac_y_wd", W, b, x, 0, label=f"jac_y_wd with d = 0 on the same perceptron "
                         f"({dtype_name(dtype)})")


# -- numerical_jacobian -----------------------------------------------------------------------------
@check("numerical_jacobian_affine")
def numerical_jacobian_affine(ctx: CheckContext) -> None:
    # Float64, default ε: a central difference of an affine map is exact up to round-off.
    for N, D in SHAPES:
        A, c, x = ctx.randn(N, D), ctx.randn(N), ctx.randn(D)
        ctx.expect_close("numerical_jacobian", trusted(affine_map, A=A, c=c), x,
                         label=f"numerical_jacobian of x ↦ Ax + c (A {N}×{D}, float64)")


@check("numerical_jacobian_central")
def numerical_jacobian_central(ctx: CheckContext) -> None:
    # Float64 with ε = 1e-3: a forward difference is off by ≈ ε/2·f'' ≈ 1e-3, far beyond the tolerance.
    for N, D in SHAPES:
        A, x = ctx.randn(N, D), ctx.randn(D)
        ctx.expect_close("numerical_jacobian", trusted(smooth_map, A=A), x, eps=1e-3,
                         label=f"numerical_jacobian of x ↦ sin(Ax) + A(x⊙x), ε = 1e-3 (A {N}×{D}, float64)")


@check("numerical_jacobian_float32")
def numerical_jacobian_float32(ctx: CheckContext) -> None:
    # In float32 ε must be large (round-off costs ≈ u·|f|/ε); on a quadratic map the central difference
    # is exact for any ε, so ε = 0.1 is fine. The round-off bound u·max|f|/ε is added to the tolerance.
    eps = 0.1
    for N, D in SHAPES:
        A, B = ctx.randn(N, D, dtype=torch.float32), ctx.randn(N, D, dtype=torch.float32)
        x = ctx.randn(D, dtype=torch.float32)
        f = trusted(quadratic_map, A=A, B=B)
        ctx.expect_close("numerical_jacobian", f, x, eps=eps, scale=_roundoff_scale(ctx, f, x, eps),
                         label=f"numerical_jacobian of x ↦ Ax + B(x⊙x), ε = {eps} (A {N}×{D}, float32)")


def _roundoff_scale(ctx: CheckContext, f, x: torch.Tensor, eps: float) -> float:
    """Widening of the float32 tolerance by the round-off of a central difference, 4·u·max|f|/ε."""
    u = torch.finfo(x.dtype).eps
    size = max(float(f(x + s * eps).abs().max()) for s in (-1.0, 0.0, 1.0))
    return max(1.0, 4 * u * size / eps / ctx.tolerance(x.dtype).atol)


@check("numerical_jacobian_vs_exact")
def numerical_jacobian_vs_exact(ctx: CheckContext) -> None:
    # With the default ε = 1e-6 in float64 the central difference agrees with diag σ'(Wx + b) W to
    # about u/ε ≈ 1e-10 (round-off) + ε² (truncation).
    for N, D in SHAPES:
        W, b, x = _perceptron(ctx, N, D, torch.float64)
        label = f"numerical_jacobian of x ↦ σ(Wx + b) (W {N}×{D}, float64)"
        J = ctx.expect_close("numerical_jacobian", trusted(perceptron_map, W=W, b=b), x, label=label)
        exact = ctx.reference.jac_y_x(W, b, x)
        mismatch = compare_tree(label, J, exact, tol=ctx.tolerance(torch.float64, scale=10.0),
                                dtype=torch.float64, device=ctx.device)
        if mismatch is not None:
            ctx.fail(f"{label} does not match the exact Jacobian diag σ'(Wx + b) W",
                     details=mismatch.details)
