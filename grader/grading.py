"""Grade one submission: spec → static scan → sandboxed session → one CheckResult per check."""

from __future__ import annotations

import ast
import inspect
import platform
import re
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from grader import __version__
from grader.checks import DEFAULT_DTYPES, CheckContext, CheckFailed, Modification, StudentAPI, iter_leaves
from grader.errors import (
    BadReturn,
    ForbiddenAPI,
    GraderError,
    GraderFault,
    LoadError,
    StudentError,
    StudentException,
    StudentTimeout,
)
from grader.exercises import Exercise, get_exercise
from grader.forbidden import Finding, SourceRefused, function_spans, read_source, runtime_violation, scan
from grader.format import dtype_name
from grader.kit.replay import NotRecorded
from grader.oprecords import RecordUnreadable, read_record
from grader.results import CheckResult, ExerciseResult, Status
from grader.sandbox.client import Limits, Sandbox, Session
from grader.sandbox.codec import Refused
from grader.sandbox.oprecord import Recorder
from grader.seeds import seed_source
from grader.spec import CheckSpec

DTYPE_NAMES = {"float64": torch.float64, "float32": torch.float32}


@dataclass
class GradeOptions:
    seed: int = 0
    student: str | None = None  # whose official seed ``seed`` is (grader.official); None for a public seed
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    dtypes: tuple[torch.dtype, ...] = DEFAULT_DTYPES
    timeout: float | None = None  # overrides every check's timeout
    load_timeout: float | None = None  # overrides the exercise's limit on importing the file
    memory_mb: int | None = None
    extra_limits: dict[str, Any] = field(default_factory=dict)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise GraderError("--device cuda was asked for, but this machine has no usable CUDA device "
                          "(torch.cuda.is_available() is False). Use --device cpu or auto.")
    if device not in ("cpu", "cuda"):
        raise GraderError(f"unknown device {device!r}: use cpu, cuda or auto")
    return device


def environment(options: GradeOptions, device: str) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "grader": __version__,
        "platform": platform.platform(terse=True),
        "device": device,
        "dtype": "+".join(dtype_name(d) for d in options.dtypes) or "none",
        "seed": options.seed,
        "seed_source": seed_source(options.seed),
        "student": options.student,
    }


@contextmanager
def open_sandbox(sandbox: Sandbox | None, limits: Limits, device: str) -> Iterator[Sandbox]:
    if sandbox is not None:
        yield sandbox
        return
    with Sandbox(limits, device) as sb:
        yield sb


