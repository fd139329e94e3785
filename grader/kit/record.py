"""Recording a kit's fixtures: the public checks run here, in-process (trusted code only), and every call of
the reference and of the mistake variants is stored (grader.kit.fixtures) for the kit to replay.

Each public check runs once per seed with the reference as the student, with ``record_diagnosis`` on (every
expectation also runs every variant on its inputs, as a failing student would make it), and once with each
mistake's variant as the student, so that the failure paths of the checks (a diagnosis computed only when a
check fails) are recorded for every known mistake too. The reference's work is recorded where a ``cost:``
rule compares with it, by the shapes of the call.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from grader.checks import DEFAULT_DTYPES, CheckContext, Modification, StudentAPI, clone_tree
from grader.errors import StudentError, StudentException
from grader.format import dtype_name
from grader.kit.fixtures import (
    TensorTable,
    Unencodable,
    call_key,
    encode_value,
    pipeline_name,
    shape_key,
    write_folder,
)
from grader.trusted import TrustedFunction

if TYPE_CHECKING:
    from grader.exercises import Exercise
    from grader.mistakes import Mistake, MistakeBook

REFERENCE = "reference"
MAX_WRONG_CALLS = 64  # failure paths recorded per check: a student wrong at each of its first calls


class Recording:
    """The calls recorded so far, the first of each key kept."""

    def __init__(self) -> None:
        self.table = TensorTable()
        self.calls: dict[str, dict[str, Any]] = {}
        self.work: dict[str, int] = {}
        self.unrecorded = 0  # calls whose inputs or output have no encoding (they will miss in the kit)

    def run(self, fn_key: str, api: str, args: tuple, kwargs: dict, call: Callable[[], Any]) -> Any:
        """``call()`` (which runs on ``args``/``kwargs`` themselves), recorded under its key."""
        try:
            key = call_key(fn_key, api, args, kwargs)
        except Unencodable:
            self.unrecorded += 1
            return call()
        if key in self.calls:
            return call()
        before = _snapshot((args, kwargs))
        try:
            out = call()
        except Exception as e:  # noqa: BLE001 - a variant that cannot run: replayed as one that cannot run
            self._add(key, fn_key, api, before, raises=f"{type(e).__name__}: {e}"[:500])
            raise
        after = (args, kwargs) if _changed(before, (args, kwargs)) else None
        self._add(key, fn_key, api, before, out=out, after=after)
        return out

    def _add(self, key: str, fn_key: str, api: str, before: Any, *, out: Any = None, after: Any = None,
             raises: str | None = None) -> None:
        entry: dict[str, Any] = {"fn": fn_key, "api": api, "shape": shape_key(fn_key, *before)}
        entry["args"] = None  # a variant's call is found by its key only: its inputs are not kept (size)
        if api == REFERENCE:  # kept to find an expected value near its key, and to verify a student's function
            try:
                entry["args"] = encode_value(before, self.table)
            except Unencodable:
                pass
        try:
            if raises is not None:
                entry["raises"] = raises
            else:
                entry["out"] = encode_value(out, self.table, sympy_args=tuple(before[0]))
                entry["after"] = None if after is None else encode_value(_snapshot(after), self.table)
        except (Unencodable, ImportError):
            self.unrecorded += 1  # not recorded: the call misses in the kit
            return
        self.calls[key] = entry


def _snapshot(tree: Any) -> Any:
    return clone_tree(_detached(tree))


def _detached(tree: Any) -> Any:
    from grader.checks import map_tree

    return map_tree(lambda x: x.detach() if isinstance(x, torch.Tensor) else x, tree)


def _changed(before: Any, now: Any) -> bool:
    from grader.checks import _changed_tensors

    return _changed_tensors(now, before)


class RecordingAPI:
    """An API namespace (the reference, or a variant) whose calls, and pipelines, are recorded."""

    def __init__(self, target: Any, api: str, recording: Recording) -> None:
        self._target, self._api, self._recording = target, api, recording

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        fn = getattr(self._target, name)
        if not callable(fn):
            return fn

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._recording.run(f"fn:{name}", self._api, args, kwargs, lambda: fn(*args, **kwargs))

        call.__name__ = name
        return call

    def __pipeline__(self, run: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        named = getattr(run, "__api_function__", None)
        if named is not None:
            return getattr(self, named)(*args, **kwargs)
        return self._recording.run(pipeline_name(run), self._api, args, kwargs, lambda: run(self, *args, **kwargs))


class RecordingBook:
    """A mistake book whose variants are recorded."""

    def __init__(self, book: MistakeBook, recording: Recording) -> None:
        self._book, self._recording = book, recording
        self._variants: dict[str, RecordingAPI] = {}

    def __iter__(self) -> Iterator[Mistake]:
        return (self[m.id] for m in self._book)

    def __len__(self) -> int:
        return len(self._book)

    def __getitem__(self, id: str) -> Mistake:
        """The mistake, its overrides recorded too (a check may call them directly: derivatives)."""
        m = self._book[id]
        variant = self.variant(id)
        return replace(m, overrides={fn: getattr(variant, fn) for fn in m.overrides})

    def variant(self, id: str) -> RecordingAPI:
        if id not in self._variants:
            self._variants[id] = RecordingAPI(self._book.variant(id), id, self._recording)
        return self._variants[id]


def parameter_names(reference: Any, functions: Sequence[str]) -> dict[str, list[str]]:
    out = {}
    for fn in functions:
        try:
            out[fn] = list(inspect.signature(getattr(reference, fn)).parameters)
        except (AttributeError, TypeError, ValueError):
            continue
    return out


def _as_student_args(tree: Any) -> Any:
    """What the student's process receives: a trusted function becomes a plain function."""
    if isinstance(tree, TrustedFunction):
        return tree.resolve_bound()
    if isinstance(tree, dict):
        return {k: _as_student_args(v) for k, v in tree.items()}
    if isinstance(tree, tuple | list):
        return type(tree)(_as_student_args(v) for v in tree)
    return tree


