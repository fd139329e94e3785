"""Runtime guards installed in the student's process before their module is imported.

They back up the static scan (grader.forbidden): a forbidden API called from the student's own file
raises :class:`ForbiddenCall`; ``input()`` explains that no keyboard is attached. Calls made from library
code (torch calling its own autograd) pass through: only the student's frames are refused.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any


class ForbiddenCall(BaseException):
    """Raised in the student's process when they call a forbidden API. BaseException, so that a bare
    ``except Exception`` in student code does not swallow it."""


class OutputLimit(BaseException):
    """The student's code printed more than the output limit."""


def _no_input(*_: Any, **__: Any) -> str:
    raise EOFError("input() is not available while grading: your functions get their data as arguments")


def install(student_file: str, forbidden: Iterable[str]) -> None:
    builtins.input = _no_input
    for name in forbidden:
        _guard_name(name, student_file)


def _guard_name(dotted: str, student_file: str) -> None:
    owner, attr, target = _resolve(dotted)
    if target is None:
        return
    if isinstance(target, types.ModuleType):
        for key, value in list(vars(target).items()):
            if callable(value) and not key.startswith("_") and not isinstance(value, type | types.ModuleType):
                _try_set(target, key, _wrap(value, f"{dotted}.{key}", student_file))
        return
    if owner is not None and callable(target):
        _try_set(owner, attr, _wrap(target, dotted, student_file))


def _resolve(dotted: str) -> tuple[Any, str, Any]:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except Exception:  # noqa: BLE001 - not a module at this depth
            continue
        owner, attr = None, parts[i - 1]
        for p in parts[i:]:
            owner, attr = obj, p
            obj = getattr(obj, p, None)
            if obj is None:
                return None, "", None
        return owner, attr, obj
    return None, "", None


def _wrap(fn: Callable[..., Any], name: str, student_file: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1)
        if caller.f_code.co_filename == student_file:
            raise ForbiddenCall(f"{name} is forbidden in this exercise (called at line {caller.f_lineno})")
        return fn(*args, **kwargs)

    return guarded


def _try_set(owner: Any, attr: str, value: Any) -> None:
    try:
        setattr(owner, attr, value)
    except (AttributeError, TypeError):
        pass


class CappedStream:
    """Replaces sys.stdout/sys.stderr: keeps the first ``keep`` characters, raises past ``limit``."""

    def __init__(self, limit: int, keep: int = 20_000) -> None:
        self.limit, self.keep = limit, keep
        self.parts: list[str] = []
        self.kept = 0
        self.total = 0

    def write(self, s: str) -> int:
        s = str(s)
        self.total += len(s)
        if self.kept < self.keep:
            piece = s[: self.keep - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        if self.total > self.limit:
            raise OutputLimit(f"your code printed more than {self.limit:,} characters")
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def take(self) -> str:
        out = "".join(self.parts)
        self.parts, self.kept = [], 0
        return out

    encoding = "utf-8"
