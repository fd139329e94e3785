"""Reporters: plug-ins that only read a redacted :class:`grader.results.Report` (see registry)."""

from grader.report.registry import Reporter, ReportOptions, emit, get, names, reporter

__all__ = ["ReportOptions", "Reporter", "emit", "get", "names", "reporter"]
