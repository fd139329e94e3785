"""Checks for softmax, log-softmax, cross-entropy, their gradients and binary cross-entropy.

Moderate logits (scale 3) check the formulas; huge logits (|z| up to 1e4) check stability. The huge ones
are chosen so that a naive implementation overflows in float64 too (exp overflows above 709 there, 88.7
in float32): the reference runs in float64, and a known mistake is recognised by running it on the same
inputs. Sizes are never square (T ≠ C) except where a square shape is the point, T = 1 is always
checked next to T > 1 (a missing 1/T hides at T = 1), and labels always include 0 and C − 1.
"""

from __future__ import annotations

import torch

from grader.checks import CheckContext, check
from grader.format import dtype_name

C = 5
BATCHES = (1, 7)



def make_labels(ctx: CheckContext, T: int, C: int) -> torch.Tensor:
    labels = ctx.randint(0, C, (T,))
    labels[0] = 0  # both ends of the range: an off-by-one or a 1-based index shows there
    labels[-1] = C - 1
    return labels


def huge_logits(ctx: CheckContext, dtype: torch.dtype) -> torch.Tensor:
    """Logits up to ±1e4: rows far above 709, far below −745, huge gaps, a tie, and one moderate row."""
    z = ctx.randn(6, C, dtype=torch.float64, scale=3.0)
    z[0] += 1e4  # everything overflows without the max subtracted
    z[1] -= 1e4  # everything underflows: Σ exp = 0 without the max subtracted
    z[2, 1:] -= torch.tensor([1e3, 2e3, 5e3, 1e4], dtype=torch.float64)  # gaps beyond underflow
    z[3] = 800.0  # a tie, above the float64 overflow
    z[4, 0] = 1e4
    z[4, 1] = -1e4
    return z.to(dtype)


@check("softmax_values")
def softmax_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for shape in ((1, C), (7, C), (2, 3, C)):
            z = ctx.randn(*shape, dtype=dtype, scale=3.0)
            ctx.expect_close("softmax", z, label=f"softmax(z) for z of shape {tuple(shape)}, {dtype_name(dtype)}")