def grade(exercise: str | Exercise, submission: str | Path, options: GradeOptions | None = None, *,
          sandbox: Sandbox | None = None) -> ExerciseResult:
    """Grade ``submission`` (a path to the student's file) against ``exercise``.

    Pass a running :class:`Sandbox` to grade many submissions with one warm process. Raises
    :class:`GraderError` for usage problems (unknown exercise, missing file, bad spec); everything that
    goes wrong in the student's code becomes part of the result.
    """
    options = options or GradeOptions()
    ex = get_exercise(exercise) if isinstance(exercise, str) else exercise
    spec = ex.spec
    checks = ex.checks  # validates the spec against checks.py
    path = Path(submission)
    if not path.is_file():
        raise GraderError(f"submission file not found: {path}"
                          + (f" (run `grade init {ex.name}` to create it)" if path.name == spec.student_file else ""))
    device = resolve_device(options.device)
    options = replace(options, dtypes=tuple(d for d in options.dtypes if dtype_name(d) in spec.dtypes))
    if spec.dtypes and not options.dtypes:
        raise GraderError(f"{ex.name} runs in {' and '.join(spec.dtypes)} only")
    _check_kit_options(ex, options)
    started = time.perf_counter()
    limits = Limits(**{"timeout": options.timeout or spec.timeout,
                       "load_timeout": options.load_timeout or spec.load_timeout,
                       "memory_mb": options.memory_mb or spec.memory_mb, **options.extra_limits})
    result = ExerciseResult(ex.name, spec.title, str(path), [], environment(options, device))
    try:
        source = read_source(path.read_bytes())
        syntax = syntax_problem(source, path.name)
    except SourceRefused as e:
        syntax = LoadError(str(e), hint="Save your file as UTF-8, without a `# coding:` line.")
    findings: list[Finding] = []
    if syntax is None:
        findings = scan(source, [f.name for f in spec.forbidden])
        result.problems += [f.describe(path.name) for f in findings]
    ledger = CallLedger(spans=function_spans(source) if syntax is None else {})
    with open_sandbox(sandbox, limits, device) as sb:
        result.environment["isolation"] = sb.isolation
        session = sb.open(path, limits=limits, device=device,
                          forbidden=[f.name for f in spec.forbidden]) if syntax is None else None
        try:
            if session is not None:
                try:
                    session.ensure_started()  # the import is not charged to the first check's time
                    result.problems += _missing_functions(ex, session)
                except GraderFault:
                    pass  # each check tries again, and is a grader_error if it cannot start either
            for cs in spec.checks:
                timeout = options.timeout or spec.timeout_for(cs)
                if syntax is not None:
                    result.checks.append(_errored(cs, syntax, 0.0))
                    continue
                assert session is not None
                if _kit_fixtures(ex) is not None and cs.id not in _kit_fixtures(ex).checks:
                    result.checks.append(_skipped(cs, "this check has no fixtures in the kit", 0.0))
                    continue
                result.checks.append(run_check(ex, cs, checks[cs.id], session, findings, options, device,
                                               timeout, path.name, ledger))
        finally:
            if session is not None:
                if session.load_error is None and session.import_output:
                    result.problems.append(f"your file printed at import: {session.import_output[:200]!r}")
                session.close()
    if syntax is None and session is not None and isinstance(session.load_error, LoadError):
        result.problems.insert(0, session.load_error.message)
    result.problems += _not_written_problem(ledger.not_written)
    result.problems += ledger.problems
    result.duration = time.perf_counter() - started
    return result


class NotWritten(StudentError):
    """A function of the student API still raises NotImplementedError, as the template's do. Reported
    once for the submission (a problem line); each check it stops says only which function."""

    def __init__(self, function: str, called: str, detail: str) -> None:
        via = f" (called by {called})" if called != function else ""
        super().__init__(f"{NOT_WRITTEN}{function}{via}" + (f": NotImplementedError: {detail}" if detail else ""))
        self.function = function


NOT_WRITTEN = "not written yet: "


def _not_written(e: StudentException, fn: str, functions: list[str]) -> NotWritten | None:
    """``e`` as a NotWritten if ``fn`` raised NotImplementedError; the function named is the innermost
    frame of the student's traceback when that is an API function (an unwritten helper called by a
    written one), else ``fn``."""
    prefix = f"{fn} raised NotImplementedError:"
    if not e.message.startswith(prefix):
        return None
    frames = re.findall(r", in (\w+)\s*$", e.traceback, flags=re.M)
    function = frames[-1] if frames and frames[-1] in functions else fn
    return NotWritten(function, fn, e.message[len(prefix):].strip())


def _not_written_problem(names: list[str]) -> list[str]:
    if not names:
        return []
    return [f"not written yet (they raise NotImplementedError): {', '.join(names)}; the checks that call "
            f"{'it' if len(names) == 1 else 'them'} score 0"]


def _missing_functions(ex: Exercise, session: Session) -> list[str]:
    if session.load_error is not None:
        return []
    missing = [f for f in ex.spec.functions if f not in session.functions]
    if not missing:
        return []
    return [f"your file does not define {', '.join(missing)}; the checks that call "
            f"{'it' if len(missing) == 1 else 'them'} score 0 (`grade init {ex.name}` writes a template "
            "with every function)"]


def syntax_problem(source: str, filename: str) -> LoadError | None:
    if not source.strip():
        return LoadError("your file is empty", hint="Run `grade init` to get a template with every function.")
    try:
        ast.parse(source, filename=filename)
    except SyntaxError as e:
        caret = ""
        if e.text:
            text = e.text.rstrip("\n")
            caret = f"    {text.strip()}\n    {' ' * max(0, (e.offset or 1) - 1 - (len(text) - len(text.lstrip())))}^"
        return LoadError(f"your file has a syntax error at line {e.lineno}: {e.msg}",
                         traceback=f'  File "{filename}", line {e.lineno}\n{caret}\nSyntaxError: {e.msg}')
    except ValueError as e:  # e.g. null bytes
        return LoadError(f"your file cannot be parsed: {e}")
    except (RecursionError, MemoryError):
        return LoadError("your file cannot be read: it is nested too deeply or too large for Python's parser",
                         hint="Split deeply nested expressions into several statements.")
    return None


