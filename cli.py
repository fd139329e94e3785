"""The `grade` command. Thin on purpose: it parses arguments and calls the library (grader.*)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.text import Text

from grader import __version__

EXIT_FULL, EXIT_PARTIAL, EXIT_USAGE, EXIT_GRADER_FAULT = 0, 1, 2, 3


def report_names() -> list[str]:
    from grader.report.registry import names

    return names()


class ReportFormat(click.Choice):
    """``--format``: the names in the reporter registry, read when needed (so a reporter registered after
    this module was imported, or by a plug-in, is a valid choice, and commands that never report pay nothing)."""

    def __init__(self) -> None:
        super().__init__([])

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(report_names())

    @choices.setter
    def choices(self, value: object) -> None:
        pass  # the registry is the only source


class ExerciseGroup(click.Group):
    """`grade NAME [FILE]` grades; `grade list|show|init|gradcheck ...` are subcommands."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return args[0], self.commands["run"], args  # named after the exercise in usage messages
        return super().resolve_command(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("grade", "EXERCISE [FILE] [OPTIONS]  |  grade COMMAND [ARGS]")

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Grading (grade EXERCISE --help for every option)"):
            formatter.write_dl([("--format [" + "|".join(report_names()) + "]",
                                 "Report format: a reporter from the registry (plug-ins: README)."),
                                ("--show-hidden", "Instructor view: details of hidden checks and expected answers "
                                                  "(only where the exercise has its instructor/ folder)."),
                                ("--student ID", "Official grading at the student's secret seed "
                                                 "(docs/OFFICIAL-GRADING.md).")])
        super().format_epilog(ctx, formatter)


class RunCommand(click.Command):
    """The hidden `run` command, invoked as `grade EXERCISE [FILE]`: its usage line says so."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("grade", "EXERCISE [FILE] [OPTIONS]")


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False)


def _fail(message: str) -> NoReturn:
    """A usage error: exit 2. ``message`` may hold file names and other text the user typed, so it is
    printed as plain text, never parsed as rich markup."""
    from rich.text import Text

    _console(stderr=True).print(Text.assemble(("error:", "bold red"), " ", message))
    sys.exit(EXIT_USAGE)


def _use_exercise_dirs(ctx: click.Context, param: click.Parameter, dirs: tuple[Path, ...]) -> None:
    if dirs:
        from grader.exercises import use_dirs

        use_dirs(dirs)


def _exercise_dirs_given() -> bool:
    from grader.exercises import given_dirs

    return bool(given_dirs())


exercises_option = click.option(
    "--exercises", "exercise_dirs", multiple=True, expose_value=False, callback=_use_exercise_dirs,
    type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR",
    help="A folder of exercises, searched before $DL_GRADER_EXERCISES, the dl_grader.exercises entry "
         "points and the built-in exercises (repeatable).")


@click.group(cls=ExerciseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="grade")
@exercises_option
def main() -> None:
    """Grade deep-learning exercises: `grade list`, `grade show NAME`, `grade init NAME`, `grade NAME [FILE]`.

    Exercises are looked up in the --exercises folders, then $DL_GRADER_EXERCISES, then the
    dl_grader.exercises entry points, then the built-in ones (docs/AUTHORING.md)."""


@main.command("list")
@exercises_option
def list_cmd() -> None:
    """List the exercises with their titles, points and where each comes from."""
    from grader.errors import GraderError
    from grader.exercises import all_exercises
    from grader.report.catalog import render_list

    try:
        errors = render_list(all_exercises(), _console())
    except GraderError as e:
        _fail(str(e))
    if errors:
        _fail("\n".join(errors))


@main.command("show")
@click.argument("exercise")
@exercises_option
def show_cmd(exercise: str) -> None:
    """Show an exercise's statement."""
    from grader.errors import GraderError
    from grader.exercises import get_exercise
    from grader.report.catalog import render_statement

    try:
        render_statement(get_exercise(exercise), _console())
    except GraderError as e:
        _fail(str(e))


@main.command("init")
@click.argument("exercise")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to write the starter file.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@exercises_option
def init_cmd(exercise: str, directory: Path, force: bool) -> None:
    """Write the starter file of an exercise into the current directory."""
    from grader.errors import GraderError
    from grader.exercises import get_exercise
    from grader.templates import write_template

    try:
        path = write_template(get_exercise(exercise), directory, force=force)
    except GraderError as e:
        _fail(str(e))
    from rich.markup import escape

    _console().print(f"Wrote {escape(str(path))}. Fill in the functions, then run [bold]grade {escape(exercise)}[/bold]"
                     + (" with the same --exercises." if _exercise_dirs_given() else "."))


@main.command("kit")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--only", multiple=True, metavar="EXERCISE", help="Put only this exercise in the kit (repeatable; "
              "default: every exercise with an instructor/ part).")
@click.option("--seeds", "seed_count", type=int, default=3, show_default=True,
              help="Record fixtures at the public seeds 0 … N-1.")
@click.option("--name", default="dl-grader-kit", show_default=True, help="The kit's distribution name.")
@exercises_option
def kit_cmd(out: Path, only: tuple[str, ...], seed_count: int, name: str) -> None:
    """Build the student kit in OUT: a folder, a wheel and an sdist with the statements, templates, public
    checks and recorded fixtures, and no reference, mistake or hidden check (docs/KIT.md)."""
    from grader.errors import GraderError
    from grader.kit.build import build_kit, kit_exercises, public_seeds, summary

    try:
        kit = build_kit(out, kit_exercises(only), seeds=public_seeds(seed_count), name=name)
    except GraderError as e:
        _fail(str(e))
    _console().print(Text("\n".join(summary(kit))), soft_wrap=True)


@main.command("run", cls=RunCommand, hidden=True)
@click.argument("exercise")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=ReportFormat(), default="text", show_default=True,
              help="Report format (reporters are plug-ins, see README).")
