"""Checks for `least_squares`: loss, gradient, solvers, the affine fit and ridge.

Design matrices are non-square (T ≠ D, and T < D where the function allows it) so that a misplaced
transpose fails loudly. The float32 problems are well-conditioned (T ≥ 3D, Gaussian W: cond(W) ≲ 10),
so a correct float32 solution stays far inside the float32 tolerance for every seed. Ill-conditioning
is tested on its own, in float64, where it is the only thing that can go wrong.
"""

from __future__ import annotations

import math

import torch

from grader.checks import CheckContext, CheckFailed, check
from grader.diagnosis import Diagnosis
from grader.format import dtype_name
from grader.seeds import is_official

# (T, D) pairs: loss and gradient are defined for any shape, so T < D is tested too.
ANY_SHAPES = ((7, 3), (4, 6))
# Solvers need full column rank: T ≥ 3D keeps a Gaussian W well-conditioned.
TALL_SHAPES = ((12, 4), (9, 3), (6, 1))
# The ill-conditioned problem: 20 samples, 6 features, cond(W) = 1e7.
ILL_T, ILL_D, ILL_COND = 20, 6, 1e7
NORMAL_EQUATION_MISTAKES = ("ls_solve_inverse", "ls_solve_normal_equations")
# Relative residuals ‖Wθ − y‖/‖y‖ on that problem (measured over 300 seeds): the normal equations
# solved with LU or Cholesky ≤ 2e-8, with an explicit inverse 6e-6 to 1e-2.
NEAR_FIT, INVERSE_RESIDUAL = 0.05, 3e-7



def _problem(ctx: CheckContext, T: int, D: int, dtype: torch.dtype):
    return ctx.randn(T, D, dtype=dtype), ctx.randn(D, dtype=dtype), ctx.randn(T, dtype=dtype)


def _fixed_problem(ctx: CheckContext, dtype: torch.dtype):
    """W (3, 2), θ = (1, −1), y = (0, 1, 2): residual (−1, −2, −3), loss 14, gradient (−44, −56).

    In official grading (a secret seed, grader.seeds) the three samples are mixed by a seeded orthogonal
    Q: (QW, θ, Qy) has the residual Qr, of the same norm, and the same gradient (QW)ᵀQr = Wᵀr, so the
    answer is still the one the label gives, while the inputs are new. A file that recognises the worked
    example, or replays answers recorded at a public seed, gets nothing from it.
    """
    W = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64)
    theta = torch.tensor([1.0, -1.0], dtype=dtype, device=ctx.device)
    y = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    if is_official(ctx.seed):
        Q = _rotation(ctx, 3)
        W, y = Q @ W, Q @ y
    return W.to(ctx.device, dtype), theta, y.to(ctx.device, dtype)


def _rotation(ctx: CheckContext, n: int) -> torch.Tensor:
    """A seeded random orthogonal n×n matrix (float64, on the CPU)."""
    Q, R = torch.linalg.qr(ctx.randn(n, n).cpu())
    return Q * torch.sign(torch.diagonal(R))


