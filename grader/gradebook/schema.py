"""The gradebook's SQL schema, as ordered migrations.

``schema_version`` holds one row: the number of migrations applied. Opening a gradebook applies the
missing ones in order, each in its own transaction with the version bump, so a gradebook written by an
older grader is upgraded in place and never half-upgraded. A migration is never edited once released:
a change of schema is a new function appended to :data:`MIGRATIONS`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from grader.errors import GraderError


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run ``sql`` statement by statement (``executescript`` would commit the migration's transaction)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    """Students, one row per graded (or unreadable) entry, one row per check result."""
    _script(db, """
        CREATE TABLE students (
            id TEXT PRIMARY KEY,
            first_seen TEXT NOT NULL
        );
        CREATE TABLE submissions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            student TEXT NOT NULL REFERENCES students(id),
            exercise TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('graded', 'unreadable', 'grader_fault')),
            reason TEXT NOT NULL DEFAULT '',
            path TEXT NOT NULL DEFAULT '',
            sha256 TEXT NOT NULL DEFAULT '',
            seed INTEGER,
            score REAL NOT NULL DEFAULT 0,
            max_score REAL NOT NULL DEFAULT 0,
            grader_version TEXT NOT NULL DEFAULT '',
            exercise_version TEXT NOT NULL DEFAULT '',
            environment TEXT NOT NULL DEFAULT '{}',
            graded_at TEXT NOT NULL,
            duration REAL NOT NULL DEFAULT 0,
            result TEXT
        );
        CREATE INDEX submissions_by_entry ON submissions (student, exercise, id);
        CREATE TABLE check_results (
            submission_id INTEGER NOT NULL REFERENCES submissions(id),
            check_id TEXT NOT NULL,
            status TEXT NOT NULL,
            score REAL NOT NULL,
            max_score REAL NOT NULL,
            mistake TEXT,
            message TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (submission_id, check_id)
        );
    """)


def _v2(db: sqlite3.Connection) -> None:
    """Runs: each batch is recorded, and each submission row says which run graded it, so that two runs
    can be compared (``grade gradebook diff``). Rows from before are put in one run "before runs"."""
    _script(db, """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            exercises TEXT NOT NULL DEFAULT '',
            options TEXT NOT NULL DEFAULT '{}',
            grader_version TEXT NOT NULL DEFAULT ''
        );
        ALTER TABLE submissions ADD COLUMN run_id INTEGER REFERENCES runs(id);
        CREATE INDEX submissions_by_run ON submissions (run_id);
    """)
    first = db.execute("SELECT MIN(graded_at), GROUP_CONCAT(DISTINCT exercise) FROM submissions").fetchone()
    if first[0] is not None:
        cur = db.execute("INSERT INTO runs (started_at, exercises, options) VALUES (?, ?, ?)",
                         (first[0], first[1] or "", '{"note": "rows graded before runs were recorded"}'))
        db.execute("UPDATE submissions SET run_id = ?", (cur.lastrowid,))


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2)
VERSION = len(MIGRATIONS)


def current_version(db: sqlite3.Connection) -> int:
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not exists:
        return 0
    row = db.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(db: sqlite3.Connection, target: int = VERSION) -> int:
    """Apply the migrations after the gradebook's version, up to ``target``; returns the version reached.
    ``db`` is in autocommit mode (``isolation_level=None``): each step is one explicit transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        if db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0:
            db.execute("INSERT INTO schema_version (version) VALUES (0)")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    version = current_version(db)
    if version > VERSION:
        raise GraderError(f"this gradebook has schema version {version}, newer than this grader knows ({VERSION}): "
                          "upgrade dl-grader")
    while version < target:
        db.execute("BEGIN IMMEDIATE")
        try:
            if current_version(db) == version:  # another process may have migrated meanwhile
                MIGRATIONS[version](db)
                db.execute("UPDATE schema_version SET version = ?", (version + 1,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        version = current_version(db)
    return version
