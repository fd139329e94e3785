"""Exact equivalence, time-boxed: sympy's simplifier runs in a child process we can kill.

``sympy.simplify`` has no timeout and can run for minutes on an innocent-looking sum of hyperbolic
functions; a thread cannot be abandoned safely, a process can. On Linux the child is forked, so it
costs a few milliseconds and re-imports nothing. The child only ever sees trusted expressions (built by
our parser or tree decoder) and sends back one word.
"""

from __future__ import annotations

import multiprocessing
from typing import Any, Literal

import sympy

from grader.symbolic.build import is_matrix
from grader.symbolic.functions import expand_definitions

Proof = Literal["equal", "unproven", "timeout"]


def prove_equal(a: Any, b: Any, timeout: float = 2.0) -> Proof:
    """``"equal"`` if sympy shows ``a − b = 0`` within ``timeout`` seconds, ``"timeout"`` if it was
    still working, ``"unproven"`` if it gave up (which is not a proof that they differ)."""
    if quick_zero(a, b):
        return "equal"
    if timeout <= 0:
        return "timeout"
    return _in_child(a, b, timeout)


def quick_zero(a: Any, b: Any) -> bool:
    """Structural equality after sympy's automatic simplification: free, and often enough."""
    if a == b:
        return True
    if is_matrix(a) != is_matrix(b):
        return False
    d = a - b if is_matrix(a) else expand_definitions(a) - expand_definitions(b)
    return _is_zero(d)


def difference_is_zero(a: Any, b: Any) -> bool:
    """The work done in the child: cheap rewrites first, ``simplify`` last."""
    if is_matrix(a):
        return _is_zero(sympy.expand((a - b).doit()))
    d = expand_definitions(a) - expand_definitions(b)
    for step in (sympy.expand, lambda e: sympy.cancel(sympy.together(e)),
                 lambda e: sympy.cancel(e.rewrite(sympy.exp)), sympy.simplify):
        d = step(d)
        if _is_zero(d):
            return True
    return False


def _is_zero(d: Any) -> bool:
    return d == 0 or isinstance(d, sympy.ZeroMatrix)


def _child(conn: Any, a: Any, b: Any) -> None:
    try:
        conn.send("equal" if difference_is_zero(a, b) else "unproven")
    except Exception:  # noqa: BLE001 - any failure of sympy only means "not proven"
        conn.send("unproven")
    finally:
        conn.close()


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _in_child(a: Any, b: Any, timeout: float) -> Proof:
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, a, b), name="dl-grader-simplify")
    try:
        proc.start()
    except OSError:  # no process to spare: the numeric check decides alone
        return "unproven"
    send.close()
    try:
        if receive.poll(timeout):
            return receive.recv()
        return "timeout"
    except (EOFError, OSError):  # the child died (memory): no proof
        return "unproven"
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        receive.close()
