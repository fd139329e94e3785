"""Common mistakes in convolution and pooling, each with the hint a student should see.

A mistake in the 2D convolution shows in the 1D one too (the reference computes 1D as 2D with a height
of 1), so the convolution variants are whole APIs built by ``_conv_api`` from a replaced forward or
backward. Using torch.nn.functional.conv2d is also a mistake of this exercise; it is caught by the
spec's ``forbidden:`` list, not here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from grader.mistakes import MistakeBook
from reference import conv as ref
from reference.conv import _geometry, _pad, _pool_windows, _window

CANARY = "dlg-canary-mistakes-conv-a87c7627efb73478"  # never in a kit (tests/kit)

MISTAKES = MistakeBook("conv")


def _conv_api(forward2d: Callable = ref.conv2d_forward, backward2d: Callable = ref.conv2d_backward,
              output_size: Callable = ref.conv_output_size) -> dict[str, Callable]:
    """conv1d_*, conv2d_* and conv_output_size from the given 2D pieces (1D = 2D with height 1)."""

    def conv1d_forward(x, w, b, stride=1, padding=0, dilation=1):
        return forward2d(x[:, :, None, :], w[:, :, None, :], b, (1, stride), (0, padding), (1, dilation))[:, :, 0, :]

    def conv1d_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
        dx, dw, db = backward2d(dout[:, :, None, :], x[:, :, None, :], w[:, :, None, :], b, (1, stride),
                                (0, padding), (1, dilation))
        return dx[:, :, 0, :], dw[:, :, 0, :], db

    return {"conv2d_forward": forward2d, "conv2d_backward": backward2d, "conv1d_forward": conv1d_forward,
            "conv1d_backward": conv1d_backward, "conv_output_size": output_size}


def _backward_with(*, dx_kernel_flipped: bool = False, bias: Callable | None = None,
                   crop_start_only: bool = False) -> Callable:
    """The reference's backward pass with one of its steps done wrong."""

    def backward(dout, x, w, b, stride=1, padding=0, dilation=1):
        F, _, kh, kw = w.shape
        H, W = x.shape[2:]
        s, p, d, out_hw = _geometry(x, kh, kw, stride, padding, dilation)
        xp = _pad(x, *p)
        dxp, dw = torch.zeros_like(xp), torch.zeros_like(w)
        for i in range(kh):
            for j in range(kw):
                where = _window(i, j, out_hw, s, d)
                dw[:, :, i, j] = torch.einsum("bfhw,bchw->fc", dout, xp[where])
                wij = w[:, :, kh - 1 - i, kw - 1 - j] if dx_kernel_flipped else w[:, :, i, j]
                dxp[where] += torch.einsum("bfhw,fc->bchw", dout, wij)
        dx = dxp[:, :, p[0]:, p[1]:] if crop_start_only else dxp[:, :, p[0]:p[0] + H, p[1]:p[1] + W]
        return dx, dw, (bias or (lambda g: g.sum(dim=(0, 2, 3))))(dout)

    return backward


# -- the forward pass and the output size -----------------------------------------------------------
def _flipped_forward(x, w, b, stride=1, padding=0, dilation=1):
    return ref.conv2d_forward(x, w.flip(2, 3), b, stride, padding, dilation)


def _flipped_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
    dx, dw, db = ref.conv2d_backward(dout, x, w.flip(2, 3), b, stride, padding, dilation)
    return dx, dw.flip(2, 3), db


MISTAKES.add_variant(
    "flipped_kernel", name="kernel flipped (true convolution)",
    hint="In deep learning, and in PyTorch, a convolution layer computes a cross-correlation: "
         "out[h, w] = Σ w[i, j] · x[h·s + i·d, w·s + j·d], the kernel is not flipped. The mathematical "
         "convolution (w[k − 1 − i, k − 1 − j]) is what the layer would learn flipped.",
    **_conv_api(_flipped_forward, _flipped_backward))