# -- ls_loss ----------------------------------------------------------------------------------------
@check("ls_loss_random")
def ls_loss_random(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T, D in ANY_SHAPES:
            W, theta, y = _problem(ctx, T, D, dtype)
            ctx.expect_close("ls_loss", W, theta, y, label=f"ls_loss (W {T}×{D}, {dtype_name(dtype)})",
                             factors={"T": T})


@check("ls_loss_fixed")
def ls_loss_fixed(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        ctx.expect_close("ls_loss", *_fixed_problem(ctx, dtype),
                         label=f"ls_loss on the worked example ({dtype_name(dtype)}; the answer is 14)",
                         factors={"T": 3})


# -- ls_grad ----------------------------------------------------------------------------------------
@check("ls_grad_random")
def ls_grad_random(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T, D in ANY_SHAPES:
            W, theta, y = _problem(ctx, T, D, dtype)
            ctx.expect_close("ls_grad", W, theta, y, label=f"ls_grad (W {T}×{D}, {dtype_name(dtype)})",
                             factors={"T": T})


@check("ls_grad_fixed")
def ls_grad_fixed(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        ctx.expect_close("ls_grad", *_fixed_problem(ctx, dtype),
                         label=f"ls_grad on the worked example ({dtype_name(dtype)}; the answer is (−44, −56))",
                         factors={"T": 3})


# -- ls_solve ---------------------------------------------------------------------------------------
@check("ls_solve_random")
def ls_solve_random(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T, D in TALL_SHAPES:
            W, theta, _ = _problem(ctx, T, D, dtype)
            y = W @ theta + 0.1 * ctx.randn(T, dtype=dtype)  # a small residual: a real fit
            ctx.expect_close("ls_solve", W, y, label=f"ls_solve (W {T}×{D}, {dtype_name(dtype)})")


def _ill_conditioned(ctx: CheckContext, T: int, D: int, cond: float) -> torch.Tensor:
    """W = U diag(s) Vᵀ in float64, singular values log-spaced from 1 down to 1/cond."""
    U, _ = torch.linalg.qr(ctx.randn(T, D).cpu())
    V, _ = torch.linalg.qr(ctx.randn(D, D).cpu())
    s = torch.logspace(0, -math.log10(cond), D, dtype=torch.float64)
    return (U @ torch.diag(s) @ V.T).to(ctx.device)


def _ill_conditioning_scale(ctx: CheckContext, cond: float) -> float:
    """Widening of the float64 tolerance for a problem with condition number ``cond``.

    A backward-stable solver (QR, SVD) returns θ with ‖θ̂ − θ‖ ≲ cond(W)·u·‖θ‖ (u the unit round-off),
    which can exceed the table's absolute tolerance on small entries of θ. The scale makes the
    absolute tolerance 10·cond(W)·u. The normal equations err by ≈ cond(W)²·u, cond(W) times more.
    """
    u = torch.finfo(torch.float64).eps
    return max(1.0, 10 * cond * u / ctx.tolerance(torch.float64).atol)


@check("ls_solve_ill_conditioned")
def ls_solve_ill_conditioned(ctx: CheckContext) -> None:
    # Float64 only, whatever the run's dtypes: in float32 no method can solve a problem with cond 1e7.
    W = _ill_conditioned(ctx, ILL_T, ILL_D, ILL_COND)
    y = W @ ctx.randn(ILL_D)  # consistent: the exact minimiser has zero residual
    label = f"ls_solve with cond(W) = {ILL_COND:.0e} (W {ILL_T}×{ILL_D}, float64)"
    try:
        ctx.expect_close("ls_solve", W, y, label=label, scale=_ill_conditioning_scale(ctx, ILL_COND))
    except CheckFailed as failed:
        raise _explain_ill_conditioning(ctx, failed, W, y) from None


def _explain_ill_conditioning(ctx: CheckContext, failed: CheckFailed, W: torch.Tensor,
                              y: torch.Tensor) -> CheckFailed:
    """Name the normal equations when the student's θ still fits the data.

    The normal equations err along the singular directions that W barely sees, so their θ is far off
    while ‖Wθ − y‖ stays small. Their results cannot be matched value for value (cond(WᵀW) = 1e14
    amplifies any difference in rounding between two machines or thread counts), but their residuals
    tell the two variants apart: solving WᵀWθ = Wᵀy with LU or Cholesky leaves a relative residual
    below 1e-7; multiplying by an explicitly formed (WᵀW)⁻¹ leaves one above 1e-6. A wrong formula
    leaves a residual of order 1.
    """
    if failed.diagnosis is not None and failed.diagnosis.id in NORMAL_EQUATION_MISTAKES:
        return _ill_conditioned_failure(failed, failed.diagnosis)
    if ctx.mistakes is None:
        return failed
    theta = ctx.student.ls_solve(W, y)
    if not isinstance(theta, torch.Tensor) or theta.shape != (W.shape[1],):
        return failed
    residual = float((W @ theta.to(W.device, torch.float64) - y).norm() / y.norm())
    if residual > NEAR_FIT:
        return failed
    m = ctx.mistakes["ls_solve_inverse" if residual > INVERSE_RESIDUAL else "ls_solve_normal_equations"]
    return _ill_conditioned_failure(failed, m.diagnosis)


def _ill_conditioned_failure(failed: CheckFailed, diagnosis: Diagnosis) -> CheckFailed:
    return CheckFailed(
        f"ls_solve is inaccurate when W is ill-conditioned (cond(W) = {ILL_COND:.0e}, "
        f"so cond(WᵀW) = cond(W)² = {ILL_COND ** 2:.0e})",
        details=failed.details + "\nA backward-stable solver (QR, SVD, torch.linalg.lstsq) is accurate to "
                "about cond(W)·u ≈ 1e-9 here; the tolerance allows 10 times that.",
        diagnosis=diagnosis, attachments=failed.attachments)


# -- fit_affine -------------------------------------------------------------------------------------
@check("fit_affine_random")
def fit_affine_random(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T in (6, 11):
            x = ctx.randn(T, dtype=dtype)
            y = 1.5 * x - 0.7 + 0.3 * ctx.randn(T, dtype=dtype)
            ctx.expect_close("fit_affine", x, y, label=f"fit_affine (T = {T}, {dtype_name(dtype)})")


@check("fit_affine_exact_line")
def fit_affine_exact_line(ctx: CheckContext) -> None:
    # Official grading (a secret seed) takes seeded points of the same line: the answer stays (3, −2).
    for dtype in ctx.dtypes:
        x = torch.tensor([-2.0, 0.0, 1.0, 3.0, 4.0], dtype=dtype, device=ctx.device)
        if is_official(ctx.seed):
            x = ctx.randn(5, dtype=dtype, scale=2.0)
        ctx.expect_close("fit_affine", x, 3 * x - 2,
                         label=f"fit_affine on points of the line y = 3x − 2 ({dtype_name(dtype)}; (a, b) = (3, −2))")


# -- affine_grad ------------------------------------------------------------------------------------
@check("affine_grad_random")
def affine_grad_random(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T in (5, 9):
            x, y, theta = ctx.randn(T, dtype=dtype), ctx.randn(T, dtype=dtype), ctx.randn(2, dtype=dtype)
            ctx.expect_close("affine_grad", x, y, theta, label=f"affine_grad (T = {T}, {dtype_name(dtype)})",
                             factors={"T": T})


@check("affine_grad_mean_factor")
def affine_grad_mean_factor(ctx: CheckContext) -> None:
    # x = (0, 1, 2, 3), y = 0, θ = (1, 0): residual x, Wᵀr = (Σx², Σx) = (14, 6), times 2/T = 1/2.
    for dtype in ctx.dtypes:
        x = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=dtype, device=ctx.device)
        y = torch.zeros(4, dtype=dtype, device=ctx.device)
        theta = torch.tensor([1.0, 0.0], dtype=dtype, device=ctx.device)
        problem = "x = (0, 1, 2, 3), y = 0, θ = (1, 0)"
        if is_official(ctx.seed):
            x, y = _same_gradient_problem(ctx, dtype)
            problem = "seeded x and y, θ = (1, 0)"
        ctx.expect_close("affine_grad", x, y, theta, factors={"T": 4},
                         label=f"affine_grad on {problem} ({dtype_name(dtype)}; the gradient of the mean is (7, 3))")


def _same_gradient_problem(ctx: CheckContext, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Official grading's version of the worked example: seeded x and y (T = 4) whose residual r = x − y at
    θ = (1, 0) has Wᵀr = (Σ r x, Σ r) = (14, 6), so that the gradient of the mean is (7, 3) as in the
    statement. A seeded r₀ is projected onto those two linear constraints."""
    x, r = ctx.randn(4).cpu(), ctx.randn(4).cpu()
    A = torch.stack([x, torch.ones_like(x)], dim=1)
    r = r + A @ torch.linalg.solve(A.T @ A, torch.tensor([14.0, 6.0], dtype=torch.float64) - A.T @ r)
    return x.to(ctx.device, dtype), (x - r).to(ctx.device, dtype)


# -- ridge_solve ------------------------------------------------------------------------------------
@check("ridge_solve_random")
def ridge_solve_random(ctx: CheckContext) -> None:
    # (4, 6, 2.0): more features than samples, where only the penalty makes the problem well posed.
    for dtype in ctx.dtypes:
        for T, D, lam in ((12, 4, 0.5), (4, 6, 2.0), (9, 3, 5.0)):
            W, _, y = _problem(ctx, T, D, dtype)
            ctx.expect_close("ridge_solve", W, y, lam, label=f"ridge_solve (W {T}×{D}, λ = {lam}, "
                             f"{dtype_name(dtype)})")


# -- inputs -----------------------------------------------------------------------------------------
@check("inputs_unchanged")
def inputs_unchanged(ctx: CheckContext) -> None:
    """The one check that charges an input changed in place (the others compare values and note it):
    y -= W @ theta, or x.sub_(x.mean()) to centre the data, change the caller's tensors."""
    dtype = ctx.dtypes[-1]
    W, theta, y = _problem(ctx, 9, 3, dtype)
    x, t = ctx.randn(9, dtype=dtype), ctx.randn(9, dtype=dtype)
    ab = ctx.randn(2, dtype=dtype)
    ctx.expect_inputs_unchanged([
        ("ls_loss", (W, theta, y)), ("ls_grad", (W, theta, y)), ("ls_solve", (W, y)), ("fit_affine", (x, t)),
        ("affine_grad", (x, t, ab)), ("ridge_solve", (W, y, 0.5))])