def _errored(cs: CheckSpec, err: StudentError, duration: float, output: str = "") -> CheckResult:
    status: Status = "timeout" if isinstance(err, StudentTimeout) else "error"
    return CheckResult(cs.id, cs.title, status, 0.0, cs.points, message=err.message, hint=err.hint,
                       traceback=err.traceback, output=(output + err.output)[-20_000:], duration=duration,
                       visibility=cs.visibility)


def _kit_fixtures(ex: Exercise) -> Any:
    """The recorded fixtures of a student kit's exercise (grader.kit.replay.Fixtures), None elsewhere."""
    return getattr(ex, "fixtures", None)


def _check_kit_options(ex: Exercise, options: GradeOptions) -> None:
    """A kit replays what was recorded: its seeds, both its dtypes; anything else is a usage error."""
    fixtures = _kit_fixtures(ex)
    if fixtures is None:
        return
    if options.seed not in fixtures.seeds:
        seeds = ", ".join(str(s) for s in fixtures.seeds)
        raise GraderError(f"this kit has fixtures for seeds {seeds} only: grade {ex.name} with --seed one of them "
                          "(official grading uses seeds of its own)")
    if tuple(dtype_name(d) for d in options.dtypes) != tuple(fixtures.dtypes):
        raise GraderError(f"this kit has fixtures for {' and '.join(fixtures.dtypes)} together: grade {ex.name} "
                          "without --dtype")


SKIPPED_NOTE = "runs only in official grading"


def _skipped(cs: CheckSpec, why: str, duration: float, notes: tuple[str, ...] = ()) -> CheckResult:
    """A check the kit cannot replay: neither points given nor taken, and not a grader fault."""
    return CheckResult(cs.id, cs.title, "skipped", 0.0, cs.points, message=f"{SKIPPED_NOTE} ({why})",
                       duration=duration, visibility=cs.visibility, notes=notes)


def _grader_error(cs: CheckSpec, message: str, details: str, duration: float) -> CheckResult:
    return CheckResult(cs.id, cs.title, "grader_error", 0.0, cs.points, message=message, details=details,
                       duration=duration, visibility=cs.visibility)


def run_check(ex: Exercise, cs: CheckSpec, fn: Callable[[CheckContext], None], session: Session,
              findings: list[Finding], options: GradeOptions, device: str, timeout: float,
              filename: str, ledger: CallLedger | None = None) -> CheckResult:
    """Run one check. A grader fault (see :class:`GraderFault`) is retried once when a retry makes sense;
    if it happens again the check is ``grader_error``, which never counts against the student."""
    ledger = ledger or CallLedger()
    result, retry = _run_check_once(ex, cs, fn, session, findings, options, device, timeout, filename, ledger)
    if retry:
        result, retry = _run_check_once(ex, cs, fn, session, findings, options, device, timeout, filename, ledger)
        if retry:
            result = replace(result, details="It failed the same way when retried.")
    return result


