"""The runner over any Executor: a dead worker's tasks are retried once, alone; then a grader fault."""

from __future__ import annotations

from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from grader.batch.batch import outcome_state
from grader.batch.runner import run_tasks
from grader.batch.task import GradeTask, TaskOutcome


class FakeExecutor(Executor):
    """Completes each task at once. ``fails(n, student)`` says whether executor number ``n`` fails it, and how."""

    def __init__(self, n, fails, log):
        self.n, self.fails, self.log = n, fails, log

    def submit(self, fn, /, *args, **kwargs):
        task = GradeTask.from_dict(args[0])
        self.log.append((self.n, task.student))
        fut: Future = Future()
        error = self.fails(self.n, task.student)
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(TaskOutcome(task, {"score": 1.0, "max_score": 1.0, "checks": [], "complete": True},
                                       worker=f"fake{self.n}").to_dict())
        return fut


def _run(students, fails):
    log, made, outcomes = [], [], {}

    @contextmanager
    def make():
        made.append(len(made))
        yield FakeExecutor(len(made) - 1, fails, log)

    tasks = [GradeTask("softmax_ce", s, f"/x/{s}.py", 0) for s in students]
    run_tasks(tasks, make, 2, on_done=lambda slot, o: outcomes.__setitem__(o.task.student, o))
    return outcomes, log, len(made)


def test_a_task_that_kills_its_worker_twice_is_a_grader_fault_and_the_others_are_graded():
    def fails(n, student):
        if student == "killer" or (n == 0 and student == "beside"):  # the pool breaks: all in flight die
            return BrokenProcessPool("A process in the process pool was terminated abruptly")
        return None

    outcomes, log, executors = _run(["beside", "killer", "carol", "dave"], fails)
    assert set(outcomes) == {"beside", "killer", "carol", "dave"}
    assert outcome_state(outcomes["killer"])[0] == "grader_fault"
    fault = outcomes["killer"].fault
    assert "the worker process died" in fault and "failed again when retried" in fault
    for s in ("beside", "carol", "dave"):
        assert outcome_state(outcomes[s]) == ("graded", "")
    assert [s for _, s in log].count("killer") == 2  # retried once, not more
    assert executors >= 2  # a broken pool is replaced


def test_a_lost_worker_elsewhere_is_retried_on_the_same_executor():
    seen = set()

    def fails(n, student):
        if student == "unlucky" and student not in seen:
            seen.add(student)
            return OSError("worker lost")
        return None

    outcomes, log, executors = _run(["unlucky", "other"], fails)
    assert outcome_state(outcomes["unlucky"]) == ("graded", "")
    assert executors == 1 and [s for _, s in log].count("unlucky") == 2


def test_nothing_to_grade_starts_no_executor():
    assert _run([], lambda n, s: None)[2] == 0


def test_a_result_with_a_grader_error_check_is_a_grader_fault():
    task = GradeTask("softmax_ce", "a", "/x/a.py", 0)
    result = {"complete": False, "checks": [{"id": "c1", "status": "grader_error"}]}
    assert outcome_state(TaskOutcome(task, result)) == ("grader_fault", "the grader failed in c1")
    assert outcome_state(TaskOutcome(task, None, fault="sandbox did not start")) == ("grader_fault",
                                                                                     "sandbox did not start")


class HangingExecutor(FakeExecutor):
    """Never completes the tasks of student "hung"."""

    def submit(self, fn, /, *args, **kwargs):
        if GradeTask.from_dict(args[0]).student == "hung":
            self.log.append((self.n, "hung"))
            return Future()
        return super().submit(fn, *args, **kwargs)


def test_a_hung_grading_is_given_up_after_its_deadline():
    log, outcomes = [], {}

    @contextmanager
    def make():
        yield HangingExecutor(0, lambda n, s: None, log)

    tasks = [GradeTask("softmax_ce", s, f"/x/{s}.py", 0) for s in ("hung", "ok1", "ok2")]
    run_tasks(tasks, make, 2, on_done=lambda slot, o: outcomes.__setitem__(o.task.student, o), deadline=lambda t: 0.2)
    assert outcome_state(outcomes["hung"]) == ("grader_fault", outcomes["hung"].fault)
    assert "the grader hung" in outcomes["hung"].fault and [s for _, s in log].count("hung") == 2
    assert outcome_state(outcomes["ok1"]) == outcome_state(outcomes["ok2"]) == ("graded", "")


def _sleepy(task: dict) -> dict:
    """A task function for a real pool: hangs on student "hung", as a grader bug would."""
    import time

    t = GradeTask.from_dict(task)
    if t.student == "hung":
        time.sleep(600)
    return TaskOutcome(t, {"score": 1.0, "max_score": 1.0, "checks": [], "complete": True}).to_dict()


def test_a_hung_worker_of_a_real_pool_is_terminated_and_the_others_are_graded():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pools, outcomes = [], {}

    @contextmanager
    def make():
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
            pools.append(pool)
            yield pool

    tasks = [GradeTask("softmax_ce", s, f"/x/{s}.py", 0) for s in ("hung", "a", "b", "c")]
    run_tasks(tasks, make, 2, on_done=lambda slot, o: outcomes.__setitem__(o.task.student, o),
              deadline=lambda t: 1.0, fn=_sleepy)
    assert sorted(outcomes) == ["a", "b", "c", "hung"]
    assert "the grader hung" in outcomes["hung"].fault
    assert all(outcome_state(outcomes[s]) == ("graded", "") for s in "abc")
    assert len(pools) >= 2  # the pool holding the hung task was replaced
