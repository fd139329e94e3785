"""reference/conv.py against independent oracles: torch.nn.functional's convolutions and pooling, and
autograd through them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reference import conv as ref

CONV2D = [
    ((2, 3, 7, 6), (4, 3, 3, 2), 1, 0, 1),
    ((2, 2, 9, 8), (3, 2, 3, 3), 2, 1, 1),
    ((1, 3, 8, 10), (2, 3, 2, 3), (2, 3), (1, 0), (2, 1)),
    ((3, 1, 6, 7), (2, 1, 3, 3), 1, 2, 2),
    ((2, 2, 10, 9), (3, 2, 3, 2), 3, (0, 1), 1),
    ((1, 1, 5, 5), (1, 1, 5, 5), 1, 0, 1),
]
CONV1D = [((2, 3, 11), (4, 3, 3), 1, 0, 1), ((3, 2, 12), (2, 2, 3), 2, 1, 2), ((1, 1, 9), (1, 1, 4), 3, 2, 1)]
DTYPES = [torch.float64, torch.float32]


def leaves(xs, ws, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64).to(dtype).requires_grad_(True)
            for s in (xs, ws, (ws[0],))]


def tol(dtype):
    return {"rtol": 1e-10, "atol": 1e-10} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs, ws, s, p, d", CONV2D)
def test_conv2d_forward_and_backward_match_torch(xs, ws, s, p, d, dtype):
    x, w, b = leaves(xs, ws, dtype)
    out = F.conv2d(x, w, b, s, p, d)
    ours = ref.conv2d_forward(x.detach(), w.detach(), b.detach(), s, p, d)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, out.detach(), **tol(dtype))
    dout = torch.randn_like(out)
    expected = torch.autograd.grad(out, (x, w, b), dout)
    for mine, theirs in zip(ref.conv2d_backward(dout, x.detach(), w.detach(), b.detach(), s, p, d), expected,
                            strict=True):
        torch.testing.assert_close(mine, theirs, **tol(dtype))


@pytest.mark.parametrize("xs, ws, s, p, d", CONV1D)
def test_conv1d_forward_and_backward_match_torch(xs, ws, s, p, d):
    x, w, b = leaves(xs, ws, torch.float64, seed=1)
    out = F.conv1d(x, w, b, s, p, d)
    torch.testing.assert_close(ref.conv1d_forward(x.detach(), w.detach(), b.detach(), s, p, d), out.detach())
    dout = torch.randn_like(out)
    expected = torch.autograd.grad(out, (x, w, b), dout)
    for mine, theirs in zip(ref.conv1d_backward(dout, x.detach(), w.detach(), b.detach(), s, p, d), expected,
                            strict=True):
        torch.testing.assert_close(mine, theirs)


@pytest.mark.parametrize("n, k, s, p, d", [(7, 3, 1, 0, 1), (8, 3, 2, 1, 1), (10, 3, 3, 0, 1), (9, 3, 2, 2, 2),
                                           (5, 5, 1, 0, 1), (6, 2, 4, 1, 3)])
def test_conv_output_size_is_the_shape_torch_produces(n, k, s, p, d):
    out = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), None, s, p, d)
    assert ref.conv_output_size(n, k, s, p, d) == out.shape[-1]


@pytest.mark.parametrize("xs, k, s", [((2, 3, 6, 7), 2, 2), ((1, 2, 7, 7), 3, 2), ((2, 1, 5, 8), 3, 1)])
def test_pooling_matches_torch(xs, k, s):
    x = torch.randn(*xs, dtype=torch.float64, requires_grad=True)
    for ours_f, ours_b, theirs in ((ref.maxpool2d_forward, ref.maxpool2d_backward, F.max_pool2d),
                                   (ref.avgpool2d_forward, ref.avgpool2d_backward, F.avg_pool2d)):
        out = theirs(x, k, s)
        torch.testing.assert_close(ours_f(x.detach(), k, s), out.detach())
        dout = torch.randn_like(out)
        torch.testing.assert_close(ours_b(dout, x.detach(), k, s), torch.autograd.grad(out, x, dout)[0])


def test_max_pool_tie_goes_to_the_first_maximum_like_torch():
    x = torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]]], requires_grad=True)
    dout = torch.tensor([[[[2.0]]]])
    dx = ref.maxpool2d_backward(dout, x.detach(), 2, 2)
    assert dx.flatten().tolist() == [2.0, 0.0, 0.0, 0.0]
    torch.testing.assert_close(dx, torch.autograd.grad(F.max_pool2d(x, 2, 2), x, dout)[0])
