"""Run student code in a child process with time, memory and output limits, isolated with bubblewrap
where it can run (see :mod:`grader.sandbox.bwrap`).

Only tensors, arrays and plain values cross the boundary (see :mod:`grader.sandbox.codec`).
"""

from grader.sandbox.client import Limits, Sandbox, Session, isolation_available

__all__ = ["Limits", "Sandbox", "Session", "isolation_available"]
