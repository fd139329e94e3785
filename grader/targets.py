"""The ``FILE.py:NAME`` convention of ``grade gradcheck``: one loader, whoever runs the file's code.

The file defines (see ``docs/GRADCHECK.md``):

* ``NAME(params) -> Tensor``: the function, a scalar (or any tensor, for VJPs); ``params`` is a dict
  of tensors, and it must work in float64 (finite differences run in float64);
* ``NAME_grad(params) -> dict[str, Tensor]``: the claimed gradient, one entry per key of ``params``;
  or, for a tensor-valued ``NAME``, ``NAME_vjp(params, v) -> dict[str, Tensor]``;
* ``NAME_params()`` or ``make_params()`` (either may take a ``seed`` argument): the point to check at,
  a dict of tensors. The claimed gradient is computed at this point in its own dtype.

The convention is read in one place, :func:`resolve`, against :class:`Functions`: the names a file
defines and a way to call them. Two things provide them: :class:`ModuleFunctions` imports the file into
this process (trusted code only: :func:`check_file_function`), and the sandbox session of
:mod:`grader.gradient_command` runs it in an isolated child (what ``grade gradcheck`` does). Either way
the verdict is computed here, by the engine, from the numbers the calls return.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import torch

from grader.errors import GraderError, LoadError, StudentError, StudentException
from grader.gradcheck.engine import check_gradients, check_vjp
from grader.gradcheck.result import GradcheckResult

Params = dict[str, torch.Tensor]


class Functions(Protocol):
    """What a file defines, and a way to call it. ``call`` raises :class:`StudentError` when the file's
    code fails (an exception, a timeout, a crash), with a one-line message naming the function."""

    @property
    def names(self) -> Collection[str]: ...

    def call(self, fn: str, *args: Any) -> Any: ...


@dataclass
class FileTarget:
    """What a spec names: the function, its claimed gradient (or VJP) function, and the point."""

    name: str
    f: Callable[[Params], torch.Tensor]
    grad: Callable[[Params], Any] | None
    vjp: Callable[[Params, torch.Tensor], Any] | None
    params: Params


def parse_target(spec: str) -> tuple[Path, str]:
    """``"dir/file.py:fn"`` -> (path, "fn"). The last colon splits, so Windows drives work.
    Raises GraderError (a usage error) for a malformed spec or a missing file."""
    path, sep, func = spec.rpartition(":")
    if not sep or not path or not func.isidentifier():
        raise GraderError(f"expected FILE.py:FUNCTION, got {spec!r}")
    p = Path(path)
    if not p.is_file():
        raise GraderError(f"no such file: {path}")
    return p, func


def resolve(fns: Functions, path: Path, name: str, *, seed: int = 0, dtype: torch.dtype | None = None) -> FileTarget:
    """Read the convention: which functions play which part, and the point (made by the file's own
    params function, then cast to ``dtype`` if given). Raises GraderError when the file does not follow
    the convention, StudentError when its params function fails."""
    names = set(fns.names)
    if name not in names:
        raise GraderError(f"{path} defines no function {name!r}")
    grad, vjp = f"{name}_grad", f"{name}_vjp"
    if grad not in names and vjp not in names:
        raise GraderError(f"{path} defines {name} but neither {grad}(params) nor {vjp}(params, v)")
    maker = next((m for m in (f"{name}_params", "make_params") if m in names), None)
    if maker is None:
        raise GraderError(f"{path} must define {name}_params() or make_params() returning a dict of tensors")
    params = _tensor_dict(_make_params(fns, maker, seed), f"{maker}", GraderError)
    if dtype is not None:
        params = {k: v.to(dtype) if v.is_floating_point() else v for k, v in params.items()}
    return FileTarget(
        name,
        lambda p: fns.call(name, p),
        (lambda p: fns.call(grad, p)) if grad in names else None,
        (lambda p, v: fns.call(vjp, p, v)) if grad not in names else None,
        params,
    )


def check_target(fns: Functions, path: Path, name: str, *, seed: int = 0, dtype: torch.dtype | None = None,
                 **options: Any) -> GradcheckResult:
    """Check the gradient the file claims for ``name``; ``options`` go to ``check_gradients``.

    Failures of the file's code become a result with status ``"error"``; a file that does not follow the
    convention raises GraderError."""
    t0 = time.perf_counter()
    try:
        target = resolve(fns, path, name, seed=seed, dtype=dtype)
        if target.grad is not None:
            claimed = target.grad({k: v.clone() for k, v in target.params.items()})
            claimed = _tensor_dict(claimed, f"{name}_grad", StudentError)
            return check_gradients(target.f, target.params, claimed, seed=seed, **options)
        return check_vjp(target.f, target.params, vjp=target.vjp, seed=seed, **options)
    except StudentError as e:
        return error_result(e.message, seed, t0)


def error_result(message: str, seed: int, t0: float) -> GradcheckResult:
    """The result of a check that could not run because the file's code failed."""
    return GradcheckResult("error", message, [], 0, time.perf_counter() - t0, seed)


