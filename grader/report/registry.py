"""Reporters are plug-ins, registered by name.

A reporter is a function ``write(report, stream, options)`` that reads a :class:`grader.results.Report`
(already redacted for its audience by :func:`grader.results.redact`) and writes text to ``stream``. The
built-in reporters are imported only when used; others come from the ``dl_grader.reporters`` entry-point
group (each entry point names a module that registers its reporters with :func:`reporter`).

Adding a format is one file::

    from grader.report.registry import reporter

    @reporter("csv", "one line per check")
    def write_csv(report, stream, options): ...
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, TextIO

from grader.errors import GraderError
from grader.results import Audience, ExerciseResult, Report, redact

if TYPE_CHECKING:
    from grader.submissions import Submission


@dataclass(frozen=True)
class ReportOptions:
    verbose: bool = False
    color: bool | None = None  # None: decide from the stream (and NO_COLOR)
    width: int | None = None
    # Options of one format, by name: e.g. the CSV layout ``lms=canvas``. Each format documents its keys
    # (docs/EXPORTS.md) and ignores the others.
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)


Write = Callable[[Report, TextIO, ReportOptions], None]


@dataclass(frozen=True)
class Reporter:
    name: str
    description: str
    write: Write


# name -> module that registers it; imported on first use, so listing names costs nothing.
BUILTIN: dict[str, str] = {
    "text": "grader.report.terminal",
    "json": "grader.report.json_report",
}
ENTRY_POINT_GROUP = "dl_grader.reporters"
_REGISTERED: dict[str, Reporter] = {}


def reporter(name: str, description: str) -> Callable[[Write], Write]:
    """Register ``write`` as the reporter ``name``."""

    def register(write: Write) -> Write:
        _REGISTERED[name] = Reporter(name, description, write)
        return write

    return register


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    """Every reporter name: the built-ins, then plug-ins (no reporter module is imported)."""
    return list(dict.fromkeys([*BUILTIN, *_plugins(), *_REGISTERED]))


def get(name: str) -> Reporter:
    if name not in _REGISTERED:
        module = BUILTIN.get(name) or _plugins().get(name)
        if module is None:
            raise GraderError(f"unknown report format {name!r}: use one of {', '.join(names())}")
        importlib.import_module(module.split(":")[0])
        if name not in _REGISTERED:
            raise GraderError(f"module {module} did not register a reporter named {name!r}")
    return _REGISTERED[name]


def emit(name: str, result: ExerciseResult, stream: TextIO, *, audience: Audience = "student",
         options: ReportOptions | None = None) -> None:
    """Redact ``result`` for ``audience`` (once), then let reporter ``name`` write it."""
    get(name).write(redact(result, audience), stream, options or ReportOptions())


# -- exporters: reporters over many submissions (a batch, a gradebook, or one run) ----------------------
ExportWrite = Callable[["Sequence[Submission]", TextIO, ReportOptions], None]


@dataclass(frozen=True)
class Exporter:
    name: str
    description: str
    write: ExportWrite


# name -> module that registers it (filled by the export formats: csv, gradescope, junit, markdown, jsonl)
BUILTIN_EXPORTERS: dict[str, str] = {
    "csv": "grader.report.csv_export",
    "gradescope": "grader.report.gradescope",
    "junit": "grader.report.junit",
    "markdown": "grader.report.markdown",
    "jsonl": "grader.report.jsonl",
}
EXPORTER_ENTRY_POINT_GROUP = "dl_grader.exporters"
_EXPORTERS: dict[str, Exporter] = {}


def exporter(name: str, description: str) -> Callable[[ExportWrite], ExportWrite]:
    """Register ``write(submissions, stream, options)`` as the export format ``name``. Each submission's
    report is already redacted for the export's audience."""

    def register(write: ExportWrite) -> ExportWrite:
        _EXPORTERS[name] = Exporter(name, description, write)
        return write

    return register


def _exporter_plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=EXPORTER_ENTRY_POINT_GROUP)}


def exporter_names() -> list[str]:
    return list(dict.fromkeys([*BUILTIN_EXPORTERS, *_exporter_plugins(), *_EXPORTERS]))


def get_exporter(name: str) -> Exporter:
    if name not in _EXPORTERS:
        module = BUILTIN_EXPORTERS.get(name) or _exporter_plugins().get(name)
        if module is None:
            raise GraderError(f"unknown export format {name!r}: use one of {', '.join(exporter_names())}")
        importlib.import_module(module.split(":")[0])
        if name not in _EXPORTERS:
            raise GraderError(f"module {module} did not register an export format named {name!r}")
    return _EXPORTERS[name]


def export(name: str, submissions: Sequence[Submission], stream: TextIO, *,
           options: ReportOptions | None = None) -> None:
    """Let export format ``name`` write ``submissions`` (their reports already redacted)."""
    get_exporter(name).write(submissions, stream, options or ReportOptions())
