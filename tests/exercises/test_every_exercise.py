"""For every shipped exercise: the reference gets full marks for 50 seeds in each of its dtypes (once for an
exercise without tensors, ``dtypes: []``), and every mistake in its mistakes.py loses marks and is named in
the diagnosis."""

from __future__ import annotations

import pytest
import torch

from grader.exercises import all_exercises, get_exercise
from grader.grading import DTYPE_NAMES, GradeOptions, grade

EXERCISES = [ex.name for ex in all_exercises()]
SEEDS = range(50)
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
# (exercise, dtype name): one case per dtype the exercise runs in, one case ("none") for an exercise without.
DTYPE_CASES = [(ex.name, d) for ex in all_exercises() for d in (ex.spec.dtypes or ["none"])]


@pytest.mark.parametrize("exercise, dtype", DTYPE_CASES, ids=[f"{e}-{d}" for e, d in DTYPE_CASES])
def test_reference_full_marks_for_50_seeds(exercise, dtype, sandbox):
    path = f"reference/{exercise}.py"
    dtypes = tuple(DTYPE_NAMES.values()) if dtype == "none" else (DTYPE_NAMES[dtype],)
    failures = []
    for seed in SEEDS:
        r = grade(exercise, path, GradeOptions(seed=seed, dtypes=dtypes), sandbox=sandbox)
        failures += [(seed, c.id, c.status, c.message, c.details) for c in r.checks if not c.passed]
    assert failures == []


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_template_scores_zero_with_not_implemented(exercise, sandbox):
    ex = get_exercise(exercise)
    r = grade(exercise, ex.folder / "template.py", GradeOptions(), sandbox=sandbox)
    assert r.score == 0
    # said once for the submission; each check names the unwritten function it called, nothing more
    assert all(c.status == "error" and c.message.startswith("not written yet: ") and not c.traceback
               for c in r.checks)
    [line] = [p for p in r.problems if "NotImplementedError" in p]
    named = line.split(": ", 1)[1].split(";")[0].split(", ")
    assert named and set(named) <= set(ex.spec.functions)


@cuda
@pytest.mark.parametrize("exercise", EXERCISES)
def test_reference_full_marks_on_cuda(exercise):
    for seed in range(3):
        r = grade(exercise, f"reference/{exercise}.py", GradeOptions(seed=seed, device="cuda"))
        assert r.full_marks, [(c.id, c.message) for c in r.checks if not c.passed]


def mistakes_of(exercise):
    from grader.mistakes import load_book

    book = load_book(exercise)
    return [] if book is None else list(book)


CASES = [(ex, m.id) for ex in EXERCISES for m in mistakes_of(ex)]


def test_every_exercise_has_enough_mistakes():
    for ex in EXERCISES:
        assert len(mistakes_of(ex)) >= 6, ex


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("exercise, mistake_id", CASES, ids=[f"{e}:{m}" for e, m in CASES])
def test_each_mistake_loses_marks_and_is_named(exercise, mistake_id, seed, sandbox, mutant):
    from grader.mistakes import load_book

    mistake = load_book(exercise)[mistake_id]
    r = grade(exercise, mutant(exercise, mistake_id), GradeOptions(seed=seed), sandbox=sandbox)
    assert r.score < r.max_score, f"{mistake_id} got full marks"
    failed = [c for c in r.checks if not c.passed]
    named = [c for c in failed if c.mistake == mistake_id]
    assert named, f"{mistake_id} not named; diagnoses: {[(c.id, c.mistake, c.advice) for c in failed]}"
    assert all(mistake.name in c.advice and mistake.hint in c.advice for c in named)
    flagged = [c.message for c in failed if "forbid" in c.message or "not a backward pass" in c.message
               or "could not be checked" in c.message]
    assert flagged == [], f"{mistake_id} was reported for a forbidden API: {flagged}"
