# allowed-diagnoses:
"""Pads with 2p zeros after the input (bottom and right) instead of p on each side, consistently in the
forward and backward passes: the output has the right size but is shifted."""
import torch

from reference import conv as _ref
from reference.conv import (  # noqa: F401
    avgpool2d_backward,
    avgpool2d_forward,
    conv_output_size,
    maxpool2d_backward,
    maxpool2d_forward,
)


def _p(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _shifted(x, padding):
    ph, pw = _p(padding)
    B, C, H, W = x.shape
    xp = torch.zeros(B, C, H + 2 * ph, W + 2 * pw, dtype=x.dtype, device=x.device)
    xp[:, :, :H, :W] = x
    return xp


def conv2d_forward(x, w, b, stride=1, padding=0, dilation=1):
    return _ref.conv2d_forward(_shifted(x, padding), w, b, stride, 0, dilation)


def conv2d_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
    dxp, dw, db = _ref.conv2d_backward(dout, _shifted(x, padding), w, b, stride, 0, dilation)
    return dxp[:, :, :x.shape[2], :x.shape[3]], dw, db


def conv1d_forward(x, w, b, stride=1, padding=0, dilation=1):
    return conv2d_forward(x[:, :, None], w[:, :, None], b, (1, stride), (0, padding), (1, dilation))[:, :, 0]


def conv1d_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
    dx, dw, db = conv2d_backward(dout[:, :, None], x[:, :, None], w[:, :, None], b, (1, stride), (0, padding),
                                 (1, dilation))
    return dx[:, :, 0], dw[:, :, 0], db
