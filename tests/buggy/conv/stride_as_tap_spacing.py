# allowed-diagnoses:
"""Confuses stride and dilation: the kernel taps are `stride` apart (the dilation is never used in the
indexing), while the output size is right."""
import torch

from reference.conv import (  # noqa: F401
    avgpool2d_backward,
    avgpool2d_forward,
    conv_output_size,
    maxpool2d_backward,
    maxpool2d_forward,
)


def _p(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d_forward(x, w, b, stride=1, padding=0, dilation=1):
    (sh, sw), (ph, pw), (dh, dw) = _p(stride), _p(padding), _p(dilation)
    B, C, H, W = x.shape
    F, _, kh, kw = w.shape
    Ho, Wo = conv_output_size(H, kh, sh, ph, dh), conv_output_size(W, kw, sw, pw, dw)
    xp = torch.zeros(B, C, H + 2 * ph + sh * kh, W + 2 * pw + sw * kw, dtype=x.dtype, device=x.device)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    out = torch.zeros(B, F, Ho, Wo, dtype=x.dtype, device=x.device)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i * sh:i * sh + sh * Ho:sh, j * sw:j * sw + sw * Wo:sw]
            out += torch.einsum("bchw,fc->bfhw", patch, w[:, :, i, j])
    return out + b[:, None, None]


def conv2d_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
    (sh, sw), (ph, pw) = _p(stride), _p(padding)
    B, C, H, W = x.shape
    F, _, kh, kw = w.shape
    Ho, Wo = dout.shape[2:]
    xp = torch.zeros(B, C, H + 2 * ph + sh * kh, W + 2 * pw + sw * kw, dtype=x.dtype, device=x.device)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    dxp, dw_ = torch.zeros_like(xp), torch.zeros_like(w)
    for i in range(kh):
        for j in range(kw):
            sl = (slice(None), slice(None), slice(i * sh, i * sh + sh * Ho, sh), slice(j * sw, j * sw + sw * Wo, sw))
            dw_[:, :, i, j] = torch.einsum("bfhw,bchw->fc", dout, xp[sl])
            dxp[sl] += torch.einsum("bfhw,fc->bchw", dout, w[:, :, i, j])
    return dxp[:, :, ph:ph + H, pw:pw + W], dw_, dout.sum((0, 2, 3))


def conv1d_forward(x, w, b, stride=1, padding=0, dilation=1):
    return conv2d_forward(x[:, :, None], w[:, :, None], b, (1, stride), (0, padding), (1, dilation))[:, :, 0]


def conv1d_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
    dx, dw, db = conv2d_backward(dout[:, :, None], x[:, :, None], w[:, :, None], b, (1, stride), (0, padding),
                                 (1, dilation))
    return dx[:, :, 0], dw[:, :, 0], db
