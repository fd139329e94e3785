"""Reporters: they only read results (grader.results) and format them."""

from grader.report.json_report import to_json
from grader.report.terminal import render_result

__all__ = ["render_result", "to_json"]
