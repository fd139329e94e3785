"""A hostile submission that implements nothing: it replays the reference's outputs recorded during a
grading at a public seed, looked up by a hash of the inputs (issue 12: such a file got full marks at
seed 0). :func:`recording` records them; :func:`replay_source` writes the file."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from grader.exercises import Exercise

# Shared by the recorder (here) and the generated file (exec'd there): the same key on both sides. Tensors
# are keyed by their float64 values (the grader runs the reference in float64 on the student's inputs).
KEY_SOURCE = '''
import hashlib as _hashlib, json as _json

def _enc(x):
    if isinstance(x, torch.Tensor):
        v = x.detach().cpu()
        return ["T", list(v.shape), (v.double() if v.is_floating_point() else v).reshape(-1).tolist()]
    if isinstance(x, (list, tuple)):
        return ["L", [_enc(e) for e in x]]
    if isinstance(x, dict):
        return ["D", sorted([str(k), _enc(e)] for k, e in x.items())]
    return ["V", repr(x)]

def _key(name, args, kwargs):
    return _hashlib.sha256(_json.dumps([name, _enc(list(args)), _enc(kwargs)]).encode()).hexdigest()
'''
_ns: dict[str, Any] = {"torch": torch}
exec(KEY_SOURCE, _ns)  # noqa: S102 - our own constant source
key = _ns["_key"]


def encode_output(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return ["T", list(x.shape), x.detach().cpu().double().reshape(-1).tolist()]
    if isinstance(x, list | tuple):
        return ["L", [encode_output(e) for e in x]]
    if isinstance(x, dict):
        return ["D", [[str(k), encode_output(e)] for k, e in x.items()]]
    return ["V", x]


def _all_float64(args: tuple, kwargs: dict) -> bool:
    tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor) and a.is_floating_point()]
    return all(t.dtype == torch.float64 for t in tensors)


@contextmanager
def recording(ex: Exercise) -> Iterator[dict[str, Any]]:
    """Every call of the reference's API functions (in float64, as the checks make them) while the block
    runs: hash of the inputs -> encoded output."""
    table: dict[str, Any] = {}
    module = ex.reference
    originals = {name: getattr(module, name) for name in ex.spec.functions}

    def wrap(name: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def recorded(*args: Any, **kwargs: Any) -> Any:
            k = key(name, args, kwargs) if _all_float64(args, kwargs) else None
            out = fn(*args, **kwargs)
            if k is not None:
                table.setdefault(k, encode_output(out))
            return out

        return recorded

    for name, fn in originals.items():
        setattr(module, name, wrap(name, fn))
    try:
        yield table
    finally:
        for name, fn in originals.items():
            setattr(module, name, fn)


def replay_source(functions: list[str], table: dict[str, Any]) -> str:
    """A submission whose every API function looks its inputs up in ``table`` (unknown inputs raise)."""
    lines = ["import torch", KEY_SOURCE, f"TABLE = _json.loads({json.dumps(table)!r})", '''
def _dtype(args, kwargs):
    for a in (*args, *kwargs.values()):
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            return a.dtype
    return torch.float64

def _dec(e, dtype):
    if e[0] == "T":
        return torch.tensor(e[2], dtype=dtype).reshape(e[1])
    if e[0] == "L":
        return tuple(_dec(x, dtype) for x in e[1])
    if e[0] == "D":
        return {k: _dec(x, dtype) for k, x in e[1]}
    return e[1]

def _replay(name, args, kwargs):
    k = _key(name, args, kwargs)
    if k not in TABLE:
        raise RuntimeError(f"{name}: these inputs were never recorded")
    return _dec(TABLE[k], _dtype(args, kwargs))
''']
    lines += [f"def {f}(*args, **kwargs):\n    return _replay({f!r}, args, kwargs)\n" for f in functions]
    return "\n".join(lines)
