"""The `conv` checks, graded through the sandbox: the reference and other correct solutions (a loop over
output positions; max-pool gradients split among tied maxima, or given to the last one) get full marks,
library convolutions are refused, the gradient engine locates a wrong dw entry, and the key messages
say what they should."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from exercise_helpers import bound, explain, failures

from grader.api import GradeOptions, grade
from grader.mistakes import load_book

EXERCISE = "conv"
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference" / f"{EXERCISE}.py"
BOOK = load_book(EXERCISE)
write, grade_source, grade_mistake = bound(EXERCISE)


def test_reference_gets_full_marks(sandbox):
    result = grade(EXERCISE, REFERENCE, GradeOptions(seed=5), sandbox=sandbox)
    assert result.full_marks, explain(result)
    assert result.problems == []


LOOPS = '''
import torch

def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)

def conv_output_size(n, k, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1

def conv2d_forward(x, w, b, stride=1, padding=0, dilation=1):
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    B, C, H, W = x.shape
    F, _, kh, kw = w.shape
    Ho, Wo = conv_output_size(H, kh, sh, ph, dh), conv_output_size(W, kw, sw, pw, dw)
    xp = torch.zeros(B, C, H + 2 * ph, W + 2 * pw, dtype=x.dtype, device=x.device)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    out = torch.empty(B, F, Ho, Wo, dtype=x.dtype, device=x.device)
    for h in range(Ho):
        for v in range(Wo):
            patch = xp[:, :, h * sh:h * sh + dh * (kh - 1) + 1:dh, v * sw:v * sw + dw * (kw - 1) + 1:dw]
            out[:, :, h, v] = (patch[:, None] * w[None]).sum(dim=(2, 3, 4)) + b
    return out

def conv2d_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    B, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = torch.zeros(B, C, H + 2 * ph, W + 2 * pw, dtype=x.dtype, device=x.device)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    dxp, gw = torch.zeros_like(xp), torch.zeros_like(w)
    for h in range(dout.shape[2]):
        for v in range(dout.shape[3]):
            rows = slice(h * sh, h * sh + dh * (kh - 1) + 1, dh)
            cols = slice(v * sw, v * sw + dw * (kw - 1) + 1, dw)
            g = dout[:, :, h, v]                                         # (B, F)
            gw += (g[:, :, None, None, None] * xp[:, None, :, rows, cols]).sum(0)
            dxp[:, :, rows, cols] += (g[:, :, None, None, None] * w[None]).sum(1)
    return dxp[:, :, ph:ph + H, pw:pw + W], gw, dout.sum(dim=(0, 2, 3))

def conv1d_forward(x, w, b, stride=1, padding=0, dilation=1):
    return conv2d_forward(x.unsqueeze(2), w.unsqueeze(2), b, (1, stride), (0, padding), (1, dilation)).squeeze(2)

def conv1d_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
    dx, dw, db = conv2d_backward(dout.unsqueeze(2), x.unsqueeze(2), w.unsqueeze(2), b, (1, stride), (0, padding),
                                 (1, dilation))
    return dx.squeeze(2), dw.squeeze(2), db

def _windows(x, k, s):
    Ho, Wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    for h in range(Ho):
        for v in range(Wo):
            yield h, v, (slice(None), slice(None), slice(h * s, h * s + k), slice(v * s, v * s + k))

def maxpool2d_forward(x, k, stride):
    Ho, Wo = (x.shape[2] - k) // stride + 1, (x.shape[3] - k) // stride + 1
    out = torch.empty(x.shape[0], x.shape[1], Ho, Wo, dtype=x.dtype, device=x.device)
    for h, v, wh in _windows(x, k, stride):
        out[:, :, h, v] = x[wh].amax(dim=(2, 3))
    return out

def maxpool2d_backward(dout, x, k, stride):
    dx = torch.zeros_like(x)
    for h, v, wh in _windows(x, k, stride):
        win = x[wh]
        is_max = (win == win.amax(dim=(2, 3), keepdim=True)).to(x.dtype)
        SHARE
        dx[wh] += share * dout[:, :, h, v, None, None]
    return dx

def avgpool2d_forward(x, k, stride):
    Ho, Wo = (x.shape[2] - k) // stride + 1, (x.shape[3] - k) // stride + 1
    out = torch.empty(x.shape[0], x.shape[1], Ho, Wo, dtype=x.dtype, device=x.device)
    for h, v, wh in _windows(x, k, stride):
        out[:, :, h, v] = x[wh].mean(dim=(2, 3))
    return out

def avgpool2d_backward(dout, x, k, stride):
    dx = torch.zeros_like(x)
    for h, v, wh in _windows(x, k, stride):
        dx[wh] += dout[:, :, h, v, None, None] / (k * k)
    return dx
'''
# ties: the gradient split equally among the tied maxima
EQUAL_SPLIT = LOOPS.replace("SHARE", "share = is_max / is_max.sum(dim=(2, 3), keepdim=True)")
# ties: everything to the last maximum in row-major order
LAST_MAX = LOOPS.replace("SHARE", """flat = is_max.flatten(2)
        last = flat.shape[2] - 1 - flat.flip(2).argmax(dim=2)
        share = torch.nn.functional.one_hot(last, flat.shape[2]).to(x.dtype).reshape(is_max.shape)""")


@pytest.mark.parametrize("source", [EQUAL_SPLIT, LAST_MAX], ids=["loops-equal-split", "loops-last-max"])
@pytest.mark.parametrize("seed", range(3))
def test_loop_based_solutions_with_any_tie_rule_get_full_marks(sandbox, tmp_path, source, seed):
    result = grade_source(sandbox, tmp_path, source, seed)
    assert result.full_marks, explain(result)


def test_loop_based_solution_in_float32(sandbox, tmp_path):
    result = grade_source(sandbox, tmp_path, EQUAL_SPLIT, 4, dtypes=(torch.float32,))
    assert result.full_marks, explain(result)


def test_the_book_has_the_expected_mistakes():
    ids = {m.id for m in BOOK}
    assert len(ids) >= 10
    assert {"flipped_kernel", "output_size_missing_plus_one", "dilation_ignored", "bias_grad_averaged",
            "bias_grad_first_sample", "overlap_overwritten", "padding_cropped_one_side", "maxpool_grad_everywhere",
            "avgpool_grad_not_divided"} <= ids


FUNCTIONAL = '''
import torch.nn.functional as F
from reference.conv import *

def conv2d_forward(x, w, b, stride=1, padding=0, dilation=1):
    return F.conv2d(x, w, b, stride, padding, dilation)
'''


def test_library_convolution_is_forbidden(sandbox, tmp_path):
    result = grade_source(sandbox, tmp_path, FUNCTIONAL)
    assert any("torch.nn.functional.conv2d" in p for p in result.problems), result.problems
    failed = failures(result)
    assert set(failed) == {"conv2d_forward_plain", "conv2d_forward_stride_padding_dilation"}, explain(result)
    c = failed["conv2d_forward_plain"]
    assert c.status == "error" and "forbid" in c.message and "slices or loops" in c.advice


def test_overwritten_windows_fail_only_where_windows_overlap(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "overlap_overwritten"))
    # the gradcheck geometry overlaps too: a dilated kernel of span 3 with stride 2
    assert set(failed) == {"conv1d_backward", "conv2d_backward_input", "conv2d_gradcheck"}
    assert failed["conv2d_gradcheck"].mistake == "overlap_overwritten"
    c = failed["conv2d_backward_input"]
    assert "dx of conv2d_backward" in c.message and c.mistake == "overlap_overwritten"
    assert "dx[window] += …" in c.advice


def test_max_pool_gradient_everywhere_is_named_at_ties_too(sandbox, tmp_path):
    failed = failures(grade_mistake(sandbox, tmp_path, "maxpool_grad_everywhere"))
    assert set(failed) == {"maxpool_backward", "maxpool_ties"}
    c = failed["maxpool_ties"]
    assert "not a maximum of its window" in c.message and "Tie rule" in c.details
    assert c.mistake == "maxpool_grad_everywhere"


ONE_WRONG_DW_ENTRY = '''
from reference.conv import *
from reference.conv import conv2d_backward as _backward

def conv2d_backward(dout, x, w, b, stride=1, padding=0, dilation=1):
    dx, dw, db = _backward(dout, x, w, b, stride, padding, dilation)
    dw = dw.clone()
    dw[-1, -1, 0, 1] += 0.5
    return dx, dw, db
'''


def test_gradient_engine_locates_a_wrong_dw_entry(sandbox, tmp_path):
    failed = failures(grade_source(sandbox, tmp_path, ONE_WRONG_DW_ENTRY))
    assert "conv2d_gradcheck" in failed and "conv2d_backward_input" not in failed
    c = failed["conv2d_gradcheck"]
    text = c.message + c.details
    assert "w(1, 2, 0, 1): claimed" in text and "dw is right except for 1 of 36 entries" in text, text
    assert c.mistake not in {m.id for m in BOOK}  # no known mistake is named for it


def test_statement_explains_the_conventions():
    text = (ROOT / "exercises" / EXERCISE / "statement.md").read_text(encoding="utf-8")
    assert "cross-correlation" in text and "⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1" in text
    assert "+=" in text and "overlap" in text and "Tie rule" in text
