"""Grading a class: a shell loop of `grade EXERCISE FILE`, the batch pool, the pure check compute, and Dask.

    python benchmarks/batch_bench.py [--n 300] [--small] [--jobs 2] [--loop-sample 2] [--isolation bwrap]
    python benchmarks/batch_bench.py --whole-class 300      # (f) only: every exercise for 300 students

The workload: ``--n`` submissions (``--small``: 20) over five exercises (least_squares, jacobians, mlp_backprop,
softmax_ce, conv), one folder per student holding one file per exercise. Most are references or carry one
known mistake (a ``mistakes.py`` variant written out as a self-contained file, since the sandbox hides this
project from the submission); a few are hostile: an infinite loop at import (it costs the load timeout), a
huge allocation in every function (refused by the memory limit), and a burst of ``fork`` at import (stopped
by the process limit, the children killed with the session). Every mode grades the same files with the same
seed, in ONE run, and its scores are compared with those of the pool:

(a) the shell loop: a fresh ``grade EXERCISE FILE`` process per submission. It is slow, so by default only
    ``--loop-sample K`` submissions of each kind (exercise x reference/mistake, and each hostile kind) are
    timed and the total is extrapolated from their mean (the table says so); ``--loop-sample 0`` runs all;
(b) `grade batch EXERCISES... ROOT --jobs J` in a fresh process (its outcomes read back from its gradebook).
    In a checkout without the batch runner, a process pool over the same task function
    (``grader.batch.task.run_task``), each worker holding one warm sandbox; the table says which;
(c) the pure check compute: the sum of the checks' own ``duration`` over (b)'s results, and that sum
    divided by ``--jobs`` (the wall time of a perfect pool);
(d) Dask on a LocalCluster of 1 and of 2 worker processes on this machine: `grade batch --dask ADDRESS
    --jobs W` (or, without the runner, ``grader.batch.dask_backend.dask_executor`` directly); the cluster's
    start is shown apart;
(e) resume: `grade batch` killed with SIGKILL (its whole process group) once half of the class is in the
    gradebook, then run again: the second run must grade only the rest (counted from the gradebook's rows).
(f) with ``--whole-class S`` only: S students times every exercise on the search path (the same mix), in
    one `grade batch --all`, timed from start to exit.

It writes a Markdown table to stdout (progress to stderr).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import importlib.util
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.batch.task import GradeTask, TaskOutcome, file_sha256, run_task, worker_sandbox  # noqa: E402
from grader.exercises import get_exercise  # noqa: E402

EXERCISES = ("least_squares", "jacobians", "mlp_backprop", "softmax_ce", "conv")
HOSTILE = ("infinite_loop", "huge_allocation", "fork_burst")
HOSTILE_EVERY = 100  # one submission of each hostile kind per this many (at least one of each)
REFERENCE_SHARE = 3  # one submission in this many is a reference; the others carry one mistake


# -- the workload ---------------------------------------------------------------------------------------
def standalone_mutant(exercise: str, mistake_id: str) -> str:
    """The reference with one ``mistakes.py`` variant in it, as ONE self-contained file.

    ``grader.mistakes.mutant_source`` imports the grader's book at run time, which the bwrap sandbox hides.
    Here the reference's source comes first, then the exercise's ``mistakes.py`` with a stub in place of
    ``MistakeBook`` (it only records the overrides) and its ``from reference...`` imports bound to what the
    reference just defined; the variant's functions replace the reference's at the end. Unlike the
    book's variant, the other reference functions now call the replaced ones, as a student's file would.
    """
    ex = get_exercise(exercise)
    reference = (ROOT / "reference" / f"{exercise}.py").read_text(encoding="utf-8")
    mistakes = (ex.folder / "instructor" / "mistakes.py").read_text(encoding="utf-8")
    lines = mistakes.splitlines()
    body: list[str] = []
    for node in ast.parse(mistakes).body:
        if isinstance(node, ast.ImportFrom) and node.module in ("__future__", "grader.mistakes"):
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "reference":
            for alias in node.names:
                if node.module == "reference":  # `from reference import conv as ref`
                    body.append(f"{alias.asname or alias.name} = _types.SimpleNamespace(**globals())")
                elif alias.asname and alias.asname != alias.name:
                    body.append(f"{alias.asname} = {alias.name}")
            continue
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno] + [d.lineno for d in decorators])
        assert node.end_lineno is not None
        body.extend(lines[start - 1:node.end_lineno])
    stub = '''
import types as _types


class MistakeBook:  # the benchmark's stub: records each mistake's overrides, nothing else
    def __init__(self, exercise, reference_module=None):
        self.overrides = {}

    def add(self, function, *, name, hint, nonfinite=False):
        def register(fn):
            self.overrides[fn.__name__] = {function: fn}
            return fn
        return register

    def add_variant(self, id, *, name, hint, nonfinite=False, **overrides):
        self.overrides[id] = dict(overrides)
'''
    return (f"{reference}\n\n# ---- the mistake: {mistake_id} ----\n{stub}\n" + "\n".join(body)
            + f"\n\nglobals().update(MISTAKES.overrides[{mistake_id!r}])\n")


def hostile(exercise: str, kind: str) -> str:
    reference = (ROOT / "reference" / f"{exercise}.py").read_text(encoding="utf-8")
    if kind == "infinite_loop":  # at import: it costs the load timeout once
        return reference + "\n\nwhile True:\n    pass\n"
    if kind == "huge_allocation":  # every public function first asks for 160 GB
        names = [n.name for n in ast.parse(reference).body if isinstance(n, ast.FunctionDef)
                 and not n.name.startswith("_")]
        wrap = "".join(f"\n{n} = _hog({n})" for n in names)
        return (reference + "\n\nimport functools as _ft\n\n\ndef _hog(f):\n    @_ft.wraps(f)\n"
                "    def g(*a, **k):\n        _x = __import__('torch').ones(200_000, 200_000)\n"
                "        return f(*a, **k)\n"
                "    return g\n" + wrap + "\n")
    if kind == "fork_burst":  # a correct solution, then at import up to 100 children that sleep (fork hidden
        # from the static check, which would refuse a plain os.fork() before anything runs)
        return (reference + "\n\n_os = __import__('o' + 's')\n_fork = getattr(_os, 'fo' + 'rk')\n"
                "for _ in range(100):\n    try:\n        if _fork() == 0:\n"
                "            __import__('time').sleep(60)\n            _os._exit(0)\n"
                "    except OSError:\n        break\n")
    raise ValueError(kind)


@dataclass(frozen=True)
class Item:
    task: GradeTask
    kind: str  # "reference", "mistake" or a hostile kind

    @property
    def group(self) -> str:
        """What the shell loop samples by: hostile kinds alone, the others per exercise."""
        return self.kind if self.kind in HOSTILE else f"{self.task.exercise}/{self.kind}"


def build_workload(root: Path, n: int, isolation: str, exercises: tuple[str, ...] = EXERCISES) -> list[Item]:
    """``n`` submissions, exercise by exercise in turn: student k holds the files k*E ... k*E+E-1."""
    mistakes = {e: [m.id for m in get_exercise(e).mistakes or []] for e in exercises}
    hostile_at = {}
    n_each = max(1, n // HOSTILE_EVERY)
    for j in range(n_each * len(HOSTILE)):  # spread over the batch, not bunched at its start
        hostile_at[(j * n) // (n_each * len(HOSTILE)) + n // (2 * n_each * len(HOSTILE))] = HOSTILE[j % len(HOSTILE)]
    items: list[Item] = []
    used: Counter[str] = Counter()
    for i in range(n):
        exercise = exercises[i % len(exercises)]
        student = f"student{i // len(exercises):03d}"
        kind = hostile_at.get(i) or ("reference" if (i // len(exercises)) % REFERENCE_SHARE == 0 else "mistake")
        if kind == "reference":
            source = (ROOT / "reference" / f"{exercise}.py").read_text(encoding="utf-8")
        elif kind == "mistake":
            ids = mistakes[exercise]
            source = standalone_mutant(exercise, ids[used[exercise] % len(ids)])
            used[exercise] += 1
        else:
            source = hostile(exercise, kind)
        path = root / student / get_exercise(exercise).spec.student_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        items.append(Item(GradeTask(exercise, student, str(path), seed=0, sha256=file_sha256(path),
                                    isolation=isolation), kind))
    return items


# -- the modes --------------------------------------------------------------------------------------------
@dataclass
class Run:
    name: str
    wall: float
    outcomes: dict[tuple[str, str], TaskOutcome] = field(default_factory=dict)
    note: str = ""
    extrapolated: bool = False

    def scores(self) -> dict[tuple[str, str], float | None]:
        return {k: (o.result["score"] if o.result else None) for k, o in self.outcomes.items()}

    @property
    def faults(self) -> int:
        return sum(1 for o in self.outcomes.values() if o.fault or (o.result and not o.result["complete"]))


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def shell_loop(items: list[Item], isolation: str, sample: int) -> Run:
    """(a) One fresh ``grade EXERCISE FILE`` process per submission, one after the other."""
    by_group: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        by_group[it.group].append(it)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    total, timed = 0.0, 0
    for group, members in by_group.items():
        chosen = members if sample <= 0 else members[:sample]
        times = []
        for it in chosen:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "cli.py"), it.task.exercise, it.task.path, "--isolation",
                            isolation, "--seed", str(it.task.seed), "--format", "json"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times.append(time.perf_counter() - t0)
        timed += len(times)
        total += sum(times) / len(times) * len(members)
        log(f"  loop {group}: {len(times)} timed, mean {sum(times) / len(times):.2f} s, x{len(members)}")
    extrapolated = sample > 0 and timed < len(items)
    note = (f"extrapolated: {timed} of {len(items)} timed (up to {sample} per kind), times their count"
            if extrapolated else "all timed")
    return Run("(a) shell loop, a fresh `grade EXERCISE FILE` per submission", total, note=note,
               extrapolated=extrapolated)


def _pool_init(isolation: str) -> None:
    import torch

    torch.set_num_threads(1)
    worker_sandbox(isolation)


@contextmanager
def own_pool(jobs: int, isolation: str) -> Iterator[cf.Executor]:
    """Until the batch runner is merged: a process pool whose workers each keep one warm sandbox."""
    with cf.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_pool_init,
                                initargs=(isolation,)) as pool:
        yield pool


def on_executor(name: str, make: Callable[[], AbstractContextManager[cf.Executor]], items: list[Item]) -> Run:
    """Submit every task's ``run_task`` to the executor; collect the outcomes as they complete."""
    t0 = time.perf_counter()
    run = Run(name, 0.0)
    with make() as ex:
        futures = [ex.submit(run_task, it.task) for it in items]
        for k, f in enumerate(cf.as_completed(futures), 1):
            o = f.result()
            run.outcomes[(o.task.student, o.task.exercise)] = o
            if k % max(1, len(items) // 10) == 0:
                log(f"  {name}: {k}/{len(items)} in {time.perf_counter() - t0:.1f} s")
    run.wall = time.perf_counter() - t0
    return run


def batch_merged() -> bool:
    """Whether `grade batch` (the batch runner and gradebook) is in this checkout."""
    return importlib.util.find_spec("grader.batch.batch") is not None


def batch_command(root: Path, db: Path, isolation: str, *extra: str,
                  exercises: tuple[str, ...] = EXERCISES) -> list[str]:
    return [sys.executable, str(ROOT / "cli.py"), "batch", *exercises, str(root), "--db", str(db), "--isolation",
            isolation, "--seed", "0", *extra]


def whole_class(students: int, jobs: int, isolation: str) -> None:
    """(f) Every exercise for ``students`` students (the same mix: a third references, the rest one mistake
    each, one of each hostile kind per 100 submissions), graded by ONE `grade batch --all` in a fresh
    process, timed end to end; a Markdown table of what was graded, per exercise."""
    from grader.exercises import all_exercises
    from grader.gradebook.store import Gradebook

    exercises = tuple(ex.name for ex in all_exercises())
    root = Path(tempfile.mkdtemp(prefix="batch-class-"))
    try:
        items = build_workload(root, students * len(exercises), isolation, exercises)
        kinds = Counter(it.kind for it in items)
        log(f"(f) whole class: {students} students x {len(exercises)} exercises in {root}: {dict(kinds)}")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        db = root.parent / f"{root.name}.db"
        cmd = [sys.executable, str(ROOT / "cli.py"), "batch", "--all", str(root), "--db", str(db), "--isolation",
               isolation, "--seed", "0", "--jobs", str(jobs)]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        with Gradebook(db) as book:
            rows = book.latest()
        print(f"# whole class: {students} students x {len(exercises)} exercises = {len(items)} submissions "
              f"({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}); `grade batch --all --jobs {jobs}`, "
              f"isolation {isolation}, {os.cpu_count()} cores, exit status {done.returncode}\n")
        print("| exercise | submissions | graded | full marks | grader faults | slot time (s) |")
        print("|---|---:|---:|---:|---:|---:|")
        for ex in exercises:
            mine = [r for (_, e), r in rows.items() if e == ex]
            graded = sum(r.state == "graded" for r in mine)
            full = sum(r.state == "graded" and r.score == r.max_score for r in mine)
            faults = sum(r.state == "grader_fault" for r in mine)
            print(f"| {ex} | {len(mine)} | {graded} | {full} | {faults} | {sum(r.duration for r in mine):.1f} |")
        last = done.stdout.strip().splitlines()[-2:] if done.stdout else []
        print(f"\n- wall time, start to exit: **{wall:.1f} s = {wall / 60:.1f} min** (target: under 10 min); "
              f"{len(rows)} rows in the gradebook; it said: {' / '.join(last)}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        for extra in ("", "-wal", "-shm", ".lock"):
            Path(f"{root.parent / root.name}.db{extra}").unlink(missing_ok=True)


def from_gradebook(db: Path, items: list[Item]) -> dict[tuple[str, str], TaskOutcome]:
    """The outcome of each item as the gradebook holds it (its latest row)."""
    from grader.gradebook.store import Gradebook

    tasks = {(it.task.student, it.task.exercise): it.task for it in items}
    with Gradebook(db) as book:
        rows = book.latest()
    return {k: TaskOutcome(tasks[k], r.result, r.reason if r.state != "graded" else "", r.duration)
            for k, r in rows.items() if k in tasks}


def cli_batch(name: str, items: list[Item], root: Path, db: Path, isolation: str, *extra: str) -> Run:
    """`grade batch` in a fresh process, as an instructor types it; its outcomes read back from the gradebook."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    done = subprocess.run(batch_command(root, db, isolation, *extra), env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    run = Run(name, time.perf_counter() - t0, from_gradebook(db, items))
    if done.returncode not in (0, 3):  # 3: some grader fault, counted in the table
        log(f"  {name}: exit status {done.returncode}: {done.stderr[-2000:]}")
    log(f"  {name}: {run.wall:.1f} s")
    return run


def gradebook_rows(db: Path) -> int:
    """Rows in the gradebook's ``submissions`` table (one per grading), read while a batch writes it."""
    import sqlite3

    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:  # not created yet
        return 0


def resume_after_kill(items: list[Item], root: Path, db: Path, isolation: str, jobs: int) -> tuple[Run, str]:
    """(e) `grade batch` killed with SIGKILL (its whole process group) once half the class is committed,
    then run again to the end: the second run must grade only what the first did not commit."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    n = len(items)
    cmd = batch_command(root, db, isolation, "--jobs", str(jobs))
    t0 = time.perf_counter()
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    while first.poll() is None and gradebook_rows(db) < n // 2:
        time.sleep(0.1)
    if first.poll() is None:
        os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.perf_counter() - t0
    committed = gradebook_rows(db)
    run = cli_batch(f"(e) resume: `grade batch --jobs {jobs}` again after a SIGKILL at 50%", items, root, db,
                    isolation, "--jobs", str(jobs))
    import sqlite3

    con = sqlite3.connect(str(db))
    try:
        total = int(con.execute("SELECT COUNT(*) FROM submissions").fetchone()[0])
        twice = int(con.execute("SELECT COUNT(*) FROM (SELECT student, exercise FROM submissions "
                                "GROUP BY student, exercise HAVING COUNT(*) > 1)").fetchone()[0])
    finally:
        con.close()
    regraded = total - n
    run.note = (f"killed after {killed_at:.1f} s with {committed}/{n} committed; the second run graded "
                f"{total - committed}, regraded {regraded} already committed ({twice} graded twice)")
    verdict = "yes" if regraded == 0 and twice == 0 and len(run.outcomes) == n else "NO"
    return run, verdict


def check_compute(run: Run) -> float:
    """(c) The checks' own time: what grading costs with no process, sandbox or scheduling around it."""
    return sum(c.get("duration", 0.0) for o in run.outcomes.values() if o.result for c in o.result["checks"])


def dask_run(items: list[Item], workers: int, isolation: str, root: Path, db: Path | None) -> Run:
    """(d) A LocalCluster of ``workers`` processes on this machine; `grade batch --dask` (or, before the
    runner is merged, the Dask executor directly) grades the class on it."""
    from distributed import LocalCluster

    from grader.batch.dask_backend import dask_executor

    name = f"(d) Dask, {workers} worker{'s' if workers > 1 else ''} (LocalCluster)"
    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        started = time.perf_counter() - t0
        if db is not None:
            run = cli_batch(f"{name}: `grade batch --dask ... --jobs {workers}`", items, root, db, isolation,
                            "--dask", cluster.scheduler_address, "--jobs", str(workers))
        else:
            run = on_executor(f"{name}: dask_executor", lambda: dask_executor(cluster.scheduler_address,
                                                                               isolation=isolation), items)
    run.note = f"+ {started:.1f} s to start the cluster, not counted"
    return run


# -- the table --------------------------------------------------------------------------------------------
def compare(run: Run, base: Run) -> str:
    if not run.outcomes:
        return "—"
    a, b = run.scores(), base.scores()
    differ = [k for k in a if a[k] != b.get(k)]
    return "yes" if not differ else f"NO: {len(differ)} differ ({', '.join('/'.join(k) for k in differ[:3])})"


def print_kinds(items: list[Item], run: Run) -> None:
    """What each kind of submission cost in ``run``, and what it got: a hostile one must cost only its slot."""
    print(f"\n{run.name}, by kind of submission:\n")
    print("| kind | count | mean time in its slot (s) | max (s) | full marks | grader faults |")
    print("|---|---|---|---|---|---|")
    groups: dict[str, list[TaskOutcome]] = defaultdict(list)
    for it in items:
        groups[it.kind].append(run.outcomes[(it.task.student, it.task.exercise)])
    for kind, outs in sorted(groups.items()):
        times = [o.duration for o in outs]
        full = sum(1 for o in outs if o.result and o.result["score"] == o.result["max_score"])
        faults = sum(1 for o in outs if o.fault or (o.result and not o.result["complete"]))
        print(f"| {kind} | {len(outs)} | {sum(times) / len(times):.2f} | {max(times):.2f} | {full} | {faults} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=300, help="submissions (default 300)")
    ap.add_argument("--small", action="store_true", help="a quick check: 20 submissions")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--loop-sample", type=int, default=2, metavar="K",
                    help="time K submissions of each kind in the shell loop and extrapolate (0: all)")
    ap.add_argument("--isolation", default="bwrap", choices=["bwrap", "auto", "none"])
    ap.add_argument("--dask-workers", default="1,2", help="LocalCluster sizes to time (empty: no Dask)")
    ap.add_argument("--skip-loop", action="store_true")
    ap.add_argument("--skip-resume", action="store_true", help="no (e): the resume after a kill")
    ap.add_argument("--keep", action="store_true", help="keep the generated submissions folder")
    ap.add_argument("--whole-class", type=int, default=0, metavar="STUDENTS",
                    help="only (f): every exercise for STUDENTS students in one `grade batch --all` (e.g. 300)")
    args = ap.parse_args()
    if args.whole_class:
        whole_class(args.whole_class, args.jobs, args.isolation)
        return
    n = 20 if args.small else args.n
    root = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    try:
        items = build_workload(root, n, args.isolation)
        kinds = Counter(it.kind for it in items)
        log(f"{n} submissions in {root}: {dict(kinds)}")
        runs: list[Run] = []
        merged = batch_merged()
        dbs = root.parent / f"{root.name}-db"
        dbs.mkdir()
        log("(b) batch")
        if merged:
            pool = cli_batch(f"(b) `grade batch --jobs {args.jobs}`", items, root, dbs / "b.db", args.isolation,
                             "--jobs", str(args.jobs))
            pool.note = "one process: start, layout, gradebook, pool of warm sandboxes"
        else:
            pool = on_executor(f"(b) process pool, --jobs {args.jobs}, warm sandbox per worker",
                               lambda: own_pool(args.jobs, args.isolation), items)
            pool.note = "NOT `grade batch`: own ProcessPoolExecutor over run_task (the batch runner is not merged)"
        runs.append(pool)
        compute = check_compute(pool)
        if not args.skip_loop:
            log("(a) shell loop")
            runs.insert(0, shell_loop(items, args.isolation, args.loop_sample))
        for w in [int(x) for x in args.dask_workers.split(",") if x.strip()]:
            log(f"(d) dask, {w} workers")
            runs.append(dask_run(items, w, args.isolation, root, dbs / f"d{w}.db" if merged else None))
        resumed = ""
        if merged and not args.skip_resume:
            log("(e) resume after a kill at 50%")
            run, resumed = resume_after_kill(items, root, dbs / "e.db", args.isolation, args.jobs)
            runs.append(run)
        print(f"# batch benchmark: {n} submissions over {len(EXERCISES)} exercises ({', '.join(EXERCISES)}); "
              + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
        print(f"# {platform.platform(terse=True)}, python {platform.python_version()}, {os.cpu_count()} cores, "
              f"isolation {args.isolation}, seed 0\n")
        print("| mode | wall (s) | per submission (s) | vs (b) | same scores as (b) | grader faults | note |")
        print("|---|---|---|---|---|---|---|")
        for r in runs:
            ratio = r.wall / pool.wall if pool.wall else float("nan")
            same = compare(r, pool) if r is not pool else "—"
            faults = str(r.faults) if r.outcomes else "—"
            wall = f"{'~' if r.extrapolated else ''}{r.wall:.1f}"
            print(f"| {r.name} | {wall} | {r.wall / n:.2f} | {ratio:.2f}x | {same} | {faults} | {r.note} |")
        print(f"| (c) pure check compute: sum of the checks' durations in (b) | {compute:.1f} | {compute / n:.2f} | "
              f"{compute / pool.wall:.2f}x | — | — | / {args.jobs} jobs = {compute / args.jobs:.1f} s: (b) is "
              f"{pool.wall / (compute / args.jobs):.2f}x a perfect pool |")
        print()
        if not args.skip_loop:
            print(f"- shell loop / batch: {runs[0].wall / pool.wall:.1f}x (target: at least 10x)")
        print(f"- batch / pure check compute (the sum of the checks' own times): {pool.wall / compute:.2f}x "
              "(target: within 1.5x)")
        print(f"- batch / a perfect pool of that compute (the sum / {args.jobs} jobs): "
              f"{pool.wall / (compute / args.jobs):.2f}x")
        if resumed:
            print(f"- resume after a kill at 50% regrades nothing already committed: {resumed}")
        per = pool.wall / n
        print(f"- a class at (b)'s rate, {per:.2f} s per submission of these exercises: 300 students x "
              f"{len(EXERCISES)} exercises = {300 * len(EXERCISES) * per / 60:.1f} min "
              f"(extrapolated; target: under 10 min)")
        print_kinds(items, pool)
    finally:
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(root.parent / f"{root.name}-db", ignore_errors=True)


if __name__ == "__main__":
    main()