def in_process_student(ex: Exercise, target: Any, recording: Recording, names: dict[str, list[str]],
                       wrong_at: int | None = None) -> tuple[StudentAPI, list[str]]:
    """A trusted "student" (the reference, or a variant) run here, on copies of the inputs as the sandbox
    would, and the functions its checks call, in order; the reference's work is recorded for the ``cost:``
    rules that compare with it. ``wrong_at``: from that call on (counted from 0), the values are wrong (a check
    may call a function again to compare it)."""
    from grader.grading import _reference_work

    by_reference = {r.function for r in ex.spec.cost if r.relative_to == REFERENCE}

    called: list[str] = []

    def call(fn: str, args: tuple, kwargs: dict) -> tuple[Any, list[Modification]]:
        called.append(fn)
        if fn in by_reference:
            try:
                key = shape_key(f"fn:{fn}", args, kwargs)
            except Unencodable:
                key = None
            if key is not None and key not in recording.work:
                recording.work[key] = _reference_work(ex, fn, (args, kwargs))
        a, k = clone_tree(args), clone_tree(kwargs)
        try:
            value = getattr(target, fn)(*_as_student_args(a), **_as_student_args(k))
        except StudentError:
            raise
        except Exception as e:  # noqa: BLE001 - as the sandbox reports an exception of student code
            raise StudentException(f"{fn} raised {type(e).__name__}: {e}") from None
        params = names.get(fn, [])
        mods = [Modification(fn, params[i] if i < len(params) else f"argument {i + 1}")
                for i, (x, y) in enumerate(zip(a, args, strict=True)) if _changed_tensor(x, y)]
        mods += [Modification(fn, key) for key in k if _changed_tensor(k[key], kwargs[key])]
        return (_wrong(value) if wrong_at is not None and len(called) > wrong_at else value), mods

    return StudentAPI(call), called


