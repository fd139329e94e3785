"""The wire format between the grader and the student's process.

A message is a JSON document plus raw byte buffers for tensor data. Decoding builds only tensors,
numpy arrays, numbers, strings, lists, tuples, dicts and opaque handles: nothing is unpickled, no
constructor named by the sender is called. Anything else the student returns becomes an
:class:`Opaque` handle that can only be passed back to the student's process.

Frame: ``!QI`` (JSON length, buffer count), the JSON bytes, then each buffer as ``!Q`` length + bytes.
"""

from __future__ import annotations

import json
import struct
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from grader.sandbox.frames import MAX_MESSAGE_BYTES, WireError, pack  # noqa: F401  (re-exported)

MAX_DEPTH = 64

_DTYPES: dict[str, torch.dtype] = {
    name: getattr(torch, name)
    for name in ("float64", "float32", "float16", "bfloat16", "complex64", "complex128",
                 "int64", "int32", "int16", "int8", "uint8", "bool")
}
_NP_DTYPES = {"float64", "float32", "float16", "complex64", "complex128", "int64", "int32", "int16", "int8",
              "uint8", "bool"}


@dataclass(frozen=True)
class Opaque:
    """A value that stays in the student's process (an opaque ``cache``, an unknown object)."""

    ref: int
    type_name: str

    def __repr__(self) -> str:
        return f"<{self.type_name} object kept in the student's process>"


@dataclass(frozen=True)
class Refused:
    """A value the student's process would not encode (tensor subclass, sparse tensor, ...)."""

    reason: str


