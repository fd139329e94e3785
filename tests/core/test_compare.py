"""Comparison messages, in the style of torch.testing.assert_close."""

import torch

from grader.compare import compare_tree
from grader.tolerances import tolerance


def cmp(actual, expected, dtype=torch.float64):
    return compare_tree("dW3", actual, expected, tol=tolerance(dtype), dtype=dtype, device=torch.device("cpu"))


def test_value_mismatch_message():
    e = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    a = e.clone()
    a[1, 2] = 100.0
    m = cmp(a, e)
    assert m.message == "dW3: Tensor-likes are not close!"
    assert m.details.splitlines() == [
        "Mismatched elements: 1 / 12 (8.3%)",
        "Greatest absolute difference: 94 at index (1, 2) (up to 1e-09 allowed)",
        "Greatest relative difference: 15.6667 at index (1, 2) (up to 1e-07 allowed)",
        "At index (1, 2): yours 100, expected 6",
    ]


def test_close_values_pass_and_float32_tolerance_is_looser():
    e = torch.randn(5, 3, dtype=torch.float64)
    assert cmp(e + 1e-12, e) is None
    assert cmp((e + 1e-6).float(), e, torch.float32) is None


def test_shape_dtype_device_and_type_messages():
    e = torch.zeros(3, 2, dtype=torch.float64)
    assert cmp(torch.zeros(2, 3, dtype=torch.float64), e).message == "dW3 has shape (2, 3), expected (3, 2)"
    assert "transposed" in cmp(torch.zeros(2, 3, dtype=torch.float64), e).details
    assert cmp(torch.zeros(3, 2), e).message == "dW3 has dtype float32, expected float64 (the dtype of the inputs)"
    assert cmp([1, 2], e).message == "dW3 should be a tensor of shape (3, 2), got a list of length 2"
    assert cmp(1.5, torch.tensor(1.5, dtype=torch.float64)).message.startswith("dW3 should be a 0-dim tensor")


def test_nan_is_reported_with_count_and_index():
    e = torch.ones(4, dtype=torch.float64)
    a = e.clone()
    a[2] = float("nan")
    m = cmp(a, e)
    assert m.message == "dW3 contains NaN in 1 / 4 entries where a finite value is expected"
    assert "index (2,)" in m.details


def test_structures_name_the_leaf():
    e = {"W1": torch.zeros(2, dtype=torch.float64), "b1": torch.zeros(2, dtype=torch.float64)}
    a = {"W1": torch.zeros(2, dtype=torch.float64)}
    m = compare_tree("grads", a, e, tol=tolerance(torch.float64), dtype=torch.float64, device=None)
    assert m.message == "grads is missing key(s) 'b1'"
    a = {"W1": torch.zeros(2, dtype=torch.float64), "b1": torch.ones(2, dtype=torch.float64)}
    m = compare_tree("grads", a, e, tol=tolerance(torch.float64), dtype=torch.float64, device=None)
    assert m.message == "grads['b1']: Tensor-likes are not close!"


def test_unravel_and_zero_dim_index():
    from grader.compare import unravel

    assert unravel(7, (3, 4)) == (1, 3)
    assert unravel(0, ()) == ()
    m = cmp(torch.tensor(float("nan"), dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64))
    assert m.message == "dW3 contains NaN in 1 / 1 entries where a finite value is expected"
    assert m.details == "First at index (), where 2 is expected."
