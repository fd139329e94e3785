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
from typing import TYPE_CHECKING, Generic, TextIO, TypeVar

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
ExportWrite = Callable[["Sequence[Submission]", TextIO, ReportOptions], None]
W = TypeVar("W")


@dataclass(frozen=True)
class Plugin(Generic[W]):
    name: str
    description: str
    write: W


class Plugins(Generic[W]):
    """One kind of plug-in: built-ins by name (a module that registers them, imported on first use, so
    listing names costs nothing), entry points of ``group``, and whatever registered itself."""

    def __init__(self, what: str, kind: str, builtin: dict[str, str], group: str) -> None:
        self.what, self.kind, self.builtin, self.group = what, kind, builtin, group
        self.registered: dict[str, Plugin[W]] = {}

    def register(self, name: str, description: str) -> Callable[[W], W]:
        def add(write: W) -> W:
            self.registered[name] = Plugin(name, description, write)
            return write

        return add

    def plugins(self) -> dict[str, str]:
        return {ep.name: ep.value for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.builtin, *self.plugins(), *self.registered]))

    def get(self, name: str) -> Plugin[W]:
        if name not in self.registered:
            module = self.builtin.get(name) or self.plugins().get(name)
            if module is None:
                raise GraderError(f"unknown {self.what} {name!r}: use one of {', '.join(self.names())}")
            importlib.import_module(module.split(":")[0])
            if name not in self.registered:
                raise GraderError(f"module {module} did not register {self.kind} named {name!r}")
        return self.registered[name]


Reporter = Plugin[Write]
Exporter = Plugin[ExportWrite]

# -- reporters: one result --------------------------------------------------------------------------------
BUILTIN: dict[str, str] = {
    "text": "grader.report.terminal",
    "json": "grader.report.json_report",
}
ENTRY_POINT_GROUP = "dl_grader.reporters"
REPORTERS: Plugins[Write] = Plugins("report format", "a reporter", BUILTIN, ENTRY_POINT_GROUP)


def reporter(name: str, description: str) -> Callable[[Write], Write]:
    """Register ``write(report, stream, options)`` as the reporter ``name``."""
    return REPORTERS.register(name, description)


def names() -> list[str]:
    """Every reporter name: the built-ins, then plug-ins (no reporter module is imported)."""
    return REPORTERS.names()


def get(name: str) -> Reporter:
    return REPORTERS.get(name)


def emit(name: str, result: ExerciseResult, stream: TextIO, *, audience: Audience = "student",
         options: ReportOptions | None = None) -> None:
    """Redact ``result`` for ``audience`` (once), then let reporter ``name`` write it."""
    get(name).write(redact(result, audience), stream, options or ReportOptions())


# -- exporters: reporters over many submissions (a batch, a gradebook, or one run) ----------------------
BUILTIN_EXPORTERS: dict[str, str] = {
    "csv": "grader.report.csv_export",
    "gradescope": "grader.report.gradescope",
    "junit": "grader.report.junit",
    "markdown": "grader.report.markdown",
    "jsonl": "grader.report.jsonl",
}
EXPORTER_ENTRY_POINT_GROUP = "dl_grader.exporters"
EXPORTERS: Plugins[ExportWrite] = Plugins("export format", "an export format", BUILTIN_EXPORTERS,
                                          EXPORTER_ENTRY_POINT_GROUP)


def exporter(name: str, description: str) -> Callable[[ExportWrite], ExportWrite]:
    """Register ``write(submissions, stream, options)`` as the export format ``name``. Each submission's
    report is already redacted for the export's audience."""
    return EXPORTERS.register(name, description)


def exporter_names() -> list[str]:
    return EXPORTERS.names()


def get_exporter(name: str) -> Exporter:
    return EXPORTERS.get(name)


def export(name: str, submissions: Sequence[Submission], stream: TextIO, *,
           options: ReportOptions | None = None) -> None:
    """Let export format ``name`` write ``submissions`` (their reports already redacted)."""
    get_exporter(name).write(submissions, stream, options or ReportOptions())
