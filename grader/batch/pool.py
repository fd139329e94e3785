"""The local pool: worker processes that each keep one warm sandbox and grade one submission at a time.

It is a plain :class:`concurrent.futures.ProcessPoolExecutor`, so the runner (:mod:`grader.batch.runner`)
drives it exactly as it drives Dask's ``Client.get_executor()``: ``submit(run_task_as_dict, task_dict)``.
The task crosses the process boundary as a dict, and so does its outcome (plain JSON-able data: nothing
from a submission is ever pickled into the parent).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any


def run_task_as_dict(task: dict[str, Any]) -> dict[str, Any]:
    """The one task function (:func:`grader.batch.task.run_task`), on and to plain dicts."""
    from grader.batch.task import GradeTask, run_task

    return run_task(GradeTask.from_dict(task)).to_dict()


def _init_worker(isolation: str | None, parent: int) -> None:
    """Each worker: dies with the batch process (even one killed with SIGKILL, which leaves no chance to
    stop the pool), leaves Ctrl-C to the parent (which stops the pool), runs the grader's own tensors on one
    thread (the cores belong to the slots), and starts its sandbox now, while the others start theirs."""
    from grader.sandbox.zygote import PR_SET_PDEATHSIG, prctl

    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from grader.batch.task import warm_up, worker_sandbox

        worker_sandbox(isolation)  # first: its zygote imports torch in its own process while this one does
        import torch

        torch.set_num_threads(1)
        warm_up()
    except Exception:  # noqa: BLE001 - a sandbox that cannot start is reported by the task, as a grader fault
        pass


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def local_executor(jobs: int, isolation: str | None) -> Iterator[Executor]:
    """A pool of ``jobs`` worker processes (started with ``spawn``: a fresh interpreter, no state copied
    from a parent that runs threads). On an interruption its workers are terminated at once rather than
    left to finish their submission; their sandboxes die with them (``PR_SET_PDEATHSIG``)."""
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(isolation, os.getpid()))
    try:
        yield pool
    except BaseException:
        terminate(pool)
        raise
    finally:
        workers = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=True, cancel_futures=True)
        for p in workers:  # a worker terminated or broken is not always joined by shutdown: reap it
            p.join(timeout=5)
        multiprocessing.active_children()  # and any other finished child of ours


def terminate(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers now. The executor has no public way to do so: its ``_processes`` map is read."""
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            p.terminate()
        except Exception:  # noqa: BLE001 - already gone
            pass


@contextmanager
def in_process_executor() -> Iterator[Executor]:
    """One slot, in this process (on a thread, so that the caller's loop goes on): no worker to start, and
    this process's sandbox stays warm from one batch to the next. For debugging and for tests; it gives up
    the pool's protection (a grader bug that kills the process ends the batch)."""
    with ThreadPoolExecutor(1, thread_name_prefix="dl-grader-slot") as pool:
        yield pool
