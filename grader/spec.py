"""Exercise specs (``<exercise folder>/exercise.yaml``), validated with msgspec.

msgspec (a small, well-kept C library) validates typed structs; it imports in milliseconds, where pydantic
took longer than ``grade list`` may (BENCHMARKS.md). A malformed spec raises :class:`grader.errors.SpecError`
naming the file, the key and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
import yaml

from grader.errors import SpecError

# libyaml's safe loader when pyyaml has it: the pure-Python one takes longer than the rest of `grade list`.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DottedName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")]
FunctionName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_]\w*$")]
CheckId = Annotated[str, msgspec.Meta(pattern=r"^[a-z_][a-z0-9_]*$")]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Unknown keys are errors; specs are read-only once loaded."""


class ForbiddenEntry(_Strict, frozen=True, kw_only=True):
    name: DottedName
    reason: str = ""


class CostRule(_Strict, frozen=True, kw_only=True):
    """``function`` may do at most ``at_most`` times the work of the last call of ``relative_to`` (work as
    recorded in the sandbox: elements produced, multiply-adds of products). A backward pass costs a
    few forward passes; finite differences cost one per parameter."""

    function: FunctionName
    relative_to: FunctionName
    at_most: Annotated[float, msgspec.Meta(gt=1)]
    reason: str = ""


class CheckSpec(_Strict, frozen=True, kw_only=True):
    id: CheckId
    title: NonEmpty
    points: Positive
    visibility: Literal["public", "hidden"] = "public"
    timeout: Positive | None = None


class ExerciseSpec(_Strict, frozen=True, kw_only=True):
    name: str
    title: NonEmpty
    summary: str = ""
    student_file: str = ""
    # The student API: every function the template and the reference must define (checked when the
    # exercise is loaded for grading) and the submission must define (one problem line if it does not).
    functions: list[str] = []
    timeout: Positive = 10.0
    # Seconds allowed for importing the student's file. A file that only defines functions imports in about
    # 0.05 s (torch is already loaded); the limit is what an endless loop or a training run at the top
    # level costs before it is stopped, so it is no longer than a check's.
    load_timeout: Positive = 10.0
    memory_mb: PositiveInt = 2048
    # The floating dtypes the checks run in; [] for an exercise without tensors (symbolic answers), which is
    # then graded once whatever dtypes are asked for.
    dtypes: list[Literal["float64", "float32"]] = msgspec.field(default_factory=lambda: ["float64", "float32"])
    forbidden: list[ForbiddenEntry] = []
    cost: list[CostRule] = []
    checks: Annotated[list[CheckSpec], msgspec.Meta(min_length=1)]

    def __post_init__(self) -> None:
        ids = [c.id for c in self.checks]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"check id {twice[0]!r} appears twice - at `$.checks`")
        bad = [f for f in self.functions if not f.isidentifier()]
        if bad:
            raise ValueError(f"not Python function names: {bad} - at `$.functions`")
        if len(set(self.functions)) != len(self.functions):
            raise ValueError("a function is listed twice - at `$.functions`")

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def timeout_for(self, check: CheckSpec) -> float:
        return check.timeout or self.timeout


class HiddenCheckSpec(CheckSpec, frozen=True, kw_only=True):
    """A hidden check of ``instructor/exercise.yaml``: the keys of a public check, and ``after``, the check
    it is graded right after (a public check, or a hidden one listed before it); without ``after`` it comes
    after all the others. Results list the checks in that order, the order the spec had before the split."""

    visibility: Literal["hidden"] = "hidden"
    after: CheckId | None = None


class InstructorSpec(_Strict, frozen=True, kw_only=True):
    """``<exercise>/instructor/exercise.yaml``: what a student kit never contains."""

    # The reference solution, relative to the exercise folder (not to instructor/).
    reference: NonEmpty = "instructor/reference.py"
    checks: list[HiddenCheckSpec] = []


def merge(public: ExerciseSpec, instructor: InstructorSpec, where: Path) -> ExerciseSpec:
    """The spec an instructor grades with: the public checks and the hidden ones, each hidden check placed
    right after the check its ``after`` names (in listing order), or at the end."""
    merged: list[CheckSpec] = list(public.checks)
    for h in instructor.checks:
        plain = CheckSpec(id=h.id, title=h.title, points=h.points, visibility="hidden", timeout=h.timeout)
        ids = [c.id for c in merged]
        if h.id in ids:
            raise SpecError(f"{where}: check {h.id!r} is listed in both exercise.yaml and instructor/exercise.yaml")
        if h.after is None:
            merged.append(plain)
        elif h.after in ids:
            merged.insert(ids.index(h.after) + 1, plain)
        else:
            raise SpecError(f"{where}: checks: {h.id}: after: {h.after!r} is no check listed before it "
                            f"(choose from {', '.join(ids)})")
    return msgspec.structs.replace(public, checks=merged)