@click.option("--seed", type=int, default=None, help="Public seed of the random test data (default 0; below 2^20).")
@click.option("--student", default=None, metavar="ID",
              help="Official grading: the student's identity; with the instructor secret it gives the seed.")
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
              help="The instructor secret (default: $DL_GRADER_SECRET_FILE, then $DL_GRADER_SECRET).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None,
              help="Seconds allowed per check (default: the exercise's, 10 s unless it says otherwise).")
@click.option("--load-timeout", type=click.FloatRange(min=0.1), default=None,
              help="Seconds allowed for importing the file (default: the exercise's, 10 s unless it says otherwise).")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", show_default=True)
@click.option("--dtype", type=click.Choice(["both", "float64", "float32"]), default="both", show_default=True)
@click.option("--verbose", "-v", is_flag=True, help="Show check ids, notes and what your code printed.")
@click.option("--show-hidden", is_flag=True,
              help="Instructor view: details of hidden checks and expected answers (needs the instructor side).")
@click.option("--isolation", type=click.Choice(["auto", "bwrap", "none"]), default=None,
              help="How student code is isolated: bwrap (bubblewrap), none, or auto (bwrap where it works; the "
                   "default, or $DL_GRADER_ISOLATION).")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
              help="Also write the result as JUnit XML (docs/EXPORTS.md).")