MISTAKES.add_variant(
    "output_size_missing_plus_one", name="output size off by one",
    hint="The number of positions is ⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1: the first window sits at position 0, "
         "and ⌊…/s⌋ counts the strides after it. Without the + 1 the last window is lost.",
    conv_output_size=lambda n, k, stride=1, padding=0, dilation=1: (n + 2 * padding - dilation * (k - 1) - 1)
    // stride)

MISTAKES.add_variant(
    "output_size_rounded_up", name="output size rounded up",
    hint="When the stride does not cover the input, the positions it does not reach are dropped: "
         "⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1 rounds *down*. A window that would stick out of the padded input "
         "does not exist.",
    conv_output_size=lambda n, k, stride=1, padding=0, dilation=1: -(-(n + 2 * padding - dilation * (k - 1) - 1)
                                                                      // stride) + 1)


def _ignore_dilation_positional(fn: Callable, n_tensors: int) -> Callable:
    """fn with its dilation argument (after the n_tensors tensors, stride and padding) forced to 1."""

    def without(*args, **kwargs):
        args = list(args)
        if len(args) > n_tensors + 2:
            args[n_tensors + 2] = 1
        kwargs.pop("dilation", None)
        return fn(*args, **kwargs)

    return without


MISTAKES.add_variant(
    "dilation_ignored", name="dilation ignored",
    hint="With dilation d the kernel taps are d apart: out[h] = Σ_i w[i] · x[h·s + i·d], and the kernel "
         "spans d(k − 1) + 1 inputs, which the output size ⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1 accounts for.",
    **_conv_api(_ignore_dilation_positional(ref.conv2d_forward, 3),
                _ignore_dilation_positional(ref.conv2d_backward, 4),
                _ignore_dilation_positional(ref.conv_output_size, 2)))


# -- the backward pass ------------------------------------------------------------------------------
MISTAKES.add_variant(
    "bias_grad_averaged", name="bias gradient averaged",
    hint="The bias is added at every position of every sample, so its gradient is the *sum* of dout over "
         "the batch and all positions: db = dout.sum((0, 2, 3)) (dout.sum((0, 2)) in 1D), not a mean.",
    **_conv_api(backward2d=_backward_with(bias=lambda g: g.mean(dim=(0, 2, 3)))))

MISTAKES.add_variant(
    "bias_grad_first_sample", name="bias gradient from the first sample only",
    hint="db sums dout over the whole batch as well as over the positions: db = dout.sum((0, 2, 3)). "
         "dout[0] is only the first sample's share.",
    **_conv_api(backward2d=_backward_with(bias=lambda g: g[0].sum(dim=(1, 2)))))

MISTAKES.add_variant(
    "dx_kernel_not_flipped", name="input gradient with the kernel not flipped",
    hint="dx is the *full convolution* of dout with the kernel, i.e. a correlation with the kernel flipped: "
         "x[h·s + i·d] received w[i] · dout[h], so walk the same windows as the forward and add w[i] · dout[h] "
         "back at x[h·s + i·d]. Correlating dout with the unflipped kernel sends w[i] to the wrong place.",
    **_conv_api(backward2d=_backward_with(dx_kernel_flipped=True)))

MISTAKES.add_variant(
    "padding_cropped_one_side", name="padding cropped on one side only",
    hint="The gradient of the padded input has p extra rows and columns on *each* side: "
         "dx = dx_pad[:, :, p:p + H, p:p + W], not dx_pad[:, :, p:, p:].",
    **_conv_api(backward2d=_backward_with(crop_start_only=True)))


def _overwriting_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
    """A loop over output positions that assigns each window's gradient instead of adding it."""
    F, _, kh, kw = w.shape
    H, W = x.shape[2:]
    s, p, d, (Ho, Wo) = _geometry(x, kh, kw, stride, padding, dilation)
    dxp = torch.zeros_like(_pad(x, *p))
    for oh in range(Ho):
        for ow in range(Wo):
            rows = slice(oh * s[0], oh * s[0] + d[0] * (kh - 1) + 1, d[0])
            cols = slice(ow * s[1], ow * s[1] + d[1] * (kw - 1) + 1, d[1])
            dxp[:, :, rows, cols] = torch.einsum("bf,fcij->bcij", dout[:, :, oh, ow], w)
    _, dw, db = ref.conv2d_backward(dout, x, w, b, stride, padding, dilation)
    return dxp[:, :, p[0]:p[0] + H, p[1]:p[1] + W], dw, db


MISTAKES.add_variant(
    "overlap_overwritten", name="overlapping windows overwritten instead of accumulated",
    hint="When the stride is smaller than the kernel, windows overlap and an input entry feeds several "
         "outputs: its gradient is the *sum* of what each window sends back (dx[window] += …), not the last "
         "window's share (dx[window] = …).",
    **_conv_api(backward2d=_overwriting_backward))


# -- pooling ----------------------------------------------------------------------------------------
@MISTAKES.add("maxpool2d_backward", name="max-pool gradient sent to every element",
              hint="Only the maximum of a window affects the output, so only it receives the window's "
                   "gradient; the other entries get 0. (At a tie any split among the tied maxima is fine.)")
def maxpool_grad_everywhere(dout, x, k, stride):
    _, where = _pool_windows(x, k, stride)
    dx = torch.zeros_like(x)
    for wh in where:
        dx[wh] += dout
    return dx


@MISTAKES.add("avgpool2d_backward", name="average-pool gradient not divided",
              hint="out = (1/(k_h·k_w)) Σ x over the window, so each entry receives dout/(k_h·k_w), not dout.")
def avgpool_grad_not_divided(dout, x, k, stride):
    return maxpool_grad_everywhere(dout, x, k, stride)


@MISTAKES.add("maxpool2d_forward", name="pooling windows ignore the stride",
              hint="Pooling windows start every `stride` entries: window (h, w) covers rows h·s … h·s + k − 1. "
                   "With stride = k they do not overlap; a stride of 1 gives a larger, overlapping output.")
def maxpool_stride_ignored(x, k, stride):
    return ref.maxpool2d_forward(x, k, 1)
