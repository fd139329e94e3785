"""Checks for `conv`: output size, 1D and 2D convolution forward and backward, max and average pooling.

The expected values come from the reference, and the expected gradients from **autograd through the
reference's forward pass** (trusted, in the parent): the backward a student writes is held to the true
derivative of the forward, not to another hand-written backward. A hidden check (instructor/) then checks
the three gradients against finite differences with the gradient engine, which locates a wrong ``dw`` to
its entries and names known mistakes.

The geometries cover stride, padding and dilation as ints and as pairs, rectangular kernels, non-square
inputs, batches and channels above 1, windows that overlap (stride < kernel: the input gradient must
accumulate) and strides that do not cover the input (the last rows or columns are never read, and
their gradient is 0).

Max pooling: value checks use inputs without exact ties (near ties down to 1e-5, distinct in float32), so
the maximum of every window is unique and its gradient is defined; exact ties are checked on their own
(``maxpool_ties``), where any split of a window's gradient among its tied maxima is accepted.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.checks import CheckContext, check
from grader.format import dtype_name, fmt_index, num

# (x shape, w shape, stride, padding, dilation)
CONV2D = (
    ((2, 3, 7, 6), (4, 3, 3, 2), 1, 0, 1),            # rectangular kernel, non-square input, overlap
    ((2, 2, 9, 8), (3, 2, 3, 3), 2, 1, 1),            # stride 2 does not cover the 8 columns, overlap
    ((1, 3, 8, 10), (2, 3, 2, 3), (2, 3), (1, 0), (2, 1)),  # pairs everywhere
    ((3, 1, 6, 7), (2, 1, 3, 3), 1, 2, 2),            # dilation 2 with padding 2, overlap
    ((2, 2, 10, 9), (3, 2, 3, 2), 3, (0, 1), 1),      # stride 3 does not cover the 10 rows
)
CONV1D = (
    ((2, 3, 11), (4, 3, 3), 1, 0, 1),
    ((3, 2, 12), (2, 2, 3), 2, 1, 2),
    ((1, 1, 9), (1, 1, 4), 3, 2, 1),                  # stride 3 does not cover the input
)
# (x shape, k, stride)
POOLS = (((2, 3, 6, 7), 2, 2), ((1, 2, 7, 7), 3, 2), ((2, 1, 5, 8), 3, 1))
TIES = (((2, 3, 6, 7), 2), ((1, 2, 7, 8), 3))
GRADIENT_NAMES = ("dx", "dw", "db")


def _part(value: Any, i: int) -> Any:
    return value[i] if isinstance(value, tuple | list) and len(value) > i else value


def _setting(s: Any, p: Any, d: Any) -> str:
    return f"stride {s}, padding {p}, dilation {d}"


def _conv_inputs(ctx: CheckContext, xs, ws, s, p, d, dtype, dim: int):
    x, w, b = ctx.randn(*xs, dtype=dtype), ctx.randn(*ws, dtype=dtype, scale=0.5), ctx.randn(ws[0], dtype=dtype)
    out = getattr(ctx.reference, f"conv{dim}d_forward")(x.double(), w.double(), b.double(), s, p, d)
    return x, w, b, ctx.randn(*out.shape, dtype=dtype)


def _autograd(api, dim: int, dout, x, w, b, s, p, d):
    """(dx, dw, db) by autograd through ``api``'s forward (the trusted reference)."""
    with torch.enable_grad():
        leaves = [t.detach().clone().requires_grad_(True) for t in (x, w, b)]
        out = getattr(api, f"conv{dim}d_forward")(*leaves, s, p, d)
        # the gradient of the scalar Σ dout ⊙ out is the vector-Jacobian product for dout; passing dout as
        # grad_outputs instead makes torch import torch.fx's symbolic shapes on first use (about 2.5 s)
        return torch.autograd.grad((dout * out).sum(), leaves)


def _backward(ctx: CheckContext, dim: int, part: int | None = None):
    """A pipeline: the student's (or a mistake's) conv{dim}d_backward; on the reference, autograd."""

    def run(api, dout, x, w, b, s, p, d):
        if api is ctx.reference:
            grads = _autograd(api, dim, dout, x, w, b, s, p, d)
        else:
            grads = getattr(api, f"conv{dim}d_backward")(dout, x, w, b, s, p, d)
        return grads if part is None else _part(grads, part)

    return run


# -- output size --------------------------------------------------------------------------------------
def _size_cases(size: Any):
    """Every stride, padding and dilation with k = 3 on two lengths (divisible or not), and a few edges.
    ``size`` is the reference's conv_output_size (ctx.reference: this file never imports the reference,
    which a student kit does not contain)."""
    for n in (5, 10):
        for k in (3,):
            for s in (1, 2, 3):
                for p in (0, 1):
                    for d in (1, 2):
                        if size(n, k, s, p, d) >= 1:
                            yield n, k, s, p, d
    yield from ((1, 1, 1, 0, 1), (2, 3, 1, 1, 1), (7, 7, 2, 0, 1), (6, 4, 2, 1, 1), (8, 1, 3, 0, 1), (9, 2, 2, 0, 3))