def _run_check_once(ex: Exercise, cs: CheckSpec, fn: Callable[[CheckContext], None], session: Session,
                    findings: list[Finding], options: GradeOptions, device: str, timeout: float,
                    filename: str, ledger: CallLedger) -> tuple[CheckResult, bool]:
    """The check's result, and whether it is a grader fault worth one more try."""
    clock = StudentClock(timeout)
    outputs: list[str] = []
    transport = _transport(ex, session, findings, clock, outputs, filename, ledger)
    ctx = CheckContext(check_id=cs.id, student=StudentAPI(transport), reference=ex.reference,
                       mistakes=ex.mistakes, seed=options.seed, dtypes=options.dtypes, device=device,
                       parameters=session.parameters)
    t0 = time.perf_counter()
    try:
        fn(ctx)
    except CheckFailed as f:
        return CheckResult(cs.id, cs.title, "failed", 0.0, cs.points, message=f.message, details=f.details,
                           diagnosis=f.diagnosis, hint=f.hint, output="".join(outputs),
                           duration=time.perf_counter() - t0, visibility=cs.visibility, notes=tuple(ctx.notes),
                           attachments=f.attachments), False
    except StudentError as e:
        return _errored(cs, e, time.perf_counter() - t0, "".join(outputs)), False
    except NotRecorded as e:  # a student kit without the answer for this check's inputs
        return _skipped(cs, str(e), time.perf_counter() - t0, tuple(ctx.notes)), False
    except GraderFault as e:
        return _grader_error(cs, f"the grader failed during check {cs.id}: {e.message}", "",
                             time.perf_counter() - t0), e.retryable
    except Exception as e:  # noqa: BLE001 - a bug in a check must not sink the run, nor cost the student
        return _grader_error(cs, f"internal grader error in check {cs.id}: {type(e).__name__}: {e}",
                             traceback.format_exc(limit=-4), time.perf_counter() - t0), False
    return CheckResult(cs.id, cs.title, "passed", cs.points, cs.points, output="".join(outputs),
                       duration=time.perf_counter() - t0, visibility=cs.visibility, notes=tuple(ctx.notes)), False


@dataclass
class CallLedger:
    """What the calls of one submission ran, across its checks: the work of the last call of each
    function (for the spec's ``cost:`` rules) and the runtime findings, reported once each."""

    spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # where the file's functions are
    work: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    not_written: list[str] = field(default_factory=list)  # API functions that still raise NotImplementedError
    _noted: set[tuple[str, str]] = field(default_factory=set)

    def note(self, fn: str, kind: str, problem: str) -> None:
        """Keep the first problem of each kind for each function (not one per check)."""
        if (fn, kind) not in self._noted:
            self._noted.add((fn, kind))
            self.problems.append(problem)


@dataclass
class StudentClock:
    """The time a check's calls of student code may take together. Only time spent in those calls counts:
    the grader's own work between them (finite differences, symbolic proofs) is never charged to the
    student."""

    budget: float
    spent: float = 0.0

    @property
    def remaining(self) -> float:
        return self.budget - self.spent


def _transport(ex: Exercise, session: Session, findings: list[Finding], clock: StudentClock,
               outputs: list[str], filename: str, ledger: CallLedger):
    tainted = {f.function: f for f in findings if f.zeroes}

    def call(fn: str, args: tuple, kwargs: dict) -> tuple[Any, list[Modification]]:
        f = tainted.get(fn)
        if f is not None:
            raise ForbiddenAPI(f.sentence(fn, filename), hint=f.hint() or _forbidden_hint(ex, f.name))
        if clock.remaining <= 0:
            raise StudentTimeout(f"your functions used up the check's time ({clock.budget:g} s) before {fn} "
                                 "was called")
        started = time.monotonic()
        try:
            reply = session.call(fn, args, kwargs, timeout=clock.remaining)
        except StudentException as e:
            unwritten = _not_written(e, fn, ex.spec.functions)
            if unwritten is None:
                raise
            if unwritten.function not in ledger.not_written:
                ledger.not_written.append(unwritten.function)
            raise unwritten from None
        finally:
            clock.spent += time.monotonic() - started
        if reply.get("output"):
            outputs.append(str(reply["output"]))
        _judge_record(ex, fn, reply.get("ops"), ledger, filename, (args, kwargs))
        value = reply.get("value")
        refused = next((x for x in iter_leaves(value) if isinstance(x, Refused)), None)
        if refused is not None:
            advice = "; return a plain torch.Tensor" if "tensor" in refused.reason.lower() else ""
            raise BadReturn(f"{fn} returned {refused.reason}{advice}")
        return value, _modifications(ex, fn, args, kwargs, reply)

    return call


