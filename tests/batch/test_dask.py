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
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
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
    """The outcome without what legitimately differs between two runs: times and the worker's name."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "duration"}
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
