"""Convolution and pooling, forward and backward, by hand.

PyTorch conventions: a "convolution" is a cross-correlation (the kernel is not flipped); layouts are
(B, C, L) in 1D and (B, C, H, W) in 2D; w has shape (F, C, k) or (F, C, kh, kw), b has shape (F,).
In 2D, stride, padding and dilation are an int or a pair (rows, columns).
torch.nn.functional's convolutions, pooling, unfold and fold, torch.nn.Conv*, Tensor.unfold and autograd
are not allowed. Every tensor you return has the dtype and device of the inputs.
"""

import torch


def conv_output_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """The number of output positions along one axis of length n (a Python int)."""
    raise NotImplementedError


def conv1d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, stride: int = 1, padding: int = 0,
                   dilation: int = 1) -> torch.Tensor:
    """x (B, C, L), w (F, C, k), b (F,) -> (B, F, L_out)."""
    raise NotImplementedError


def conv1d_backward(dout: torch.Tensor, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, stride: int = 1,
                    padding: int = 0, dilation: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dx, dw, db): the gradients of the loss, given dout = ∂L/∂out of shape (B, F, L_out)."""
    raise NotImplementedError


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, stride=1, padding=0,
                   dilation=1) -> torch.Tensor:
    """x (B, C, H, W), w (F, C, kh, kw), b (F,) -> (B, F, H_out, W_out)."""
    raise NotImplementedError


def conv2d_backward(dout: torch.Tensor, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, stride=1, padding=0,
                    dilation=1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dx, dw, db), shaped like x, w and b, given dout = ∂L/∂out of shape (B, F, H_out, W_out)."""
    raise NotImplementedError


def maxpool2d_forward(x: torch.Tensor, k: int, stride: int) -> torch.Tensor:
    """The maximum of each k×k window, windows `stride` apart, no padding: (B, C, H_out, W_out)."""
    raise NotImplementedError


def maxpool2d_backward(dout: torch.Tensor, x: torch.Tensor, k: int, stride: int) -> torch.Tensor:
    """dx (B, C, H, W): each window's gradient goes to its maximum."""
    raise NotImplementedError


def avgpool2d_forward(x: torch.Tensor, k: int, stride: int) -> torch.Tensor:
    """The mean of each k×k window: (B, C, H_out, W_out)."""
    raise NotImplementedError


def avgpool2d_backward(dout: torch.Tensor, x: torch.Tensor, k: int, stride: int) -> torch.Tensor:
    """dx (B, C, H, W): each window's gradient shared equally among its k·k entries."""
    raise NotImplementedError
