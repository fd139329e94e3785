"""The one task of a batch: grade one submission file in a warm sandbox, and return plain data.

The local pool and the Dask workers run this same function (no home-made distribution code). Its
input and output are plain, JSON-able values, so the outcome can cross a process or machine boundary
and be stored in the gradebook as it is. The sandbox is kept warm per worker process
(:func:`worker_sandbox`), so each task pays for one session, not for a new Python and torch.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.exercises import Exercise
    from grader.sandbox.client import Sandbox


@dataclass(frozen=True)
class GradeTask:
    """What to grade: one student's file for one exercise, with the seed and options of the batch."""

    exercise: str
    student: str
    path: str  # absolute path of the file to grade
    seed: int
    sha256: str = ""
    exercise_dirs: tuple[str, ...] = ()  # the --exercises folders, so that a remote worker finds the exercise
    isolation: str | None = None
    device: str = "cpu"
    dtypes: tuple[str, ...] = ("float64", "float32")
    timeout: float | None = None
    load_timeout: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GradeTask:
        return cls(**{**d, "exercise_dirs": tuple(d.get("exercise_dirs", ())), "dtypes": tuple(d.get("dtypes", ()))})


@dataclass(frozen=True)
class TaskOutcome:
    """What came of a task. ``result`` is the instructor's view of the result (``Report.to_dict()``, JSON
    schema 1); ``fault`` says why there is none (a grader fault outside any check, never the student's)."""

    task: GradeTask
    result: dict[str, Any] | None
    fault: str = ""
    duration: float = 0.0
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.to_dict(), "result": self.result, "fault": self.fault,
                "duration": self.duration, "worker": self.worker}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskOutcome:
        return cls(GradeTask.from_dict(d["task"]), d.get("result"), d.get("fault", ""), d.get("duration", 0.0),
                   d.get("worker", ""))


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


_SANDBOXES: dict[str | None, Sandbox] = {}


def worker_sandbox(isolation: str | None) -> Sandbox:
    """This process's warm sandbox for ``isolation`` (started on first use, closed at exit). A sandbox whose
    zygote died is replaced by the sandbox itself, so one hostile submission cannot poison the next."""
    sb = _SANDBOXES.get(isolation)
    if sb is None:
        from grader.sandbox.client import Sandbox

        sb = Sandbox(isolation=isolation)
        sb.__enter__()
        _SANDBOXES[isolation] = sb
        atexit.register(close_worker_sandboxes)
    return sb


def close_worker_sandboxes() -> None:
    while _SANDBOXES:
        _, sb = _SANDBOXES.popitem()
        try:
            sb.close()
        except Exception:  # noqa: BLE001 - closing at exit must not raise
            pass


def warm_up() -> None:
    """Import what grading needs, so that the first task does not pay for it (the pool calls this while
    the worker's sandbox starts)."""
    import grader.grading  # noqa: F401
    import grader.results  # noqa: F401


_EXERCISES: dict[str, tuple[tuple[tuple[str, int, int], ...], Exercise]] = {}


def _stamp(ex: Exercise) -> tuple[tuple[str, int, int], ...]:
    """The exercise's files (its folder's and the reference's), each with its modification time and size."""
    files = [p for p in ex.folder.rglob("*") if "__pycache__" not in p.parts]
    reference = ex.reference_path
    if reference is not None:
        files.append(reference)
    stamp = []
    for p in sorted(files):
        try:
            st = p.stat()
        except OSError:
            continue
        stamp.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(stamp)


def cached_exercise(name: str) -> Exercise:
    """The exercise ``name`` on the search path, loaded once per worker while none of its files changes:
    its specs, checks, reference and mistakes are then parsed and imported once, not per submission. The
    checks keep no state from one grading to the next (a kit's replay binds a fresh one per check)."""
    from grader.exercises import get_exercise

    ex = get_exercise(name)
    hit = _EXERCISES.get(name)
    if hit is not None and hit[1].folder == ex.folder and hit[0] == _stamp(hit[1]):
        return hit[1]
    _EXERCISES[name] = (_stamp(ex), ex)
    return ex


def run_task(task: GradeTask, sandbox: Sandbox | None = None) -> TaskOutcome:
    """Grade ``task`` in ``sandbox`` (default: this process's warm one). Never raises for a student's
    file: what goes wrong in it is in the result; what goes wrong in the grader is ``fault``."""
    from grader.errors import GraderError
    from grader.exercises import use_dirs
    from grader.grading import DTYPE_NAMES, GradeOptions, grade
    from grader.results import redact

    started = time.perf_counter()
    try:
        use_dirs([Path(d) for d in task.exercise_dirs])
        sb = sandbox or worker_sandbox(task.isolation)
        options = GradeOptions(seed=task.seed, device=task.device, timeout=task.timeout,
                               load_timeout=task.load_timeout, dtypes=tuple(DTYPE_NAMES[d] for d in task.dtypes))
        result = grade(cached_exercise(task.exercise), task.path, options, sandbox=sb)
        return TaskOutcome(task, redact(result, "instructor").to_dict(), duration=time.perf_counter() - started)
    except GraderError as e:
        return TaskOutcome(task, None, fault=str(e), duration=time.perf_counter() - started)
    except Exception as e:  # noqa: BLE001 - a grader bug must not sink the batch, nor be charged to the student
        return TaskOutcome(task, None, fault=f"internal grader error: {type(e).__name__}: {e}",
                           duration=time.perf_counter() - started)
