"""Checks for the 4-layer sigmoid MLP: forward, loss and the hand-written backward pass.

The data are scaled so that no sigmoid saturates (weights ~ N(0, 1/N_in), |a| of order 1, σ' ≥ 0.02):
float32 round-off then stays far below the float32 tolerance for every seed, while every mistake of
mistakes.py changes the gradients by a factor of order 1. Targets Y are uniform in [0, 1], so the
residual x⁴ − y is of order ½ and the gradients are far above the absolute tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from grader.checks import CheckContext, check
from grader.format import dtype_name

# (N_0, N_1, N_2, N_3, N_4): every layer non-square except W3 (4 → 4), so that a missing transpose
# is caught without a shape error.
MIXED = (5, 7, 4, 4, 3)
# T = 6 first: a batch tells more than one sample (a per-sample bias gradient of shape (1, N) is the same
# as one kept 2-D with keepdim at T = 1), and T = 1 still shows what only a single sample hides.
BATCHES = (6, 1)


def make_params(ctx: CheckContext, sizes: Sequence[int], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    params = {}
    for i in range(1, 5):
        params[f"W{i}"] = ctx.randn(sizes[i], sizes[i - 1], dtype=dtype, scale=sizes[i - 1] ** -0.5)
        params[f"b{i}"] = ctx.randn(sizes[i], dtype=dtype, scale=0.3)
    return params


def make_data(ctx: CheckContext, sizes: Sequence[int], T: int, dtype: torch.dtype):
    return ctx.randn(T, sizes[0], dtype=dtype), ctx.rand(T, sizes[-1], dtype=dtype)


def _backward_of(api, params, X, Y):
    return api.backward(params, api.forward(params, X)[1], Y)


def _pick(*keys: str):
    def pipeline(api, params, X, Y):
        grads = _backward_of(api, params, X, Y)
        return {k: grads.get(k) for k in keys} if isinstance(grads, dict) else grads

    return pipeline


def _expect_gradients(ctx: CheckContext, sizes: Sequence[int], keys: Sequence[str] | None,
                      batches: Sequence[int] = BATCHES) -> None:
    pipeline = _backward_of if keys is None else _pick(*keys)
    for dtype in ctx.dtypes:
        for T in batches:
            params = make_params(ctx, sizes, dtype)
            X, Y = make_data(ctx, sizes, T, dtype)
            ctx.expect_close(pipeline, params, X, Y, label=f"backward (T = {T}, {dtype_name(dtype)})",
                             factors={"T": T})


@check("forward_output")
def forward_output(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T in BATCHES:
            params = make_params(ctx, MIXED, dtype)
            X, _ = make_data(ctx, MIXED, T, dtype)
            ctx.expect_close(lambda api, p, X: api.forward(p, X)[0], params, X,
                             label=f"forward(params, X)[0] (T = {T}, {dtype_name(dtype)})")


@check("loss_value")
def loss_value(ctx: CheckContext) -> None:
    for dtype in ctx.dtypes:
        for T in BATCHES:
            out, Y = ctx.rand(T, 3, dtype=dtype), ctx.rand(T, 3, dtype=dtype)
            ctx.expect_close("loss", out, Y, label=f"loss(out, Y) (T = {T}, {dtype_name(dtype)})", factors={"T": T})


@check("backward_output_layer")
def backward_output_layer(ctx: CheckContext) -> None:
    _expect_gradients(ctx, MIXED, ("W4", "b4"))


@check("backward_hidden_layers")
def backward_hidden_layers(ctx: CheckContext) -> None:
    _expect_gradients(ctx, MIXED, ("W3", "b3", "W2", "b2", "W1", "b1"))


@check("backward_input")
def backward_input(ctx: CheckContext) -> None:
    _expect_gradients(ctx, MIXED, ("X",))


@check("backward_gradcheck")
def backward_gradcheck(ctx: CheckContext) -> None:
    """Every gradient against finite differences of the loss, with the wrong entries located."""
    for dtype in ctx.dtypes:
        params = make_params(ctx, MIXED, dtype)
        X, Y = make_data(ctx, MIXED, 6, dtype)
        claimed = _backward_of(ctx.student, params, X, Y)
        point = {**{k: v.double() for k, v in params.items()}, "X": X.double()}
        ctx.expect_gradients(_loss_at(ctx.reference, Y.double()), point, claimed,
                             gradients_of=_gradients_at(point, Y.double()), factors={"T": 6},
                             label=f"backward ({dtype_name(dtype)})")


def _loss_at(api, Y):
    """The loss as a function of every tensor, the input X included (trusted: the reference)."""

    def loss(p):
        weights = {k: v for k, v in p.items() if k != "X"}
        return api.loss(api.forward(weights, p["X"])[0], Y)

    return loss


def _gradients_at(point, Y):
    """The gradients that an API (the reference, or a mistake's variant) computes at ``point``."""

    def gradients_of(api):
        weights = {k: v for k, v in point.items() if k != "X"}
        return api.backward(weights, api.forward(weights, point["X"])[1], Y)

    return gradients_of


# -- inputs -----------------------------------------------------------------------------------------
@check("inputs_unchanged")
def inputs_unchanged(ctx: CheckContext) -> None:
    """The one check that charges an input changed in place (the others compare values and note it):
    out -= Y in the loss, or X modified by forward, change the caller's tensors."""
    dtype = ctx.dtypes[-1]
    params = make_params(ctx, MIXED, dtype)
    X, Y = make_data(ctx, MIXED, 6, dtype)
    out = ctx.rand(6, MIXED[-1], dtype=dtype)
    ctx.expect_inputs_unchanged([("forward", (params, X)), ("loss", (out, Y)), (_backward_of, (params, X, Y))])
