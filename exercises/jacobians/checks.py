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
from grader.errors import StudentException
from grader.format import dtype_name, num
from grader.seeds import is_official
from grader.tolerances import central_difference_tolerance

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
    # Official grading (a secret seed) takes a seeded W and x, and the b that keeps a = (1, 0).
    for dtype in ctx.dtypes:
        W, b, x = (torch.tensor(v, dtype=dtype, device=ctx.device)
                   for v in ([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]], [0.0, -0.5], [1.0, 0.0, 0.0]))
        where = "W = [[1, 2, 0], [0.5, −1, 3]], b = (0, −0.5), x = (1, 0, 0)"
        if is_official(ctx.seed):
            W, x = ctx.randn(2, 3, dtype=dtype), ctx.randn(3, dtype=dtype)
            b = torch.tensor([1.0, 0.0], dtype=dtype, device=ctx.device) - W @ x
            where = "a seeded W and x, b = (1, 0) − W x"
        for fn in ("jac_y_a", "jac_y_x", "jac_y_b"):
            ctx.expect_close(fn, W, b, x, label=f"{fn} at {where}, so a = (1, 0) ({dtype_name(dtype)})")
        ctx.expect_close("jac_y_wd", W, b, x, 0, label=f"jac_y_wd with d = 0 on the same perceptron "
                         f"({dtype_name(dtype)})")


