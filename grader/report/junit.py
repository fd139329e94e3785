"""JUnit XML, as GitHub (test reporter actions), GitLab (``artifacts:reports:junit``) and Jenkins read it.

``<testsuites>`` holds one ``<testsuite>`` per submission, named after the exercise (after
``student/exercise`` when there are several submissions), with the score in its ``<properties>``. Each
check is a ``<testcase>`` (``classname`` the suite's name, ``name`` the check's title):

* failed: ``<failure message=FIRST LINE type="failed">`` holding the message, details and likely mistake;
* error or timeout: ``<error type="error"|"timeout">`` likewise;
* grader fault: ``<skipped>``, since it is not the student's fault and counts neither way;
* passed: an empty ``<testcase>``.

An unreadable entry is a suite with one ``<testcase name="submission">`` in error; an entry the grader
failed on before any check is one skipped ``submission`` case. Characters XML 1.0 cannot hold (control
characters, lone surrogates) are removed; ElementTree escapes markup.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TextIO

from grader.report.check_text import explanation, pts, state_text, summary_line
from grader.report.registry import ReportOptions, exporter
from grader.results import CheckResult
from grader.sanitize import clean
from grader.submissions import Submission

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@exporter("junit", "JUnit XML: a testsuite per submission, a testcase per check")
def write_junit(submissions: Sequence[Submission], stream: TextIO, options: ReportOptions) -> None:
    root = ET.Element("testsuites", name="dl-grader")
    for s in submissions:
        root.append(suite(s, s.exercise if len(submissions) == 1 else f"{s.student}/{s.exercise}"))
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(x.get(key, "0")) for x in root)))
    root.set("time", _seconds(sum(float(x.get("time", "0")) for x in root)))
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")


def suite(s: Submission, name: str) -> ET.Element:
    name = text(name)
    el = ET.Element("testsuite", name=name)
    props = ET.SubElement(el, "properties")
    prop = {"exercise": s.exercise, "student": s.student, "state": s.state,
            "seed": "" if s.seed is None else str(s.seed)}
    if s.report is not None:
        r = s.report.result
        prop |= {"score": pts(r.score), "max_score": pts(r.max_score), "complete": str(r.complete).lower()}
        cases = [case(c, name) for c in r.checks]
        out = "\n".join([summary_line(r), *r.problems])
        time = r.duration
    else:
        kind = "error" if s.state == "unreadable" else "skipped"
        cases = [_case("submission", name, 0.0, kind, s.state, state_text(s))]
        out, time = state_text(s), s.duration
    for key, value in prop.items():
        ET.SubElement(props, "property", name=key, value=text(value))
    el.extend(cases)
    ET.SubElement(el, "system-out").text = text(out)
    el.set("tests", str(len(cases)))
    for key, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        el.set(key, str(sum(c.find(tag) is not None for c in cases)))
    el.set("time", _seconds(time))
    return el


def case(c: CheckResult, classname: str) -> ET.Element:
    kind = {"failed": "failure", "error": "error", "timeout": "error", "grader_error": "skipped"}.get(c.status)
    return _case(c.title, classname, c.duration, kind, c.status, explanation(c), c.message)


def _case(name: str, classname: str, time: float, kind: str | None, status: str, body: str,
          message: str = "") -> ET.Element:
    el = ET.Element("testcase", name=text(name), classname=classname, time=_seconds(time))
    if kind is not None:
        first = (message or body).split("\n", 1)[0]
        child = ET.SubElement(el, kind, message=text(first))
        if kind != "skipped":
            child.set("type", status)
        child.text = text(body)
    return el


def text(value: str) -> str:
    """``value`` as XML 1.0 can hold it: cleaned of control characters and lone surrogates."""
    return _NOT_XML.sub("", clean(value))


def _seconds(x: float) -> str:
    return f"{x:.3f}"
