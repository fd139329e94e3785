"""The gradebook: one SQLite file (standard library ``sqlite3``, WAL mode) that survives interruption.

Each graded entry is committed in its own transaction as soon as it is known (:meth:`Gradebook.record`),
with its check rows, so killing a batch at any point (SIGINT, SIGKILL, power loss: WAL with
``synchronous=FULL``) loses nothing committed, and a half-written entry never exists. Rows are only ever
added: a regrade is a new row, and the latest row of a (student, exercise) is the one that counts, so the
history is kept and nothing is counted twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.gradebook.schema import VERSION, migrate
from grader.results import Audience, ExerciseResult, redact
from grader.submissions import EntryState, Submission

BUSY_TIMEOUT_S = 30.0


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Row:
    """One row of ``submissions``: one grading (or unreadable entry) of one student's exercise."""

    id: int
    run_id: int | None
    student: str
    exercise: str
    state: EntryState
    reason: str
    path: str
    sha256: str
    seed: int | None
    score: float
    max_score: float
    grader_version: str
    exercise_version: str
    environment: dict[str, Any]
    graded_at: str
    duration: float
    result: dict[str, Any] | None

    def submission(self, audience: Audience) -> Submission:
        """This row as exporters read it: the report redacted for ``audience`` (the one redaction)."""
        report = redact(ExerciseResult.from_dict(self.result), audience) if self.result else None
        return Submission(self.student, self.exercise, self.state, report, self.reason, self.path, self.sha256,
                          self.seed, self.graded_at, self.duration)


@dataclass(frozen=True)
class CheckRow:
    check_id: str
    status: str
    score: float
    max_score: float
    mistake: str | None
    message: str


@dataclass(frozen=True)
class Run:
    id: int
    started_at: str
    finished_at: str | None
    exercises: str
    options: dict[str, Any]


_ROW_COLUMNS = ("id, run_id, student, exercise, state, reason, path, sha256, seed, score, max_score, grader_version, "
                "exercise_version, environment, graded_at, duration, result")


def _row(r: tuple[Any, ...]) -> Row:
    return Row(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
               json.loads(r[13] or "{}"), r[14], r[15], json.loads(r[16]) if r[16] else None)


