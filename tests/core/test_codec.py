"""The wire format: round trips, and refusal of everything that is not plain data."""

import pickle
import struct

import numpy as np
import pytest
import torch

from grader.sandbox.codec import Opaque, Refused, WireError, decode, encode


def roundtrip(v, **kw):
    return decode(encode(v, **kw))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64,
                                   torch.bool, torch.complex64])
def test_tensor_round_trip_keeps_dtype_shape_and_values(dtype):
    t = (torch.randn(3, 4) * 10).to(dtype)
    out = roundtrip(t)
    assert out.dtype == dtype and out.shape == t.shape and torch.equal(out, t)


def test_non_contiguous_zero_dim_and_empty_tensors():
    t = torch.randn(4, 3).T
    assert torch.equal(roundtrip(t), t)
    assert roundtrip(torch.tensor(2.5)).shape == ()
    assert roundtrip(torch.zeros(0, 3)).shape == (0, 3)


def test_containers_and_plain_values():
    v = {"a": (1, 2.5, "s", None, True), "b": [np.arange(3)], 3: float("nan")}
    out = roundtrip(v)
    assert out["a"] == (1, 2.5, "s", None, True)
    assert np.array_equal(out["b"][0], np.arange(3))
    assert out[3] != out[3]


def test_tensor_subclass_is_refused_not_sent():
    class Sneaky(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            raise RuntimeError("student code ran")

    out = roundtrip(torch.randn(2).as_subclass(Sneaky))
    assert isinstance(out, Refused) and "subclass (Sneaky)" in out.reason


def test_unknown_objects_become_opaque_handles_or_are_refused():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    assert isinstance(roundtrip(Evil(), keep=lambda o: Opaque(7, type(o).__name__)), Opaque)
    with pytest.raises(WireError):
        encode(Evil())


def test_a_pickle_is_never_decoded():
    frame = pickle.dumps({"x": 1})
    with pytest.raises(WireError):
        decode(frame)


@pytest.mark.parametrize("tree", [
    b'{"$": "tensor", "dtype": "float32", "shape": [1000], "buf": 0}',  # buffer too small
    b'{"$": "tensor", "dtype": "object", "shape": [1], "buf": 0}',
    b'{"$": "pickle", "v": "gASV"}',
    b'{"$": "fn", "module": "os", "name": "system", "kwargs": {"$": "dict", "k": [], "v": []}}',
    b'[1, 2]',
    b'{"$": "bigint", "v": "' + b"9" * 5000 + b'"}',
])
def test_malformed_or_hostile_frames_are_rejected(tree):
    frame = struct.pack("!QI", len(tree), 1) + tree + struct.pack("!Q", 4) + b"\0\0\0\0"
    with pytest.raises(WireError):
        decode(frame)


def test_trusted_functions_only_from_grader_modules():
    from grader.trusted import TrustedFunction

    fn = TrustedFunction("os", "system", {})
    with pytest.raises(ValueError, match="may only come from"):
        decode(encode(fn), allow_functions=True)