def _make_params(fns: Functions, maker: str, seed: int) -> Any:
    """``maker(seed)``, or ``maker()`` for a params function that takes no argument."""
    try:
        return fns.call(maker, seed)
    except StudentError as e:
        if "positional argument" not in e.message:
            raise
        return fns.call(maker)


def _tensor_dict(value: Any, fn: str, error: type[Exception]) -> Params:
    if not isinstance(value, Mapping) or not all(isinstance(v, torch.Tensor) for v in value.values()):
        raise error(f"{fn} must return a dict of tensors, got {type(value).__name__}")
    return dict(value)


# -- in this process (trusted code only) -----------------------------------------------------------------
class ModuleFunctions:
    """The functions of a module imported into this process. An exception in one becomes a
    :class:`StudentException` worded like the sandbox's (``"loss_grad raised ValueError: boom"``)."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.names = frozenset(k for k, v in vars(module).items() if callable(v) and not k.startswith("__"))

    def call(self, fn: str, *args: Any) -> Any:
        try:
            return getattr(self.module, fn)(*args)
        except Exception as e:  # noqa: BLE001 - any failure of the file's code is reported, not raised
            raise StudentException(f"{fn} raised {type(e).__name__}: {e}") from e


def import_file(path: Path) -> ModuleType:
    """Import ``path`` as a throwaway module (not left in ``sys.modules``). Raises LoadError if it fails."""
    from grader.loader import load_module

    name = f"_gradcheck_target_{abs(hash(str(path.resolve())))}"
    try:
        return load_module(path, name)
    except Exception as e:  # noqa: BLE001 - the file's own code failed (or it is no Python file)
        raise LoadError(f"importing {path.name} raised {type(e).__name__}: {e}") from e
    finally:
        sys.modules.pop(name, None)


def load_target(spec: str, *, seed: int = 0, dtype: torch.dtype | None = None) -> FileTarget:
    """Import the file here and collect what the convention asks for (trusted code only)."""
    path, name = parse_target(spec)
    return resolve(ModuleFunctions(import_file(path)), path, name, seed=seed, dtype=dtype)


def check_file_function(spec: str, *, seed: int = 0, dtype: torch.dtype | None = None,
                        **options: Any) -> GradcheckResult:
    """Check ``FILE.py:NAME`` with the file imported into this process: use it only on code you trust
    (``grade gradcheck`` runs the file in the sandbox instead, see :mod:`grader.gradient_command`).

    Errors in the file's code become a result with status ``"error"``; a bad spec raises GraderError.
    """
    path, name = parse_target(spec)
    t0 = time.perf_counter()
    try:
        fns = ModuleFunctions(import_file(path))
    except LoadError as e:
        return error_result(e.message, seed, t0)
    return check_target(fns, path, name, seed=seed, dtype=dtype, **options)