class Gradebook:
    """A gradebook file, opened (and created or migrated) for reading and writing. Use in one thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=BUSY_TIMEOUT_S)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not only a crash
            self.db.execute("PRAGMA foreign_keys=ON")
            self.version = migrate(self.db)
        except sqlite3.DatabaseError as e:
            raise GraderError(f"cannot open the gradebook {self.path}: {e}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- runs ----------------------------------------------------------------------------------------
    def start_run(self, exercises: Sequence[str], options: dict[str, Any]) -> int:
        from grader import __version__

        with self.transaction() as db:
            cur = db.execute("INSERT INTO runs (started_at, exercises, options, grader_version) VALUES (?, ?, ?, ?)",
                             (now(), ",".join(exercises), json.dumps(options, sort_keys=True), __version__))
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET finished_at = ? WHERE id = ?", (now(), run_id))

    def runs(self) -> list[Run]:
        rows = self.db.execute("SELECT id, started_at, finished_at, exercises, options FROM runs ORDER BY id")
        return [Run(r[0], r[1], r[2], r[3], json.loads(r[4] or "{}")) for r in rows]

    # -- writing ---------------------------------------------------------------------------------------
    def record(self, run_id: int | None, *, student: str, exercise: str, state: EntryState, reason: str = "",
               path: str = "", sha256: str = "", seed: int | None = None, result: dict[str, Any] | None = None,
               exercise_version: str = "", environment: dict[str, Any] | None = None, duration: float = 0.0) -> int:
        """Add one entry, its student and its check rows, in one transaction. Returns the row's id."""
        from grader import __version__

        score = float(result.get("score", 0.0)) if result else 0.0
        max_score = float(result.get("max_score", 0.0)) if result else 0.0
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO students (id, first_seen) VALUES (?, ?)", (student, now()))
            cur = db.execute(
                "INSERT INTO submissions (run_id, student, exercise, state, reason, path, sha256, seed, score, "
                "max_score, grader_version, exercise_version, environment, graded_at, duration, result) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, student, exercise, state, reason, path, sha256, seed, score, max_score, __version__,
                 exercise_version, json.dumps(environment or {}, sort_keys=True), now(), duration,
                 json.dumps(result) if result is not None else None))
            row_id = int(cur.lastrowid or 0)
            for c in (result or {}).get("checks", []):
                db.execute("INSERT INTO check_results (submission_id, check_id, status, score, max_score, mistake, "
                           "message) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (row_id, c["id"], c["status"], c["score"], c["max_score"], c.get("mistake"),
                            c.get("message", "")))
        return row_id

    # -- reading ---------------------------------------------------------------------------------------
    def latest(self, exercises: Sequence[str] | None = None, *,
               upto_run: int | None = None) -> dict[tuple[str, str], Row]:
        """The row that counts for each (student, exercise): the newest one, or the newest one written by
        run ``upto_run`` or an earlier run (the gradebook as it was after that run)."""
        where, args = ["1 = 1"], []
        if upto_run is not None:
            where.append("run_id <= ?")
            args.append(upto_run)
        sql = (f"SELECT {_ROW_COLUMNS} FROM submissions WHERE id IN (SELECT MAX(id) FROM submissions "
               f"WHERE {' AND '.join(where)} GROUP BY student, exercise) ORDER BY student, exercise")
        rows = [_row(r) for r in self.db.execute(sql, args)]
        wanted = set(exercises) if exercises else None
        return {(r.student, r.exercise): r for r in rows if wanted is None or r.exercise in wanted}

    def history(self, student: str, exercise: str | None = None) -> list[Row]:
        """Every row of ``student`` (of ``exercise``), oldest first."""
        sql = f"SELECT {_ROW_COLUMNS} FROM submissions WHERE student = ?"
        args: list[Any] = [student]
        if exercise:
            sql += " AND exercise = ?"
            args.append(exercise)
        return [_row(r) for r in self.db.execute(sql + " ORDER BY exercise, id", args)]

    def checks(self, submission_id: int) -> list[CheckRow]:
        rows = self.db.execute("SELECT check_id, status, score, max_score, mistake, message FROM check_results "
                               "WHERE submission_id = ? ORDER BY rowid", (submission_id,))
        return [CheckRow(*r) for r in rows]

    def count(self, table: str = "submissions") -> int:
        if table not in ("submissions", "students", "check_results", "runs"):
            raise ValueError(table)
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def submissions(self, audience: Audience, exercises: Sequence[str] | None = None) -> list[Submission]:
        """The latest entry of every student and exercise, as exporters and the class report read them."""
        return [row.submission(audience) for row in self.latest(exercises).values()]


@contextmanager
def batch_lock(db: Path) -> Iterator[None]:
    """Hold ``DB.lock`` (``flock``) for a batch: two batches writing one gradebook at once would grade the same
    entries twice. Readers (show, export, diff, report) need no lock. The lock file stays; the lock is released
    when the process ends, however it ends."""
    import fcntl

    path = db.with_name(db.name + ".lock")
    try:
        f = open(path, "a+")
    except OSError as e:
        raise GraderError(f"cannot create {path}: {e.strerror}") from None
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GraderError(f"another `grade batch` is writing {db}: wait for it to finish") from None
        yield


def default_db(submissions: Path) -> Path:
    """``grades.db`` beside the submissions folder (or zip): not inside it, where it would be an entry."""
    return submissions.resolve().parent / "grades.db"


__all__ = ["VERSION", "CheckRow", "Gradebook", "Row", "Run", "default_db"]
