"""Guards installed in the student's process before their module is imported.

``input()`` explains that no keyboard is attached, and printing is capped (:class:`CappedStream`).

Forbidden APIs are not guarded here any more: a wrapper around ``torch.softmax`` was stepped around by
``torch.ops.aten._softmax``, by the wrapper's ``__wrapped__`` and by ``exec``'d code. What a call runs
is recorded at the dispatcher level instead (grader.sandbox.oprecord) and the parent decides from that
record (grader.forbidden.runtime_violation).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any


class ForbiddenCall(BaseException):
    """Raised in the student's process when they call a forbidden API. BaseException, so that a bare
    ``except Exception`` in student code does not swallow it."""


class OutputLimit(BaseException):
    """The student's code printed more than the output limit."""


def _no_input(*_: Any, **__: Any) -> str:
    raise EOFError("input() is not available while grading: your functions get their data as arguments")


def install(student_file: str, forbidden: Iterable[str]) -> None:
    """Prepare the process for ``student_file``. ``forbidden`` is kept for the caller's signature: the
    decision on forbidden APIs is the parent's, from the operation record."""
    del student_file, forbidden
    builtins.input = _no_input


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
