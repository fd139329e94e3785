"""The JSON document of a result: a stable interface (schema 1, see README.md)."""

from __future__ import annotations

import json
from typing import TextIO

from grader.report.registry import ReportOptions, reporter
from grader.results import Report


def to_json(report: Report, *, indent: int | None = 2) -> str:
    return json.dumps(report.to_dict(), indent=indent, ensure_ascii=False, default=str)


@reporter("json", "the JSON document (schema 1) on stdout")
def write_json(report: Report, stream: TextIO, options: ReportOptions) -> None:
    stream.write(to_json(report) + "\n")