@click.option("--gradescope", "gradescope_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="PATH", help="Also write Gradescope's autograder results.json.")
@click.option("--summary", "summary_path", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              metavar="PATH", help="Also write a Markdown summary; `-` appends to $GITHUB_STEP_SUMMARY.")
@exercises_option
def run_cmd(exercise: str, file: Path | None, fmt: str, seed: int | None, student: str | None,
            secret_file: Path | None, timeout: float | None, load_timeout: float | None, device: str, dtype: str,
            verbose: bool, show_hidden: bool, isolation: str | None, junit_path: Path | None,
            gradescope_path: Path | None, summary_path: str | None) -> None:
    """Grade FILE (default: ./<exercise>.py) against EXERCISE."""
    from grader.errors import GraderError
    from grader.exercises import get_exercise
    from grader.official import choose_seed, require_instructor_side
    from grader.sandbox.client import Sandbox

    try:
        ex = get_exercise(exercise)
        if show_hidden:
            require_instructor_side(ex, "--show-hidden")
        chosen = choose_seed(ex, seed=seed, student=student, secret_file=secret_file)
        # Start the sandbox first: it imports torch in its own process while this one does the same.
        sandbox = Sandbox(isolation=isolation)
    except GraderError as e:
        _fail(str(e))
    with sandbox:
        if sandbox.isolation == "none":
            _console(stderr=True).print(Text("note: your code runs without isolation (bubblewrap is not in use): "
                                             "fine for checking your own work, not for grading others'.",
                                             style="dim"))
        result = _grade(sandbox, ex, file, chosen.seed, chosen.student, (timeout, load_timeout), device, dtype)
    audience = "instructor" if show_hidden else "student"
    _report(result, fmt, verbose, audience)
    targets = {name: path for name, path in (("junit", junit_path), ("gradescope", gradescope_path),
                                             ("markdown", summary_path)) if path is not None}
    if targets:
        from grader.errors import GraderError
        from grader.report.files import write_exports

        try:
            write_exports(result, targets, audience, student=chosen.student)  # type: ignore[arg-type]
        except GraderError as e:
            _fail(str(e))
    _exit_now(exit_status(result))


def exit_status(result) -> int:
    """0 full marks, 1 graded but not full marks, 3 the grader failed somewhere (never the student's fault)."""
    if not result.complete:
        return EXIT_GRADER_FAULT
    return EXIT_FULL if result.full_marks else EXIT_PARTIAL


def _report(result, fmt: str, verbose: bool, audience: str) -> None:
    from grader.errors import GraderError
    from grader.report.registry import ReportOptions, emit

    try:
        emit(fmt, result, sys.stdout, audience=audience, options=ReportOptions(verbose=verbose))  # type: ignore
    except GraderError as e:
        _fail(str(e))


def _grade(sandbox, ex, file: Path | None, seed: int, student: str | None,
           timeouts: tuple[float | None, float | None], device: str, dtype: str):
    from grader.errors import GraderError
    from grader.grading import DTYPE_NAMES, GradeOptions, grade, resolve_device

    try:
        path = file or Path(ex.spec.student_file)
        sandbox.device = resolve_device(device)
        dtypes = tuple(DTYPE_NAMES.values()) if dtype == "both" else (DTYPE_NAMES[dtype],)
        options = GradeOptions(seed=seed, student=student, device=sandbox.device, dtypes=dtypes,
                               timeout=timeouts[0], load_timeout=timeouts[1])
        return grade(ex, path, options, sandbox=sandbox)
    except GraderError as e:
        _fail(str(e))  # the sandbox's `with` block closes it on the way out


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown (a third of a second once torch is loaded): every
    result is printed and flushed, and the sandbox is closed by then."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@main.command("gradescope-bundle")
@click.argument("exercise")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path), metavar="OUT.zip")
@click.option("--secret-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Bundle this instructor secret: each student is graded at their official seed.")
@click.option("--seed", type=int, default=0, show_default=True, help="The seed used when no secret is bundled.")
@exercises_option
def gradescope_bundle_cmd(exercise: str, out: Path, secret_file: Path | None, seed: int) -> None:
    """Write OUT.zip, a Gradescope autograder (setup.sh, run_autograder, the grader and EXERCISE with its
    instructor side) to upload as a programming assignment's autograder (docs/EXPORTS.md)."""
    from rich.markup import escape

    from grader.errors import GraderError
    from grader.exercises import get_exercise
    from grader.gradescope_bundle import build_bundle

    try:
        names = build_bundle(get_exercise(exercise), out, secret_file=secret_file, seed=seed)
    except GraderError as e:
        _fail(str(e))
    seeds = "official seeds from the bundled secret" if secret_file else f"seed {seed} for every student"
    _console().print(f"Wrote {escape(str(out))} ({len(names)} files; {seeds}). Upload it as the autograder of a "
                     "Gradescope programming assignment.")


