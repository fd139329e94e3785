"""Exercise specs (``<exercise folder>/exercise.yaml``), validated with pydantic's model API as
:mod:`grader.specmodel` provides it (pydantic itself costs more than ``grade list`` may take).

A malformed spec raises :class:`grader.errors.SpecError` naming the file, the key and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml  # type: ignore[import-untyped]

from grader.errors import SpecError
from grader.specmodel import BaseModel, ConfigDict, Field, ValidationError, field_validator

# libyaml's safe loader when pyyaml has it: the pure-Python one takes longer than the rest of `grade list`.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForbiddenEntry(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
    reason: str = ""


class CheckSpec(_Strict):
    id: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    title: str = Field(min_length=1)
    points: float = Field(gt=0)
    visibility: Literal["public", "hidden"] = "public"
    timeout: float | None = Field(default=None, gt=0)


class ExerciseSpec(_Strict):
    name: str
    title: str = Field(min_length=1)
    summary: str = ""
    student_file: str = ""
    # The student API: every function the template and the reference must define (checked when the
    # exercise is loaded for grading) and the submission must define (one problem line if it does not).
    functions: list[str] = Field(default_factory=list)
    # The reference solution, relative to the exercise folder.
    reference: str = Field(default="reference.py", min_length=1)
    timeout: float = Field(default=10.0, gt=0)
    memory_mb: int = Field(default=2048, gt=0)
    # The floating dtypes the checks run in; [] for an exercise without tensors (symbolic answers), which is
    # then graded once whatever dtypes are asked for.
    dtypes: list[Literal["float64", "float32"]] = ["float64", "float32"]
    forbidden: list[ForbiddenEntry] = Field(default_factory=list)
    checks: list[CheckSpec] = Field(min_length=1)

    @field_validator("checks")
    @classmethod
    def _unique_ids(cls, checks: list[CheckSpec]) -> list[CheckSpec]:
        seen: set[str] = set()
        for c in checks:
            if c.id in seen:
                raise ValueError(f"check id {c.id!r} appears twice")
            seen.add(c.id)
        return checks

    @field_validator("functions")
    @classmethod
    def _identifiers(cls, functions: list[str]) -> list[str]:
        bad = [f for f in functions if not f.isidentifier()]
        if bad:
            raise ValueError(f"not Python function names: {bad}")
        if len(set(functions)) != len(functions):
            raise ValueError("a function is listed twice")
        return functions

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def timeout_for(self, check: CheckSpec) -> float:
        return check.timeout or self.timeout


def load_spec(path: Path) -> ExerciseSpec:
    name = path.parent.name
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as e:
        raise SpecError(f"{path}: not valid YAML: {e}") from None
    except OSError as e:
        raise SpecError(f"{path}: cannot read: {e.strerror}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping of keys (title, checks, ...), got {type(raw).__name__}")
    raw.setdefault("name", name)
    raw.setdefault("student_file", f"{name}.py")
    try:
        return ExerciseSpec.model_validate(raw)
    except ValidationError as e:
        raise SpecError(f"{path}: " + "; ".join(_describe(err) for err in e.errors())) from None


def _describe(err: Mapping[str, Any]) -> str:
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".") or "(top)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    got = err.get("input")
    shown = "" if err["type"] in ("missing",) or isinstance(got, dict | list) else f" (got {got!r})"
    return f"{key}: {msg}{shown}"
