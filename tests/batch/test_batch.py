"""`grade batch` into a gradebook: what is graded, what is stored, resume, regrade with history, diff, export."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
from click.testing import CliRunner

from cli import main
from grader.batch.batch import run_batch
from grader.gradebook.diff import diff_states, resolve_state
from grader.gradebook.store import Gradebook
from grader.report.registry import exporter
from tests.batch.class_data import CORRECT, EXERCISE, MISTAKES, options


def test_a_class_is_graded_and_stored(graded_class):
    _, db, s = graded_class
    assert (s.entries, s.graded, s.full_marks, s.grader_faults, s.up_to_date) == (7, 6, 2, 0, 0)
    assert s.unreadable == [(EXERCISE, "frank", "binary file, not Python source")]
    assert s.errors == 2  # eve: her loop times out, and the functions she did not write raise; gus
    with Gradebook(db) as book:
        latest = book.latest()
        assert sorted(s for s, _ in latest) == ["alice", "bob", "carol", "dave", "eve", "frank", "gus"]
        assert latest[("frank", EXERCISE)].state == "unreadable"
        assert latest[("frank", EXERCISE)].reason == "binary file, not Python source"
        alice = latest[("alice", EXERCISE)]
        assert alice.state == "graded" and alice.score == alice.max_score > 0
        assert len(alice.sha256) == 64 and alice.seed == 0 and alice.exercise_version and alice.grader_version
        assert alice.environment["worker"] and alice.result["audience"] == "instructor"
        eve = latest[("eve", EXERCISE)]
        assert eve.state == "graded" and eve.score == 0
        assert any(c.status == "timeout" for c in book.checks(eve.id))
        for student, mistake in MISTAKES.items():
            row = latest[(student, EXERCISE)]
            assert row.state == "graded" and 0 < row.score < row.max_score
            assert mistake in {c.mistake for c in book.checks(row.id)}
        gus = latest[("gus", EXERCISE)]  # his process died: his checks, not the batch
        assert gus.state == "graded" and gus.score == 0
        assert book.count("students") == 7 and book.count("submissions") == 7


def test_a_second_run_grades_nothing_again(class_copy):
    folder, db = class_copy
    s = run_batch(options(folder, db))
    assert (s.graded, s.up_to_date, s.grader_faults, len(s.unreadable)) == (0, 6, 0, 1)
    with Gradebook(db) as book:
        assert book.count("submissions") == 7  # nothing graded or counted twice
        assert len(book.runs()) == 2


def test_changed_files_and_regrades_keep_the_history(class_copy):
    folder, db = class_copy
    (folder / "carol.py").write_text(f"from reference.{EXERCISE} import *\n")  # carol fixes her mistake
    s = run_batch(options(folder, db, regrade=("alice",)))
    assert (s.graded, s.up_to_date) == (2, 4)
    with Gradebook(db) as book:
        assert [r.run_id for r in book.history("alice")] == [1, 2]  # history kept, the newest counts
        latest = book.latest()
        assert latest[("alice", EXERCISE)].run_id == 2
        assert latest[("carol", EXERCISE)].score == latest[("carol", EXERCISE)].max_score
        assert book.count("submissions") == 9
    changes = diff_states(resolve_state("1", db), resolve_state("-1", db))
    assert [(c.student, c.delta > 0) for c in changes] == [("carol", True)]  # alice's regrade changed nothing
    assert {ch.why for ch in changes[0].checks} == {"now passes"}

    out = CliRunner().invoke(main, ["gradebook", "diff", "1", "2", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "1 entries changed, 1 gained points, 0 lost points" in out.output
    assert f"{EXERCISE} · carol:" in out.output and "now passes" in out.output
    out = CliRunner().invoke(main, ["gradebook", "show", "alice", "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert out.output.count("run 1") == 1 and out.output.count("run 2") == 1 and "latest" in out.output


def test_diff_of_two_gradebook_files(graded_class, class_copy):
    _, db, _ = graded_class
    folder, db2 = class_copy
    (folder / "alice.py").write_text("def softmax(z):\n    return z\n")
    run_batch(options(folder, db2))
    changes = diff_states(resolve_state(str(db), None), resolve_state(str(db2), None))
    assert [c.student for c in changes] == ["alice"] and changes[0].delta < 0


@exporter("test-dummy", "one line per submission, for the tests")
def _dummy(submissions, stream, options):
    for s in submissions:
        checks = [c.message for c in s.report.result.checks] if s.report else []
        stream.write(json.dumps([s.student, s.exercise, s.state, s.score, s.max_score, s.reason,
                                 s.report.audience if s.report else None, len(checks)]) + "\n")


def test_export_goes_through_the_registry(graded_class, tmp_path):
    _, db, _ = graded_class
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(main, ["gradebook", "export", "--format", "test-dummy", "--audience", "student",
                                  "-o", str(out), "--db", str(db)])
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line[0] for line in lines] == ["alice", "bob", "carol", "dave", "eve", "frank", "gus"]
    assert lines[0][2:4] == ["graded", 20.0] and lines[0][6] == "student"
    assert lines[5][2] == "unreadable" and lines[5][5] == "binary file, not Python source"
    r = CliRunner().invoke(main, ["gradebook", "export", "--format", "no-such", "--db", str(db)])
    assert r.exit_code == 2 and "unknown export format 'no-such'" in r.output


def test_export_redacts_hidden_checks_for_students(graded_class):
    from grader.gradebook.views import export_gradebook

    _, db, _ = graded_class
    buf = io.StringIO()
    assert export_gradebook(db, "test-dummy", buf, audience="instructor") == 7


def test_the_batch_command_writes_only_a_summary_when_not_a_terminal(class_copy):
    folder, db = class_copy
    r = CliRunner().invoke(main, ["batch", EXERCISE, str(folder), "--db", str(db), "--in-process",
                                  "--isolation", "none", "--dtype", "float64", "--timeout", "1"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("batch: 7 entries · 0 graded") and "1 unreadable · 6 already graded" in lines[0]
    assert any("unreadable softmax_ce · frank: binary file, not Python source" in line for line in lines)
    assert "━" not in r.output and "slot" not in r.output  # no progress bar, no live lines
    r = CliRunner().invoke(main, ["batch", EXERCISE, str(folder), "--db", str(db), "--regrade", "zoe"])
    assert r.exit_code == 2 and "--regrade: no entry" in r.output and "zoe" in r.output


def test_report_calls_the_class_report(graded_class, tmp_path, monkeypatch):
    import sys
    import types

    seen = {}
    fake = types.ModuleType("grader.report.class_html")
    fake.write_class_report = (  # type: ignore[attr-defined]
        lambda subs, out, *, title="": seen.update(n=len(subs), out=out, title=title))
    monkeypatch.setitem(sys.modules, "grader.report.class_html", fake)
    _, db, _ = graded_class
    r = CliRunner().invoke(main, ["report", "--db", str(db), str(tmp_path / "class.html"), "--title", "Week 3"])
    assert r.exit_code == 0, r.output
    assert seen == {"n": 7, "out": tmp_path / "class.html", "title": "Week 3"}


def test_official_seeds_come_from_the_secret(tmp_path):
    from grader.batch.batch import _seed
    from grader.seeds import is_official, official_seed

    secret = b"0123456789abcdef-secret"
    opts = options(tmp_path, tmp_path / "g.db", secret=secret)
    assert _seed(opts, EXERCISE, "alice") == official_seed(secret, EXERCISE, "alice") != _seed(opts, EXERCISE, "bob")
    assert is_official(_seed(opts, EXERCISE, "alice"))
    assert opts.options_record()["official_seeds"] is True and opts.options_record()["seed"] is None
    assert secret.decode() not in json.dumps(opts.options_record())


def test_several_exercises_over_one_tree(tmp_path):
    from grader.batch.batch import BatchOptions, resolve_exercises
    from grader.errors import GraderError
    from tests.batch.class_data import CORRECT

    tree = tmp_path / "class"
    for s in ("alice", "bob"):
        (tree / s).mkdir(parents=True)
        (tree / s / "softmax_ce.py").write_text(CORRECT)
    (tree / "alice" / "derivatives.py").write_text("from reference.derivatives import *\n")
    opts = BatchOptions(("softmax_ce", "derivatives"), tree, tmp_path / "g.db", in_process=True, isolation="none",
                        dtypes=("float64",), timeout=5.0)
    s = run_batch(opts)
    assert s.layouts == {"softmax_ce": "folders", "derivatives": "folders"}
    assert (s.graded, s.full_marks, s.grader_faults) == (3, 3, 0)
    # bob's only file is softmax_ce's: it is not taken for derivatives
    assert s.unreadable == [("derivatives", "bob", "no file: derivatives.py is not in the folder")]
    assert set(resolve_exercises((), True)) >= {"softmax_ce", "derivatives", "least_squares"}
    with pytest.raises(GraderError, match="not both"):
        resolve_exercises(("softmax_ce",), True)


def test_a_zipped_gradescope_export_end_to_end(tmp_path):
    import zipfile

    from tests.batch.class_data import CORRECT

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("assignment_42_export/submission_metadata.yml",
                    "submission_7:\n  :submitters:\n  - :name: Ada\n    :sid: '9001'\n")
        zf.writestr("assignment_42_export/submission_7/softmax_ce.py", CORRECT)
    s = run_batch(options(archive, tmp_path / "grades.db"))
    assert s.layouts == {EXERCISE: "gradescope"} and (s.graded, s.full_marks) == (1, 1)
    with Gradebook(tmp_path / "grades.db") as book:
        row = book.latest()[("9001", EXERCISE)]
        assert row.path == "submission_7/softmax_ce.py" and row.state == "graded"


def test_the_import_limit_reaches_every_submission_of_a_batch(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "ivan.py").write_text(CORRECT + "\nwhile True:\n    pass\n")
    db = tmp_path / "g.db"
    r = CliRunner().invoke(main, ["batch", EXERCISE, str(folder), "--db", str(db), "--in-process", "--isolation",
                                  "none", "--dtype", "float64", "--load-timeout", "1"])
    assert r.exit_code == 0, r.output
    with sqlite3.connect(db) as c:
        (result,) = c.execute("SELECT result FROM submissions WHERE student = 'ivan'").fetchone()
        (recorded,) = c.execute("SELECT options FROM runs").fetchone()
    checks = json.loads(result)["checks"]
    assert {c["message"] for c in checks} == {"importing your file did not finish within 1 s"}
    assert json.loads(recorded)["load_timeout"] == 1.0


def test_a_changed_exercise_is_said_and_its_grades_kept_until_a_regrade(class_copy, monkeypatch):
    folder, db = class_copy
    monkeypatch.setattr("grader.batch.batch.exercise_version", lambda folder, reference=None: "changed")
    s = run_batch(options(folder, db))
    assert (s.graded, s.up_to_date) == (0, 6)
    assert s.notes == [f"{EXERCISE}: 6 submissions were graded by an earlier version of the exercise and kept; "
                       "`--regrade-all` grades them again (`grade gradebook diff` then shows who gained or lost "
                       "points)"]
    s = run_batch(options(folder, db, regrade_all=True))
    assert s.graded == 6 and not s.notes
