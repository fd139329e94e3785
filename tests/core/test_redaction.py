"""Redaction happens once, before any reporter: no reporter's output for students contains a hidden check's
details or an expected answer. Canary strings are planted in every field a reporter could draw."""

from __future__ import annotations

import io
import json

import pytest

from grader.diagnosis import Diagnosis
from grader.report.registry import ReportOptions, emit, names
from grader.results import (
    HIDDEN_NOTE,
    CheckResult,
    Comparison,
    ExerciseResult,
    ExpectedAnswer,
    GradientVerdict,
    Report,
    SymbolicAnswer,
    redact,
)

VISIBLE = "student-answer-visible"


def _everything(tag: str, status: str = "failed") -> dict:
    """Every field of a check that can carry text, each holding a canary named after it."""
    return dict(
        status=status, score=0.0, max_score=2.0, message=f"CANARY-{tag}-message", details=f"CANARY-{tag}-details",
        diagnosis=Diagnosis(f"canary_{tag.lower()}", f"CANARY-{tag}-name", f"CANARY-{tag}-hint"),
        hint=f"CANARY-{tag}-advice", traceback=f"CANARY-{tag}-traceback", output=f"CANARY-{tag}-output",
        notes=(f"CANARY-{tag}-note",),
        attachments=(Comparison(label=f"CANARY-{tag}-comparison", inputs=(f"CANARY-{tag}-input",)),
                     SymbolicAnswer(answer=f"CANARY-{tag}-answer", method="numeric"),
                     ExpectedAnswer(answer=f"CANARY-{tag}-expected"),
                     GradientVerdict(verdict={"message": f"CANARY-{tag}-verdict", "tensors": []})),
    )


def planted() -> ExerciseResult:
    public = CheckResult("public_check", "a public check", "failed", 0.0, 2.0, message="public message",
                         attachments=(SymbolicAnswer(answer=VISIBLE, method="exact"),
                                      ExpectedAnswer(answer="CANARY-PUBLIC-expected")))
    hidden_failed = CheckResult("hidden_failed", "a hidden check that failed", visibility="hidden",
                                **_everything("HIDDEN"))
    hidden_passed = CheckResult("hidden_passed", "a hidden check that passed", visibility="hidden",
                                **{**_everything("PASSED", "passed"), "score": 2.0, "message": "CANARY-PASSED-m",
                                   "diagnosis": None})
    hidden_error = CheckResult("hidden_error", "a hidden check that raised", visibility="hidden",
                               **_everything("ERROR", "error"))
    return ExerciseResult("demo", "Demo", "demo.py", [public, hidden_failed, hidden_passed, hidden_error],
                          {"device": "cpu", "dtype": "float64", "seed": 0, "torch": "x"})


def output_of(fmt: str, audience: str, verbose: bool = True) -> str:
    stream = io.StringIO()
    emit(fmt, planted(), stream, audience=audience,  # type: ignore[arg-type]
         options=ReportOptions(verbose=verbose, color=False, width=200))
    return stream.getvalue()


@pytest.mark.parametrize("fmt", names())
@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_no_reporter_shows_students_a_hidden_detail_or_an_expected_answer(fmt: str, verbose: bool) -> None:
    out = output_of(fmt, "student", verbose)
    assert "CANARY" not in out, [line for line in out.splitlines() if "CANARY" in line]
    # not vacuous: the report was drawn, hidden checks by title, the student's own answer shown
    assert "a hidden check that failed" in out and "a hidden check that passed" in out
    if fmt in ("text", "json"):
        assert VISIBLE in out and HIDDEN_NOTE in out


def test_instructors_see_every_canary() -> None:
    """The canaries are where a reporter would find them: the instructor's JSON has each one."""
    doc = json.loads(output_of("json", "instructor"))
    text = json.dumps(doc, ensure_ascii=False)
    for tag in ("HIDDEN", "ERROR"):
        for field in ("message", "details", "name", "hint", "traceback", "output", "note", "comparison", "input",
                      "answer", "expected", "verdict"):
            assert f"CANARY-{tag}-{field}" in text, (tag, field)
    assert "CANARY-PUBLIC-expected" in text
    terminal = output_of("text", "instructor")
    assert "CANARY-HIDDEN-details" in terminal and "CANARY-PUBLIC-expected" in terminal


def test_the_student_report_keeps_scores_and_statuses() -> None:
    """Redaction hides text, never points: a student sees what each hidden check scored."""
    raw = planted()
    report = redact(raw, "student")
    assert [(c.id, c.status, c.score, c.max_score) for c in report.result.checks] == \
        [(c.id, c.status, c.score, c.max_score) for c in raw.checks]
    assert report.to_dict()["score"] == raw.score
    hidden = {c.id: c for c in report.result.checks}
    assert hidden["hidden_failed"].message == HIDDEN_NOTE and hidden["hidden_passed"].message == ""
    assert raw.checks[1].details == "CANARY-HIDDEN-details"  # the result itself is not modified


def test_reporters_receive_a_report_for_the_asked_audience(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.report import registry

    seen: list[Report] = []
    monkeypatch.setitem(registry.REPORTERS.registered, "spy",
                        registry.Reporter("spy", "test", lambda r, s, o: seen.append(r)))
    emit("spy", planted(), io.StringIO())  # the default audience is the student
    emit("spy", planted(), io.StringIO(), audience="instructor")
    assert [type(r) for r in seen] == [Report, Report] and [r.audience for r in seen] == ["student", "instructor"]
    assert "CANARY" not in json.dumps(seen[0].to_dict(), ensure_ascii=False)
    with pytest.raises(ValueError, match="unknown audience"):
        emit("spy", planted(), io.StringIO(), audience="everyone")  # type: ignore[arg-type]


def test_the_api_is_the_pipeline() -> None:
    """`grader.api` names every stage a caller needs, and `emit` prints what `redact` made."""
    from grader import api

    assert all(hasattr(api, name) for name in api.__all__)
    assert {"grade", "redact", "emit", "reporter", "grade_gradient"} <= set(api.__all__)
    stream = io.StringIO()
    api.emit("json", planted(), stream)
    assert json.loads(stream.getvalue()) == json.loads(json.dumps(api.redact(planted(), "student").to_dict()))
