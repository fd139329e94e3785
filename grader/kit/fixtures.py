"""The fixture format: a folder with ``index.json`` (calls, mistakes, parameter names) and ``tensors.npz``
(every tensor as raw bytes, ``t0``, ``t1``, …). Nothing is pickled; the kit's files may have been edited by
a student, so everything is checked for type, shape and size before it is decoded, and a bad file is a
:class:`FixtureError` that says which file and what is wrong.

A call is found by its *key*: the SHA-256 of the function (an API function ``fn:NAME`` or a check's
pipeline), the API that answered (``reference`` or a mistake id) and a canonical encoding of the arguments
(tensors by dtype, shape and exact bytes; numbers; strings; dicts sorted; trusted functions by module,
name and arguments; sympy symbols by class, name and shape). The *shape key* is the same with tensors by
dtype and shape only: the work of a call (``cost:`` rules) depends on shapes, not on values.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import weakref
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grader.errors import GraderError
from grader.trusted import LOADER_PREFIX, TrustedFunction

FORMAT = 1
INDEX = "index.json"
TENSORS = "tensors.npz"
MAX_INDEX_BYTES = 64 << 20
MAX_TENSOR_BYTES = 256 << 20  # all tensors together, uncompressed
MAX_TENSORS = 500_000
MAX_DEPTH = 48
DTYPES: dict[str, torch.dtype] = {
    "float64": torch.float64, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "complex128": torch.complex128, "complex64": torch.complex64, "int64": torch.int64, "int32": torch.int32,
    "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


class FixtureError(GraderError):
    """The kit's fixtures are missing, damaged or edited: a usage error, never a verdict on the student."""


class NotRecorded(Exception):  # noqa: N818 - the name says what happened
    """The kit has no recorded answer for this call: the check runs only in official grading."""

    def __init__(self, function: str, api: str = "reference", why: str = "") -> None:
        name = function.removeprefix("fn:")
        what = "the reference" if api == "reference" else f"the variant {api}"
        super().__init__(f"the kit has no recorded answer of {what} for {name} on these inputs{why}")
        self.function, self.api = name, api


class Unencodable(TypeError):
    """A value the format has no encoding for (the call is then not recorded)."""


# -- keys -------------------------------------------------------------------------------------------
def tensor_bytes(t: torch.Tensor) -> bytes:
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    return flat.view(torch.uint8).numpy().tobytes()


# Digests of tensors already hashed, by identity and version (an in-place change bumps ``_version``): the
# same inputs are hashed once per variant and dtype while recording, and once per lookup while replaying.
_DIGESTS: dict[int, tuple[weakref.ref, int, str]] = {}


def tensor_digest(t: torch.Tensor) -> str:
    seen = _DIGESTS.get(id(t))
    if seen is not None and seen[0]() is t and seen[1] == t._version:
        return seen[2]
    digest = hashlib.sha256(tensor_bytes(t)).hexdigest()
    if len(_DIGESTS) > 100_000:
        _DIGESTS.clear()
    try:
        _DIGESTS[id(t)] = (weakref.ref(t), t._version, digest)
    except TypeError:
        pass
    return digest


def _is_sympy(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "sympy"


def _trusted_module(module: str) -> str:
    """An exercise module loaded by path is named after its folder (grader.loader): keep its role only, so
    that the instructor's folder and the kit's give the same key."""
    return module.rpartition(".")[2] if module.startswith(LOADER_PREFIX) else module


def canonical(x: Any, *, shapes_only: bool = False, lenient: bool = False, depth: int = 0) -> Any:
    """A JSON-able canonical form of ``x`` for keys. ``lenient``: objects with no encoding become their type's
    name (a check's context in a pipeline's closure) instead of raising :class:`Unencodable`."""
    if depth > MAX_DEPTH:
        raise Unencodable("nested too deeply")

    def again(v: Any) -> Any:
        return canonical(v, shapes_only=shapes_only, lenient=lenient, depth=depth + 1)

    if isinstance(x, torch.Tensor):
        head = ["T", DTYPE_NAMES.get(x.dtype, str(x.dtype)), list(x.shape)]
        return head if shapes_only else [*head, tensor_digest(x)]
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, torch.dtype | torch.device):
        return [type(x).__name__, str(x)]
    if isinstance(x, bool):
        return ["b", x]
    if isinstance(x, int):
        return ["i", str(x)]
    if isinstance(x, float):
        return ["f", x.hex()]
    if isinstance(x, TrustedFunction):
        return ["trusted", _trusted_module(x.module), x.name, again(x.kwargs)]
    if isinstance(x, Mapping):
        items = [[again(k), again(v)] for k, v in x.items()]
        return ["d", sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))]
    if isinstance(x, tuple | list):
        return ["t" if isinstance(x, tuple) else "l", [again(v) for v in x]]
    if _is_sympy(x):
        shape = [str(s) for s in getattr(x, "shape", ())]
        name = getattr(x, "name", None)
        if name is not None:
            return ["sym", type(x).__name__, str(name), shape]
        import sympy

        return ["sympy", sympy.srepr(x)]
    if callable(x) and hasattr(x, "__qualname__"):
        return ["fn", x.__qualname__]
    if lenient:
        return ["?", type(x).__qualname__]
    raise Unencodable(f"no encoding for a {type(x).__qualname__}")


