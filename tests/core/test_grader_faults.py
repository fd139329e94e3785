"""A grader fault is never charged to the student: a bug in a check or a worker killed from outside gives
``grader_error`` (retried once where that makes sense), points neither given nor taken, and exit status 3."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from grader.exercises import Exercise
from grader.grading import GradeOptions, grade
from grader.results import redact

ROOT = Path(__file__).resolve().parents[2]
SPEC = """\
title: Faults
functions: [double]
checks:
  - {id: fine, title: a check that works, points: 2}
  - {id: buggy, title: a check with a bug of its own, points: 3}
"""
REFERENCE = "def double(x):\n    return 2 * x\n"
CHECKS = """\
from grader.checks import CheckContext, check


@check("fine")
def fine(ctx: CheckContext) -> None:
    ctx.expect_close("double", ctx.randn(4))


@check("buggy")
def buggy(ctx: CheckContext) -> None:
    ctx.student.double(ctx.randn(4))
    raise KeyError("a bug in the check, not in the submission")
"""
KILLED_ONCE = """\
from grader.checks import CheckContext, check


@check("fine")
def fine(ctx: CheckContext) -> None:
    ctx.expect_close("double", ctx.randn(4))


@check("buggy")
def killed_from_outside_once(ctx: CheckContext) -> None:
    import os, signal, pathlib
    marker = pathlib.Path(__file__).with_name("killed")
    if not marker.exists():
        marker.write_text("1")
        os.kill(ctx.student.pid(), signal.SIGKILL)  # another process kills the worker (not the submission)
    ctx.expect_close("double", ctx.randn(4))
"""


def exercise(tmp_path: Path, checks: str) -> Path:
    folder = tmp_path / "faults"
    (folder / "instructor").mkdir(parents=True)
    for name, text in {"exercise.yaml": SPEC, "statement.md": "# Faults\n", "template.py": REFERENCE,
                       "instructor/exercise.yaml": "reference: reference.py\n", "reference.py": REFERENCE,
                       "checks.py": checks}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_bug_in_a_check_is_a_grader_error_that_costs_nothing(tmp_path, sandbox):
    sub = tmp_path / "faults.py"
    sub.write_text(REFERENCE)
    r = grade(Exercise.at(exercise(tmp_path, CHECKS)), sub, GradeOptions(), sandbox=sandbox)
    by_id = {c.id: c for c in r.checks}
    assert by_id["fine"].status == "passed"
    bug = by_id["buggy"]
    assert bug.status == "grader_error" and bug.message.startswith("internal grader error in check buggy: KeyError")
    assert (r.score, r.graded_max_score, r.max_score, r.complete, r.full_marks) == (2.0, 2.0, 5.0, False, False)
    doc = redact(r, "student").to_dict()
    assert doc["complete"] is False and doc["checks"][1]["status"] == "grader_error"


def test_the_cli_says_it_is_the_graders_fault_and_exits_3(tmp_path):
    folder = exercise(tmp_path, CHECKS)
    sub = tmp_path / "faults.py"
    sub.write_text(REFERENCE)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "faults", str(sub), "--exercises", str(folder.parent)],
                       capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    out = " ".join(r.stdout.split())
    assert "The grader failed here, not your code" in out
    assert "Incomplete: 1 check(s) failed because of the grader, not your code (3 points not graded)" in out


def test_a_worker_killed_from_outside_is_retried_and_not_charged(tmp_path, sandbox, monkeypatch):
    from grader.checks import StudentAPI

    sub = tmp_path / "faults.py"
    sub.write_text(REFERENCE)
    ex = Exercise.at(exercise(tmp_path, KILLED_ONCE))
    sessions = []
    real_open = sandbox.open

    def open_and_keep(*a, **k):
        s = real_open(*a, **k)
        sessions.append(s)
        return s

    monkeypatch.setattr(sandbox, "open", open_and_keep)
    # the check plays "another process": it needs the worker's pid, which checks are never given
    monkeypatch.setattr(StudentAPI, "pid", lambda self: sessions[-1].host_pid, raising=False)
    r = grade(ex, sub, GradeOptions(), sandbox=sandbox)
    assert (tmp_path / "faults" / "killed").exists()
    assert all(c.passed for c in r.checks), [(c.id, c.status, c.message) for c in r.checks]
    assert r.full_marks