@check("softmax_large_logits")
def softmax_large_logits(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        ctx.expect_close("softmax", huge_logits(ctx, dtype), label=f"softmax(z) for |z| up to 1e4, {dtype_name(dtype)}")


@check("log_softmax_values")
def log_softmax_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for shape in ((1, C), (7, C), (2, 3, C)):
            z = ctx.randn(*shape, dtype=dtype, scale=3.0)
            ctx.expect_close("log_softmax", z,
                             label=f"log_softmax(z) for z of shape {tuple(shape)}, {dtype_name(dtype)}")


@check("log_softmax_large_logits")
def log_softmax_large_logits(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        ctx.expect_close("log_softmax", huge_logits(ctx, dtype),
                         label=f"log_softmax(z) for |z| up to 1e4, {dtype_name(dtype)}")


@check("cross_entropy_values")
def cross_entropy_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T in BATCHES:
            z, labels = ctx.randn(T, C, dtype=dtype, scale=3.0), make_labels(ctx, T, C)
            ctx.expect_close("cross_entropy", z, labels,
                             label=f"cross_entropy(z, labels), T = {T}, {dtype_name(dtype)}", factors={"T": T})


@check("cross_entropy_large_logits")
def cross_entropy_large_logits(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        z = huge_logits(ctx, dtype)
        # rows above the float64 overflow (exp(z) is inf without the max subtracted), labels 0 … C − 1
        big, big_labels = z[[0, 3, 4, 5]], torch.tensor([C - 1, 2, 0, 0], device=ctx.device)
        ctx.expect_close("cross_entropy", big, big_labels,
                         label=f"cross_entropy(z, labels) for logits up to 1e4, {dtype_name(dtype)}", factors={"T": 4})
        # huge gaps, labels on the least likely class: log softmax ≈ −1e4, and log(softmax) is −inf
        gaps, gap_labels = z[[2, 5]], torch.tensor([C - 1, 0], device=ctx.device)
        gaps[1, 0] = gaps[1, 1:].max() + 1e3
        ctx.expect_close("cross_entropy", gaps, gap_labels,
                         label=f"cross_entropy(z, labels) for gaps up to 1e4 between logits, {dtype_name(dtype)}",
                         factors={"T": 2})


@check("cross_entropy_grad_values")
def cross_entropy_grad_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T in BATCHES:
            z, labels = ctx.randn(T, C, dtype=dtype, scale=3.0), make_labels(ctx, T, C)
            ctx.expect_close("cross_entropy_grad", z, labels,
                             label=f"cross_entropy_grad(z, labels), T = {T}, {dtype_name(dtype)}", factors={"T": T})
        z = huge_logits(ctx, dtype)
        ctx.expect_close("cross_entropy_grad", z, make_labels(ctx, z.shape[0], C),
                         label=f"cross_entropy_grad(z, labels) for |z| up to 1e4, {dtype_name(dtype)}",
                         factors={"T": z.shape[0]})


@check("softmax_jacobian_values")
def softmax_jacobian_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for n in (1, C):
            z1 = ctx.randn(n, dtype=dtype, scale=3.0)
            ctx.expect_close("softmax_jacobian", z1, label=f"softmax_jacobian(z1), C = {n}, {dtype_name(dtype)}")
        z1 = ctx.randn(C, dtype=torch.float64, scale=3.0)
        z1[0] += 1e3  # above the overflow of exp, and a gap of 1e3 to the others
        ctx.expect_close("softmax_jacobian", z1.to(dtype),
                         label=f"softmax_jacobian(z1) for logits up to 1e3, {dtype_name(dtype)}")


def _binary_labels(ctx: CheckContext, T: int, dtype: torch.dtype) -> torch.Tensor:
    y = (ctx.rand(T, dtype=dtype) < 0.5).to(dtype)
    y[0] = 0.0
    y[-1] = 1.0
    return y


@check("bce_values")
def bce_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T in (1, 8):
            p = ctx.rand(T, low=0.02, high=0.98, dtype=dtype)
            ctx.expect_close("bce", p, _binary_labels(ctx, T, dtype), label=f"bce(p, y), T = {T}, {dtype_name(dtype)}",
                             factors={"T": T})
        # a confident right answer costs nothing: 0·log 0 counts as 0
        p = torch.tensor([0.0, 1.0, 0.3, 0.0, 1.0], dtype=dtype, device=ctx.device)
        y = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0], dtype=dtype, device=ctx.device)
        ctx.expect_close("bce", p, y,
                         label=f"bce(p, y) with p = 0 where y = 0 and p = 1 where y = 1, {dtype_name(dtype)}")


def _logits_against_labels(ctx: CheckContext, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Huge logits of the wrong sign (the loss is ≈ |z|), then huge logits of the right sign."""
    z = torch.tensor([-1e4, 1e4, -100.0, 100.0, 30.0, -30.0, 1.5, -0.5], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    return z.to(ctx.device, dtype), y.to(ctx.device, dtype)


@check("bce_with_logits_values")
def bce_with_logits_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        # moderate logits first, where every value is finite and a wrong formula shows as a wrong number;
        # then huge logits (float64 first): a naive log(σ(z)) is inf there, which names that mistake
        for T in (1, 8):
            z = ctx.randn(T, dtype=dtype, scale=3.0)
            ctx.expect_close("bce_with_logits", z, _binary_labels(ctx, T, dtype),
                             label=f"bce_with_logits(z, y), T = {T}, {dtype_name(dtype)}", factors={"T": T})
        z, y = _logits_against_labels(ctx, dtype)
        ctx.expect_close("bce_with_logits", z, y,
                         label=f"bce_with_logits(z, y) for |z| up to 1e4 against the labels, {dtype_name(dtype)}")
        ctx.expect_close("bce_with_logits", z, 1 - y,
                         label=f"bce_with_logits(z, y) for |z| up to 1e4 agreeing with the labels, {dtype_name(dtype)}")


@check("bce_with_logits_grad_values")
def bce_with_logits_grad_values(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T in (1, 8):
            z = ctx.randn(T, dtype=dtype, scale=3.0)
            ctx.expect_close("bce_with_logits_grad", z, _binary_labels(ctx, T, dtype),
                             label=f"bce_with_logits_grad(z, y), T = {T}, {dtype_name(dtype)}", factors={"T": T})
        z, y = _logits_against_labels(ctx, dtype)
        ctx.expect_close("bce_with_logits_grad", z, y,
                         label=f"bce_with_logits_grad(z, y) for |z| up to 1e4, {dtype_name(dtype)}", factors={"T": 8})


@check("inputs_unchanged")
def inputs_unchanged(ctx: CheckContext) -> None:
    """Every function, called directly: the caller's tensors must come back untouched. This is the one
    check that charges an in-place edit (the others compare values and only note it)."""
    dtype = ctx.dtypes[-1]
    z, labels = ctx.randn(4, C, dtype=dtype, scale=50.0), make_labels(ctx, 4, C)
    zb, y = ctx.randn(4, dtype=dtype, scale=3.0), _binary_labels(ctx, 4, dtype)
    p = torch.sigmoid(zb)
    p[0], p[-1] = 0.0, 1.0  # right answers (y[0] = 0, y[-1] = 1): an in-place clamp_ would change them
    ctx.expect_inputs_unchanged([
        ("softmax", (z,)), ("log_softmax", (z,)), ("cross_entropy", (z, labels)),
        ("cross_entropy_grad", (z, labels)), ("softmax_jacobian", (z[0].clone(),)),
        ("bce", (p, y)), ("bce_with_logits", (zb, y)), ("bce_with_logits_grad", (zb, y))])