def _digest(form: Any) -> str:
    return hashlib.sha256(json.dumps(form, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def call_key(fn: str, api: str, args: tuple, kwargs: Mapping[str, Any]) -> str:
    return _digest(["call", fn, api, canonical(tuple(args)), canonical(dict(kwargs))])


def shape_key(fn: str, args: tuple, kwargs: Mapping[str, Any]) -> str:
    return _digest(["shape", fn, canonical(tuple(args), shapes_only=True), canonical(dict(kwargs), shapes_only=True)])


def pipeline_name(run: Callable[..., Any]) -> str:
    """How a pipeline is named in keys: ``fn:NAME`` for an API function given by name, else the check's
    function (its qualified name, its closure's values and its defaults; the kit runs the same checks.py)."""
    named = getattr(run, "__api_function__", None)
    if named is not None:
        return f"fn:{named}"
    if isinstance(run, functools.partial):
        parts = [pipeline_name(run.func), canonical(run.args, lenient=True), canonical(run.keywords, lenient=True)]
        return f"partial:{_digest(parts)[:32]}"
    cells = [c.cell_contents for c in (getattr(run, "__closure__", None) or ()) if _cell_filled(c)]
    extra = [canonical(v, lenient=True) for v in cells]
    extra.append(canonical(getattr(run, "__defaults__", None) or (), lenient=True))
    extra.append(canonical(getattr(run, "__kwdefaults__", None) or {}, lenient=True))
    return f"pipe:{getattr(run, '__qualname__', type(run).__qualname__)}:{_digest(extra)[:32]}"


def _cell_filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


# -- stored values ------------------------------------------------------------------------------------
@dataclass
class TensorTable:
    """Tensors by content, each stored once."""

    specs: list[dict[str, Any]] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    _ids: dict[tuple[str, tuple[int, ...], str], int] = field(default_factory=dict)

    def add(self, t: torch.Tensor) -> int:
        dtype = DTYPE_NAMES.get(t.dtype)
        if dtype is None or t.is_sparse or t.layout != torch.strided:
            raise Unencodable(f"no encoding for a tensor of dtype {t.dtype}")
        ident = (dtype, tuple(t.shape), tensor_digest(t))
        if ident not in self._ids:
            self._ids[ident] = len(self.specs)
            self.specs.append({"dtype": dtype, "shape": list(t.shape)})
            self.data.append(tensor_bytes(t))
        return self._ids[ident]


def encode_value(x: Any, table: TensorTable, sympy_args: tuple | None = None, depth: int = 0) -> Any:
    """``x`` as JSON, its tensors in ``table``. A sympy expression (an output; ``sympy_args``: the call's
    arguments) is stored by ``grader.symbolic.sampled.encode_expression`` (its values, not readable), never
    as text; in inputs (``sympy_args`` None) it has no encoding."""
    if depth > MAX_DEPTH:
        raise Unencodable("nested too deeply")

    def again(v: Any) -> Any:
        return encode_value(v, table, sympy_args, depth + 1)

    if isinstance(x, torch.Tensor):
        return {"tensor": table.add(x)}
    if x is None or isinstance(x, str):
        return x if x is None else {"str": x}
    if isinstance(x, bool):
        return {"bool": x}
    if isinstance(x, int):
        return {"int": str(x)}
    if isinstance(x, float):
        return {"float": x.hex()}
    if isinstance(x, tuple | list):
        return {"tuple" if isinstance(x, tuple) else "list": [again(v) for v in x]}
    if isinstance(x, Mapping):
        return {"dict": [[again(k), again(v)] for k, v in x.items()]}
    if isinstance(x, TrustedFunction):
        return {"trusted": [x.module, x.name, again(x.kwargs), x.path]}
    if _is_sympy(x) and sympy_args is not None:
        from grader.symbolic.sampled import encode_expression

        try:
            return {"sympy": encode_expression(x, sympy_args)}
        except (ValueError, TypeError) as e:
            raise Unencodable(f"a sympy expression that cannot be sampled: {e}") from None
    raise Unencodable(f"no encoding for a {type(x).__qualname__}")


@dataclass
class Decoder:
    """Decodes stored values; tensors come from the checked table, copied so callers may change them."""

    tensors: list[torch.Tensor]
    where: str

    def __call__(self, x: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise FixtureError(f"{self.where}: a value is nested too deeply")
        if x is None:
            return None
        if not isinstance(x, dict) or len(x) != 1:
            raise FixtureError(f"{self.where}: a stored value has an unknown form")
        (kind, v), = x.items()
        try:
            if kind == "tensor":
                return self.tensors[_int(v)].clone()
            if kind == "str" and isinstance(v, str):
                return v
            if kind == "bool" and isinstance(v, bool):
                return v
            if kind == "int" and isinstance(v, str) and len(v) < 400:
                return int(v)
            if kind == "float" and isinstance(v, str) and len(v) < 64:
                return float.fromhex(v)
            if kind in ("tuple", "list") and isinstance(v, list):
                items = [self(i, depth + 1) for i in v]
                return tuple(items) if kind == "tuple" else items
            if kind == "dict" and isinstance(v, list):
                return {self(_pair(p)[0], depth + 1): self(_pair(p)[1], depth + 1) for p in v}
            if kind == "trusted" and isinstance(v, list) and len(v) == 4 and all(isinstance(s, str) for s in
                                                                                (v[0], v[1], v[3])):
                return TrustedFunction(v[0], v[1], self(v[2], depth + 1), v[3])
            if kind == "sympy" and isinstance(v, dict):
                from grader.symbolic.sampled import decode_expression

                return decode_expression(v)
        except (IndexError, ValueError, OverflowError, TypeError) as e:
            raise FixtureError(f"{self.where}: a stored value cannot be decoded ({e})") from None
        raise FixtureError(f"{self.where}: a stored value of kind {kind!r} is malformed")


def _int(v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ValueError("a tensor reference must be a non-negative integer")
    return v


def _pair(p: Any) -> tuple[Any, Any]:
    if not isinstance(p, list) or len(p) != 2:
        raise ValueError("a dict item must be a [key, value] pair")
    return p[0], p[1]


# -- files ----------------------------------------------------------------------------------------------
def write_folder(folder: Path, index: dict[str, Any], table: TensorTable) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    index = {**index, "format": FORMAT, "tensors": table.specs}
    (folder / INDEX).write_text(json.dumps(index, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    arrays = {f"t{i}": np.frombuffer(raw, dtype=np.uint8) for i, raw in enumerate(table.data)}
    with open(folder / TENSORS, "wb") as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]


def read_folder(folder: Path) -> tuple[dict[str, Any], list[torch.Tensor]]:
    """The index and the tensors of a fixture folder, every size checked before anything is decoded."""
    index_path, tensor_path = folder / INDEX, folder / TENSORS
    for p in (index_path, tensor_path):
        if not p.is_file():
            raise FixtureError(f"the kit's fixtures are incomplete: {p} is missing (rebuild the kit)")
    if index_path.stat().st_size > MAX_INDEX_BYTES:
        raise FixtureError(f"{index_path} is larger than {MAX_INDEX_BYTES >> 20} MB: not a fixture index")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise FixtureError(f"{index_path} is not valid JSON ({e}): the kit's fixtures are damaged") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise FixtureError(f"{index_path}: unknown fixture format (expected format {FORMAT})")
    specs = index.get("tensors")
    if not isinstance(specs, list) or len(specs) > MAX_TENSORS:
        raise FixtureError(f"{index_path}: the tensor table is missing or too long")
    return index, _read_tensors(tensor_path, specs)


def _read_tensors(path: Path, specs: list[Any]) -> list[torch.Tensor]:
    try:
        with zipfile.ZipFile(path) as z:
            infos = {i.filename: i for i in z.infolist()}
    except (zipfile.BadZipFile, OSError) as e:
        raise FixtureError(f"{path} is not a fixture archive ({e})") from None
    if sum(i.file_size for i in infos.values()) > MAX_TENSOR_BYTES + 128 * len(infos):
        raise FixtureError(f"{path} holds more than {MAX_TENSOR_BYTES >> 20} MB: not a fixture archive")
    if set(infos) != {f"t{i}.npy" for i in range(len(specs))}:
        raise FixtureError(f"{path} does not hold the tensors its index lists")
    out: list[torch.Tensor] = []
    try:
        with np.load(path, allow_pickle=False) as npz:
            for i, spec in enumerate(specs):
                out.append(_tensor(npz[f"t{i}"], spec, f"{path}: tensor t{i}"))
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        raise FixtureError(f"{path} cannot be read ({e})") from None
    return out


def _tensor(arr: np.ndarray, spec: Any, where: str) -> torch.Tensor:
    if not isinstance(spec, dict) or spec.get("dtype") not in DTYPES or not isinstance(spec.get("shape"), list):
        raise FixtureError(f"{where}: unknown dtype or shape in the index")
    shape = spec["shape"]
    if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 1 << 31 for s in shape) or len(shape) > 16:
        raise FixtureError(f"{where}: bad shape {shape!r}")
    dtype = DTYPES[spec["dtype"]]
    itemsize = 1 if dtype == torch.bool else torch.empty(0, dtype=dtype).element_size()
    if arr.dtype != np.uint8 or arr.ndim != 1 or arr.size != math.prod(shape) * itemsize:
        raise FixtureError(f"{where}: its bytes do not fit dtype {spec['dtype']} and shape {shape}")
    if arr.size == 0:
        return torch.zeros(shape, dtype=dtype)
    raw = torch.from_numpy(arr.copy())
    if dtype == torch.bool:
        return raw.to(torch.bool).reshape(shape)
    return raw.view(dtype).reshape(shape)
