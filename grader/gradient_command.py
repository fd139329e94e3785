"""``grade gradcheck FILE.py:NAME`` as a library call: the file convention of :mod:`grader.targets`, with
the file's code run in the sandbox, and the verdict as an :class:`ExerciseResult` for the usual reporters.

The student's process evaluates the loss and the claimed gradient; the verdict is computed here, by the
engine (:mod:`grader.gradcheck`, a pure library), from the numbers it sends back.
"""

from __future__ import annotations

import time
from typing import Any

from grader.gradcheck.result import GradcheckResult
from grader.grading import GradeOptions, environment, open_sandbox
from grader.results import ExerciseResult
from grader.sandbox.client import Limits, Sandbox, Session
from grader.targets import check_target, error_result, parse_target


class SessionFunctions:
    """The functions of a file loaded in a sandbox session, called with one overall deadline."""

    def __init__(self, session: Session, timeout: float) -> None:
        self.session = session
        self.names = frozenset(session.functions)
        self.deadline = time.monotonic() + timeout

    def call(self, fn: str, *args: Any) -> Any:
        remaining = max(0.01, self.deadline - time.monotonic())
        return self.session.call(fn, args, {}, timeout=remaining)["value"]


def check_file_in_sandbox(spec: str, *, seed: int = 0, timeout: float = 60.0, sandbox: Sandbox | None = None,
                          **options: Any) -> GradcheckResult:
    """Check ``FILE.py:NAME`` with the file's code in the sandbox; ``timeout`` bounds the whole check.
    Raises GraderError for a bad spec or a file that does not follow the convention."""
    path, name = parse_target(spec)
    t0 = time.perf_counter()
    with open_sandbox(sandbox, Limits(timeout=timeout), "cpu") as sb:
        session = sb.open(path)
        try:
            session.ensure_started()
            if session.load_error is not None:
                return error_result(session.load_error.message, seed, t0)
            return check_target(SessionFunctions(session, timeout), path, name, seed=seed, **options)
        finally:
            session.close()


def as_exercise_result(gc: GradcheckResult, spec: str) -> ExerciseResult:
    """One all-or-nothing check, so that every reporter draws a gradient check like an exercise."""
    path, _, name = spec.rpartition(":")
    check = gc.to_check_result("gradcheck", f"gradient of {name} agrees with finite differences", 1.0)
    env = {**environment(GradeOptions(seed=gc.seed), "cpu"), "dtype": "float64 (finite differences)"}
    return ExerciseResult("gradcheck", f"Gradient check of {name}", path, [check], env, duration=gc.duration)


def grade_gradient(spec: str, *, seed: int = 0, timeout: float = 60.0, sandbox: Sandbox | None = None,
                   **options: Any) -> ExerciseResult:
    """What ``grade gradcheck FILE.py:NAME`` reports. Raises GraderError for a usage problem."""
    return as_exercise_result(check_file_in_sandbox(spec, seed=seed, timeout=timeout, sandbox=sandbox, **options),
                              spec)
