"""Exceptions. ``StudentError`` and its kinds describe what went wrong in student code; the others
are the grader's own (bad usage, a malformed exercise spec)."""

from __future__ import annotations


class GraderError(Exception):
    """A usage or configuration problem: the CLI exits with status 2."""


class SpecError(GraderError):
    """A malformed exercise spec: says the file, the key and what was expected."""


class StudentError(Exception):
    """Something in the student's code prevents a check from completing.

    ``message`` is one line for the student; ``traceback`` is already trimmed to their own frames.
    """

    status = "error"

    def __init__(self, message: str, *, traceback: str = "", hint: str = "", output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.traceback = traceback
        self.hint = hint
        self.output = output


class StudentException(StudentError):
    """The student's function raised."""


class StudentTimeout(StudentError):
    status = "timeout"


class StudentCrash(StudentError):
    """The process running the student's code died (exit, signal, memory or output limit)."""


class BadReturn(StudentError):
    """A return value of the wrong kind: not a tensor, a subclass, an object we refuse to accept."""


class MissingFunction(StudentError):
    """The submission does not define a function of the contract."""


class ForbiddenAPI(StudentError):
    """The submission uses an API the exercise forbids."""


class LoadError(StudentError):
    """The submission could not be imported (syntax error, exception or exit at import)."""


class GraderFault(Exception):
    """The grader's own failure (a sandbox that did not start, a worker killed from outside, a bug in a
    check). Never charged to the student: the check's status becomes ``grader_error``."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
