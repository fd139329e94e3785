"""``grade batch``: from a submissions tree to a gradebook, resumable.

1. The tree (a folder or a zip) is read in its layout (:mod:`grader.batch.layouts`), per exercise.
2. Each entry is compared with the gradebook: an entry is graded only if the gradebook has no row for it,
   or its file changed (SHA-256) or its seed did, or its last grading was a grader fault, or a regrade is
   asked for. Everything else is already committed, and is neither graded nor counted again.
3. Unreadable entries are recorded with their reason (once: again only if the reason changes).
4. The rest runs through the runner (:mod:`grader.batch.runner`) on the local pool or on Dask, and each
   outcome is committed in its own transaction as it arrives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from grader.batch.layouts import Entry, collect, exercise_roots, open_tree
from grader.batch.pool import default_jobs, in_process_executor, local_executor
from grader.batch.runner import run_tasks
from grader.batch.task import GradeTask, TaskOutcome, file_sha256
from grader.errors import GraderError
from grader.gradebook.store import Gradebook, Row, batch_lock
from grader.spec import ExerciseSpec
from grader.submissions import EntryState


@dataclass(frozen=True)
class BatchOptions:
    exercises: tuple[str, ...]
    submissions: Path
    db: Path
    jobs: int = 0  # 0: the number of cores
    seed: int = 0
    secret: bytes | None = None  # with it, each student's seed is official_seed(secret, exercise, student)
    layout: str | None = None
    isolation: str | None = None
    timeout: float | None = None
    load_timeout: float | None = None
    device: str = "cpu"
    dtypes: tuple[str, ...] = ("float64", "float32")
    regrade: tuple[str, ...] = ()
    regrade_all: bool = False
    dask: str | None = None
    in_process: bool = False  # one slot in this process, no pool (debugging, tests)
    exercise_dirs: tuple[str, ...] = ()

    def options_record(self) -> dict[str, Any]:
        """What the run records about itself (never the secret)."""
        return {"submissions": str(self.submissions), "jobs": self.jobs, "seed": None if self.secret else self.seed,
                "official_seeds": self.secret is not None, "layout": self.layout, "isolation": self.isolation,
                "timeout": self.timeout, "load_timeout": self.load_timeout, "device": self.device,
                "dtypes": list(self.dtypes),
                "regrade": list(self.regrade), "regrade_all": self.regrade_all, "dask": self.dask,
                "in_process": self.in_process}


@dataclass
class Planned:
    """One entry, read and compared with the gradebook."""

    exercise: str
    entry: Entry
    sha256: str
    seed: int
    latest: Row | None


@dataclass
class BatchSummary:
    run_id: int = 0
    layouts: dict[str, str] = field(default_factory=dict)  # exercise -> layout used
    entries: int = 0
    up_to_date: int = 0  # graded before, unchanged: not graded again (entries = this + graded + faults + unreadable)
    graded: int = 0
    full_marks: int = 0
    errors: int = 0  # graded, with a check where the student's code raised or timed out
    grader_faults: int = 0
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)  # (exercise, student, reason)
    faults: list[tuple[str, str, str]] = field(default_factory=list)  # (exercise, student, why)
    notes: list[str] = field(default_factory=list)
    duration: float = 0.0


class Progress(Protocol):
    def start(self, total: int, slots: int, summary: BatchSummary) -> None: ...
    def started(self, slot: int, task: GradeTask) -> None: ...
    def done(self, slot: int, task: GradeTask, state: str) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    def start(self, total: int, slots: int, summary: BatchSummary) -> None:
        pass

    def started(self, slot: int, task: GradeTask) -> None:
        pass

    def done(self, slot: int, task: GradeTask, state: str) -> None:
        pass

    def close(self) -> None:
        pass


def exercise_version(folder: Path, reference: Path | None = None) -> str:
    """A hash of the exercise's files (spec, checks, mistakes, reference): it changes when grading may."""
    h = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                   and not p.name.startswith("."))
    if reference is not None and reference.is_file():
        files.append(reference)
    for p in files:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def task_deadline(spec: ExerciseSpec, options: BatchOptions) -> float:
    """How long one grading may take before the runner gives it up: twice the sum of its checks' time
    limits, in every dtype, plus two minutes for starting a sandbox and the import's own limit. The sandbox stops
    student code at each check's limit, so only a hung grader ever reaches this."""
    per_dtype = sum(options.timeout or spec.timeout_for(c) for c in spec.checks)
    return 2 * per_dtype * max(1, len(options.dtypes)) + 120.0 + (options.load_timeout or spec.load_timeout)


