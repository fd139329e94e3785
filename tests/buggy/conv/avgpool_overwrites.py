# allowed-diagnoses:
"""Average-pool backward assigns each window's share instead of adding it: wrong where windows overlap."""
import torch

from reference.conv import (  # noqa: F401
    avgpool2d_forward,
    conv1d_backward,
    conv1d_forward,
    conv2d_backward,
    conv2d_forward,
    conv_output_size,
    maxpool2d_backward,
    maxpool2d_forward,
)


def avgpool2d_backward(dout, x, k, stride):
    dx = torch.zeros_like(x)
    for h in range(dout.shape[2]):
        for v in range(dout.shape[3]):
            dx[:, :, h * stride:h * stride + k, v * stride:v * stride + k] = dout[:, :, h, v, None, None] / (k * k)
    return dx