def _judge_record(ex: Exercise, fn: str, raw: Any, ledger: CallLedger, filename: str, inputs: Any) -> None:
    """The runtime rule: from the record of what ``fn`` ran, a forbidden API or a backward pass that is
    not one (the spec's ``cost:`` rules) zeroes the check that called it."""
    spec = ex.spec
    rules = [r for r in spec.cost if r.function == fn]
    if not spec.forbidden and not rules and all(r.relative_to != fn for r in spec.cost):
        return
    try:
        record = read_record(raw)
    except RecordUnreadable as e:
        ledger.note(fn, "record", f"{fn}: {e}")
        raise ForbiddenAPI(f"{fn} could not be checked: {e}",
                           hint="Leave the grader's recorder alone: it checks that forbidden APIs are not "
                                "used.") from None
    violation = runtime_violation(record.counts, record.where, [f.name for f in spec.forbidden], ledger.spans)
    if violation is not None:
        message = violation.describe(fn, filename)
        ledger.note(fn, "forbidden", message)
        raise ForbiddenAPI(message, hint=_forbidden_hint(ex, violation.entry))
    ledger.work[fn] = record.work
    for rule in rules:
        if rule.relative_to == "reference":
            base = _reference_work(ex, fn, inputs)
            what = "the reference solution on the same input"
        else:
            base, what = ledger.work.get(rule.relative_to, 0), rule.relative_to
        if base > 0 and record.work > rule.at_most * base:
            ratio = f"{record.work / base:.0f} times the work of {what} (at most {rule.at_most:g} times)"
            message = f"{fn} did {ratio}" if rule.relative_to == "reference" else \
                f"{fn} is not a backward pass: it did {ratio}"
            ledger.note(fn, "cost", message)
            raise ForbiddenAPI(message, hint=_sentence(rule.reason) or (
                f"A hand-written {fn} costs a few calls of {rule.relative_to}; finite differences cost one "
                "per parameter. Write it with the chain rule."))


def _reference_work(ex: Exercise, fn: str, inputs: Any) -> int:
    """The work of the reference's ``fn`` on the same inputs, recorded here in the parent (0: unknown, for
    instance when an input is an object that stayed in the student's process). In a student kit, the work
    recorded for inputs of the same shapes."""
    fixtures = _kit_fixtures(ex)
    if fixtures is not None:
        return int(fixtures.reference_work(fn, inputs))
    reference = getattr(ex.reference, fn, None)
    if reference is None or not all(isinstance(x, torch.Tensor | int | float | bool | str | None)
                                    for x in iter_leaves(inputs)):
        return 0
    recorder = Recorder("")
    args, kwargs = inputs
    try:
        recorder.run(reference, args, kwargs)
    except Exception:  # noqa: BLE001 - no baseline, no claim
        return 0
    return recorder.work


def _forbidden_hint(ex: Exercise, name: str) -> str:
    for entry in ex.spec.forbidden:
        if entry.name == name and entry.reason:
            return _sentence(entry.reason)
    return "This exercise asks you to write it by hand."


def _sentence(reason: str) -> str:
    """A spec's ``reason`` as a hint: capitalised, with a full stop."""
    return reason[:1].upper() + reason[1:].rstrip(".") + "." if reason else ""


def _modifications(ex: Exercise, fn: str, args: tuple, kwargs: dict, reply: dict) -> list[Modification]:
    names = _param_names(ex, fn, len(args))
    out = []
    after = reply.get("args_after") or []
    for i, (before, now) in enumerate(zip(args, after, strict=False)):
        if isinstance(before, torch.Tensor) and isinstance(now, torch.Tensor) and _changed(before, now):
            out.append(Modification(fn, names[i]))
    for k, now in (reply.get("kwargs_after") or {}).items():
        before = kwargs.get(k)
        if isinstance(before, torch.Tensor) and isinstance(now, torch.Tensor) and _changed(before, now):
            out.append(Modification(fn, k))
    return out


def _changed(before: torch.Tensor, now: torch.Tensor) -> bool:
    if before.shape != now.shape or before.dtype != now.dtype:
        return True
    b, n = before.detach().cpu(), now.detach().cpu()
    same = (b == n) | (b.isnan() & n.isnan()) if b.is_floating_point() else b == n
    return not bool(same.all())


def _param_names(ex: Exercise, fn: str, n: int) -> list[str]:
    fixtures = _kit_fixtures(ex)
    try:
        params = list(fixtures.parameters.get(fn, [])) if fixtures is not None else \
            list(inspect.signature(getattr(ex.reference, fn)).parameters)
    except (AttributeError, TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i + 1}" for i in range(n)]


