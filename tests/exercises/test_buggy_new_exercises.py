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


def self_contained(path: Path, exercise: str) -> str:
    """The file as a student would hand it in: the parts it takes from the reference are written out in it
    (a submission may not import the grader's code), then its own code, which overrides them."""
    import ast

    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    drop: set[int] = set()
    aliases: list[str] = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "reference":
            drop.update(range(node.lineno - 1, node.end_lineno or node.lineno))
            aliases += [a.asname or a.name for a in node.names if node.module == "reference"]
    reference = (ROOT / "reference" / f"{exercise}.py").read_text(encoding="utf-8")
    namespace = "".join(f"{a} = _types.SimpleNamespace(**{{k: v for k, v in dict(globals()).items() "
                        f"if callable(v)}})\n" for a in aliases)
    own = "".join(line for i, line in enumerate(lines) if i not in drop)
    first, _, rest = own.partition("\n")  # keep the allowed-diagnoses line first
    return f"{first}\n{reference}\nimport types as _types\n{namespace}\n{rest}"


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
    submission.write_text(self_contained(path, exercise), encoding="utf-8")
    r = grade(exercise, submission, GradeOptions(seed=seed), sandbox=sandbox)
    assert r.score < r.max_score, f"{path.name} got full marks"
    assert r.problems == [], r.problems  # the file loads: its bug is in the numbers, not a crash
    assert any(c.passed for c in r.checks), f"{path.name} passed nothing"
    assert not [c for c in r.checks if c.status == "grader_error"], [c.message for c in r.checks]
    named = {c.id: c.mistake for c in r.checks if not c.passed and c.mistake is not None and c.mistake not in LOCATIONS}
    wrong = {cid: m for cid, m in named.items() if m not in allowed(path)}
    assert not wrong, f"{path.name}: wrong diagnoses {wrong}; allowed {sorted(allowed(path))}"
