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


def test_element_cap_is_checked_before_any_tensor_is_built():
    frame = encode({"a": torch.zeros(10), "b": torch.zeros(10)})
    assert decode(frame, max_elements=20)["a"].shape == (10,)
    with pytest.raises(WireError, match="tensor elements"):
        decode(frame, max_elements=15)


def test_json_node_cap():
    with pytest.raises(WireError, match="values in one message"):
        decode(encode(list(range(1000))), max_nodes=500)


def test_decoding_a_bytearray_does_not_copy_the_tensor_data():
    frame = bytearray(encode(torch.arange(1000, dtype=torch.float64)))
    t = decode(frame)
    frame[-8:] = b"\0" * 8  # the tensor is a view of the received frame
    assert t[-1] == 0


def test_every_string_goes_through_the_text_hook():
    out = decode(encode({"k\x1b[2J": ["v\x1b]0;t\x07", Opaque(1, "T\x1b[31m")]}),
                 text=lambda s: s.replace("\x1b", ""))
    key = next(iter(out))
    assert "\x1b" not in key and "\x1b" not in out[key][0] and "\x1b" not in out[key][1].type_name


def test_trusted_functions_travel_with_their_source():
    from grader.trusted import TrustedFunction

    A, c = torch.eye(2), torch.ones(2)
    fn = TrustedFunction("exercises.jacobians.checks", "affine_map", {"A": A, "c": c})
    back = decode(encode(fn), allow_functions=True)
    assert back.source.startswith("def affine_map")  # the child rebuilds it without importing the exercise
    assert torch.equal(back.resolve_bound()(torch.zeros(2)), c)
