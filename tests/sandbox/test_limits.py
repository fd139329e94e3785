"""Limits and device belong to the session (issue 7): one warm sandbox grades different exercises, each
with its own limits, through the same shared-sandbox path the CLI uses; and the backend is chosen once."""

from __future__ import annotations

import pytest
import torch
from sandbox_helpers import BWRAP, HONEST, WHY_NOT

from grader.errors import GraderError, StudentCrash
from grader.grading import GradeOptions, grade
from grader.sandbox import bwrap
from grader.sandbox.client import Limits, Sandbox

EX = "least_squares"
BOMB = HONEST + ("import torch\n"
                 "def ls_solve(W, y):\n"
                 "    block = torch.ones(100_000_000)  # 800 MB at once: over 300 MB, under the sandbox default\n"
                 "    return block[:W.shape[1]]\n")
FORK_BOMB = HONEST + ("import os, time\n"
                      "def ls_solve(W, y):\n"
                      "    for _ in range(4):\n"
                      "        if os.fork() == 0:\n"
                      "            block = bytearray(200 << 20)\n"
                      "            time.sleep(60)\n"
                      "            os._exit(0)\n"
                      "    time.sleep(60)\n")


@pytest.fixture(scope="module", params=["none", "bwrap"])
def shared(request):
    """A sandbox with default (large) limits, as the CLI starts it before it knows the exercise."""
    if request.param == "bwrap" and not BWRAP:
        pytest.skip(f"bwrap isolation is not available here: {WHY_NOT}")
    with Sandbox(isolation=request.param) as sb:
        assert sb.isolation == request.param
        yield sb


def test_the_exercise_memory_limit_holds_through_a_shared_sandbox(shared, write_submission):
    assert shared.limits.memory_mb > 800
    result = grade(EX, write_submission(BOMB, "least_squares.py"), GradeOptions(timeout=20, memory_mb=300),
                   sandbox=shared)
    hit = [c for c in result.checks if "ls_solve" in c.message]
    assert hit and all(c.score == 0 for c in hit)
    assert any("memory" in c.message for c in hit), [c.message for c in hit]
    assert any(c.passed for c in result.checks)


def test_the_memory_limit_holds_for_all_processes_together(shared, write_submission):
    # Called through the session: grading would refuse os.fork() before it runs (the static scan), and the
    # point here is the limit itself.
    session = shared.open(write_submission(FORK_BOMB, "least_squares.py"), limits=Limits(memory_mb=300))
    try:
        with pytest.raises(StudentCrash, match="memory limit exceeded"):
            session.call("ls_solve", (torch.ones(4, 2, dtype=torch.float64), torch.ones(4, dtype=torch.float64)), {},
                         timeout=20)
    finally:
        session.close()


def test_each_session_keeps_its_own_limits(shared, write_submission):
    alloc = HONEST + "import torch\ndef grab(n):\n    return float(torch.ones(n).sum())\n"
    path = write_submission(alloc, "least_squares.py")
    small = shared.open(path, limits=Limits(memory_mb=256))
    roomy = shared.open(path, limits=Limits(memory_mb=1024))
    with pytest.raises(StudentCrash, match="memory"):
        small.call("grab", (100_000_000,), {}, timeout=20)  # 400 MB
    assert roomy.call("grab", (100_000_000,), {}, timeout=20)["value"] == 1e8
    small.close()
    roomy.close()
    honest = grade(EX, write_submission(HONEST, "least_squares.py"), GradeOptions(), sandbox=shared)
    assert honest.full_marks


def test_sessions_do_not_accumulate(shared, write_submission):
    for _ in range(3):
        grade(EX, write_submission(HONEST, "least_squares.py"), GradeOptions(), sandbox=shared)
    assert len(shared.sessions) == 0


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown isolation"):
        Sandbox(isolation="chroot")


def test_bwrap_asked_for_where_it_cannot_run_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(bwrap, "probe", lambda: (False, "bwrap is not installed"))
    with pytest.raises(GraderError, match="bwrap is not installed"):
        Sandbox(isolation="bwrap")
    assert bwrap.choose("auto") == "none"


def test_a_sandbox_that_fails_to_start_is_a_grader_fault(monkeypatch, write_submission):
    from grader.errors import GraderFault
    from grader.sandbox import launcher

    monkeypatch.setattr(launcher.sys, "executable", "/bin/false")  # starts, then exits at once
    with Sandbox(isolation="none") as sb:
        session = sb.open(write_submission(HONEST, "least_squares.py"))
        with pytest.raises(GraderFault, match="stopped answering"):
            session.ensure_started()
    monkeypatch.setattr(launcher.sys, "executable", "/nonexistent/python")
    with pytest.raises(GraderFault, match="could not start"):
        Sandbox(isolation="none")
