"""`grade EXERCISE FILE --student ID` with an instructor secret, and what the command refuses, in its own
words, through a real subprocess. The refusals come before any grading (no torch import): they are quick."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.exercises import get_exercise
from grader.seeds import SECRET_ENV, SECRET_FILE_ENV, official_seed

ROOT = Path(__file__).resolve().parents[2]
SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def grade(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in (SECRET_ENV, SECRET_FILE_ENV)}
    full_env.update(NO_COLOR="1", COLUMNS="200", PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True,
                          cwd=ROOT, env=full_env, timeout=300)


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def exercise_copy(root: Path, name: str, *, instructor: bool) -> Path:
    """A collection at ``root`` holding a copy of exercise ``name``: with its instructor/ folder (the
    instructor's side), or without one (what a student kit has). Returns the collection folder."""
    ex = get_exercise(name)
    dest = root / "course" / name
    shutil.copytree(ex.folder, dest, ignore=shutil.ignore_patterns("__pycache__"))
    assert ex.instructor_spec is not None and ex.reference_path is not None
    reference = Path(os.path.normpath(dest / ex.instructor_spec.reference))
    if not reference.exists():  # a reference kept outside the exercise folder
        reference.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ex.reference_path, reference)
    if instructor:
        (dest / "instructor").mkdir(exist_ok=True)
    else:
        shutil.rmtree(dest / "instructor", ignore_errors=True)
    return root / "course"


@pytest.fixture
def secret_file(tmp_path) -> Path:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    return path


def test_official_grading_derives_and_records_the_students_seed(tmp_path, secret_file):
    course = exercise_copy(tmp_path, "least_squares", instructor=True)
    expected = official_seed(SECRET.encode(), "least_squares", "alice")
    r = grade("least_squares", "reference/least_squares.py", "--exercises", str(course), "--student", "alice",
              "--secret-file", str(secret_file), "--format", "json", "--dtype", "float64", "--show-hidden")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["audience"] == "instructor" and doc["score"] == doc["max_score"]
    env = doc["environment"]
    assert (env["seed"], env["seed_source"], env["student"]) == (expected, "official", "alice")

    again = grade("least_squares", "reference/least_squares.py", "--exercises", str(course), "--student", "alice",
                  "--format", "json", "--dtype", "float64", env={SECRET_ENV: SECRET})
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["environment"]["seed"] == expected  # the same secret, from the environment


def test_a_public_run_records_a_public_seed():
    r = grade("least_squares", "reference/least_squares.py", "--format", "json", "--seed", "5", "--dtype", "float64")
    assert r.returncode == 0, r.stderr
    env = json.loads(r.stdout)["environment"]
    assert (env["seed"], env["seed_source"], env["student"]) == (5, "public", None)


REFUSALS = [
    (["--seed", "3"], True, "--seed cannot be used with an instructor secret (--secret-file"),
    (["--seed", str(1 << 20)], False, "--seed must be a public seed, from 0 to 1048575: official seeds are never "
                                      "typed by hand"),
    (["--seed", "-1"], False, "--seed must be a public seed"),
    (["--student", "alice"], False, "--student needs the instructor secret (--secret-file PATH, "
                                    "$DL_GRADER_SECRET_FILE or $DL_GRADER_SECRET)"),
    ([], True, "an instructor secret is given (--secret-file"),
    (["--student", "al\x07ice"], True, "the student identity must be 1 to 256 printable characters"),
]


@pytest.mark.parametrize("args, with_secret, message", REFUSALS, ids=[m.split(" ")[0] + str(i)
                                                                      for i, (_, _, m) in enumerate(REFUSALS)])
def test_refused_seed_options(tmp_path, secret_file, args, with_secret, message):
    course = exercise_copy(tmp_path, "least_squares", instructor=True)
    secret = ["--secret-file", str(secret_file)] if with_secret else []
    r = grade("least_squares", "reference/least_squares.py", "--exercises", str(course), *args, *secret)
    assert r.returncode == 2 and r.stdout == ""
    assert one_line(r.stderr).startswith("error: " + message), r.stderr


def test_a_short_secret_is_refused(tmp_path):
    r = grade("least_squares", "reference/least_squares.py", "--student", "alice", env={SECRET_ENV: "short"})
    assert r.returncode == 2
    assert "the instructor secret is too short (5 bytes; at least 16)" in one_line(r.stderr)


@pytest.mark.parametrize("args, what", [(["--student", "alice"], "official grading"),
                                        (["--show-hidden"], "--show-hidden")])
def test_a_student_kit_refuses_official_grading_and_show_hidden(tmp_path, secret_file, args, what):
    kit = exercise_copy(tmp_path, "least_squares", instructor=False)
    r = grade("least_squares", "reference/least_squares.py", "--exercises", str(kit), "--secret-file",
              str(secret_file), *args) if what == "official grading" else \
        grade("least_squares", "reference/least_squares.py", "--exercises", str(kit), *args)
    assert r.returncode == 2 and r.stdout == ""
    assert one_line(r.stderr).startswith(f"error: {what} needs the instructor side: exercise 'least_squares' has no "
                                         "instructor data (no instructor/ folder in "), r.stderr


def test_the_text_report_says_an_official_seed_is_official():
    from grader.report.terminal import seed_text

    assert seed_text({"seed": 3, "seed_source": "public", "student": None}) == "3"
    assert seed_text({"seed": 4837291735, "seed_source": "official", "student": "alice"}) == \
        "4837291735 (official, for alice)"
    assert seed_text({"seed": 7}) == "7"  # a result written before seed_source existed
