"""Grading on a Dask cluster (``grade batch --dask``): a LocalCluster of two worker processes.

The same task function as the local pool, so the same results; a worker killed mid-batch loses nothing.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

from distributed import LocalCluster  # noqa: E402

from grader.batch.dask_backend import dask_executor  # noqa: E402
from grader.batch.task import GradeTask, TaskOutcome, file_sha256, run_task  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

MISTAKES = ("ls_loss_mean", "ls_grad_without_two", "ls_solve_inverse", "fit_affine_no_intercept", "ridge_half_lambda")


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


@pytest.fixture(scope="module")
def executor(cluster):
    with dask_executor(cluster.scheduler_address, isolation="none") as ex:
        yield ex


@pytest.fixture(scope="module")
def tasks(mutant) -> list[GradeTask]:
    files = [ROOT / "reference" / "least_squares.py"] + [mutant("least_squares", m) for m in MISTAKES]
    return [GradeTask("least_squares", f"student{i}", str(p), seed=i, sha256=file_sha256(p), isolation="none")
            for i, p in enumerate(files)]


@pytest.fixture(scope="module")
def expected(tasks, sandbox) -> dict[str, dict[str, Any]]:
    """What the local pool's task function gives, in this process."""
    out = {t.student: run_task(t, sandbox) for t in tasks}
    assert all(o.result is not None and not o.fault for o in out.values()), out
    return {s: comparable(o) for s, o in out.items()}


