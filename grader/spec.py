"""Exercise specs (``exercises/<name>/exercise.yaml``), validated with pydantic.

A malformed spec raises :class:`grader.errors.SpecError` naming the file, the key and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from grader.errors import SpecError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForbiddenEntry(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
    reason: str = ""


class CostRule(_Strict):
    """``function`` may do at most ``at_most`` times the work of the last call of ``relative_to`` (work as
    recorded in the sandbox: elements produced, multiply-adds of products). A backward pass costs a
    few forward passes; finite differences cost one per parameter."""

    function: str = Field(pattern=r"^[A-Za-z_]\w*$")
    relative_to: str = Field(pattern=r"^[A-Za-z_]\w*$")
    at_most: float = Field(gt=1)
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
    functions: list[str] = Field(default_factory=list)
    timeout: float = Field(default=10.0, gt=0)
    memory_mb: int = Field(default=2048, gt=0)
    forbidden: list[ForbiddenEntry] = Field(default_factory=list)
    cost: list[CostRule] = Field(default_factory=list)
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

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def timeout_for(self, check: CheckSpec) -> float:
        return check.timeout or self.timeout


def load_spec(path: Path) -> ExerciseSpec:
    name = path.parent.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
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


def _describe(err: dict) -> str:
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".") or "(top)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    got = err.get("input")
    shown = "" if err["type"] in ("missing",) or isinstance(got, dict | list) else f" (got {got!r})"
    return f"{key}: {msg}{shown}"
