"""Grading a batch on a Dask cluster, with the same task function as the local pool.

``grade batch ... --dask tcp://SCHEDULER:8786`` calls :func:`dask_executor`; the batch runner uses the
executor it yields exactly as it uses the local process pool: ``executor.submit(run_task, task)`` for each
submission, then it stores each :class:`~grader.batch.task.TaskOutcome` in the gradebook as it completes.
There is no distribution code of our own: Dask schedules, moves data, and reschedules the tasks of a worker
that dies.

What crosses the wire is plain data only: the task as ``GradeTask.to_dict()`` with the file's bytes, and the
outcome as ``TaskOutcome.to_dict()`` (:func:`run_task_plain`). The bytes travel with the task, so a worker
needs no shared file system, and what is graded is exactly what the client hashed.

Each Dask worker keeps one warm sandbox (:class:`SandboxPlugin`, through
:func:`~grader.batch.task.worker_sandbox`): it is started when the worker joins and closed when it leaves.

Why a duplicate result is harmless: the task only reads its input and writes nothing but a private temporary
folder, which it removes, so running it twice (Dask may run a task again when its worker dies after it
started) changes nothing. Only the client writes to the gradebook, once per future: each submitted task
resolves exactly once, whichever worker ran it last. A task submitted again (a resumed batch) carries the same
student, exercise, file hash and seed, and the gradebook decides from those whether it counts.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from grader.batch.task import GradeTask, TaskOutcome, close_worker_sandboxes, run_task, worker_sandbox
from grader.errors import GraderError
from grader.sanitize import clean

try:  # an optional dependency: only `grade batch --dask` imports this module
    from distributed import Client
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:
    raise GraderError("--dask needs the `distributed` package: pip install 'dl-grader[instructor]'") from None

RETRIES = 2  # a task that raised is run again this often (lost workers are rescheduled by Dask regardless)
CONNECT_TIMEOUT = 30.0  # seconds to reach the scheduler
WAIT_FOR_WORKERS = 60.0  # seconds to wait for a first worker


def run_task_plain(task: dict[str, Any], source: bytes) -> dict[str, Any]:
    """:func:`run_task` on plain data: ``task`` is ``GradeTask.to_dict()``, ``source`` the file's bytes.

    The file is written to a private folder under its own name and graded there; the outcome names the
    original path again (in the task and in every string of the result), so it reads as a local run would.
    Runs on a Dask worker, in that worker's warm sandbox.
    """
    original = GradeTask.from_dict(task)
    folder = tempfile.mkdtemp(prefix="dl-grader-dask-")
    try:
        local = Path(folder) / (Path(original.path).name or "submission.py")
        local.write_bytes(source)
        shipped = GradeTask.from_dict({**task, "path": str(local)})
        outcome = run_task(shipped)
        result = _replace_strings(outcome.result, str(local), original.path) if outcome.result else None
        fault = outcome.fault.replace(str(local), original.path)
        return TaskOutcome(original, result, fault, outcome.duration, outcome.worker).to_dict()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _replace_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace_strings(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, old, new) for v in value]
    return value


class SandboxPlugin(WorkerPlugin):
    """Starts the worker's warm sandbox when the worker joins (so that its first task does not wait for
    a cold start), and closes it when the worker leaves.

    ``setup`` runs in the worker's event-loop thread, which lives as long as the worker: the sandbox's
    process is tied to the thread that started it (it is killed when that thread ends), so it must not be
    started in a short-lived thread. Starting it only launches the process; torch is imported there while
    the worker waits for work.
    """

    def __init__(self, isolation: str | None) -> None:
        self.isolation = isolation
        self.name = plugin_name(isolation)

    def setup(self, worker: Any) -> None:
        try:
            worker_sandbox(self.isolation)
        except Exception as e:  # noqa: BLE001 - each task then reports it, as a grader fault with the reason
            logging.getLogger("distributed.worker").warning("dl-grader: the sandbox could not start: %s", e)

    def teardown(self, worker: Any) -> None:
        close_worker_sandboxes()


def plugin_name(isolation: str | None) -> str:
    return f"dl-grader-sandbox-{isolation or 'default'}"


class DaskExecutor(cf.Executor):
    """A ``concurrent.futures.Executor`` over a Dask client, as the batch runner expects one.

    ``submit(run_task, task)`` sends ``run_task_plain(task.to_dict(), file bytes)`` and gives back a future
    of the ``TaskOutcome``; ``submit(run_task_as_dict, task_dict)`` (the local pool's form) the same, as
    ``TaskOutcome.to_dict()``. The future never raises for a task's sake: a file that cannot be read, or a task
    that Dask gave up on (its workers died too often: ``distributed.scheduler.allowed-failures``), becomes an
    outcome with a ``fault`` (a grader fault, never charged to the student). Any other function is passed to
    Dask as it is.
    """

    def __init__(self, client: Any, *, retries: int = RETRIES) -> None:
        self.client = client  # the Dask client, for what the runner may want to know (workers, threads)
        # pure=False: two submissions of the same task are two runs, never one cached key.
        self._inner = client.get_executor(pure=False, retries=retries)
        self._warm: set[str | None] = set()

    def warm(self, isolation: str | None) -> None:
        """Make sure every worker (and every worker that joins later) keeps a sandbox for ``isolation``."""
        if isolation not in self._warm:
            self.client.register_plugin(SandboxPlugin(isolation), name=plugin_name(isolation))
            self._warm.add(isolation)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        if len(args) == 1 and not kwargs:
            if fn is run_task and isinstance(args[0], GradeTask):
                return self._submit_task(args[0], plain=False)
            if fn in _plain_task_functions() and isinstance(args[0], dict):
                return self._submit_task(GradeTask.from_dict(args[0]), plain=True)
        return self._inner.submit(fn, *args, **kwargs)

    def _submit_task(self, task: GradeTask, *, plain: bool) -> cf.Future:
        """The future of ``task``'s outcome: a ``TaskOutcome``, or its ``to_dict()`` if ``plain``."""
        try:
            source = Path(task.path).read_bytes()
        except OSError as e:
            return _done(TaskOutcome(task, None, fault=f"the submission file could not be read: {e}"), plain)
        if task.sha256 and hashlib.sha256(source).hexdigest() != task.sha256:
            return _done(TaskOutcome(task, None, fault="the submission file changed after it was hashed; "
                                                       "run the batch again to grade it"), plain)
        self.warm(task.isolation)
        inner = self._inner.submit(run_task_plain, task.to_dict(), source)
        outer: cf.Future = cf.Future()

        def relay(f: cf.Future) -> None:
            if outer.done():  # cancelled by the runner meanwhile
                return
            if f.cancelled():
                outer.cancel()
                outer.set_running_or_notify_cancel()
                return
            error = f.exception()
            outcome = f.result() if error is None else TaskOutcome(
                task, None, fault=f"the Dask cluster could not run this task: {type(error).__name__}: "
                                  f"{clean(str(error), 300)}").to_dict()
            with contextlib.suppress(cf.InvalidStateError):
                outer.set_result(outcome if plain else TaskOutcome.from_dict(outcome))

        inner.add_done_callback(relay)
        outer.add_done_callback(lambda f: inner.cancel() if f.cancelled() else None)
        return outer

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait and not cancel_futures)


