"""Drive grading tasks through any :class:`concurrent.futures.Executor`, one submission per slot.

The runner knows nothing of processes or clusters: it submits ``run_task_as_dict(task_dict)`` to an executor
made by ``make_executor`` (the local pool, :func:`grader.batch.pool.local_executor`, or Dask's
``Client.get_executor()``) and keeps at most ``slots`` tasks in flight, so each in-flight task is one
worker's one submission, and a slow or hostile submission holds only its own slot.

A task whose worker died (the pool raises ``BrokenProcessPool``; Dask raises when a worker is lost) is
retried once, alone, on a fresh executor, so that the submission that killed a worker cannot take another
one with it; if it fails again it is a grader fault, never charged to the student.

A task still running past its ``deadline`` (far beyond the sum of its checks' time limits: the sandbox
enforces those, so only a grader bug can get there) is given up the same way. A local pool cannot stop
one task, so its workers are terminated: the others in flight go back to the queue, uncharged.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from grader.batch.pool import run_task_as_dict, terminate
from grader.batch.task import GradeTask, TaskOutcome
from grader.sanitize import clean

MakeExecutor = Callable[[], AbstractContextManager[Executor]]
OnStart = Callable[[int, GradeTask], None]
OnDone = Callable[[int, TaskOutcome], None]
Deadline = Callable[[GradeTask], "float | None"]
TaskFn = Callable[[dict[str, Any]], dict[str, Any]]
RETRIES = 1
POLL_S = 0.25


@dataclass
class _Queue:
    pending: deque[GradeTask]
    alone: deque[GradeTask] = field(default_factory=deque)  # retried after a worker died: run one at a time
    failures: dict[tuple[str, str], int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.pending or self.alone)


def _key(task: GradeTask) -> tuple[str, str]:
    return task.exercise, task.student


def run_tasks(tasks: Iterable[GradeTask], make_executor: MakeExecutor, slots: int, *,
              on_start: OnStart | None = None, on_done: OnDone, deadline: Deadline | None = None,
              fn: TaskFn = run_task_as_dict) -> None:
    """Grade every task; ``on_done(slot, outcome)`` is called in this thread as each one completes (the
    gradebook commits it there). Returns when all are done; an interruption propagates at once. ``fn`` is
    the task function (the one of :mod:`grader.batch.task`; tests put another in)."""
    queue = _Queue(deque(tasks))
    while queue:
        with make_executor() as executor:
            _drain(executor, queue, max(1, slots), on_start, on_done, deadline or (lambda task: None), fn)


def _drain(executor: Executor, queue: _Queue, slots: int, on_start: OnStart | None, on_done: OnDone,
           deadline: Deadline, fn: TaskFn) -> None:
    """Run tasks on ``executor`` until none is left, or until it breaks (the tasks in flight then go back to
    the queue, to be run alone on the next executor)."""
    inflight: dict[Future[Any], tuple[int, GradeTask]] = {}
    solo: set[Future[Any]] = set()  # a retried task runs with nothing beside it
    ends: dict[Future[Any], float] = {}  # when a task is given up
    free = list(range(slots))
    while queue or inflight:
        while free and queue and not solo:
            if queue.alone and inflight:
                break
            alone = bool(queue.alone)
            task = queue.alone.popleft() if alone else queue.pending.popleft()
            slot = free.pop(0)
            fut = executor.submit(fn, task.to_dict())
            inflight[fut] = (slot, task)
            limit = deadline(task)
            if limit is not None:
                ends[fut] = time.monotonic() + limit
            if on_start:
                on_start(slot, task)
            if alone:
                solo.add(fut)
        done, _ = wait(list(inflight), timeout=POLL_S, return_when=FIRST_COMPLETED)
        broken = False
        for fut in done:
            slot, task = inflight.pop(fut)
            solo.discard(fut)
            ends.pop(fut, None)
            free.append(slot)
            try:
                outcome = TaskOutcome.from_dict(fut.result())
            except BrokenProcessPool as e:
                broken = True
                _failed(queue, slot, task, f"the worker process died ({clean(e, 300)})", on_done)
            except Exception as e:  # noqa: BLE001 - a lost worker (Dask), a failed transfer: the grader's fault
                _failed(queue, slot, task, f"the worker failed: {type(e).__name__}: {clean(e, 300)}", on_done)
            else:
                on_done(slot, outcome)
        free.sort()
        if broken:  # the others in flight died with the pool
            for fut, (slot, task) in inflight.items():
                fut.cancel()
                _failed(queue, slot, task, "the worker process died while grading another submission", on_done)
            return
        now = time.monotonic()
        hung = [fut for fut in inflight if fut in ends and now > ends[fut]]
        for fut in hung:
            slot, task = inflight.pop(fut)
            solo.discard(fut)
            free.append(slot)
            fut.cancel()
            limit = deadline(task) or 0.0
            _failed(queue, slot, task, f"no result after {limit:.0f} s: the grader hung", on_done)
        if hung and isinstance(executor, ProcessPoolExecutor):
            terminate(executor)  # the only way to stop the hung task; the others go back to the queue, uncharged
            for fut, (_, task) in inflight.items():
                fut.cancel()
                queue.pending.appendleft(task)
            return


def _failed(queue: _Queue, slot: int, task: GradeTask, why: str, on_done: OnDone) -> None:
    n = queue.failures.get(_key(task), 0) + 1
    queue.failures[_key(task)] = n
    if n <= RETRIES:
        queue.alone.append(task)
    else:
        on_done(slot, TaskOutcome(task, None, fault=f"{why}; it failed again when retried", worker=""))
