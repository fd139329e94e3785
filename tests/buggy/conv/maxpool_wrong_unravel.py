# allowed-diagnoses:
"""Max-pool backward finds the flat argmax of each window but unravels it with the input's width instead
of the window's: the gradient lands on the wrong entry (whenever the argmax is not in the first row)."""
import torch

from reference.conv import (  # noqa: F401
    avgpool2d_backward,
    avgpool2d_forward,
    conv1d_backward,
    conv1d_forward,
    conv2d_backward,
    conv2d_forward,
    conv_output_size,
    maxpool2d_forward,
)


def maxpool2d_backward(dout, x, k, stride):
    dx = torch.zeros_like(x)
    B, C, H, W = x.shape
    for h in range(dout.shape[2]):
        for v in range(dout.shape[3]):
            win = x[:, :, h * stride:h * stride + k, v * stride:v * stride + k].reshape(B, C, -1)
            flat = win.argmax(dim=2)
            r, c = flat // W, flat % k
            for bb in range(B):
                for cc in range(C):
                    rr = min(h * stride + int(r[bb, cc]), H - 1)
                    dx[bb, cc, rr, v * stride + int(c[bb, cc])] += dout[bb, cc, h, v]
    return dx
