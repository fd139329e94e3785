"""The gradebook's schema: versioned, migrated in place, and each entry committed whole."""

from __future__ import annotations

import sqlite3

import pytest

from grader.errors import GraderError
from grader.gradebook.schema import VERSION, current_version, migrate
from grader.gradebook.store import Gradebook

RESULT = {"schema": 1, "audience": "instructor", "exercise": "softmax_ce", "title": "Softmax", "submission": "a.py",
          "score": 1.0, "max_score": 3.0, "graded_max_score": 3.0, "complete": True, "environment": {},
          "problems": [], "duration": 0.1,
          "checks": [{"id": "c1", "title": "one", "status": "passed", "score": 1.0, "max_score": 1.0},
                     {"id": "c2", "title": "two", "status": "failed", "score": 0.0, "max_score": 2.0,
                      "message": "softmax is wrong", "mistake": "wrong_axis",
                      "likely_mistake": {"id": "wrong_axis", "name": "wrong axis", "hint": "use dim=-1",
                                         "source": "mistake", "factor": None}}]}


def test_a_version_1_gradebook_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    assert migrate(db, target=1) == 1  # the gradebook as the first release wrote it
    db.execute("INSERT INTO students VALUES ('alice', '2026-01-01T00:00:00+00:00')")
    db.execute("INSERT INTO submissions (student, exercise, state, sha256, seed, score, max_score, graded_at) "
               "VALUES ('alice', 'softmax_ce', 'graded', 'abc', 0, 5, 20, '2026-01-01T00:00:00+00:00')")
    db.close()

    with Gradebook(path) as book:
        assert book.version == VERSION == current_version(book.db)
        runs = book.runs()
        assert len(runs) == 1 and runs[0].options["note"] == "rows graded before runs were recorded"
        row = book.latest()[("alice", "softmax_ce")]
        assert (row.run_id, row.score, row.sha256) == (runs[0].id, 5.0, "abc")
        run = book.start_run(["softmax_ce"], {})
        book.record(run, student="alice", exercise="softmax_ce", state="graded", sha256="def", seed=0, result=RESULT)
        assert [r.sha256 for r in book.history("alice")] == ["abc", "def"]
        assert book.latest(upto_run=runs[0].id)[("alice", "softmax_ce")].sha256 == "abc"
    with Gradebook(path) as book:  # opening again migrates nothing
        assert book.version == VERSION and len(book.runs()) == 2


def test_a_newer_gradebook_is_refused(tmp_path):
    path = tmp_path / "new.db"
    Gradebook(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE schema_version SET version = ?", (VERSION + 1,))
    db.close()
    with pytest.raises(GraderError, match="newer than this grader knows"):
        Gradebook(path)


def test_wal_mode_and_check_rows(tmp_path):
    with Gradebook(tmp_path / "g.db") as book:
        assert book.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        run = book.start_run(["softmax_ce"], {"seed": 0})
        rid = book.record(run, student="alice", exercise="softmax_ce", state="graded", result=RESULT)
        checks = book.checks(rid)
        assert [(c.check_id, c.status, c.score, c.mistake) for c in checks] == [
            ("c1", "passed", 1.0, None), ("c2", "failed", 0.0, "wrong_axis")]
        sub = book.submissions("student")[0]
        assert sub.report is not None and sub.report.audience == "student" and sub.score == 1.0
        assert sub.report.result.checks[1].mistake == "wrong_axis"


def test_an_entry_is_committed_whole_or_not_at_all(tmp_path):
    bad = {**RESULT, "checks": [RESULT["checks"][0], {"id": "c1"}]}  # a broken check row: the insert fails
    with Gradebook(tmp_path / "g.db") as book:
        with pytest.raises(KeyError):
            book.record(None, student="bob", exercise="softmax_ce", state="graded", result=bad)
        assert (book.count("submissions"), book.count("check_results"), book.count("students")) == (0, 0, 0)


def test_one_batch_at_a_time_per_gradebook(tmp_path):
    from grader.batch.batch import BatchOptions, run_batch
    from grader.gradebook.store import batch_lock

    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "alice.py").write_text("x = 1\n")
    db = tmp_path / "grades.db"
    with batch_lock(db), pytest.raises(GraderError, match="another `grade batch` is writing"):
        run_batch(BatchOptions(("softmax_ce",), tmp_path / "class", db, in_process=True))
    with batch_lock(db):  # released
        pass