@main.command("gradcheck")
@click.argument("target", metavar="FILE.py:NAME")
@click.option("--format", "fmt", type=ReportFormat(), default="text", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds for the whole check.")
@click.option("--verbose", "-v", is_flag=True)
def gradcheck_cmd(target: str, fmt: str, seed: int, timeout: float, verbose: bool) -> None:
    """Check a hand-written gradient: FILE.py defines NAME(params) -> loss, NAME_grad(params) -> dict of
    gradients (or NAME_vjp(params, v)), and NAME_params() or make_params() -> dict of tensors."""
    from grader.errors import GraderError
    from grader.gradient_command import grade_gradient

    try:
        result = grade_gradient(target, seed=seed, timeout=timeout)
    except GraderError as e:
        _fail(str(e))
    _report(result, fmt, verbose, "instructor")  # the user's own file: nothing to hide
    sys.exit(exit_status(result))


# -- class grading: batch, gradebook, report ---------------------------------------------------------------
@main.command("batch")
@click.argument("exercises", nargs=-1)
@click.argument("submissions", type=click.Path(exists=True, path_type=Path))
@click.option("--all", "everything", is_flag=True, help="Grade every exercise on the search path.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Submissions graded at once: worker processes (default: the cores); with --dask, tasks in "
                   "flight (default: the cluster's worker threads).")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The gradebook (default: grades.db beside SUBMISSIONS).")
@click.option("--layout", type=click.Choice(["files", "folders", "gradescope", "classroom"]), default=None,
              help="How SUBMISSIONS is laid out (default: detected).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the test data, without a secret.")
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Instructor secret: each student's seed is derived from it (default: $DL_GRADER_SECRET_FILE, "
                   "$DL_GRADER_SECRET).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None, help="Seconds allowed per check.")
@click.option("--load-timeout", type=click.FloatRange(min=0.1), default=None,
              help="Seconds allowed for importing a file (default: the exercise's, 10 s).")
@click.option("--dtype", type=click.Choice(["both", "float64", "float32"]), default="both", show_default=True)
@click.option("--isolation", type=click.Choice(["auto", "bwrap", "none"]), default=None,
              help="How student code is isolated (default: auto, or $DL_GRADER_ISOLATION).")
@click.option("--regrade", multiple=True, metavar="STUDENT", help="Grade STUDENT again (repeatable); history kept.")
@click.option("--regrade-all", is_flag=True, help="Grade everyone again; the history is kept.")
@click.option("--dask", metavar="ADDRESS", default=None, help="Run on a Dask cluster (tcp://SCHEDULER:8786).")
@click.option("--in-process", is_flag=True, help="Grade in this process, one at a time, without a pool (debugging).")
@exercises_option
def batch_cmd(exercises: tuple[str, ...], submissions: Path, everything: bool, jobs: int | None, db: Path | None,
              layout: str | None, seed: int, secret_file: Path | None, timeout: float | None,
              load_timeout: float | None, dtype: str,
              isolation: str | None, regrade: tuple[str, ...], regrade_all: bool, dask: str | None,
              in_process: bool) -> None:
    """Grade a class: every submission in SUBMISSIONS (a folder or a zip) for EXERCISE(S), into a gradebook.

    Resumable: what the gradebook already holds, unchanged, is not graded again."""
    from grader.batch.batch import BatchOptions, resolve_exercises, run_batch
    from grader.batch.progress import LiveProgress, render_summary
    from grader.errors import GraderError
    from grader.exercises import given_dirs
    from grader.gradebook.store import default_db
    from grader.seeds import load_secret

    console = _console()
    try:
        names = resolve_exercises(exercises, everything)
        dtypes = ("float64", "float32") if dtype == "both" else (dtype,)
        options = BatchOptions(names, submissions, db or default_db(submissions), jobs=jobs or 0, seed=seed,
                               secret=load_secret(secret_file), layout=layout, isolation=isolation,
                               timeout=timeout, load_timeout=load_timeout, dtypes=dtypes, regrade=regrade,
                               regrade_all=regrade_all, dask=dask,
                               in_process=in_process, exercise_dirs=tuple(str(d.resolve()) for d in given_dirs()))
        summary = run_batch(options, LiveProgress(console) if console.is_terminal else None)
    except GraderError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        _console(stderr=True).print(Text("interrupted: every submission graded so far is in the gradebook; "
                                         "run the same command again to go on.", style="yellow"))
        sys.exit(130)
    render_summary(summary, console, str(options.db))
    sys.exit(EXIT_GRADER_FAULT if summary.grader_faults else 0)


db_option = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=Path("grades.db"),
                         show_default=True, help="The gradebook.")