def needs_grading(latest: Row | None, sha256: str, seed: int, forced: bool) -> bool:
    if forced or latest is None or latest.state != "graded":
        return True
    return latest.sha256 != sha256 or latest.seed != seed


def _seed(options: BatchOptions, exercise: str, student: str) -> int:
    if options.secret is None:
        return options.seed
    from grader.seeds import official_seed

    return official_seed(options.secret, exercise, student)


def outcome_state(outcome: TaskOutcome) -> tuple[EntryState, str]:
    """How an outcome is stored: a fault outside any check, or a check the grader failed, is a grader
    fault (graded again by the next run); anything else is graded, whatever the student's code did."""
    if outcome.result is None:
        return "grader_fault", outcome.fault or "no result"
    faulty = [c["id"] for c in outcome.result.get("checks", []) if c.get("status") == "grader_error"]
    if faulty or not outcome.result.get("complete", True):
        return "grader_fault", "the grader failed in " + (", ".join(faulty) or "a check")
    return "graded", ""


def _default_slots(options: BatchOptions) -> int:
    """Without --jobs: this machine's cores, or on a Dask cluster its workers' threads."""
    if not options.dask:
        return default_jobs()
    return _dask_backend().cluster_threads(options.dask)


def _dask_backend() -> ModuleType:
    """grader.batch.dask_backend, imported only for --dask (it needs the `distributed` package)."""
    try:
        from grader.batch import dask_backend
    except ImportError as e:
        raise GraderError(f"--dask needs the Dask backend (pip install 'dl-grader[instructor]'): {e}") from None
    return dask_backend


def _executor_factory(options: BatchOptions, slots: int) -> Callable[[], AbstractContextManager[Executor]]:
    if options.dask:
        address = options.dask

        def dask() -> AbstractContextManager[Executor]:
            return _dask_backend().dask_executor(address)

        return dask
    if options.in_process:
        return in_process_executor
    return lambda: local_executor(slots, options.isolation)


def _plan(options: BatchOptions, book: Gradebook, root: Path, refused: list[Entry],
          summary: BatchSummary) -> Iterator[Planned]:
    from grader.exercises import all_exercises, get_exercise

    seen: set[str] = set()
    roots = exercise_roots(root, options.exercises)
    files = {n: get_exercise(n).spec.student_file or f"{n}.py" for n in options.exercises}
    try:
        known = {ex.spec.student_file for ex in all_exercises()} | set(files.values())
    except GraderError:  # a broken exercise elsewhere on the path: only those graded are known
        known = set(files.values())
    for name in options.exercises:
        where = roots[name]
        if where is None:
            summary.notes.append(f"{name}: no folder {name}/ in {options.submissions}, so no submissions")
            continue
        layout, entries = collect(where, files[name], options.layout, others=known - {files[name]})
        if layout == "files" and len(options.exercises) > 1 and where == root:
            raise GraderError(f"{options.submissions} is a folder of STUDENT.py files, which holds one exercise: "
                              "grade one exercise, or give each exercise a folder named after it")
        summary.layouts[name] = layout
        latest = book.latest([name])
        seen.update(e.student for e in entries)
        for entry in [*entries, *refused]:
            sha = file_sha256(entry.path) if entry.readable and entry.path is not None else ""
            yield Planned(name, entry, sha, _seed(options, name, entry.student),
                          latest.get((entry.student, name)))
    unknown = sorted(set(options.regrade) - seen)
    if unknown:
        raise GraderError(f"--regrade: no entry in {options.submissions} for {', '.join(unknown)}")


