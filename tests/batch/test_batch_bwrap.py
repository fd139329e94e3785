"""A batch is isolated when asked: the one batch test with bubblewrap (the others run without isolation)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXERCISE, options

from grader.batch.batch import run_batch
from grader.gradebook.store import Gradebook
from grader.sandbox.client import isolation_available

ROOT = Path(__file__).resolve().parents[2]
BWRAP, WHY_NOT = isolation_available()


@pytest.mark.skipif(not BWRAP, reason=f"bwrap isolation is not available here: {WHY_NOT}")
def test_a_batch_under_bwrap(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    # The reference is hidden from an isolated child: a correct submission is a copy of it.
    (folder / "alice.py").write_text((ROOT / "reference" / f"{EXERCISE}.py").read_text())
    (folder / "bob.py").write_text("import os\n\ndef softmax(z):\n    return open('/work/main/README.md').read()\n")
    db = tmp_path / "grades.db"
    s = run_batch(options(folder, db, isolation="bwrap", timeout=5.0))
    assert (s.graded, s.full_marks, s.grader_faults) == (2, 1, 0)
    with Gradebook(db) as book:
        latest = book.latest()
        alice, bob = latest[("alice", EXERCISE)], latest[("bob", EXERCISE)]
        assert alice.environment["isolation"] == "bwrap" and alice.score == alice.max_score
        assert bob.score < bob.max_score
