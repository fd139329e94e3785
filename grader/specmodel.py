"""The part of pydantic's model API that ``grader/spec.py`` uses, without pydantic.

Why: importing pydantic and building the four spec models cost more CPU than everything else
``grade list`` does (BENCHMARKS.md, section 3), and ``grade list``, ``show`` and ``init`` must answer
in under 0.3 s. The spec models keep pydantic's spelling (``class X(BaseModel)``, ``Field(gt=0)``,
``@field_validator``), so ``spec.py`` reads, and is extended, as before, and its errors keep
pydantic's wording and locations (``checks[0].points: Input should be a valid number``).

Numbers are read as pydantic's lax mode reads them (an int is a float, 3.0 and "3" are ints), except
that a boolean is not a number. Supported: fields annotated ``str``, ``int``, ``float``, ``bool``,
``X | None``, ``Literal[...]``, ``list[...]`` and nested models;
``Field(default=, default_factory=, gt=, min_length=, pattern=)``;
``model_config = ConfigDict(extra="forbid", frozen=True)``; ``@field_validator(name)`` class methods
that return the value or raise ``ValueError``.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar, Union

ErrorDetails = dict[str, Any]  # {"type", "loc", "msg", "input"}, as pydantic's
M = TypeVar("M", bound="BaseModel")
_MISSING: Any = object()


class ValidationError(ValueError):
    def __init__(self, errors: list[ErrorDetails]) -> None:
        super().__init__("; ".join(f"{e['loc']}: {e['msg']}" for e in errors))
        self._errors = errors

    def errors(self) -> list[ErrorDetails]:
        return list(self._errors)


class FieldInfo:
    def __init__(self, default: Any = _MISSING, *, default_factory: Callable[[], Any] | None = None,
                 gt: float | None = None, min_length: int | None = None, pattern: str | None = None) -> None:
        self.default, self.default_factory = default, default_factory
        self.gt, self.min_length, self.pattern = gt, min_length, pattern
        self.annotation: Any = None

    @property
    def required(self) -> bool:
        return self.default is _MISSING and self.default_factory is None

    def make_default(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default


def Field(default: Any = _MISSING, **kwargs: Any) -> Any:  # noqa: N802 - pydantic's name
    return FieldInfo(default, **kwargs)


def ConfigDict(**kwargs: Any) -> dict[str, Any]:  # noqa: N802 - pydantic's name
    return dict(kwargs)


class _Validator:
    def __init__(self, fields: tuple[str, ...], fn: Any) -> None:
        self.fields, self.fn = fields, fn


def field_validator(*fields: str) -> Callable[[Any], Any]:
    def mark(fn: Any) -> _Validator:
        return _Validator(fields, fn.__func__ if isinstance(fn, classmethod) else fn)

    return mark


class _Invalid(Exception):
    def __init__(self, errors: list[ErrorDetails]) -> None:
        self.errors = errors


def _error(kind: str, loc: tuple, msg: str, value: Any) -> _Invalid:
    return _Invalid([{"type": kind, "loc": loc, "msg": msg, "input": value}])


class BaseModel:
    model_config: ClassVar[dict[str, Any]] = {}
    model_fields: ClassVar[dict[str, FieldInfo]] = {}
    _validators: ClassVar[dict[str, list[Any]]] = {}
    _resolved: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, FieldInfo] = {}
        validators: dict[str, list[Any]] = {}
        for base in reversed(cls.__mro__[1:]):
            fields.update(getattr(base, "model_fields", {}))
        for name in cls.__dict__.get("__annotations__", {}):
            if name.startswith("_") or name in ("model_config", "model_fields"):
                continue
            value = cls.__dict__.get(name, _MISSING)
            info = value if isinstance(value, FieldInfo) else FieldInfo(value)
            fields[name] = info
            if name in cls.__dict__:
                delattr(cls, name)
        for attr, value in list(cls.__dict__.items()):
            if isinstance(value, _Validator):
                for f in value.fields:
                    validators.setdefault(f, []).append(value.fn)
                setattr(cls, attr, classmethod(value.fn))
        cls.model_fields, cls._validators, cls._resolved = fields, validators, False

    @classmethod
    def _resolve(cls) -> None:
        """Turn the annotations (strings, under ``from __future__ import annotations``) into types, once."""
        if cls._resolved:
            return
        hints = typing.get_type_hints(cls)
        for name, info in cls.model_fields.items():
            info.annotation = hints[name]
        cls._resolved = True

    @classmethod
    def model_validate(cls: type[M], raw: Any) -> M:
        try:
            return cls._build(raw, ())
        except _Invalid as e:
            raise ValidationError(e.errors) from None

    @classmethod
    def _build(cls: type[M], raw: Any, loc: tuple) -> M:
        if not isinstance(raw, dict):
            raise _error("model_type", loc, f"Input should be a valid dictionary or instance of {cls.__name__}", raw)
        cls._resolve()
        errors: list[ErrorDetails] = []
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            where = (*loc, name)
            if name not in raw:
                if info.required:
                    errors.append({"type": "missing", "loc": where, "msg": "Field required", "input": raw})
                else:
                    values[name] = info.make_default()
                continue
            try:
                value = _check(info.annotation, raw[name], where)
                _constraints(info, value, raw[name], where)
                for fn in cls._validators.get(name, ()):
                    try:
                        value = fn(cls, value)
                    except ValueError as e:
                        raise _error("value_error", where, f"Value error, {e}", raw[name]) from None
                values[name] = value
            except _Invalid as e:
                errors += e.errors
        if cls.model_config.get("extra") == "forbid":
            errors += [{"type": "extra_forbidden", "loc": (*loc, k), "msg": "Extra inputs are not permitted",
                        "input": v} for k, v in raw.items() if k not in cls.model_fields]
        if errors:
            raise _Invalid(errors)
        obj = object.__new__(cls)
        object.__setattr__(obj, "__dict__", values)
        return obj

    def __setattr__(self, name: str, value: Any) -> None:
        if self.model_config.get("frozen"):
            raise TypeError(f"{type(self).__name__} is frozen")
        super().__setattr__(name, value)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def _check(tp: Any, value: Any, loc: tuple) -> Any:
    """``value`` as type ``tp``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check(inner[0] if len(inner) == 1 else Any, value, loc)
    if origin is Literal:
        if value in args and not isinstance(value, bool):
            return value
        shown = " or ".join(repr(a) for a in args) if len(args) <= 2 else \
            ", ".join(repr(a) for a in args[:-1]) + f" or {args[-1]!r}"
        raise _error("literal_error", loc, f"Input should be {shown}", value)
    if origin is list:
        if not isinstance(value, list):
            raise _error("list_type", loc, "Input should be a valid list", value)
        out, errors = [], []
        for i, item in enumerate(value):
            try:
                out.append(_check(args[0] if args else Any, item, (*loc, i)))
            except _Invalid as e:
                errors += e.errors
        if errors:
            raise _Invalid(errors)
        return out
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp._build(value, loc)
    if tp is str:
        if not isinstance(value, str):
            raise _error("string_type", loc, "Input should be a valid string", value)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise _error("bool_type", loc, "Input should be a valid boolean", value)
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise _error("float_parsing", loc, "Input should be a valid number, unable to parse string as a "
                             "number", value) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _error("float_type", loc, "Input should be a valid number", value)
        return float(value)
    if tp is int:
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        if isinstance(value, float) and not isinstance(value, bool):
            if value.is_integer():
                return int(value)
            raise _error("int_from_float", loc, "Input should be a valid integer, got a number with a fractional "
                         "part", value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _error("int_type", loc, "Input should be a valid integer", value)
        return value
    return value


def _constraints(info: FieldInfo, value: Any, raw: Any, loc: tuple) -> None:
    """The ``Field`` constraints on the converted ``value``; errors show the spec's own ``raw``."""
    if value is None:
        return
    if info.gt is not None and value <= info.gt:
        raise _error("greater_than", loc, f"Input should be greater than {info.gt:g}", raw)
    if info.min_length is not None and len(value) < info.min_length:
        n = info.min_length
        if isinstance(value, str):
            raise _error("string_too_short", loc, f"String should have at least {n} character{'s' * (n != 1)}",
                         raw)
        raise _error("too_short", loc, f"List should have at least {n} item{'s' * (n != 1)} after validation, "
                     f"not {len(value)}", raw)
    if info.pattern is not None and not re.match(info.pattern, value):
        raise _error("string_pattern_mismatch", loc, f"String should match pattern '{info.pattern}'", raw)
