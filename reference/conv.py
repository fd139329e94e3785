"""Reference solution: 1D and 2D convolution and pooling, forward and backward, by hand.

PyTorch's conventions (deck 001 "Convolutional Neural Networks", deck 002 padding, stride, dilation):
"convolution" is cross-correlation, the kernel is *not* flipped, and layouts are NCL / NCHW.

    out[b, f, h, w] = bias[f] + Σ_{c, i, j} w[f, c, i, j] · x_pad[b, c, h·s_h + i·d_h, w·s_w + j·d_w]

with x_pad the input zero-padded by p on every side. Each kernel offset (i, j) reads a strided slice of
x_pad; the loops below run over the offsets (k_h·k_w of them) and let einsum do the rest. The backward pass
walks the same slices: what the forward read from a slice, the backward adds back into it. Slices of
different offsets overlap when the stride is smaller than the (dilated) kernel, so the input gradient
*accumulates*.
"""

from __future__ import annotations

import torch

CANARY = "dlg-canary-reference-conv-b0e7e32d54df5208"  # never in a kit (tests/kit)

Pair = int | tuple[int, int]


def _pair(v: Pair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def conv_output_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1: the dilated kernel spans d(k − 1) + 1 entries, and the last
    window must fit inside the padded input; positions the stride does not reach are dropped."""
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _pad(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """x (B, C, H, W) with ph zero rows above and below and pw zero columns left and right."""
    B, C, H, W = x.shape
    out = x.new_zeros(B, C, H + 2 * ph, W + 2 * pw)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def _window(i: int, j: int, out_hw: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int]) -> tuple[slice, slice, slice, slice]:
    """The slice of x_pad that kernel offset (i, j) meets at every output position: rows
    i·d_h, i·d_h + s_h, …, (Ho positions), and the same for columns."""
    (Ho, Wo), (sh, sw), (dh, dw) = out_hw, stride, dilation
    return (slice(None), slice(None), slice(i * dh, i * dh + sh * (Ho - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (Wo - 1) + 1, sw))


def _geometry(x: torch.Tensor, kh: int, kw: int, stride: Pair, padding: Pair, dilation: Pair):
    s, p, d = _pair(stride), _pair(padding), _pair(dilation)
    out_hw = (conv_output_size(x.shape[2], kh, s[0], p[0], d[0]), conv_output_size(x.shape[3], kw, s[1], p[1], d[1]))
    return s, p, d, out_hw


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, stride: Pair = 1, padding: Pair = 0,
                   dilation: Pair = 1) -> torch.Tensor:
    """``x (B, C, H, W)``, ``w (F, C, kh, kw)``, ``b (F,)`` → ``(B, F, Ho, Wo)`` (cross-correlation)."""
    F, _, kh, kw = w.shape
    s, p, d, (Ho, Wo) = _geometry(x, kh, kw, stride, padding, dilation)
    xp = _pad(x, *p)
    out = x.new_zeros(x.shape[0], F, Ho, Wo)
    for i in range(kh):
        for j in range(kw):
            patch = xp[_window(i, j, (Ho, Wo), s, d)]  # (B, C, Ho, Wo)
            out = out + torch.einsum("bchw,fc->bfhw", patch, w[:, :, i, j])
    return out + b[None, :, None, None]


def conv2d_backward(dout: torch.Tensor, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, stride: Pair = 1,
                    padding: Pair = 0, dilation: Pair = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dx, dw, db)`` given ``dout = ∂L/∂out (B, F, Ho, Wo)``.

    For each offset (i, j) the forward computed out += w[:, :, i, j] · slice: so
    dw[:, :, i, j] = Σ dout · slice (summed over batch and positions), and the slice of dx_pad receives
    w[:, :, i, j]ᵀ dout, *added* to what other offsets already put there. db sums dout over everything
    but the filter axis: the bias is shared by every sample and every position.
    """
    F, _, kh, kw = w.shape
    H, W = x.shape[2:]
    s, p, d, (Ho, Wo) = _geometry(x, kh, kw, stride, padding, dilation)
    xp = _pad(x, *p)
    dxp = torch.zeros_like(xp)
    dw = torch.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            where = _window(i, j, (Ho, Wo), s, d)
            dw[:, :, i, j] = torch.einsum("bfhw,bchw->fc", dout, xp[where])
            dxp[where] += torch.einsum("bfhw,fc->bchw", dout, w[:, :, i, j])  # accumulate: windows overlap
    dx = dxp[:, :, p[0]:p[0] + H, p[1]:p[1] + W]  # the padding is not an input: crop it on both sides
    return dx, dw, dout.sum(dim=(0, 2, 3))


def conv1d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, stride: int = 1, padding: int = 0,
                   dilation: int = 1) -> torch.Tensor:
    """``x (B, C, L)``, ``w (F, C, k)``, ``b (F,)`` → ``(B, F, Lo)``: a 2D convolution of height 1."""
    out = conv2d_forward(x[:, :, None, :], w[:, :, None, :], b, (1, stride), (0, padding), (1, dilation))
    return out[:, :, 0, :]


