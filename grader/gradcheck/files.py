"""Standalone use: check the gradient a Python file computes for its own function.

Spec ``"path/to/file.py:NAME"``. The file defines (see ``docs/GRADCHECK.md``):

* ``NAME(params) -> Tensor``: the function, a scalar (or any tensor, for VJPs); ``params`` is a dict
  of tensors, and it must work in float64 (finite differences run in float64);
* ``NAME_grad(params) -> dict[str, Tensor]``: the claimed gradient, one entry per key of ``params``;
  or, for a tensor-valued ``NAME``, ``NAME_vjp(params, v) -> dict[str, Tensor]``;
* ``NAME_params()`` or ``make_params()`` (either may take a ``seed`` argument): the point to check at,
  a dict of tensors. The claimed gradient is computed at this point in its own dtype.

The file is untrusted student code: this module imports it in the current process. The grader's CLI
runs :func:`load_target` and the calls inside its sandbox child and hands the callables to
:func:`grader.gradcheck.check_gradients`; call this module directly only on code you trust.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from grader.errors import GraderError
from grader.gradcheck.engine import check_gradients, check_vjp
from grader.gradcheck.result import GradcheckResult


@dataclass
class FileTarget:
    """What a spec names: the function, its claimed gradient (or VJP) function, and the point."""

    name: str
    f: Callable[[dict[str, torch.Tensor]], torch.Tensor]
    grad: Callable[[dict[str, torch.Tensor]], Mapping[str, torch.Tensor]] | None
    vjp: Callable[[dict[str, torch.Tensor], torch.Tensor], Mapping[str, torch.Tensor]] | None
    params: dict[str, torch.Tensor]


def parse_spec(spec: str) -> tuple[Path, str]:
    """``"dir/file.py:fn"`` -> (path, "fn"). The last colon splits, so Windows drives work."""
    path, sep, func = spec.rpartition(":")
    if not sep or not path or not func.isidentifier():
        raise GraderError(f"expected FILE.py:FUNCTION, got {spec!r}")
    p = Path(path)
    if not p.is_file():
        raise GraderError(f"no such file: {path}")
    return p, func


def load_module(path: Path) -> ModuleType:
    name = f"_gradcheck_target_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GraderError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def load_target(spec: str, *, seed: int = 0, dtype: torch.dtype | None = None) -> FileTarget:
    """Import the file and collect what the convention asks for. Raises GraderError if missing."""
    path, func = parse_spec(spec)
    mod = load_module(path)
    f = _get(mod, func, path, required=True)
    grad = _get(mod, f"{func}_grad", path)
    vjp = _get(mod, f"{func}_vjp", path)
    if grad is None and vjp is None:
        raise GraderError(f"{path} defines {func} but neither {func}_grad(params) nor {func}_vjp(params, v)")
    maker = _get(mod, f"{func}_params", path) or _get(mod, "make_params", path)
    if maker is None:
        raise GraderError(f"{path} must define {func}_params() or make_params() returning a dict of tensors")
    params = _call_maker(maker, seed)
    if dtype is not None:
        params = {k: v.to(dtype) if v.is_floating_point() else v for k, v in params.items()}
    return FileTarget(func, f, grad, vjp, params)


def check_file_function(
    spec: str, *, seed: int = 0, dtype: torch.dtype | None = None, **options: Any
) -> GradcheckResult:
    """Check ``FILE.py:NAME`` by the file convention; ``options`` go to ``check_gradients``.

    Errors in the file's code become a result with status ``"error"``; a bad spec raises GraderError.
    """
    t0 = time.perf_counter()
    target = load_target(spec, seed=seed, dtype=dtype)
    if target.grad is not None:
        try:
            claimed = target.grad({k: v.clone() for k, v in target.params.items()})
        except Exception as e:  # noqa: BLE001 - the student's code failed
            return error_result(f"{target.name}_grad raised {type(e).__name__}: {e}", seed, t0)
        if not isinstance(claimed, Mapping):
            got = type(claimed).__name__
            return error_result(f"{target.name}_grad must return a dict of tensors, got {got}", seed, t0)
        return check_gradients(target.f, target.params, claimed, seed=seed, **options)
    try:
        return check_vjp(target.f, target.params, vjp=target.vjp, seed=seed, **options)
    except Exception as e:  # noqa: BLE001
        return error_result(f"{target.name}_vjp raised {type(e).__name__}: {e}", seed, t0)


def _get(mod: ModuleType, name: str, path: Path, *, required: bool = False) -> Any:
    obj = getattr(mod, name, None)
    if obj is None:
        if required:
            raise GraderError(f"{path} defines no function {name!r}")
        return None
    if not callable(obj):
        raise GraderError(f"{path}: {name} is not a function")
    return obj


def _call_maker(maker: Callable[..., Any], seed: int) -> dict[str, torch.Tensor]:
    try:
        takes_seed = len(inspect.signature(maker).parameters) >= 1
    except (TypeError, ValueError):
        takes_seed = False
    params = maker(seed) if takes_seed else maker()
    if not isinstance(params, Mapping) or not all(isinstance(v, torch.Tensor) for v in params.values()):
        raise GraderError("the params function must return a dict of tensors")
    return dict(params)


def error_result(message: str, seed: int, t0: float) -> GradcheckResult:
    return GradcheckResult("error", message, [], 0, time.perf_counter() - t0, seed)