def _seeded_size_cases(ctx: CheckContext, size: Any, count: int = 8):
    """Cases drawn from the check's seeded generator: a file that replays answers recorded at one seed
    cannot know them (docs/OFFICIAL-GRADING.md, "fixed inputs")."""
    drawn = 0
    while drawn < count:
        n, k, s, p, d = (int(v) for v in torch.randint(1, 4, (5,), generator=ctx.generator))
        n, k, p = n * 7 + int(torch.randint(0, 7, (1,), generator=ctx.generator)), 2 * k - 1, p - 1
        if size(n, k, s, p, d) >= 1:
            drawn += 1
            yield n, k, s, p, d


@check("conv_output_size_grid")
def conv_output_size_grid(ctx: CheckContext) -> None:
    size = ctx.reference.conv_output_size
    for case in (*_size_cases(size), *_seeded_size_cases(ctx, size)):
        value = ctx.student.conv_output_size(*case)
        if not (isinstance(value, int) and value == size(*case)):
            n, k, s, p, d = case
            ctx.expect_close("conv_output_size", *case,
                             label=f"conv_output_size(n={n}, k={k}, stride={s}, padding={p}, dilation={d})")


# -- forward ------------------------------------------------------------------------------------------
def _forward_cases(ctx: CheckContext, dim: int, cases) -> None:
    for dtype in ctx.dtypes:
        for xs, ws, s, p, d in cases:
            x, w, b, _ = _conv_inputs(ctx, xs, ws, s, p, d, dtype, dim)
            ctx.expect_close(f"conv{dim}d_forward", x, w, b, s, p, d,
                             label=f"conv{dim}d_forward (x {fmt_index(xs)}, w {fmt_index(ws)}, {_setting(s, p, d)}, "
                                   f"{dtype_name(dtype)})")


@check("conv1d_forward")
def conv1d_forward(ctx: CheckContext) -> None:
    _forward_cases(ctx, 1, CONV1D)


@check("conv2d_forward_plain")
def conv2d_forward_plain(ctx: CheckContext) -> None:
    _forward_cases(ctx, 2, CONV2D[:1])


@check("conv2d_forward_stride_padding_dilation")
def conv2d_forward_stride_padding_dilation(ctx: CheckContext) -> None:
    _forward_cases(ctx, 2, CONV2D[1:])


# -- backward -----------------------------------------------------------------------------------------
def _backward_cases(ctx: CheckContext, dim: int, cases, part: int | None) -> None:
    what = "(dx, dw, db)" if part is None else GRADIENT_NAMES[part]
    for dtype in ctx.dtypes:
        for xs, ws, s, p, d in cases:
            x, w, b, dout = _conv_inputs(ctx, xs, ws, s, p, d, dtype, dim)
            ctx.expect_close(_backward(ctx, dim, part), dout, x, w, b, s, p, d,
                             label=f"{what} of conv{dim}d_backward (x {fmt_index(xs)}, w {fmt_index(ws)}, "
                                   f"{_setting(s, p, d)}, {dtype_name(dtype)})")


@check("conv1d_backward")
def conv1d_backward(ctx: CheckContext) -> None:
    _backward_cases(ctx, 1, CONV1D, None)


@check("conv2d_backward_input")
def conv2d_backward_input(ctx: CheckContext) -> None:
    _backward_cases(ctx, 2, CONV2D, 0)


@check("conv2d_backward_weight")
def conv2d_backward_weight(ctx: CheckContext) -> None:
    _backward_cases(ctx, 2, (CONV2D[0], CONV2D[2], CONV2D[3]), 1)  # plain, pairs, dilation 2 with padding 2


@check("conv2d_backward_bias")
def conv2d_backward_bias(ctx: CheckContext) -> None:
    _backward_cases(ctx, 2, CONV2D[:2], 2)


# -- pooling ------------------------------------------------------------------------------------------
def _near_ties(ctx: CheckContext, shape, dtype) -> torch.Tensor:
    """Values in {0, 1, 2} plus distinct offsets below 1e-3: many near ties, no exact one (in float32 too)."""
    n = 1
    for s in shape:
        n *= s
    offsets = torch.randperm(n, generator=ctx.generator).double().reshape(shape) * (1e-3 / n)
    base = torch.randint(0, 3, shape, generator=ctx.generator).double()
    return (base + offsets).to(ctx.device, dtype)


def _pool_cases(ctx: CheckContext, fn: str, backward: bool) -> None:
    for dtype in ctx.dtypes:
        for xs, k, s in POOLS:
            x = _near_ties(ctx, xs, dtype)
            label = f"{fn} (x {fmt_index(xs)}, k {k}, stride {s}, {dtype_name(dtype)})"
            if backward:
                out = getattr(ctx.reference, fn.replace("backward", "forward"))(x, k, s)
                ctx.expect_close(fn, ctx.randn(*out.shape, dtype=dtype), x, k, s, label=label)
            else:
                ctx.expect_close(fn, x, k, s, label=label)


@check("maxpool_forward")
def maxpool_forward(ctx: CheckContext) -> None:
    _pool_cases(ctx, "maxpool2d_forward", backward=False)