# ---------------------------------------------------------------------------------------------
# encoding
class Encoder:
    """Turns a value into (json-able tree, buffers). ``keep`` decides what to do with other objects."""

    def __init__(self, keep: Any = None) -> None:
        self.buffers: list[bytes] = []
        self.keep = keep  # callable(obj) -> Opaque, or None to refuse unknown objects

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return value if abs(value) < 2**63 else {"$": "bigint", "v": str(value)}
        if isinstance(value, float):
            return {"$": "float", "v": repr(value)} if value != value or value in (float("inf"), float("-inf")) \
                else value
        if isinstance(value, torch.Tensor):
            return self._tensor(value)
        if isinstance(value, np.ndarray):
            return self._ndarray(value)
        if isinstance(value, np.generic):
            return self.encode(value.item(), depth)
        if isinstance(value, tuple | list):
            return {"$": type(value).__name__, "v": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            keys = list(value)
            if not all(isinstance(k, str | int) and not isinstance(k, bool) for k in keys):
                return self._other(value)
            return {"$": "dict", "k": keys, "v": [self.encode(value[k], depth + 1) for k in keys]}
        if isinstance(value, Opaque):
            return {"$": "ref", "id": value.ref, "type": value.type_name}
        return self._other(value)

    def _other(self, value: Any) -> Any:
        special = _encode_special(value, self)
        if special is not None:
            return special
        if self.keep is None:
            raise WireError(f"cannot send a value of type {type(value).__name__}")
        handle = self.keep(value)
        return {"$": "ref", "id": handle.ref, "type": handle.type_name}

    def _tensor(self, t: torch.Tensor) -> Any:
        if type(t) is not torch.Tensor and not isinstance(t, torch.nn.Parameter):
            return {"$": "refused", "reason": f"a torch.Tensor subclass ({type(t).__name__})"}
        with torch._C.DisableTorchFunctionSubclass():
            if t.layout != torch.strided:
                return {"$": "refused", "reason": f"a {t.layout} tensor (return a dense tensor)"}
            name = str(t.dtype).removeprefix("torch.")
            if name not in _DTYPES:
                return {"$": "refused", "reason": f"a tensor of dtype {name}"}
            device = t.device.type
            flat = t.detach().resolve_conj().resolve_neg().to("cpu").contiguous().reshape(-1)
            data = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
        self.buffers.append(data)
        return {"$": "tensor", "dtype": name, "shape": list(t.shape), "device": device,
                "buf": len(self.buffers) - 1}

    def _ndarray(self, a: np.ndarray) -> Any:
        name = a.dtype.name
        if name not in _NP_DTYPES or a.dtype.hasobject:
            return {"$": "refused", "reason": f"a numpy array of dtype {name}"}
        self.buffers.append(np.ascontiguousarray(a).tobytes())
        return {"$": "ndarray", "dtype": name, "shape": list(a.shape), "buf": len(self.buffers) - 1}


def _encode_special(value: Any, enc: Encoder) -> Any:
    """Trusted functions (parent → child) and sympy expressions (both ways)."""
    from grader.trusted import TrustedFunction

    if isinstance(value, TrustedFunction):
        return {"$": "fn", "module": value.module, "name": value.name, "kwargs": enc.encode(value.kwargs),
                "path": value.path}
    if "sympy" in sys.modules and isinstance(value, sys.modules["sympy"].Basic):
        from grader.symbolic.tree import to_tree

        try:
            return {"$": "sympy", "tree": to_tree(value)}
        except Exception as e:  # noqa: BLE001 - any failure means: not an expression we accept
            return {"$": "refused", "reason": f"a sympy object we cannot read ({e})"}
    return None


def encode(value: Any, keep: Any = None) -> bytes:
    enc = Encoder(keep)
    tree = enc.encode(value)
    head = json.dumps(tree, allow_nan=False).encode()
    parts = [struct.pack("!QI", len(head), len(enc.buffers)), head]
    for b in enc.buffers:
        parts += [struct.pack("!Q", len(b)), b]
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------
# decoding
class Decoder:
    def __init__(self, buffers: list[bytes], *, sympy_symbols: Any = None, device_ok: bool = True,
                 allow_functions: bool = False) -> None:
        self.buffers = buffers
        self.sympy_symbols = sympy_symbols
        self.allow_functions = allow_functions

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            raise WireError("bare list in message")
        if not isinstance(node, dict) or "$" not in node:
            raise WireError("malformed node")
        kind = node["$"]
        if kind in ("list", "tuple"):
            items = [self.decode(v, depth + 1) for v in _as_list(node.get("v"))]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            keys, vals = _as_list(node.get("k")), _as_list(node.get("v"))
            if len(keys) != len(vals) or not all(isinstance(k, str | int) for k in keys):
                raise WireError("malformed dict")
            return {k: self.decode(v, depth + 1) for k, v in zip(keys, vals, strict=True)}
        if kind == "tensor":
            return self._tensor(node)
        if kind == "ndarray":
            return self._ndarray(node)
        if kind == "float":
            if node.get("v") not in ("nan", "inf", "-inf"):
                raise WireError("malformed float")
            return float(node["v"])
        if kind == "bigint":
            v = str(node.get("v"))
            if len(v) > 400:
                raise WireError("integer too large")
            return int(v)
        if kind == "ref":
            return Opaque(int(node["id"]), str(node.get("type", "object"))[:100])
        if kind == "refused":
            return Refused(str(node.get("reason", "unknown"))[:300])
        if kind == "sympy":
            from grader.symbolic import SymbolicError
            from grader.symbolic.tree import from_tree

            try:
                return from_tree(node.get("tree"), self.sympy_symbols)
            except (SymbolicError, RecursionError) as e:
                return Refused(f"an expression the grader refuses to read ({e})")
        if kind == "fn" and self.allow_functions:
            return self._function(node)
        raise WireError(f"unknown node kind {kind!r}")

    def _buffer(self, node: dict, itemsize: int, shape: list[int]) -> bytes:
        idx = node.get("buf")
        if not isinstance(idx, int) or not 0 <= idx < len(self.buffers):
            raise WireError("bad buffer index")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape) or len(shape) > 32:
            raise WireError("bad shape")
        numel = 1
        for s in shape:
            numel *= s
        data = self.buffers[idx]
        if len(data) != numel * itemsize:
            raise WireError("buffer size does not match shape")
        return data

    def _tensor(self, node: dict) -> torch.Tensor:
        dtype = _DTYPES.get(node.get("dtype"))  # type: ignore[arg-type]
        if dtype is None:
            raise WireError("unknown dtype")
        shape = node.get("shape")
        itemsize = torch.empty((), dtype=dtype).element_size()
        data = self._buffer(node, itemsize, shape)  # type: ignore[arg-type]
        t = torch.frombuffer(bytearray(data), dtype=dtype) if data else torch.empty(0, dtype=dtype)
        t = t.reshape(shape)  # type: ignore[arg-type]
        device = node.get("device", "cpu")
        if device == "cuda" and torch.cuda.is_available():
            t = t.to("cuda")
        elif device not in ("cpu", "cuda"):
            raise WireError("unknown device")
        return t

    def _ndarray(self, node: dict) -> np.ndarray:
        name = node.get("dtype")
        if name not in _NP_DTYPES:
            raise WireError("unknown dtype")
        dt = np.dtype(name)
        shape = node.get("shape")
        data = self._buffer(node, dt.itemsize, shape)  # type: ignore[arg-type]
        return np.frombuffer(bytearray(data), dtype=dt).reshape(shape)

    def _function(self, node: dict) -> Any:
        from grader.trusted import TrustedFunction

        fn = TrustedFunction(str(node["module"]), str(node["name"]), self.decode(node["kwargs"]),
                             str(node.get("path", "")))
        fn.resolve()  # refuses modules outside the allowed prefixes
        return fn


def _as_list(v: Any) -> list:
    if not isinstance(v, list):
        raise WireError("expected a list")
    return v


def decode(frame: bytes, **kw: Any) -> Any:
    """Decode one complete frame (as produced by :func:`encode`)."""
    if len(frame) < 12:
        raise WireError("short frame")
    head_len, nbuf = struct.unpack_from("!QI", frame, 0)
    pos = 12
    if head_len > len(frame) - pos or nbuf > 100_000:
        raise WireError("bad frame header")
    head = frame[pos:pos + head_len]
    pos += head_len
    buffers = []
    for _ in range(nbuf):
        if pos + 8 > len(frame):
            raise WireError("truncated frame")
        (n,) = struct.unpack_from("!Q", frame, pos)
        pos += 8
        if pos + n > len(frame):
            raise WireError("truncated buffer")
        buffers.append(frame[pos:pos + n])
        pos += n
    if pos != len(frame):
        raise WireError("trailing bytes")
    try:
        tree = json.loads(head)
    except (ValueError, RecursionError) as e:
        raise WireError(f"bad JSON: {e}") from None
    return Decoder(buffers, **kw).decode(tree)