def _wrong(value: Any) -> Any:
    """A wrong answer of the same kind and shape: it takes a check down its failure path."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex():
            return value * 1.37 + 0.1
        return ~value if value.dtype == torch.bool else value + 1
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value * 1.37 + 1
    if isinstance(value, tuple | list):
        return type(value)(_wrong(v) for v in value)
    if isinstance(value, dict):
        return {k: _wrong(v) for k, v in value.items()}
    return value


def _changed_tensor(now: Any, before: Any) -> bool:
    from grader.grading import _changed

    return isinstance(now, torch.Tensor) and isinstance(before, torch.Tensor) and _changed(before, now)


def run_recorded(exercise: Exercise, check_id: str, target: Any, recording: Recording, names: dict[str, list[str]],
                 seed: int, dtypes: tuple[torch.dtype, ...], *, diagnose: bool = False,
                 wrong_at: int | None = None) -> list[str]:
    """Run one check with ``target`` as the student, recording what the reference and the variants answer;
    the student's calls, in order."""
    book = exercise.mistakes
    student, calls = in_process_student(exercise, target, recording, names, wrong_at)
    ctx = CheckContext(check_id=check_id, student=student,
                       reference=RecordingAPI(exercise.reference, REFERENCE, recording),
                       mistakes=None if book is None else RecordingBook(book, recording),
                       seed=seed, dtypes=dtypes, device="cpu", parameters=names)
    ctx.record_diagnosis = diagnose
    try:
        exercise.checks[check_id](ctx)
    except Exception:  # noqa: BLE001, S110 - a failing student: what the check called is recorded
        pass
    return calls


def record_fixtures(exercise: Exercise, seeds: Sequence[int], out: Path) -> None:
    """Record the fixtures of ``exercise``'s public checks at ``seeds`` (default dtypes, as the spec allows)
    into the folder ``out`` (grader.kit.fixtures)."""
    spec, reference, book = exercise.spec, exercise.reference, exercise.mistakes
    exercise.checks  # noqa: B018 - validates the spec against checks.py first
    dtypes = tuple(d for d in DEFAULT_DTYPES if dtype_name(d) in spec.dtypes)
    names = parameter_names(reference, spec.functions)
    recording = Recording()
    students: list[tuple[str, Any]] = [(REFERENCE, reference)]
    students += [(m.id, book.variant(m.id)) for m in book] if book is not None else []
    public = [cs for cs in spec.checks if cs.visibility != "hidden"]
    torch_state = torch.random.get_rng_state()
    try:
        for seed in seeds:
            called: dict[str, list[str]] = {}  # the API functions each check calls (on the reference)
            for who, target in students:
                overrides = set() if who == REFERENCE else set(book[who].functions)  # type: ignore[index]
                for cs in public:
                    if who != REFERENCE and not overrides & set(called.get(cs.id, ())):
                        continue  # the variant changes nothing this check calls: same as the reference
                    calls = run_recorded(exercise, cs.id, target, recording, names, seed, dtypes,
                                         diagnose=who == REFERENCE)
                    if who == REFERENCE:
                        called[cs.id] = calls
                        # a student wrong at the n-th call takes the check down the n-th failure path
                        for n in range(min(len(calls), MAX_WRONG_CALLS)):
                            run_recorded(exercise, cs.id, target, recording, names, seed, dtypes, wrong_at=n)
    finally:
        torch.random.set_rng_state(torch_state)
    index = {
        "exercise": exercise.name,
        "seeds": sorted(set(int(s) for s in seeds)),
        "dtypes": [dtype_name(d) for d in dtypes],
        "checks": [cs.id for cs in public],
        "parameters": names,
        "mistakes": [{"id": m.id, "name": m.name, "hint": m.hint, "nonfinite": m.nonfinite,
                      "functions": list(m.functions)} for m in book or ()],
        "work": recording.work,
        "calls": recording.calls,
    }
    write_folder(Path(out), index, recording.table)

