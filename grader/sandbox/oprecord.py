"""What a student call ran, recorded at the dispatcher level (runs in the student's process).

A Python-level guard on ``torch.softmax`` is easy to step around: ``torch.ops.aten._softmax``, a
guarded function's ``__wrapped__``, code passed to ``exec``, ``torch.autograd.functional``. Whatever the
route, the work reaches the dispatcher as aten operations, and the autograd engine runs them inside a
graph task. :class:`Recorder` is a ``TorchDispatchMode`` that counts, for each call, the aten operations
by name (with the first line of the student's file that ran each), whether the autograd engine or
forward-mode AD was running, and the work done (elements produced, multiply-adds of products). The
parent decides from this record (grader.forbidden.runtime_violation); nothing here knows what is
forbidden. sympy has no dispatcher: ``Derivative`` construction is counted by a hook instead.

Only torch and the standard library are imported here: this module runs next to the student's code.
The record is plain data (str → int, str → str), bounded in size: aten names are a fixed set, other
namespaces are capped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch
import torch.autograd.forward_ad as _fwad
from torch.utils._python_dispatch import TorchDispatchMode, _get_current_dispatch_mode_stack, _pop_mode

ENGINE = "autograd::engine"  # an op ran inside an autograd graph task (backward, grad, functional, func.grad)
FORWARD_AD = "autograd::forward_ad"  # an op ran under forward-mode AD (forward_ad, func.jvp, jacfwd)
SYMPY_DERIVATIVE = "sympy::Derivative"
MAX_OTHER_NAMES = 256  # names outside the aten namespace (custom ops a submission registers)
MAX_WHERE = 48  # characters of the function's name in "function:line"

# Work of a product: multiply-adds from the operands' shapes (argument positions of the two factors).
_PRODUCTS = {"aten::mm": (0, 1), "aten::addmm": (1, 2), "aten::bmm": (0, 1), "aten::baddbmm": (1, 2),
             "aten::mv": (0, 1), "aten::addmv": (1, 2), "aten::dot": (0, 1), "aten::vdot": (0, 1)}
_FORWARD_AD_OPS = ("aten::_make_dual", "aten::_unpack_dual", "aten::_has_same_storage_numel")


class Recorder(TorchDispatchMode):
    """Counts what one student call runs. ``run`` wraps the call; ``take`` returns the record."""

    def __init__(self, student_file: str, sympy_hook: bool = False) -> None:
        super().__init__()
        self.student_file = student_file
        self._kinds: dict[Any, tuple[str, int]] = {}  # op overload → (name, 0 plain | 1 view | 2 product)
        self._reset()
        if sympy_hook:
            _hook_sympy(self)

    def _reset(self) -> None:
        self.counts: dict[str, int] = {}
        self.where: dict[str, str] = {}
        self.work = 0
        self.other_names = 0
        self.dropped = 0
        self.active = False

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Otherwise torch wraps __torch_dispatch__ in torch._dynamo.disable: the first op of every worker
        # would import torch._dynamo (seconds), and every op would pay for the wrapper.
        return False

    # -- the call ---------------------------------------------------------------------------------
    def run(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with every operation recorded. The student's exceptions propagate.

        If the call removed this recorder from the dispatch stack (or left another mode above it), the
        record is marked broken and the stack is emptied, so that the next call starts clean.
        """
        self._reset()
        self.active = True
        self.__enter__()
        try:
            return fn(*args, **kwargs)
        finally:
            self.active = False
            stack = _get_current_dispatch_mode_stack()
            self.intact = bool(stack) and stack[-1] is self
            if self.intact:
                self.__exit__(None, None, None)
            else:
                while _get_current_dispatch_mode_stack():
                    _pop_mode()

    def take(self) -> dict[str, Any]:
        """The record of the last call, as plain data for the wire."""
        return {"counts": dict(self.counts), "where": dict(self.where), "work": int(self.work),
                "dropped": int(self.dropped), "intact": bool(self.intact)}

    # -- the dispatcher hook ------------------------------------------------------------------------
    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kind = self._kinds.get(func)
        if kind is None:
            kind = self._kinds[func] = _kind(func)
        name, cost = kind
        self.note(name)
        if torch._C._current_graph_task_id() != -1:
            self.note(ENGINE)
        if _fwad._current_level >= 0 or name in _FORWARD_AD_OPS:
            self.note(FORWARD_AD)
        out = func(*args, **(kwargs or {}))
        if cost == 0:
            self.work += _numel(out)
        elif cost == 1:
            self.work += 1
        else:
            self.work += _product_work(name, args)
        return out

    def note(self, name: str) -> None:
        n = self.counts.get(name)
        if n is not None:
            self.counts[name] = n + 1
            return
        if not name.startswith(("aten::", "autograd::", "sympy::")):
            if self.other_names >= MAX_OTHER_NAMES:
                self.dropped += 1
                return
            self.other_names += 1
        self.counts[name] = 1
        self.where[name] = self._student_line()

    def _student_line(self) -> str:
        """``function:line`` of the innermost frame of the student's file, or "" (exec'd code, library)."""
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_filename == self.student_file:
                return f"{frame.f_code.co_name[:MAX_WHERE]}:{frame.f_lineno}"
            frame = frame.f_back  # type: ignore[assignment]
        return ""


