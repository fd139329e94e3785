"""The export formats (csv, gradescope, junit, markdown, jsonl): their structure and wording, the grade rule
for unreadable entries and grader faults, hidden checks redacted for students, and every string from a
submission escaped for the format."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from export_fixtures import HOSTILE, hand_built

from grader.errors import GraderError
from grader.report.registry import BUILTIN_EXPORTERS, ReportOptions, export, exporter_names
from grader.results import GRADER_FAULT_NOTE, HIDDEN_NOTE
from grader.submissions import Submission

FORMATS = ("csv", "gradescope", "junit", "markdown", "jsonl")


def run(name: str, entries: list[Submission], **extra: str) -> str:
    stream = io.StringIO()
    export(name, entries, stream, options=ReportOptions(extra=extra))
    return stream.getvalue()


@pytest.fixture(scope="module")
def batch(graded, entry) -> list[Submission]:
    """A class: full marks, a named mistake, the hand-built result, an unreadable entry, a grader fault."""
    return [entry(graded["reference"], "alice", sha256="a" * 64, seed=1),
            entry(graded["mistake"], "mallory", seed=1),
            entry(hand_built(), "=cmd|' /C calc'!A0"),
            Submission("bob", "least_squares", "unreadable", None, reason="2 candidate files: a.py, b.py"),
            Submission("carol", "least_squares", "grader_fault", None, reason="the sandbox did not start")]


def test_every_format_is_a_builtin_exporter(batch) -> None:
    assert set(FORMATS) <= set(BUILTIN_EXPORTERS) and set(FORMATS) <= set(exporter_names())
    for name in FORMATS:
        assert run(name, batch) and run(name, batch[:1])


# -- csv -----------------------------------------------------------------------------------------------
def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_plain_grade_rule(batch) -> None:
    table = rows(run("csv", batch))
    assert table[0] == ["student", "demo", "least_squares", "total", "notes"]
    by = {r[0]: r for r in table[1:]}
    assert by["alice"][1:4] == ["", "17", "17"]
    mistake = by["mallory"]
    assert 0 < float(mistake[2]) < 17 and mistake[3] == mistake[2]
    assert by["bob"][2:4] == ["0", "0"] and "unreadable submission: 2 candidate files" in by["bob"][4]
    # a grader fault is never a 0: the cell and the total stay empty until it is graded again
    assert by["carol"][2:4] == ["", ""] and "grader fault" in by["carol"][4]
    hostile = next(r for r in table[1:] if r[0].startswith("'"))
    assert hostile[0] == "'=cmd|' /C calc'!A0" and hostile[1] == "" and "demo: grader fault" in hostile[4]
    assert {r[0]: r for r in rows(run("csv", batch, unreadable="empty"))}["bob"][2:4] == ["", "0"]


def test_csv_canvas_and_moodle_columns(batch) -> None:
    canvas = rows(run("csv", batch, lms="canvas", **{"column.least_squares": "Least squares (4711)"}))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "demo", "Least squares (4711)"]
    assert canvas[1] == ["Points Possible", "", "", "", "", "10", "17"]
    assert ["alice", "", "", "alice", "", "", "17"] in canvas
    by_sis = rows(run("csv", batch, lms="canvas", id_column="SIS User ID"))
    assert ["alice", "", "alice", "", "", "", "17"] in by_sis
    moodle = rows(run("csv", batch, lms="moodle", id_column="Email address"))
    assert moodle[0] == ["Email address", "demo", "least_squares"] and ["alice", "", "17"] in moodle
    with pytest.raises(GraderError, match="unknown lms 'blackboard'"):
        run("csv", batch, lms="blackboard")


# -- gradescope ----------------------------------------------------------------------------------------
def test_gradescope_results_json(graded, entry) -> None:
    doc = json.loads(run("gradescope", [entry(graded["mistake"], "mallory", seed=1)]))
    assert set(doc) >= {"score", "execution_time", "output", "output_format", "tests"}
    assert doc["output_format"] == "text"
    assert doc["score"] == sum(t["score"] for t in doc["tests"]) and doc["output"].startswith("Score: ")
    failed = [t for t in doc["tests"] if t["status"] == "failed"]
    assert failed and all(t["visibility"] == "visible" and t["max_score"] > t["score"] for t in failed)
    loss = next(t for t in failed if t["extra_data"]["id"] == "ls_loss_random")
    assert "Likely mistake: mean instead of sum." in loss["output"] and loss["tags"] == ["ls_loss_mean"]
    assert loss["output"].index(graded["mistake"].checks[0].message) == 0  # message, then details and advice


def test_gradescope_hidden_checks_and_grader_faults(entry) -> None:
    doc = json.loads(run("gradescope", [entry(hand_built(), "eve")]))
    tests = {t["extra_data"]["id"]: t for t in doc["tests"]}
    hidden = tests["secret"]
    assert hidden["visibility"] == "after_published" and hidden["output"] == HIDDEN_NOTE
    assert "xyzzy" not in json.dumps(doc)  # neither the hidden message nor the expected answer
    fault = tests["fault"]
    assert "score" not in fault and "status" not in fault and GRADER_FAULT_NOTE in fault["output"]
    assert doc["score"] == 1.0 and doc["extra_data"]["grader_fault"] is True
    assert "Incomplete: 1 check(s) failed because of the grader" in doc["output"]
    assert "\x1b" not in json.dumps(doc, ensure_ascii=False) and "\x00" not in tests["wrong"]["output"]
    instructor = json.loads(run("gradescope", [entry(hand_built(), "eve", "instructor")]))
    assert next(t for t in instructor["tests"] if t["extra_data"]["id"] == "secret")["output"].startswith(
        "hidden message: the answer is xyzzy")


def test_gradescope_many_submissions_is_a_list(batch) -> None:
    doc = json.loads(run("gradescope", batch))
    assert [d["student"] for d in doc][:2] == ["alice", "mallory"] and doc[0]["exercise"] == "least_squares"
    bob, carol = doc[3]["results"], doc[4]["results"]
    assert bob["score"] == 0 and "2 candidate files" in bob["output"] and not bob["extra_data"]["grader_fault"]
    assert carol["score"] == 0 and carol["extra_data"]["grader_fault"] and "not your code" in carol["output"]


# -- junit ---------------------------------------------------------------------------------------------
SUITE = {"name", "tests", "failures", "errors", "skipped", "time"}
ALLOWED = {"testsuites": SUITE, "testsuite": SUITE, "properties": set(), "property": {"name", "value"},
           "testcase": {"name", "classname", "time"}, "failure": {"message", "type"}, "error": {"message", "type"},
           "skipped": {"message"}, "system-out": set()}


def test_junit_structure(batch) -> None:
    text = run("junit", batch)
    root = ET.fromstring(text)
    assert root.tag == "testsuites" and [s.get("name") for s in root][:2] == ["alice/least_squares",
                                                                              "mallory/least_squares"]
    for el in root.iter():  # only the elements and attributes of the JUnit schema (Jenkins' junit-10.xsd)
        assert set(el.attrib) <= ALLOWED[el.tag], el.tag
    for suite in root:
        tags = [c.tag for c in suite]  # the schema's order: properties, testcase*, system-out
        assert tags[0] == "properties" and tags[-1] == "system-out" and set(tags[1:-1]) == {"testcase"}
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        for attr, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            assert int(suite.get(attr)) == sum(c.find(tag) is not None for c in cases)
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root)
    demo = root[2]
    assert (demo.get("failures"), demo.get("errors"), demo.get("skipped")) == ("2", "2", "1")
    wrong = demo.find("testcase[@name='a failing check']/failure")
    assert wrong.get("message").startswith("f returned the wrong values x <script>") and wrong.get("type") == "failed"
    assert "Greatest absolute difference" in wrong.text and "Likely mistake: sign flipped." in wrong.text
    assert demo.find("testcase[@name='a slow check']/error").get("type") == "timeout"
    assert GRADER_FAULT_NOTE in demo.find("testcase[@name='a check the grader broke']/skipped").text
    hidden = demo.find("testcase[@name='a hidden check']/failure")
    assert hidden.get("message") == HIDDEN_NOTE and "xyzzy" not in text
    assert "\x00" not in text and "\x1b" not in text and "</failure> |" not in text
    assert root[3].find("testcase/error").get("type") == "unreadable"
    assert root[4].find("testcase/skipped") is not None and root[4].get("errors") == "0"


def test_junit_single_submission_is_named_after_the_exercise(graded, entry) -> None:
    root = ET.fromstring(run("junit", [entry(graded["mistake"], "mallory")]))
    (suite,) = root
    assert suite.get("name") == "least_squares" and int(suite.get("failures")) >= 1
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["student"] == "mallory" and float(props["score"]) == graded["mistake"].score


# -- markdown ------------------------------------------------------------------------------------------
def test_markdown_single(graded, entry) -> None:
    full = run("markdown", [entry(graded["reference"], "alice")])
    assert full.startswith("## ✅ Least squares (least\\_squares): 17 / 17\n")
    assert "Checks that did not pass" not in full
    assert full.count("| ✅ |") == len(graded["reference"].checks)
    text = run("markdown", [entry(hand_built(), "eve")])
    assert text.startswith("## ⚙️ Demo x")
    assert "| ❌ | a hidden check (hidden) | 0/3 |" in text and "| ⚙️ | a check the grader broke | —/2 |" in text
    assert "#### ❌ a failing check" in text and "→ Likely mistake: sign flipped. negate the residual" in text
    assert "```text\nMismatched elements: 2 / 4 (50.0%)" in text and "xyzzy" not in text
    # markup from the submission is inert: no raw tag, pipe, backtick or emphasis survives
    assert "<script>" not in text and "&lt;script&gt;" in text and "\\| \\`code\\` \\*bold\\* \\$x\\$ &amp;" in text
    assert "\x1b" not in text and "\x00" not in text


def test_markdown_code_fence_outlasts_backticks() -> None:
    from grader.report.markdown import code

    assert code("a ```` b") == ["`````text", "a ```` b", "`````"]


def test_markdown_class_table(batch) -> None:
    text = run("markdown", batch)
    assert text.startswith("## Class summary")
    assert "| least\\_squares | 4 |" in text and "| alice | least\\_squares | 17 / 17 |  |" in text
    assert "| bob | least\\_squares | — | unreadable submission: 2 candidate files: a.py, b.py |" in text
    assert "likely mistakes: ls\\_loss\\_mean" in text and "### Checks failed most often" in text


# -- jsonl ---------------------------------------------------------------------------------------------
def test_jsonl_one_line_per_submission(batch) -> None:
    lines = run("jsonl", batch).splitlines()
    assert len(lines) == len(batch)
    records = [json.loads(line) for line in lines]
    alice = records[0]
    assert alice["student"] == "alice" and alice["sha256"] == "a" * 64 and alice["seed"] == 1
    assert alice["state"] == "graded" and alice["schema"] == 1 and alice["score"] == 17
    assert alice["audience"] == "student"
    assert len(alice["checks"]) == 12
    bob = records[3]
    assert bob["state"] == "unreadable" and bob["score"] is None and bob["reason"].startswith("2 candidate")
    secret = next(c for c in records[2]["checks"] if c["id"] == "secret")
    assert secret["message"] == HIDDEN_NOTE and secret["attachments"] == []


def test_hostile_string_reaches_every_format_cleaned(batch) -> None:
    assert "\x1b" in HOSTILE
    for name in FORMATS:
        out = run(name, batch)
        assert "\x1b" not in out and "\x00" not in out and "\x07" not in out, name
