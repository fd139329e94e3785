"""Official grading (issue 12): secret seeds work for every exercise, a regrade is bit for bit, different
students get different data, and a file that replays outputs recorded at public seed 0 scores nothing."""

from __future__ import annotations

from typing import Any

import pytest
from replay_recorder import recording, replay_source

from grader.exercises import all_exercises, get_exercise
from grader.grading import GradeOptions, grade
from grader.results import redact
from grader.seeds import OFFICIAL_HIGH, OFFICIAL_LOW, PUBLIC_LIMIT, is_official, official_seed, seed_source

SECRET = b"a test secret of the instructor, 32b"


def official(exercise: str, student: str) -> GradeOptions:
    return GradeOptions(seed=official_seed(SECRET, exercise, student), student=student)


def without_durations(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: without_durations(v) for k, v in x.items() if k != "duration"}
    if isinstance(x, list):
        return [without_durations(v) for v in x]
    return x


def test_official_seeds_are_deterministic_large_and_per_student():
    a = official_seed(SECRET, "least_squares", "alice")
    assert a == official_seed(SECRET, "least_squares", " alice\n")  # the same identity, typed differently
    assert OFFICIAL_LOW <= a < OFFICIAL_HIGH and a >= 1 << 32 and is_official(a) and not is_official(PUBLIC_LIMIT - 1)
    assert a * 1_000_003 + 0xFFFFFFFF < 1 << 63  # the per-check generator seed stays an int64
    others = {official_seed(SECRET, "least_squares", "bob"), official_seed(SECRET, "pca", "alice"),
              official_seed(SECRET + b"x", "least_squares", "alice")}
    assert a not in others and len(others) == 3
    assert seed_source(a) == "official" and seed_source(0) == "public"


def test_every_reference_gets_full_marks_at_an_official_seed(sandbox):
    """Every use of the seed (check generators, finite-difference directions, symbolic probe points, the
    exercises' own draws) works with a seed above 2³²."""
    failures = []
    for ex in all_exercises():
        r = grade(ex, f"reference/{ex.name}.py", official(ex.name, "alice"), sandbox=sandbox)
        assert r.environment["seed_source"] == "official" and r.environment["student"] == "alice"
        failures += [(ex.name, c.id, c.status, c.message) for c in r.checks if not c.passed]
    assert failures == []


def test_a_regrade_is_bit_for_bit_and_students_get_different_data(sandbox, mutant):
    path = mutant("least_squares", "ls_grad_without_two")
    first = grade("least_squares", path, official("least_squares", "alice"), sandbox=sandbox)
    again = grade("least_squares", path, official("least_squares", "alice"), sandbox=sandbox)
    assert first.score < first.max_score and any(c.mistake == "ls_grad_without_two" for c in first.checks)
    assert without_durations(redact(first, "instructor").to_dict()) == \
        without_durations(redact(again, "instructor").to_dict())
    env = first.environment
    assert (env["seed"], env["seed_source"], env["student"]) == \
        (official_seed(SECRET, "least_squares", "alice"), "official", "alice")

    ex = get_exercise("least_squares")
    inputs = {}
    for student in ("alice", "bob"):
        with recording(ex) as table:
            r = grade(ex, "reference/least_squares.py", official("least_squares", student), sandbox=sandbox)
        assert r.full_marks and r.environment["student"] == student
        inputs[student] = set(table)
    assert inputs["alice"] and inputs["bob"] and not inputs["alice"] & inputs["bob"]  # no input in common


def replay_of_seed_0(exercise: str, folder, sandbox):
    """A file that implements nothing and replays the reference's outputs recorded at seed 0."""
    ex = get_exercise(exercise)
    with recording(ex) as table:
        assert grade(ex, f"reference/{exercise}.py", GradeOptions(seed=0), sandbox=sandbox).full_marks
    path = folder / f"{exercise}.py"
    path.write_text(replay_source(ex.spec.functions, table), encoding="utf-8")
    return path


def test_a_replay_of_seed_0_scores_at_seed_0_and_nothing_in_official_grading(tmp_path, sandbox):
    replay = replay_of_seed_0("least_squares", tmp_path, sandbox)
    public = grade("least_squares", replay, GradeOptions(seed=0), sandbox=sandbox)
    # every check but the one that calls the student on inputs the reference never saw
    assert public.score >= public.max_score - 1, [(c.id, c.message) for c in public.checks if not c.passed]
    for student in ("mallory", "trudy"):
        r = grade("least_squares", replay, official("least_squares", student), sandbox=sandbox)
        assert r.complete and r.score == 0, [(c.id, c.status) for c in r.checks if c.passed]
        assert all("these inputs were never recorded" in c.message for c in r.checks)


# derivatives is left out: its answers are formulas, the same at every seed (the seed moves the probe points)
@pytest.mark.parametrize("exercise", ["conv", "gmm_em", "jacobians", "mlp_backprop", "pca", "softmax_ce"])
def test_no_exercise_gives_a_replay_of_seed_0_anything_in_official_grading(exercise, tmp_path, sandbox):
    """Worked examples with fixed inputs included: official grading presents them with seeded inputs."""
    replay = replay_of_seed_0(exercise, tmp_path, sandbox)
    assert grade(exercise, replay, GradeOptions(seed=0), sandbox=sandbox).score > 0
    r = grade(exercise, replay, official(exercise, "mallory"), sandbox=sandbox)
    assert r.complete and r.score == 0, [(c.id, c.status) for c in r.checks if c.passed]