@main.group("gradebook")
def gradebook_cmd() -> None:
    """Read a gradebook: one student's history, exports, and the difference between two runs."""


@gradebook_cmd.command("show")
@click.argument("student")
@click.option("--exercise", default=None, help="Only this exercise.")
@db_option
def gradebook_show_cmd(student: str, exercise: str | None, db: Path) -> None:
    """Every grading of STUDENT, oldest first; the checks of the latest one of each exercise."""
    from grader.errors import GraderError
    from grader.gradebook.views import show_student

    try:
        show_student(db, student, _console(), exercise)
    except GraderError as e:
        _fail(str(e))


@gradebook_cmd.command("export")
@click.option("--format", "fmt", required=True, help="An export format from the registry (csv, junit, ...).")
@click.option("--audience", type=click.Choice(["instructor", "student"]), default="instructor", show_default=True)
@click.option("--exercise", "only", multiple=True, help="Only this exercise (repeatable).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here (default: standard output).")
@click.option("--option", "format_options", multiple=True, metavar="KEY=VALUE",
              help="An option of the format, e.g. lms=canvas for csv (docs/EXPORTS.md). Repeatable.")
@db_option
def gradebook_export_cmd(fmt: str, audience: str, only: tuple[str, ...], output: Path | None,
                         format_options: tuple[str, ...], db: Path) -> None:
    """Export the latest grade of every student and exercise."""
    from grader.errors import GraderError
    from grader.gradebook.views import export_gradebook

    bad = [o for o in format_options if "=" not in o]
    if bad:
        _fail(f"--option takes KEY=VALUE, got {bad[0]!r}")
    options = dict(o.split("=", 1) for o in format_options)
    try:
        if output is None:
            export_gradebook(db, fmt, sys.stdout, audience=audience, exercises=only or None,  # type: ignore[arg-type]
                             options=options)
        else:
            with open(output, "w", encoding="utf-8", newline="") as f:
                export_gradebook(db, fmt, f, audience=audience, exercises=only or None,  # type: ignore[arg-type]
                                 options=options)
    except GraderError as e:
        _fail(str(e))


@gradebook_cmd.command("diff")
@click.argument("run_a")
@click.argument("run_b")
@db_option
def gradebook_diff_cmd(run_a: str, run_b: str, db: Path) -> None:
    """Who gained or lost points between RUN_A and RUN_B, per check, and why. Each is a run number of --db
    (negative: from the newest, -1 the latest) or another gradebook file."""
    from grader.errors import GraderError
    from grader.gradebook.diff import diff_states, render_diff, resolve_state

    try:
        changes = diff_states(resolve_state(run_a, db), resolve_state(run_b, db))
    except GraderError as e:
        _fail(str(e))
    render_diff(changes, _console(), run_a, run_b)


@main.command("report")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--title", default="", help="The page's title.")
@db_option
def report_cmd(out: Path, title: str, db: Path) -> None:
    """Write the class report of a gradebook: one self-contained HTML page."""
    from grader.errors import GraderError
    from grader.gradebook.views import write_report

    try:
        n = write_report(db, out, title)
    except GraderError as e:
        _fail(str(e))
    except ImportError as e:
        _fail(f"the class report is not available: {e}")
    _console().print(f"Wrote {out} ({n} entries).", markup=False)


if __name__ == "__main__":
    main()
