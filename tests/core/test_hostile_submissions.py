"""Broken and hostile submissions: each gets a clear message and a zero for the checks it affects; the
grader never crashes, never hangs, never loses a result, and leaves no process behind."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import psutil
import pytest

from grader.grading import GradeOptions, grade
from grader.sandbox.client import Sandbox, isolation_available

EX = "least_squares"
ROOT = Path(__file__).resolve().parents[2]
# A correct base (the reference's own text: the bwrap backend hides the reference package from the child);
# each test breaks one function. `_g` keeps the reference's gradient.
OK = (ROOT / "reference" / "least_squares.py").read_text().replace("from __future__ import annotations\n", "") \
    + "\n_g = ls_grad\n"
BWRAP, WHY_NOT = isolation_available()


@pytest.fixture(scope="module", params=["none", "bwrap"])
def sandbox(request):
    """Every attack here, with and without bwrap isolation."""
    if request.param == "bwrap" and not BWRAP:
        pytest.skip(f"bwrap isolation is not available here: {WHY_NOT}")
    with Sandbox(isolation=request.param) as sb:
        yield sb


def run(write_submission, sandbox, source, **options):
    path = write_submission(source, "least_squares.py")
    return grade(EX, path, GradeOptions(timeout=options.pop("timeout", 5), **options), sandbox=sandbox)


def by_function(result, fn):
    """Checks whose failure mentions ``fn``."""
    return [c for c in result.checks if fn in c.message]


def test_reference_gets_full_marks(write_submission, sandbox):
    before = set(sandbox.sessions)
    result = run(write_submission, sandbox, OK)
    assert result.full_marks, [(c.id, c.message) for c in result.checks if not c.passed]
    assert set(sandbox.sessions) == before  # a shared sandbox keeps no closed session: it grades any number of files


def test_infinite_loop_times_out_and_other_checks_still_run(write_submission, sandbox):
    result = run(write_submission, sandbox, OK + "def ls_loss(W, theta, y):\n    while True:\n        pass\n",
                 timeout=2)
    timeouts = [c for c in result.checks if c.status == "timeout"]
    assert timeouts and all(c.score == 0 for c in timeouts)
    assert "ls_loss did not finish within" in timeouts[0].message
    assert "infinite loop" in timeouts[0].advice
    line = (OK + "def ls_loss").count("\n") + 2  # the loop's line, or its body's
    assert timeouts[0].traceback.startswith("Where your code was when the time limit stopped it")
    assert (f'File "least_squares.py", line {line}, in ls_loss\n    while True:' in timeouts[0].traceback
            or f'File "least_squares.py", line {line + 1}, in ls_loss\n    pass' in timeouts[0].traceback)
    assert any(c.passed for c in result.checks)  # the rest were graded


def test_endless_import_is_stopped_at_the_import_limit_with_a_hint(write_submission, sandbox):
    result = run(write_submission, sandbox, OK + "\nwhile True:\n    pass\n", load_timeout=1.5)
    assert result.score == 0 and all(c.status == "error" for c in result.checks)
    first = result.checks[0]
    assert first.message == "importing your file did not finish within 1.5 s"
    assert "top level of your file runs when the grader imports it" in first.advice
    assert 'if __name__ == "__main__":' in first.advice
    assert "in <module>\n    while True:" in first.traceback or "in <module>\n    pass" in first.traceback
    assert result.complete  # the student's fault, not the grader's


def test_where_a_timeout_stopped_is_shown_without_the_files_control_characters(write_submission, sandbox):
    src = OK + "def ls_loss(W, theta, y):\n    while True: _ = '\x1b[2J\x1b]0;owned\x07'\n"
    result = run(write_submission, sandbox, src, timeout=1.5)
    (timeout,) = [c for c in result.checks if c.status == "timeout" and "ls_loss" in c.message][:1]
    assert "in ls_loss" in timeout.traceback and "while True: _ =" in timeout.traceback
    assert "\x1b" not in timeout.traceback and "\x07" not in timeout.traceback


def test_loop_ignoring_sigterm_is_still_stopped(write_submission, sandbox):
    src = OK + ("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "def ls_grad(W, theta, y):\n    while True:\n        pass\n")
    result = run(write_submission, sandbox, src, timeout=1.5)
    assert any(c.status == "timeout" for c in result.checks)
    assert any(c.passed for c in result.checks)


def test_memory_bomb_is_stopped_with_a_clear_message(write_submission, sandbox):
    src = OK + ("import torch\ndef ls_solve(W, y):\n    keep = []\n    while True:\n"
                "        keep.append(torch.ones(50_000_000))\n")
    result = run(write_submission, sandbox, src, timeout=20, memory_mb=512)
    hit = by_function(result, "ls_solve")
    assert hit and all(c.score == 0 for c in hit)
    assert any("memory" in c.message for c in hit)
    assert any(c.passed for c in result.checks)


def test_sys_exit_at_import_zeroes_everything_with_an_explanation(write_submission, sandbox):
    result = run(write_submission, sandbox, "import sys\nsys.exit(0)\n")
    assert result.score == 0
    assert all(c.status == "error" for c in result.checks)
    assert "called sys.exit(0) while being imported" in result.checks[0].message
    assert '__name__ == "__main__"' in result.checks[0].advice


def test_os_exit_in_a_call_affects_only_that_function(write_submission, sandbox):
    src = OK + "import os\ndef ls_loss(W, theta, y):\n    os._exit(3)\n"
    result = run(write_submission, sandbox, src)
    hit = [c for c in result.checks if "ended during ls_loss" in c.message]
    assert hit and "exited with status 3" in hit[0].message
    assert "os._exit" in hit[0].advice
    assert any(c.passed for c in result.checks)


def test_300_mb_of_printing_is_cut_off(write_submission, sandbox):
    src = OK + ("def ls_loss(W, theta, y):\n    line = 'x' * 1_000_000\n"
                "    for _ in range(300):\n        print(line)\n")
    result = run(write_submission, sandbox, src)
    hit = by_function(result, "ls_loss")
    assert hit and "printed too much" in hit[0].message


def test_printing_straight_to_the_file_descriptor_is_cut_off(write_submission, sandbox):
    src = OK + ("import os\ndef ls_loss(W, theta, y):\n    block = b'y' * 1_000_000\n"
                "    for _ in range(300):\n        os.write(1, block)\n")
    result = run(write_submission, sandbox, src, timeout=20)
    hit = by_function(result, "ls_loss")
    assert hit and all(c.score == 0 for c in hit)
    assert any("printed" in c.message for c in hit)  # "printed more than ... output limit exceeded"


def test_monkeypatching_torch_allclose_changes_nothing(write_submission, sandbox):
    src = OK + ("import torch\ntorch.allclose = lambda *a, **k: True\n"
                "torch.testing.assert_close = lambda *a, **k: None\n"
                "def ls_grad(W, theta, y):\n    return torch.zeros_like(theta)\n")
    result = run(write_submission, sandbox, src)
    hit = [c for c in result.checks if not c.passed]
    assert hit and "ls_grad" in hit[0].message


def test_return_value_that_would_run_code_when_unpickled(write_submission, sandbox, tmp_path):
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"
    src = OK + (f"import os\nclass Evil:\n    def __reduce__(self):\n        return (os.system, ('touch {marker}',))\n"
                "def ls_grad(W, theta, y):\n    return Evil()\n")
    result = run(write_submission, sandbox, src)
    hit = [c for c in result.checks if "ls_grad" in c.message and not c.passed]
    assert hit and "should be a tensor" in hit[0].message and "Evil" in hit[0].message
    assert not marker.exists()


def test_tensor_subclass_with_torch_function_is_refused(write_submission, sandbox):
    src = OK + ("import torch\n"
                "class Sneaky(torch.Tensor):\n    @classmethod\n"
                "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
                "        return super().__torch_function__(func, types, args, kwargs or {})\n"
                "def ls_grad(W, theta, y):\n    return _g(W, theta, y).as_subclass(Sneaky)\n")
    result = run(write_submission, sandbox, src)
    hit = [c for c in result.checks if not c.passed]
    assert hit and "torch.Tensor subclass (Sneaky)" in hit[0].message
    assert "return a plain torch.Tensor" in hit[0].message


def test_syntax_error_points_at_the_line(write_submission, sandbox):
    result = run(write_submission, sandbox, "def ls_loss(W, theta, y)\n    return 1\n")
    assert result.score == 0
    first = result.checks[0]
    assert first.message == "your file has a syntax error at line 1: expected ':'"
    assert "^" in first.traceback


def test_empty_file(write_submission, sandbox):
    result = run(write_submission, sandbox, "")
    assert result.score == 0 and result.checks[0].message == "your file is empty"


def test_missing_function_only_affects_its_checks(write_submission, sandbox):
    src = OK + "del ls_solve\n"
    result = run(write_submission, sandbox, src)
    hit = [c for c in result.checks if c.message == "your file does not define ls_solve"]
    assert hit and any(c.passed for c in result.checks)


def test_input_call_gets_a_clear_message(write_submission, sandbox):
    src = OK + "def ls_loss(W, theta, y):\n    n = input('n? ')\n    return n\n"
    result = run(write_submission, sandbox, src)
    hit = by_function(result, "ls_loss")
    assert hit and "input() is not available while grading" in hit[0].message
    assert "Remove the input() call" in hit[0].advice


def test_child_processes_left_running_are_killed(write_submission, sandbox):
    tag = f"dl-grader-orphan-{uuid.uuid4().hex}"
    src = OK + (
        "import subprocess, sys, os\n"
        f"_code = 'import time; time.sleep(300)  # {tag}'\n"
        "subprocess.Popen([sys.executable, '-c', _code])\n"
        "subprocess.Popen([sys.executable, '-c', _code], start_new_session=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
        "        os.execv(sys.executable, [sys.executable, '-c', _code])\n    os._exit(0)\n"
    )
    run(write_submission, sandbox, src)
    time.sleep(0.5)
    alive = [p for p in psutil.process_iter(["cmdline"]) if tag in " ".join(p.info["cmdline"] or [])]
    assert alive == [], [(p.pid, p.ppid(), p.cmdline()) for p in alive]


def _is_zygote(p: psutil.Process) -> bool:
    """A live zygote (a zombie, whoever left it, has no command line and holds nothing)."""
    try:
        return "grader.sandbox.zygote" in " ".join(p.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess):
        return False


@pytest.mark.parametrize("isolation", ["none", "auto"])
def test_a_fresh_sandbox_leaves_no_process_behind(write_submission, isolation):
    def zygotes():
        return {p.pid for p in psutil.Process(os.getpid()).children(recursive=True) if _is_zygote(p)}

    before = zygotes()
    path = write_submission(OK, "least_squares.py")
    with Sandbox(isolation=isolation) as sb:
        grade(EX, path, GradeOptions(), sandbox=sb)
        assert sb.zygote is not None
        pid = sb.zygote.proc.pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert zygotes() <= before  # only the fixtures' zygotes, if any


@pytest.mark.parametrize("bad", ["nan", "shape", "dtype"])
def test_nan_wrong_shape_and_wrong_dtype_are_named(write_submission, sandbox, bad):
    body = {
        "nan": "return torch.full_like(theta, float('nan'))",
        "shape": "return _g(W, theta, y).reshape(-1, 1)",
        "dtype": "return _g(W, theta, y).to(torch.float16)",
    }[bad]
    src = OK + ("import torch\n"
                f"def ls_grad(W, theta, y):\n    {body}\n")
    result = run(write_submission, sandbox, src)
    msg = next(c.message for c in result.checks if not c.passed)
    expected = {"nan": "contains NaN", "shape": "has shape", "dtype": "has dtype float16"}[bad]
    assert expected in msg


def test_only_time_in_student_code_counts_against_the_check():
    """The grader's own work between calls (finite differences, symbolic proofs) is not charged."""
    from grader.grading import StudentClock

    clock = StudentClock(2.0)
    clock.spent += 1.5
    assert clock.remaining == 0.5