def conv1d_backward(dout: torch.Tensor, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, stride: int = 1,
                    padding: int = 0, dilation: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dx, dw, db)`` of the 1D convolution, through the 2D one with a height of 1."""
    dx, dw, db = conv2d_backward(dout[:, :, None, :], x[:, :, None, :], w[:, :, None, :], b, (1, stride),
                                 (0, padding), (1, dilation))
    return dx[:, :, 0, :], dw[:, :, 0, :], db


def _pool_windows(x: torch.Tensor, k: Pair, stride: Pair) -> tuple[torch.Tensor, list[tuple[slice, ...]]]:
    """The k_h·k_w strided slices of x, stacked on a last axis (B, C, Ho, Wo, k_h·k_w), and the slices."""
    (kh, kw), s = _pair(k), _pair(stride)
    Ho, Wo = conv_output_size(x.shape[2], kh, s[0]), conv_output_size(x.shape[3], kw, s[1])
    where = [_window(i, j, (Ho, Wo), s, (1, 1)) for i in range(kh) for j in range(kw)]
    return torch.stack([x[wh] for wh in where], dim=-1), where


def maxpool2d_forward(x: torch.Tensor, k: Pair, stride: Pair) -> torch.Tensor:
    """The maximum of each k×k window, windows ``stride`` apart, no padding: ``(B, C, Ho, Wo)``."""
    windows, _ = _pool_windows(x, k, stride)
    return windows.amax(dim=-1)


def maxpool2d_backward(dout: torch.Tensor, x: torch.Tensor, k: Pair, stride: Pair) -> torch.Tensor:
    """Each window's upstream gradient goes to the entry that was its maximum; entries that are the max
    of several overlapping windows collect from each of them.

    Tie rule: when several entries of a window share the maximum, this reference gives everything to the
    first of them in row-major order (as PyTorch does). Any split among the tied maxima is an equally valid
    subgradient, and the grader accepts every one.
    """
    windows, where = _pool_windows(x, k, stride)
    first_max = torch.nn.functional.one_hot(windows.argmax(dim=-1), len(where)).to(x.dtype)
    dx = torch.zeros_like(x)
    for t, wh in enumerate(where):
        dx[wh] += dout * first_max[..., t]
    return dx


def avgpool2d_forward(x: torch.Tensor, k: Pair, stride: Pair) -> torch.Tensor:
    """The mean of each k×k window: ``(B, C, Ho, Wo)``."""
    windows, _ = _pool_windows(x, k, stride)
    return windows.mean(dim=-1)


def avgpool2d_backward(dout: torch.Tensor, x: torch.Tensor, k: Pair, stride: Pair) -> torch.Tensor:
    """Every entry of a window receives 1/(k_h·k_w) of the window's upstream gradient (accumulated where
    windows overlap)."""
    _, where = _pool_windows(x, k, stride)
    dx = torch.zeros_like(x)
    for wh in where:
        dx[wh] += dout / len(where)
    return dx