def spec_keys(model: type[msgspec.Struct]) -> tuple[str, ...]:
    """The keys a spec model accepts (documented in docs/AUTHORING.md)."""
    return model.__struct_fields__


def load_spec(path: Path) -> ExerciseSpec:
    """The public spec ``<exercise>/exercise.yaml``: public checks only (hidden ones, and the reference, are
    in ``instructor/exercise.yaml``: :func:`load_instructor_spec`)."""
    name = path.parent.name
    raw = _read_mapping(path, "title, checks, ...")
    if "reference" in raw:
        raise SpecError(f"{path}: reference: unknown key; the reference is named in instructor/exercise.yaml, "
                        "which a student kit never contains (docs/AUTHORING.md)")
    raw.setdefault("name", name)
    raw.setdefault("student_file", f"{name}.py")
    spec = _convert(path, raw, ExerciseSpec)
    hidden = [c.id for c in spec.checks if c.visibility == "hidden"]
    if hidden:
        raise SpecError(f"{path}: checks {hidden} are hidden: list hidden checks in instructor/exercise.yaml, "
                        "which a student kit never contains (docs/AUTHORING.md)")
    return spec


def load_instructor_spec(path: Path) -> InstructorSpec:
    """``<exercise>/instructor/exercise.yaml`` (an empty file is all defaults)."""
    return _convert(path, _read_mapping(path, "reference, checks", empty_ok=True), InstructorSpec)


def _read_mapping(path: Path, keys: str, empty_ok: bool = False) -> dict[str, Any]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from None
    except OSError as e:
        raise SpecError(f"{path}: cannot read: {e.strerror}") from None
    if raw is None and empty_ok:
        return {}
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping of keys ({keys}), got {type(raw).__name__}")
    return raw


_Spec = TypeVar("_Spec", ExerciseSpec, InstructorSpec)


def _convert(path: Path, raw: dict[str, Any], model: type[_Spec]) -> _Spec:
    try:
        return msgspec.convert(raw, model, strict=False)  # lax: '512' reads as 512
    except msgspec.ValidationError as e:
        raise SpecError(f"{path}: {describe_error(str(e), raw, model)}") from None


def describe_error(text: str, raw: Any, model: type[msgspec.Struct] = ExerciseSpec) -> str:
    """msgspec's ``Expected `float`, got `str` - at `$.checks[0].points``` as
    ``checks[0].points: expected float, got str (got 'two')``."""
    message, sep, where = text.rpartition(" - at `")
    if not sep:
        message, where = text, "$`"
    key = where.rstrip("`").removeprefix("$").lstrip(".")
    for prefix, words in (("Object contains unknown field `", "unknown key"),
                          ("Object missing required field `", "required key is missing")):
        if message.startswith(prefix):
            field = message[len(prefix):].rstrip("`")
            return f"{key + '.' if key else ''}{field}: {words}"
    for word, plain in (("`float`", "a number"), ("`int`", "an integer"), ("`str`", "a string"),
                        ("`bool`", "true or false"), ("`array`", "a list"), ("`object`", "a mapping")):
        message = message.replace(word, plain)
    message = message.replace("`", "")
    message = message[:1].lower() + message[1:]
    if message.startswith("invalid enum value"):
        message += f"; use {_choices(key, model)}"
    got = _value_at(raw, key)
    shown = "" if got is _NOTHING or isinstance(got, dict | list) else f" (got {got!r})"
    return f"{key or '(top)'}: {message}{shown}"


_NOTHING = object()


def _choices(key: str, model: type[msgspec.Struct]) -> str:
    """The allowed values of the Literal field at ``key`` ("'public' or 'hidden'")."""
    import msgspec.inspect as mi

    info: Any = mi.type_info(model)
    for part in key.replace("[", ".[").split("."):
        while isinstance(info, mi.ListType):
            info = info.item_type
        if part and not part.startswith("["):
            info = next((f.type for f in getattr(info, "fields", ()) if f.name == part), None)
    while isinstance(info, mi.ListType):
        info = info.item_type
    values = [repr(v) for v in getattr(info, "values", ())]
    return " or ".join([", ".join(values[:-1]), values[-1]] if len(values) > 1 else values) or "an allowed value"


def _value_at(raw: Any, key: str) -> Any:
    value = raw
    for part in key.replace("[", ".[").split("."):
        if not part:
            continue
        try:
            value = value[int(part[1:-1])] if part.startswith("[") else value[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return _NOTHING
    return value