def run_batch(options: BatchOptions, progress: Progress | None = None) -> BatchSummary:
    """Grade the submissions of ``options`` into its gradebook; see the module's docstring."""
    import time

    from grader.exercises import get_exercise

    progress = progress or NoProgress()
    started = time.perf_counter()
    summary = BatchSummary()
    slots = 1 if options.in_process else options.jobs or _default_slots(options)
    with ExitStack() as stack:
        stack.enter_context(batch_lock(options.db))
        book = stack.enter_context(Gradebook(options.db))
        root, refused = stack.enter_context(open_tree(options.submissions))
        planned = list(_plan(options, book, root, refused, summary))
        versions = {n: exercise_version(get_exercise(n).folder, get_exercise(n).reference_path)
                    for n in options.exercises}
        run_id = book.start_run(options.exercises, options.options_record())
        summary.run_id = run_id
        summary.entries = len(planned)
        todo: list[GradeTask] = []
        where: dict[tuple[str, str], Planned] = {}
        stale: dict[str, int] = {}  # exercise -> entries kept from a grading by another version of it
        for p in planned:
            e = p.entry
            if not e.readable:
                summary.unreadable.append((p.exercise, e.student, e.reason))
                last = p.latest
                if last is None or last.state != "unreadable" or last.reason != e.reason:
                    book.record(run_id, student=e.student, exercise=p.exercise, state="unreadable", reason=e.reason,
                                path=e.rel, exercise_version=versions[p.exercise])
                continue
            forced = options.regrade_all or e.student in options.regrade
            if not needs_grading(p.latest, p.sha256, p.seed, forced):
                summary.up_to_date += 1
                if p.latest is not None and p.latest.exercise_version != versions[p.exercise]:
                    stale[p.exercise] = stale.get(p.exercise, 0) + 1
                continue
            assert e.path is not None
            task = GradeTask(p.exercise, e.student, str(e.path.resolve()), p.seed, p.sha256, options.exercise_dirs,
                             options.isolation, options.device, options.dtypes, options.timeout,
                             options.load_timeout)
            todo.append(task)
            where[(p.exercise, e.student)] = p

        def on_done(slot: int, outcome: TaskOutcome) -> None:
            task = outcome.task
            p = where[(task.exercise, task.student)]
            state, reason = outcome_state(outcome)
            env = dict((outcome.result or {}).get("environment", {}))
            env["worker"] = outcome.worker
            book.record(run_id, student=task.student, exercise=task.exercise, state=state, reason=reason,
                        path=p.entry.rel, sha256=task.sha256, seed=task.seed, result=outcome.result,
                        exercise_version=versions[task.exercise], environment=env, duration=outcome.duration)
            kind = _count(summary, outcome, state, reason)
            progress.done(slot, task, kind)

        summary.notes += [f"{name}: {n} submission{'s were' if n > 1 else ' was'} graded by an earlier version of "
                          "the exercise and kept; `--regrade-all` grades them again (`grade gradebook diff` "
                          "then shows who gained or lost points)" for name, n in stale.items()]
        limits = {n: task_deadline(get_exercise(n).spec, options) for n in options.exercises}
        progress.start(len(todo), slots, summary)
        try:
            run_tasks(todo, _executor_factory(options, slots), slots, on_start=progress.started, on_done=on_done,
                      deadline=lambda task: limits[task.exercise])
        finally:
            progress.close()
        book.finish_run(run_id)
    summary.duration = time.perf_counter() - started
    return summary


def _count(summary: BatchSummary, outcome: TaskOutcome, state: str, reason: str) -> str:
    task = outcome.task
    if state == "grader_fault":
        summary.grader_faults += 1
        summary.faults.append((task.exercise, task.student, reason))
        return "fault"
    summary.graded += 1
    result = outcome.result or {}
    checks = result.get("checks", [])
    if any(c.get("status") in ("error", "timeout") for c in checks):
        summary.errors += 1
        return "error"
    if checks and all(c.get("status") == "passed" for c in checks) and result.get("score") == result.get("max_score"):
        summary.full_marks += 1
        return "full"
    return "graded"


def resolve_exercises(names: Sequence[str], everything: bool) -> tuple[str, ...]:
    """The exercises to grade: those named, or every exercise on the search path (``--all``)."""
    from grader.exercises import all_exercises, get_exercise

    if everything:
        if names:
            raise GraderError("give either exercise names or --all, not both")
        return tuple(ex.name for ex in all_exercises())
    if not names:
        raise GraderError("name the exercise(s) to grade, or pass --all")
    for n in names:
        get_exercise(n)  # a clear error for an unknown name, before anything starts
    return tuple(dict.fromkeys(names))