# -- numerical_jacobian -----------------------------------------------------------------------------
# A numerical Jacobian is compared with the ANALYTIC Jacobian of the map, within the error a correct
# central difference with that step can have (grader.tolerances.central_difference_tolerance: truncation
# ε²/6·|f'''| plus round-off u·|f|/ε), never with the reference's own finite difference at the float64
# tolerance: a step of ε/2 on each side is as valid as ±ε and passes.
def cubic_map(x: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """x ↦ A x + B (x ⊙ x ⊙ x): a central difference with step ±h is off by exactly h²·B, so the result
    must change with ε."""
    return A @ x + B @ (x * x * x)


def _expect_numerical(ctx: CheckContext, f, x: torch.Tensor, exact: torch.Tensor, *, third: float, label: str,
                      eps: float | None = None) -> torch.Tensor:
    """The student's numerical_jacobian of ``f`` at ``x`` (with ``eps``, or its default 1e-6) against the
    analytic Jacobian ``exact``, within the error of a correct central difference."""
    step = 1e-6 if eps is None else eps
    fx = max(float(f(x + s * step).abs().max()) for s in (-1.0, 0.0, 1.0))
    size = fx + float(x.abs().max()) * float(exact.abs().max())
    within = central_difference_tolerance(x.dtype, ctx.device, step, third=third, size=size)
    kwargs = {} if eps is None else {"eps": eps}
    return ctx.expect_close("numerical_jacobian", f, x, truth=exact.to(torch.float64), within=within, label=label,
                            **kwargs)


def _max3(t: torch.Tensor) -> float:
    return float(t.abs().max()) ** 3


@check("numerical_jacobian_affine")
def numerical_jacobian_affine(ctx: CheckContext) -> None:
    # Float64, default ε: a central difference of an affine map is exact up to round-off.
    for N, D in SHAPES:
        A, c, x = ctx.randn(N, D), ctx.randn(N), ctx.randn(D)
        _expect_numerical(ctx, trusted(affine_map, A=A, c=c), x, A, third=0.0,
                          label=f"numerical_jacobian of x ↦ Ax + c (A {N}×{D}, float64)")


@check("numerical_jacobian_central")
def numerical_jacobian_central(ctx: CheckContext) -> None:
    # Float64 with ε = 1e-3: a forward difference is off by ≈ ε/2·f'' ≈ 1e-3, far beyond what a central
    # difference can be off by (ε²/6·max|A|³ ≈ 1e-6).
    eps = 1e-3
    for N, D in SHAPES:
        A, x = ctx.randn(N, D), ctx.randn(D)
        exact = torch.cos(A @ x)[:, None] * A + 2 * A * x[None, :]
        _expect_numerical(ctx, trusted(smooth_map, A=A), x, exact, third=_max3(A), eps=eps,
                          label=f"numerical_jacobian of x ↦ sin(Ax) + A(x⊙x), ε = {eps:g} (A {N}×{D}, float64)")


@check("numerical_jacobian_uses_eps")
def numerical_jacobian_uses_eps(ctx: CheckContext) -> None:
    # On x ↦ Ax + B(x⊙x⊙x) a central difference with points x ± s·ε·e_j is off by exactly (sε)²·B: the
    # results for two values of ε must differ by (ε₁² − ε₂²)·s²·B. A function that ignores its eps
    # argument returns the same Jacobian for both.
    steps = (0.1, 0.05)
    N, D = SHAPES[0]
    A, B, x = ctx.randn(N, D), ctx.randn(N, D), ctx.randn(D)
    f = trusted(cubic_map, A=A, B=B)
    exact = A + 3 * B * (x * x)[None, :]
    results = [_expect_numerical(ctx, f, x, exact, third=6 * float(B.abs().max()), eps=eps,
                                 label=f"numerical_jacobian of x ↦ Ax + B(x⊙x⊙x), ε = {eps:g} (A {N}×{D}, float64)")
               for eps in steps]
    change = float((results[0].double() - results[1].double()).abs().max())
    # a central difference with a step between ε/2 and ε on each side changes by at least a quarter of this
    due = (steps[0] ** 2 - steps[1] ** 2) * float(B.abs().max())
    if change < due / 40:
        diagnosis = None
        if ctx.mistakes is not None and "numerical_eps_ignored" in {m.id for m in ctx.mistakes}:
            diagnosis = ctx.mistakes["numerical_eps_ignored"].diagnosis
        ctx.fail(f"numerical_jacobian returns the same Jacobian for ε = {steps[0]:g} and ε = {steps[1]:g}: it "
                 "does not use its eps argument",
                 details=f"On x ↦ Ax + B(x⊙x⊙x) a central difference with step ε is off by ε²·B, so the two "
                         f"results must differ by about {num(due)}; the largest difference of yours is "
                         f"{num(change)}.",
                 diagnosis=diagnosis, hint="Use the step you are given: x ± eps·e_j, divided by 2·eps.")


@check("numerical_jacobian_float32")
def numerical_jacobian_float32(ctx: CheckContext) -> None:
    # In float32 ε must be large (round-off costs ≈ u·|f|/ε); on a quadratic map the central difference
    # is exact for any ε, so ε = 0.1 is fine.
    eps = 0.1
    for N, D in SHAPES:
        A, B = ctx.randn(N, D, dtype=torch.float32), ctx.randn(N, D, dtype=torch.float32)
        x = ctx.randn(D, dtype=torch.float32)
        exact = A.double() + 2 * B.double() * x.double()[None, :]
        _expect_numerical(ctx, trusted(quadratic_map, A=A, B=B), x, exact, third=0.0, eps=eps,
                          label=f"numerical_jacobian of x ↦ Ax + B(x⊙x), ε = {eps} (A {N}×{D}, float32)")


@check("numerical_jacobian_vs_exact")
def numerical_jacobian_vs_exact(ctx: CheckContext) -> None:
    # With the default ε = 1e-6 in float64 the central difference agrees with diag σ'(Wx + b) W to
    # about u/ε ≈ 1e-10 (round-off) + ε²/6·max|σ'''|·max|W|³ (truncation, |σ'''| ≤ 1/8).
    for N, D in SHAPES:
        W, b, x = _perceptron(ctx, N, D, torch.float64)
        s = torch.sigmoid(W @ x + b)
        exact = (s * (1 - s))[:, None] * W
        _expect_numerical(ctx, trusted(perceptron_map, W=W, b=b), x, exact, third=_max3(W) / 8,
                          label=f"numerical_jacobian of x ↦ σ(Wx + b) (W {N}×{D}, float64), against the exact "
                                "Jacobian diag σ'(Wx + b) W")


# -- inputs -----------------------------------------------------------------------------------------
@check("inputs_unchanged")
def inputs_unchanged(ctx: CheckContext) -> None:
    """The one check that charges an input changed in place (the others compare values and note it):
    the classic is numerical_jacobian moving x itself, x[j] += ε, which leaves x off by a rounding."""
    dtype = ctx.dtypes[-1]
    N, D = SHAPES[0]
    W, b, x = _perceptron(ctx, N, D, dtype)
    A, c = ctx.randn(N, D, dtype=dtype), ctx.randn(N, dtype=dtype)
    ctx.expect_inputs_unchanged([
        ("jac_a_x", (W, b, x)), ("jac_a_b", (W, b, x)), ("jac_a_wd", (W, b, x, 1)), ("jac_y_a", (W, b, x)),
        ("jac_y_x", (W, b, x)), ("jac_y_b", (W, b, x)), ("jac_y_wd", (W, b, x, 1)),
        ("numerical_jacobian", (trusted(affine_map, A=A, c=c), x + 0.1))])
