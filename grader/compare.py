"""Compare a student's value with the expected one, and say how they differ.

Messages follow ``torch.testing.assert_close``: the name of the tensor, mismatched count out of total,
the greatest absolute and relative difference with their index, and the tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from grader.format import dtype_name, fmt_index, fmt_shape
from grader.format import num as _num
from grader.tolerances import Tolerance


@dataclass
class Mismatch:
    """Why ``actual`` is not ``expected``. ``kind`` is one of: type, structure, shape, dtype, device,
    nonfinite, value. ``actual``/``expected`` are the offending leaves (for diagnosis)."""

    kind: str
    label: str
    message: str
    details: str = ""
    actual: Any = None
    expected: Any = None
    index: tuple[int, ...] | None = None


def describe(value: Any) -> str:
    """A short description of a value: ``tensor (3, 2) float32``, ``dict with keys ['a']``..."""
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {fmt_shape(value.shape)} and dtype {dtype_name(value.dtype)}"
    if isinstance(value, Mapping):
        return f"a dict with keys {sorted(map(str, value))}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of length {len(value)}"
    if value is None:
        return "None"
    type_name = getattr(value, "type_name", None)  # an Opaque handle from the sandbox
    if type_name is not None:
        return f"an object of type {type_name}"
    return f"a {type(value).__name__}"


def compare_tree(
    label: str,
    actual: Any,
    expected: Any,
    *,
    tol: Tolerance,
    dtype: torch.dtype | None,
    device: torch.device | None,
) -> Mismatch | None:
    """Walk ``expected``'s structure (tensors, tuples, lists, dicts, numbers) and compare leaf by leaf.

    ``dtype``/``device``: what every floating tensor of the student must have (None: don't check).
    """
    if isinstance(expected, torch.Tensor):
        return _compare_tensor_leaf(label, actual, expected, tol=tol, dtype=dtype, device=device)
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return Mismatch("type", label, f"{label} should be a dict, got {describe(actual)}")
        missing = [k for k in expected if k not in actual]
        if missing:
            return Mismatch("structure", label, f"{label} is missing key(s) {', '.join(map(repr, missing))}",
                            details=f"expected keys: {list(expected)}; yours: {list(actual)}")
        for k in expected:
            m = compare_tree(f"{label}[{k!r}]", actual[k], expected[k], tol=tol, dtype=dtype, device=device)
            if m:
                return m
        return None
    if isinstance(expected, tuple | list):
        if not isinstance(actual, tuple | list):
            return Mismatch("type", label,
                            f"{label} should be a tuple of {len(expected)} values, got {describe(actual)}")
        if len(actual) != len(expected):
            return Mismatch("structure", label,
                            f"{label} should have {len(expected)} values, got {len(actual)}")
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            m = compare_tree(f"{label}[{i}]", a, e, tol=tol, dtype=dtype, device=device)
            if m:
                return m
        return None
    if isinstance(expected, bool | int) and not isinstance(expected, float):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1 and not actual.is_floating_point():
            actual = int(actual.item())
        if not isinstance(actual, int) or isinstance(actual, bool) != isinstance(expected, bool):
            return Mismatch("type", label, f"{label} should be an integer, got {describe(actual)}")
        if actual != expected:
            return Mismatch("value", label, f"{label} is {actual}, expected {expected}", actual=actual,
                            expected=expected)
        return None
    if isinstance(expected, float):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1:
            actual = float(actual.item())
        if not isinstance(actual, int | float) or isinstance(actual, bool):
            return Mismatch("type", label, f"{label} should be a number, got {describe(actual)}")
        return _compare_tensor_values(label, torch.tensor(float(actual), dtype=torch.float64),
                                      torch.tensor(expected, dtype=torch.float64), tol)
    if expected is None:
        return None if actual is None else Mismatch("type", label, f"{label} should be None")
    raise TypeError(f"cannot compare expected value of type {type(expected).__name__}")


def _compare_tensor_leaf(label: str, actual: Any, expected: torch.Tensor, *, tol: Tolerance,
                         dtype: torch.dtype | None, device: torch.device | None) -> Mismatch | None:
    if isinstance(actual, int | float) and not isinstance(actual, bool) and expected.dim() == 0:
        return Mismatch("type", label,
                        f"{label} should be a 0-dim tensor, got a Python {type(actual).__name__}",
                        details="Return a tensor (e.g. `(r ** 2).sum()`), not `.item()`: "
                                "the dtype and device must follow the inputs.",
                        actual=actual, expected=expected)
    if not isinstance(actual, torch.Tensor):
        return Mismatch("type", label, f"{label} should be a tensor of shape {fmt_shape(expected.shape)}, "
                        f"got {describe(actual)}", actual=actual, expected=expected)
    if tuple(actual.shape) != tuple(expected.shape):
        hint = ""
        if actual.dim() == 2 and expected.dim() == 2 and tuple(actual.shape) == tuple(expected.shape)[::-1]:
            hint = "Its shape is the expected one transposed."
        elif actual.numel() == expected.numel():
            hint = "It has the right number of entries: a reshape, a transpose or a missing squeeze?"
        return Mismatch("shape", label, f"{label} has shape {fmt_shape(actual.shape)}, "
                        f"expected {fmt_shape(expected.shape)}", details=hint, actual=actual,
                        expected=expected)
    if expected.is_floating_point() and dtype is not None and actual.dtype != dtype:
        return Mismatch("dtype", label, f"{label} has dtype {dtype_name(actual.dtype)}, expected "
                        f"{dtype_name(dtype)} (the dtype of the inputs)",
                        details="Create new tensors with dtype=x.dtype (or torch.zeros_like) "
                                "instead of the default dtype.", actual=actual, expected=expected)
    if device is not None and actual.device.type != torch.device(device).type:
        return Mismatch("device", label, f"{label} is on device {actual.device.type}, expected "
                        f"{torch.device(device).type} (the device of the inputs)",
                        details="Create new tensors with device=x.device.", actual=actual, expected=expected)
    if not expected.is_floating_point() and not expected.is_complex():
        if actual.is_floating_point() or not torch.equal(actual.cpu().long(), expected.cpu().long()):
            return _compare_tensor_values(label, actual, expected, tol)
        return None
    return _compare_tensor_values(label, actual, expected, tol)


def _compare_tensor_values(label: str, actual: torch.Tensor, expected: torch.Tensor,
                           tol: Tolerance) -> Mismatch | None:
    a = actual.detach().to("cpu", torch.float64)
    e = expected.detach().to("cpu", torch.float64)
    total = e.numel()
    if total == 0:
        return None
    a_bad = ~torch.isfinite(a)
    e_bad = ~torch.isfinite(e)
    nonfinite = a_bad & ~e_bad
    if nonfinite.any():
        n = int(nonfinite.sum())
        idx = unravel(int(nonfinite.flatten().nonzero()[0]), e.shape)
        kinds = []
        if torch.isnan(a[nonfinite]).any():
            kinds.append("NaN")
        if torch.isinf(a[nonfinite]).any():
            kinds.append("inf")
        what = " and ".join(kinds)
        return Mismatch("nonfinite", label,
                        f"{label} contains {what} in {n} / {total} entries where a finite value is expected",
                        details=f"First at index {fmt_index(idx)}, where {_num(float(e[idx]))} is expected.",
                        actual=actual, expected=expected, index=idx)
    diff = (a - e).abs()
    same_special = (a == e) | (torch.isnan(a) & torch.isnan(e))  # the same infinity, or NaN where NaN is due
    diff = torch.where(e_bad & same_special, torch.zeros_like(diff), diff)
    diff = torch.nan_to_num(diff, nan=float("inf"), posinf=float("inf"))
    allowed = tol.atol + tol.rtol * torch.nan_to_num(e.abs(), nan=0.0, posinf=0.0)
    bad = (diff > allowed) | (e_bad & ~same_special)
    if not bad.any():
        return None
    n = int(bad.sum())
    abs_i = unravel(int(diff.flatten().argmax()), e.shape)
    rel = diff / e.abs().clamp_min(torch.finfo(torch.float64).tiny)
    rel = torch.nan_to_num(torch.where(diff == 0, torch.zeros_like(rel), rel), nan=float("inf"))
    rel_i = unravel(int(rel.flatten().argmax()), e.shape)
    lines = [
        f"Mismatched elements: {n} / {total} ({100.0 * n / total:.1f}%)",
        f"Greatest absolute difference: {_num(float(diff[abs_i]))} at index {fmt_index(abs_i)} "
        f"(up to {tol.atol:g} allowed)",
        f"Greatest relative difference: {_num(float(rel[rel_i]))} at index {fmt_index(rel_i)} "
        f"(up to {tol.rtol:g} allowed)",
        f"At index {fmt_index(abs_i)}: yours {_num(float(a[abs_i]))}, expected {_num(float(e[abs_i]))}",
    ]
    noun = "Scalars are" if total == 1 else "Tensor-likes are"
    return Mismatch("value", label, f"{label}: {noun} not close!", details="\n".join(lines),
                    actual=actual, expected=expected, index=abs_i)


def unravel(flat: int, shape: Sequence[int]) -> tuple[int, ...]:
    """The index of entry ``flat`` of a row-major tensor of ``shape``."""
    idx = []
    for s in reversed(tuple(shape)):
        idx.append(flat % s)
        flat //= s
    return tuple(reversed(idx))


def allclose_tree(actual: Any, expected: Any, tol: Tolerance) -> bool:
    """True if the two structures agree within ``tol`` (no dtype/device requirement)."""
    try:
        return compare_tree("x", actual, expected, tol=tol, dtype=None, device=None) is None
    except TypeError:
        return False