def comparable(outcome: TaskOutcome) -> dict[str, Any]:
    """The outcome without what legitimately differs between two runs: times, the worker's name, and where a
    timed-out check's code was when it was stopped."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            timed_out = value.get("status") == "timeout"
            return {k: strip(v) for k, v in value.items() if k != "duration" and not (timed_out and k == "traceback")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    d = outcome.to_dict()
    d.pop("worker")
    return strip(d)


def grade_all(executor, tasks: list[GradeTask], during=None) -> dict[str, TaskOutcome]:
    futures = [executor.submit(run_task, t) for t in tasks]
    if during is not None:
        during(futures)
    outcomes = [f.result(timeout=300) for f in cf.as_completed(futures, timeout=300)]
    assert all(isinstance(o, TaskOutcome) for o in outcomes)
    return {o.task.student: o for o in outcomes}


def sandboxes_on(client) -> dict[str, list[str]]:
    """The isolations each worker keeps a warm sandbox for."""

    def mine() -> list[str]:  # nested: sent by value, the workers need not import this test module
        from grader.batch import task

        return sorted(str(k) for k in task._SANDBOXES)

    return client.run(mine)


def test_each_worker_has_its_warm_sandbox_before_any_task(executor):
    found = sandboxes_on(executor.client)
    assert len(found) == 2 and all("none" in v for v in found.values()), found


def test_dask_gives_the_local_results(executor, tasks, expected):
    got = grade_all(executor, tasks)
    assert sorted(got) == sorted(expected)
    for student, outcome in got.items():
        assert comparable(outcome) == expected[student], student
    # the mutants really are graded as wrong: the comparison is not between empty results
    scores = {s: o.result["score"] for s, o in got.items() if o.result}
    assert scores["student0"] == got["student0"].result["max_score"]
    assert all(scores[f"student{i}"] < scores["student0"] for i in range(1, len(tasks)))


def test_a_worker_killed_mid_batch_loses_nothing(executor, tasks, expected):
    client = executor.client
    many = [GradeTask.from_dict({**t.to_dict(), "student": f"{t.student}-{k}"}) for k in range(2) for t in tasks]
    killed: list[int] = []

    def kill_a_busy_worker(futures) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            else:
                time.sleep(0.05)

    got = grade_all(executor, many, during=kill_a_busy_worker)
    assert killed, "no worker was busy to be killed"
    # the nanny restarted the worker, and the plugin gave it a warm sandbox again
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = sandboxes_on(client)
        if len(found) == 2 and all("none" in v for v in found.values()):
            break
        time.sleep(0.5)
    assert len(found) == 2 and all("none" in v for v in found.values()), found
    assert sorted(got) == sorted(t.student for t in many)
    for student, outcome in got.items():
        assert not outcome.fault, (student, outcome.fault)
        assert comparable(outcome) == {**expected[student.rsplit("-", 1)[0]],
                                       "task": outcome.task.to_dict()}, student


def test_a_file_that_changed_after_hashing_is_a_grader_fault_not_a_grade(executor, tasks, tmp_path):
    p = tmp_path / "least_squares.py"
    p.write_text("def ls_loss(W, theta, y):\n    return 0\n", encoding="utf-8")
    changed = GradeTask("least_squares", "late", str(p), seed=0, sha256="0" * 64, isolation="none")
    gone = GradeTask("least_squares", "gone", str(tmp_path / "missing.py"), seed=0, isolation="none")
    got = grade_all(executor, [changed, gone])
    assert got["late"].result is None and "changed after it was hashed" in got["late"].fault
    assert got["gone"].result is None and "could not be read" in got["gone"].fault


def test_an_unreachable_scheduler_is_a_clear_error():
    from grader.errors import GraderError

    with pytest.raises(GraderError, match="could not reach the Dask scheduler at tcp://127.0.0.1:9"):
        with dask_executor("tcp://127.0.0.1:9", connect_timeout=1):
            pass


@pytest.mark.skipif(not __import__("shutil").which("bwrap"), reason="bubblewrap (bwrap) is not installed")
def test_dask_workers_grade_inside_bubblewrap(executor):
    from grader.sandbox.client import isolation_available

    ok, why = isolation_available()
    if not ok:
        pytest.skip(f"bwrap cannot start a sandbox here: {why}")
    p = ROOT / "reference" / "least_squares.py"  # self-contained: the sandbox hides this project
    got = grade_all(executor, [GradeTask("least_squares", "isolated", str(p), seed=0, sha256=file_sha256(p),
                                         isolation="bwrap")])
    outcome = got["isolated"]
    assert outcome.result is not None, outcome.fault
    assert outcome.result["environment"]["isolation"] == "bwrap"
    assert outcome.result["score"] == outcome.result["max_score"]
    assert all("bwrap" in v for v in sandboxes_on(executor.client).values())


def test_grade_batch_on_dask_fills_the_same_gradebook_as_the_local_pool_and_resumes(cluster, graded_class, tmp_path):
    """End to end: `grade batch --dask` (run_batch with ``dask=``) on the class that conftest grades with the
    local pool: the same rows; a second run grades nothing (resume works through Dask too)."""
    from grader.batch.batch import run_batch
    from grader.gradebook.store import Gradebook
    from tests.batch.conftest import options

    folder, pool_db, _ = graded_class
    db = tmp_path / "dask.db"
    first = run_batch(options(folder, db, in_process=False, jobs=2, dask=cluster.scheduler_address))
    again = run_batch(options(folder, db, in_process=False, jobs=2, dask=cluster.scheduler_address))
    with Gradebook(pool_db) as book:
        pool_rows = book.latest()
    with Gradebook(db) as book:
        dask_rows = book.latest()
        rows_written = book.count()

    def same(row) -> tuple:
        strip = comparable(TaskOutcome(GradeTask(row.exercise, row.student, "", 0), row.result))
        return row.state, row.reason, row.score, row.sha256, row.seed, strip

    assert {k: same(r) for k, r in dask_rows.items()} == {k: same(r) for k, r in pool_rows.items()}
    assert first.graded == len([r for r in dask_rows.values() if r.state != "unreadable"]) > 0
    assert again.graded == 0 and again.grader_faults == 0 and again.up_to_date == first.graded
    assert rows_written == len(dask_rows)  # nothing graded or recorded twice


def test_without_jobs_a_batch_keeps_every_thread_of_the_cluster_busy(cluster):
    from grader.batch.dask_backend import cluster_threads

    assert cluster_threads(cluster.scheduler_address) == 2  # two workers of one thread each
