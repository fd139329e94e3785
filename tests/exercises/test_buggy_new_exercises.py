"""Hand-written buggy submissions for `conv`, `gmm_em` and `pca` (tests/buggy/<exercise>/*.py).

They are not copies of mistakes.py variants: each is a plausible student file with its own bug. Each must
lose marks, and every diagnosis it gets must be one its first line allows (``# allowed-diagnoses: a, b``;
empty: none). A wrong diagnosis is worse than none.

The generic patterns that only say *where* the values differ (``some_entries_wrong``, ``some_rows_wrong``:
which entries or rows are off, measured) name no mistake and are always allowed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.api import GradeOptions, grade

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ("conv", "gmm_em", "pca")
LOCATIONS = {"some_entries_wrong", "some_rows_wrong", "some_columns_wrong"}
FILES = sorted(p for ex in EXERCISES for p in (ROOT / "tests" / "buggy" / ex).glob("*.py"))


def allowed(path: Path) -> set[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# allowed-diagnoses:"), f"{path.name}: first line must list the allowed diagnoses"
    return {s.strip() for s in first.split(":", 1)[1].split(",") if s.strip()}


def test_at_least_three_buggy_files_per_exercise():
    for ex in EXERCISES:
        assert len([p for p in FILES if p.parent.name == ex]) >= 3, ex


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
@pytest.mark.parametrize("seed", [0, 1])
def test_buggy_file_loses_marks_with_a_right_diagnosis_or_none(path, seed, sandbox, tmp_path):
    exercise = path.parent.name
    submission = tmp_path / f"{exercise}.py"
    submission.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    r = grade(exercise, submission, GradeOptions(seed=seed), sandbox=sandbox)
    assert r.score < r.max_score, f"{path.name} got full marks"
    assert r.problems == [], r.problems  # the file loads: its bug is in the numbers, not a crash
    assert any(c.passed for c in r.checks), f"{path.name} passed nothing"
    assert not [c for c in r.checks if c.status == "grader_error"], [c.message for c in r.checks]
    named = {c.id: c.mistake for c in r.checks if not c.passed and c.mistake is not None and c.mistake not in LOCATIONS}
    wrong = {cid: m for cid, m in named.items() if m not in allowed(path)}
    assert not wrong, f"{path.name}: wrong diagnoses {wrong}; allowed {sorted(allowed(path))}"