def _done(outcome: TaskOutcome, plain: bool) -> cf.Future:
    f: cf.Future = cf.Future()
    f.set_result(outcome.to_dict() if plain else outcome)
    return f


def _plain_task_functions() -> tuple[Callable[..., Any], ...]:
    """The batch runner's task function on plain dicts (``run_task_as_dict``), where it exists."""
    try:
        from grader.batch.pool import run_task_as_dict
    except ImportError:
        return ()
    return (run_task_as_dict,)


@contextlib.contextmanager
def dask_executor(address: str, *, isolation: str | None = None, retries: int = RETRIES,
                  connect_timeout: float = CONNECT_TIMEOUT,
                  wait_for_workers: float = WAIT_FOR_WORKERS) -> Iterator[DaskExecutor]:
    """An executor that runs the batch's tasks on the Dask cluster whose scheduler is at ``address``.

    Every worker keeps a warm sandbox for ``isolation``, started now; without one, for the isolation of the
    first task submitted (a task's ``None`` is the worker's ``$DL_GRADER_ISOLATION``, else ``auto``). Tasks
    that ask for another isolation get theirs when the first of them is submitted. Leaving
    the block waits for what was submitted; leaving it with an exception cancels what has not run.
    Raises :class:`GraderError` when the scheduler cannot be reached or no worker joins in time.
    """
    with _connected(address, connect_timeout, wait_for_workers) as client:
        _check_versions(client)
        executor = DaskExecutor(client, retries=retries)
        if isolation is not None:  # else at the first task, with the isolation it asks for: one sandbox per worker
            executor.warm(isolation)
        try:
            yield executor
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown(wait=True)


def cluster_threads(address: str, *, connect_timeout: float = CONNECT_TIMEOUT,
                    wait_for_workers: float = WAIT_FOR_WORKERS) -> int:
    """How many tasks the cluster at ``address`` runs at once (its workers' threads): the default number of
    tasks in flight for ``grade batch --dask`` when ``--jobs`` is not given."""
    with _connected(address, connect_timeout, wait_for_workers) as client:
        return max(1, sum(client.nthreads().values()))


@contextlib.contextmanager
def _connected(address: str, connect_timeout: float, wait_for_workers: float) -> Iterator[Any]:
    """A client of the scheduler at ``address`` once a first worker has joined, closed on the way out;
    :class:`GraderError` when the scheduler cannot be reached or no worker joins in time."""
    try:
        client = Client(address, timeout=connect_timeout, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise GraderError(f"could not reach the Dask scheduler at {address}: {e}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=wait_for_workers)
        except TimeoutError:
            raise GraderError(f"no Dask worker joined the scheduler at {address} within {wait_for_workers:g} s: "
                              f"start some with `dask worker {address} --nthreads 1`") from None
        yield client
    finally:
        client.close()


def _grader_version() -> str:
    from grader import __version__

    return str(__version__)


def _check_versions(client: Any) -> None:
    """Every worker must run this grader's version: a check that changed would grade differently."""
    ours = _grader_version()
    try:
        theirs: dict[str, str] = client.run(_grader_version)
    except Exception as e:  # noqa: BLE001 - typically: the grader is not installed on a worker
        raise GraderError(f"the Dask workers could not run dl-grader ({type(e).__name__}: {e}); install it, at "
                          f"version {ours}, on every worker (docs/DASK.md)") from None
    wrong = sorted(f"{addr} ({v})" for addr, v in theirs.items() if v != ours)
    if wrong:
        raise GraderError(f"these Dask workers run another version of dl-grader than this one ({ours}): "
                          + ", ".join(wrong))