@check("maxpool_backward")
def maxpool_backward(ctx: CheckContext) -> None:
    _pool_cases(ctx, "maxpool2d_backward", backward=True)


@check("avgpool_forward")
def avgpool_forward(ctx: CheckContext) -> None:
    _pool_cases(ctx, "avgpool2d_forward", backward=False)


@check("avgpool_backward")
def avgpool_backward(ctx: CheckContext) -> None:
    _pool_cases(ctx, "avgpool2d_backward", backward=True)


@check("maxpool_ties")
def maxpool_ties(ctx: CheckContext) -> None:
    """Exact ties in non-overlapping windows (stride = k). A valid gradient gives each window's dout to its
    maxima only, in non-negative shares (of dout's sign) that add up to dout; entries no window covers get 0."""
    for dtype in ctx.dtypes:
        for xs, k in TIES:
            x = torch.randint(0, 2, xs, generator=ctx.generator).to(ctx.device, dtype)
            Ho, Wo = xs[2] // k, xs[3] // k
            dout = ctx.randn(xs[0], xs[1], Ho, Wo, dtype=dtype)
            dx = ctx.student.maxpool2d_backward(dout, x, k, k)
            label = f"maxpool2d_backward with exact ties (x {fmt_index(xs)}, k = stride = {k}, {dtype_name(dtype)})"
            if not (isinstance(dx, torch.Tensor) and dx.shape == x.shape and dx.dtype == dtype
                    and dx.device.type == ctx.device.type):
                ctx.expect_close("maxpool2d_backward", dout, x, k, k, label=label)
                continue
            _expect_subgradient(ctx, label, dout, x, k, dx)


def _windows(t: torch.Tensor, k: int) -> torch.Tensor:
    """(B, C, Ho, Wo, k·k): the non-overlapping k×k windows of t (stride k), row-major inside a window."""
    B, C, H, W = t.shape
    Ho, Wo = H // k, W // k
    return t[:, :, :Ho * k, :Wo * k].reshape(B, C, Ho, k, Wo, k).permute(0, 1, 2, 4, 3, 5).reshape(B, C, Ho, Wo, k * k)


def _expect_subgradient(ctx: CheckContext, label: str, dout: torch.Tensor, x: torch.Tensor, k: int,
                        dx: torch.Tensor) -> None:
    tol = ctx.tolerance(dx.dtype)
    g, x64, d64 = (t.detach().to("cpu", torch.float64) for t in (dx, x, dout))

    def fail(message: str, details: str) -> None:
        expected = ctx.reference.maxpool2d_backward(d64.to(ctx.device), x64.to(ctx.device), k, k)
        run = lambda api, *a: api.maxpool2d_backward(*a)  # noqa: E731
        diagnosis = ctx.match_mistake(run, (dout, x, k, k), {}, dx, expected, tol)
        ctx.fail(f"{label}: {message}", details=details + "\nTie rule: any split of a window's gradient among its "
                 "tied maxima is accepted (the reference gives it all to the first one).", diagnosis=diagnosis)

    covered = torch.zeros_like(g, dtype=torch.bool)
    covered[:, :, :(g.shape[2] // k) * k, :(g.shape[3] // k) * k] = True
    stray = (g.abs() > tol.atol) & ~covered
    if bool(stray.any()):
        idx = tuple(int(i) for i in stray.nonzero()[0])
        fail("gradient outside every window", f"At index {fmt_index(idx)}: {num(float(g[idx]))}; no window covers "
             "that entry (the stride does not reach it), so its gradient is 0.")
    gw, xw = _windows(g, k), _windows(x64, k)
    is_max = xw == xw.amax(dim=-1, keepdim=True)
    scale = d64.abs()[..., None]
    off = (gw.abs() > tol.atol + tol.rtol * scale) & ~is_max
    if bool(off.any()):
        b, c, h, w, t = (int(i) for i in off.nonzero()[0])
        fail("gradient sent to an entry that is not a maximum of its window",
             f"Window {fmt_index((b, c, h, w))}, entry {t} (row-major) holds {num(float(xw[b, c, h, w, t]))} < the "
             f"window's maximum {num(float(xw[b, c, h, w].max()))}, yet receives {num(float(gw[b, c, h, w, t]))}.")
    share = gw / torch.where(d64 == 0, torch.ones_like(d64), d64)[..., None]
    wrong_sign = is_max & (share < -tol.rtol - tol.atol / scale.clamp_min(1e-30))
    sums = gw.sum(dim=-1)
    wrong_sum = (sums - d64).abs() > tol.atol + tol.rtol * d64.abs()
    if bool(wrong_sum.any()) or bool(wrong_sign.any()):
        b, c, h, w = (int(i) for i in (wrong_sum | wrong_sign.any(-1)).nonzero()[0])
        fail("a window's gradient is not split among its maxima",
             f"Window {fmt_index((b, c, h, w))}: upstream gradient {num(float(d64[b, c, h, w]))}; the gradients of "
             f"its entries add up to {num(float(sums[b, c, h, w]))} and must add up to it, in shares of its sign.")
