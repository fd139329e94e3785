"""Run student code in a child process with time, memory and output limits.

Only tensors, arrays and plain values cross the boundary (see :mod:`grader.sandbox.codec`).
"""

from grader.sandbox.client import Limits, Sandbox, Session

__all__ = ["Limits", "Sandbox", "Session"]
