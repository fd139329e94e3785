"""``grade gradcheck FILE:NAME``: the file convention of :mod:`grader.gradcheck.files`, with the file's code
run in the sandbox. The student's process evaluates the loss and the claimed gradient; the verdict is
computed here, by the engine, from the numbers it sends back."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch

from grader.errors import GraderError, StudentError
from grader.gradcheck.engine import check_gradients, check_vjp
from grader.gradcheck.files import error_result, parse_spec
from grader.gradcheck.result import GradcheckResult
from grader.grading import open_sandbox
from grader.sandbox.client import Limits, Sandbox, Session


class _Remote:
    """Calls into the session with one overall deadline."""

    def __init__(self, session: Session, timeout: float) -> None:
        self.session = session
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout

    def __call__(self, fn: str, *args: Any) -> Any:
        remaining = max(0.01, self.deadline - time.monotonic())
        return self.session.call(fn, args, {}, timeout=remaining)["value"]


def check_file_in_sandbox(spec: str, *, seed: int = 0, timeout: float = 60.0, sandbox: Sandbox | None = None,
                          **options: Any) -> GradcheckResult:
    """Check ``FILE.py:NAME``: ``NAME(params)`` is the loss, ``NAME_grad(params)`` (or
    ``NAME_vjp(params, v)``) the claimed gradient, ``NAME_params([seed])`` or ``make_params([seed])`` the
    point. Raises GraderError for a bad spec or a file that does not follow the convention."""
    path, name = parse_spec(spec)
    t0 = time.perf_counter()
    with open_sandbox(sandbox, Limits(timeout=timeout), "cpu") as sb:
        session = sb.open(path)
        try:
            session.ensure_started()
            if session.load_error is not None:
                return error_result(session.load_error.message, seed, t0)
            call = _Remote(session, timeout)
            try:
                return _check(call, session.functions, name, seed, options, path)
            except StudentError as e:
                return error_result(e.message, seed, t0)
        finally:
            session.close()


def _check(call: _Remote, functions: list[str], name: str, seed: int, options: dict, path: Any) -> GradcheckResult:
    if name not in functions:
        raise GraderError(f"{path} defines no function {name!r}")
    maker = next((m for m in (f"{name}_params", "make_params") if m in functions), None)
    if maker is None:
        raise GraderError(f"{path} must define {name}_params() or make_params() returning a dict of tensors")
    params = _params(call, maker, seed)
    loss = lambda p: call(name, p)  # noqa: E731 - the engine takes a callable
    if f"{name}_grad" in functions:
        claimed = call(f"{name}_grad", params)
        if not isinstance(claimed, Mapping) or not all(isinstance(v, torch.Tensor) for v in claimed.values()):
            raise StudentError(f"{name}_grad must return a dict of tensors, got {type(claimed).__name__}")
        return check_gradients(loss, params, dict(claimed), seed=seed, **options)
    if f"{name}_vjp" in functions:
        return check_vjp(loss, params, vjp=lambda p, v: call(f"{name}_vjp", p, v), seed=seed, **options)
    raise GraderError(f"{path} defines {name} but neither {name}_grad(params) nor {name}_vjp(params, v)")


def _params(call: _Remote, maker: str, seed: int) -> dict[str, torch.Tensor]:
    try:
        params = call(maker, seed)
    except StudentError as e:
        if "positional argument" not in e.message:
            raise
        params = call(maker)
    if not isinstance(params, Mapping) or not all(isinstance(v, torch.Tensor) for v in params.values()):
        raise GraderError(f"{maker} must return a dict of tensors")
    return dict(params)

