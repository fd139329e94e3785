"""Run the grading of one answer in a forked child that the parent can kill at the deadline.

Everything the engine does with an answer (parsing, probing, the exact proof, the diagnosis) is sympy
and numpy work on data that the safe parser has already checked, but sympy has no timeout and some
innocent-looking answers keep it busy for minutes. A thread cannot be abandoned safely; a process can.
The child is trusted grader code, forked (no re-import: it costs a few milliseconds), and it *streams*
its verdicts: an interim one ("correct, checked numerically") before the exact proof, the final one after.
At the deadline the parent kills the child and keeps the last verdict it received, or, with none, says
that the answer took too long. The deadline counts the child's CPU time, so that a loaded machine does
not turn a correct answer into a timeout (wall time is capped too). Messages are JSON lines, never pickles.

Any exception in the child becomes a verdict, never an exception in the parent: the caller gets what
:func:`run` returns in every case.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import time
from collections.abc import Callable
from typing import Any

Emit = Callable[[dict[str, Any], bool], None]  # (verdict as a dict, final?)
_MAX_MESSAGE = 1 << 20


def run(work: Callable[[Emit], None], timeout: float, on_error: Callable[[BaseException], dict[str, Any]]
        ) -> tuple[dict[str, Any] | None, str]:
    """Run ``work(emit)`` in a forked child for at most ``timeout`` seconds of CPU time (and
    ``WALL_FACTOR`` × ``timeout`` of wall time).

    Returns ``(verdict, how)``: the last verdict the child emitted, and ``how`` is ``"final"`` (the child
    finished), ``"timeout"`` (killed at the deadline; the verdict, if any, is an interim one) or
    ``"died"`` (the child ended without a final verdict: out of memory, killed from outside).
    ``on_error`` turns an exception raised in the child into a final verdict (run in the child).
    """
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # no process to spare: grade in this process, without a deadline
        os.close(read_fd)
        os.close(write_fd)
        return _in_process(work, on_error)
    if pid == 0:  # the child
        os.close(read_fd)
        _child(work, on_error, write_fd)
    os.close(write_fd)
    try:
        return _collect(read_fd, pid, timeout)
    finally:
        os.close(read_fd)
        _reap(pid)


def _child(work: Callable[[Emit], None], on_error: Callable[[BaseException], dict[str, Any]], fd: int) -> None:
    """Never returns: the child must not run the parent's cleanup (pytest, atexit, open sandboxes)."""
    code = 0
    try:
        gc.freeze()  # the parent's objects are never collected here: a collection would copy every page
        _limit_memory()
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C in the terminal ends the child too
        except ValueError:  # forked from a thread that Python does not take for the main one
            pass

        def emit(verdict: dict[str, Any], final: bool) -> None:
            data = (json.dumps({"final": final, "verdict": verdict}, default=str) + "\n").encode()
            while data:
                data = data[os.write(fd, data):]

        try:
            work(emit)
        except RecursionError as e:
            emit(on_error(e), True)
        except Exception as e:  # noqa: BLE001 - any failure on an answer is a verdict about that answer
            emit(on_error(e), True)
    except BaseException:  # noqa: BLE001 - even a failure to report must end this process
        code = 1
    finally:
        os._exit(code)


WALL_FACTOR = 3.0  # on a loaded machine the child may wait for a core: wall time up to 3× the budget


MEMORY = 1 << 30  # bytes the child may map beyond what it inherited: sympy's simplifier can grow without bound


def _limit_memory() -> None:
    """A MemoryError in the child (a verdict) rather than the machine's OOM killer choosing a victim."""
    try:
        import resource

        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = mapped + MEMORY
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError, ImportError):  # not Linux, or not allowed: the deadline still holds
        pass


def _collect(fd: int, pid: int, timeout: float) -> tuple[dict[str, Any] | None, str]:
    """Read the child's verdicts until the final one. The budget is the child's *CPU* time (what the
    answer costs, whatever else the machine runs), and wall time is capped at ``WALL_FACTOR`` × budget."""
    start = time.monotonic()
    wall_deadline = start + max(timeout, 0.0) * WALL_FACTOR
    cpu_at_start = _cpu_seconds(pid)
    buf = b""
    last: dict[str, Any] | None = None
    while True:
        now = time.monotonic()
        cpu = _cpu_seconds(pid)
        used = (cpu - cpu_at_start) if cpu is not None and cpu_at_start is not None else now - start
        if used >= timeout or now >= wall_deadline:
            _kill(pid)
            return last, "timeout"
        ready, _, _ = select.select([fd], [], [], min(0.05, max(wall_deadline - now, 0.0)))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return last, "died"
        buf += chunk
        if len(buf) > _MAX_MESSAGE:
            _kill(pid)
            return last, "died"
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            message = json.loads(line)
            last = message["verdict"]
            if message["final"]:
                return last, "final"


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of ``pid`` (Linux /proc), or None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


def _in_process(work: Callable[[Emit], None], on_error: Callable[[BaseException], dict[str, Any]]
                ) -> tuple[dict[str, Any] | None, str]:
    box: list[tuple[dict[str, Any], bool]] = []
    try:
        work(lambda v, final: box.append((v, final)))
    except Exception as e:  # noqa: BLE001 - as in the child
        box.append((on_error(e), True))
    if not box:
        return None, "died"
    verdict, final = box[-1]
    return verdict, "final" if final else "died"


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    for _ in range(200):  # a killed child is gone at once; do not hang here if it is not
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.005)
    _kill(pid)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