def _kind(func: Any) -> tuple[str, int]:
    schema = getattr(func, "_schema", None)
    name = str(schema.name) if schema is not None else str(func)
    name = name[:120]
    if name in _PRODUCTS:
        return name, 2
    return name, 1 if getattr(func, "is_view", False) else 0


def _numel(out: Any) -> int:
    if isinstance(out, torch.Tensor):
        return max(1, out.numel())
    if isinstance(out, tuple | list):
        return max(1, sum(t.numel() for t in out if isinstance(t, torch.Tensor)))
    return 1


def _product_work(name: str, args: Any) -> int:
    i, j = _PRODUCTS[name]
    try:
        a, b = args[i], args[j]
        if name in ("aten::dot", "aten::vdot"):
            return max(1, a.numel())
        return max(1, a.numel() * b.shape[-1])  # (…, m, k) @ (…, k, n): m·k·n per batch
    except (IndexError, AttributeError):
        return 1


# sympy's own assumptions differentiate (``_monotonic_sign`` calls ``diff`` while deciding a sign), so a
# Derivative counts only when the outermost sympy frame above it is a differentiation entry point: the
# submission (or code it exec'd) asked for a derivative, it did not merely build an expression.
_DIFF_ENTRIES = frozenset({"diff", "_derivative_dispatch", "fdiff", "idiff", "derive_by_array", "jacobian",
                           "gradient", "hessian", "wronskian", "_eval_derivative", "_eval_derivative_n_times",
                           "_visit_eval_derivative_scalar", "_visit_eval_derivative_array"})


def _in_sympy(frame: Any) -> bool:
    name = frame.f_globals.get("__name__", "")
    return isinstance(name, str) and (name == "sympy" or name.startswith("sympy."))


def _asked_for(frame: Any) -> bool:
    """Whether the Derivative built below ``frame`` (the caller of ``Derivative(...)``) was asked for."""
    outer = None
    while frame is not None and _in_sympy(frame):
        outer, frame = frame, frame.f_back
    return outer is None or outer.f_code.co_name in _DIFF_ENTRIES


def _hook_sympy(recorder: Recorder) -> None:
    """Count every ``Derivative`` asked for while a call runs: sympy.diff and Expr.diff both build one."""
    try:
        from sympy.core.function import Derivative
    except ImportError:
        return
    original = Derivative.__dict__["__new__"].__func__

    def __new__(cls: Any, *args: Any, **kwargs: Any) -> Any:
        if recorder.active and _asked_for(sys._getframe(1)):
            recorder.note(SYMPY_DERIVATIVE)
        return original(cls, *args, **kwargs)

    Derivative.__new__ = staticmethod(__new__)
