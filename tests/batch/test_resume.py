"""Killing a batch loses nothing committed, and the next run grades only what is missing."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CORRECT, EXERCISE, make_class, options

from grader.batch.batch import run_batch
from grader.gradebook.store import Gradebook

ROOT = Path(__file__).resolve().parents[2]


def _graded(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return c.execute("SELECT COUNT(*) FROM submissions WHERE state = 'graded'").fetchone()[0]
    except sqlite3.OperationalError:  # created, not migrated yet
        return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] not in "ZX"
    except OSError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_a_killed_batch_resumes_without_grading_anything_twice(tmp_path, mutant, sig):
    folder = make_class(tmp_path / "submissions", mutant)
    (folder / "eve.py").unlink()  # no loop: the kill must land between quick gradings
    for s in ("gina", "hugo", "ines"):
        (folder / f"{s}.py").write_text(CORRECT)
    db = tmp_path / "grades.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DL_GRADER_ISOLATION": "none"}
    cmd = [sys.executable, str(ROOT / "cli.py"), "batch", EXERCISE, str(folder), "--db", str(db), "--jobs", "1",
           "--timeout", "2", "--dtype", "float64"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while _graded(db) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _children(proc.pid)
        if sig == signal.SIGKILL:  # the batch process alone, with no chance to stop its pool
            os.kill(proc.pid, sig)
        else:  # Ctrl-C in a terminal: the whole foreground process group
            os.killpg(proc.pid, sig)
        out = proc.communicate(timeout=60)[0].decode(errors="replace")
        deadline = time.monotonic() + 20
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert workers and not any(_alive(w) for w in workers)  # the workers die with the batch
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130), out
    if sig == signal.SIGINT:
        assert "every submission graded so far is in the gradebook" in out

    with Gradebook(db) as book:
        committed = {k: r.id for k, r in book.latest().items()}
    graded_before = _graded(db)
    assert 2 <= graded_before < 7

    s = run_batch(options(folder, db))
    assert s.graded == 7 - graded_before and s.up_to_date == graded_before and len(committed) == graded_before + 1
    with Gradebook(db) as book:
        latest = book.latest()
        assert len(latest) == 8 and book.count("submissions") == 8  # 7 graded + frank: each exactly once
        for key, row_id in committed.items():
            assert latest[key].id == row_id  # nothing committed was graded again
        assert sum(r.state == "graded" for r in latest.values()) == 7
    shutil.rmtree(folder)
