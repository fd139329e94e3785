"""Reporters are plug-ins: registered by name (in code or through the ``dl_grader.reporters`` entry-point
group), listed by the CLI's ``--format`` from the registry, and given a redacted Report."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.errors import GraderError
from grader.report import registry
from grader.report.registry import ENTRY_POINT_GROUP, ReportOptions, emit, get, names, reporter
from grader.results import CheckResult, ExerciseResult, Report

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = '''
from grader.report.registry import reporter

@reporter("shout", "every check's title in capitals")
def write_shout(report, stream, options):
    for c in report.result.checks:
        stream.write(f"{c.title.upper()} {c.status.upper()} [{report.audience}]\\n")
'''


def result() -> ExerciseResult:
    return ExerciseResult("demo", "Demo", "demo.py", [CheckResult("a", "first check", "passed", 1.0, 1.0)],
                          {"device": "cpu"})


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.REPORTERS, "registered", dict(registry.REPORTERS.registered))


def test_builtins_are_listed_without_importing_them() -> None:
    code = ("import sys\nfrom grader.report.registry import names\nprint(names())\n"
            "print(sorted(m for m in sys.modules if m.startswith('grader.report.') and m != 'grader.report.registry'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.splitlines()
    assert out[0].startswith("['text', 'json'") and out[1] == "[]"


def test_a_reporter_registered_in_code_is_a_format_choice(clean_registry: None) -> None:
    @reporter("titles", "one line per check")
    def write_titles(report: Report, stream: io.StringIO, options: ReportOptions) -> None:
        stream.writelines(f"{c.title}\n" for c in report.result.checks)

    assert "titles" in names() and get("titles").description == "one line per check"
    stream = io.StringIO()
    emit("titles", result(), stream)
    assert stream.getvalue() == "first check\n"

    import cli

    helped = CliRunner().invoke(cli.main, ["--help"])
    assert helped.exit_code == 0 and "--format [text|json|titles]" in helped.output
    run_help = CliRunner().invoke(cli.main, ["least_squares", "--help"])
    assert run_help.exit_code == 0 and "[text|json|titles]" in run_help.output.replace("\n", "")
    bad = CliRunner().invoke(cli.main, ["least_squares", "x.py", "--format", "nope"])
    assert bad.exit_code == 2 and "'nope' is not one of 'text', 'json', 'titles'" in bad.output


class FakeEntryPoint:
    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value


def test_an_entry_point_plug_in_is_imported_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         clean_registry: None) -> None:
    (tmp_path / "shout_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    asked: list[str] = []

    def fake_entry_points(*, group: str) -> list[FakeEntryPoint]:
        asked.append(group)
        return [FakeEntryPoint("shout", "shout_plugin")]

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    assert names()[-1] == "shout" and "shout_plugin" not in sys.modules
    assert set(asked) == {ENTRY_POINT_GROUP}
    stream = io.StringIO()
    emit("shout", result(), stream, audience="instructor")
    assert stream.getvalue() == "FIRST CHECK PASSED [instructor]\n"


def test_a_plug_in_that_registers_nothing_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          clean_registry: None) -> None:
    (tmp_path / "silent_plugin.py").write_text("# registers nothing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "entry_points", lambda *, group: [FakeEntryPoint("silent", "silent_plugin")])
    with pytest.raises(GraderError, match="did not register a reporter named 'silent'"):
        get("silent")
    with pytest.raises(GraderError, match="unknown report format 'xml': use one of text, json, silent"):
        get("xml")


def test_an_installed_plug_in_reaches_grade_help_and_grades(tmp_path: Path) -> None:
    """A real entry point: a distribution's metadata on the path, seen by `grade` in a subprocess."""
    (tmp_path / "shout_plugin.py").write_text(PLUGIN)
    info = tmp_path / "shout_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(f"""\
        [{ENTRY_POINT_GROUP}]
        shout = shout_plugin
        """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]), "NO_COLOR": "1",
           "COLUMNS": "120"}

    def grade(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=300)

    helped = grade("--help")
    assert helped.returncode == 0 and "--format [text|json|shout]" in helped.stdout, helped.stdout
    graded = grade("least_squares", "reference/least_squares.py", "--format", "shout")
    assert graded.returncode == 0, graded.stderr
    lines = graded.stdout.splitlines()
    assert lines and all(line.endswith("PASSED [student]") for line in lines), graded.stdout
    as_json = grade("least_squares", "reference/least_squares.py", "--format", "json")
    assert len(json.loads(as_json.stdout)["checks"]) == len(lines)
