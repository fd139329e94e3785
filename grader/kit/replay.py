"""Replaying a kit's fixtures: the reference and the mistake variants, answered from the record.

``open_fixtures(folder)`` gives a :class:`Fixtures`: ``.reference`` (an API namespace whose calls are
answered from the record), ``.mistakes`` (a book of the recorded mistakes; a variant's call that was not
recorded raises, so the variant names nothing, like a variant that cannot run), ``.seeds``,
``.parameters`` and :meth:`Fixtures.reference_work`.

A call is found by its exact key first. A pipeline of ``expect_close`` on the reference may also be found
*near* its key: a recorded call of the same shapes whose inputs agree to a relative 1e-6 (an input that
is the student's own correct answer, as pca's ``reconstruct(project(X))``, differs from the recorded one
in its last bits). Other calls match within a few units of rounding only.

When a call of the reference is still not found because its inputs depend on the student's answer (the
finite differences of a gradient check at points of the student's making), the reference bound to a
check (:meth:`ReplayAPI.bind_context`) answers with the *student's own* function, once that function
agreed with the recorded reference on recorded inputs, and notes it on the check. Otherwise it raises
:class:`NotRecorded`, and the check is ``skipped`` (it runs only in official grading).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from grader.diagnosis import Diagnosis
from grader.kit.fixtures import (
    Decoder,
    FixtureError,
    NotRecorded,
    Unencodable,
    call_key,
    pipeline_name,
    read_folder,
    shape_key,
)
from grader.trusted import TrustedFunction

if TYPE_CHECKING:
    from grader.checks import CheckContext

REFERENCE = "reference"
NEAR_EXPECTED = 1e-6  # relative agreement of the inputs of a reference pipeline found near its key
NEAR_ROUNDING = 64  # units of rounding: other calls found near their key
VERIFY_SAMPLES = 3  # recorded calls a student's function must reproduce before it stands in for the reference


class RecordedFailure(Exception):  # noqa: N818
    """The recorded call raised (a variant that cannot run on these inputs)."""


@dataclass(frozen=True)
class ReplayMistake:
    """A recorded mistake: what the diagnosis needs, and no code. ``overrides`` answers the mistake's own
    functions from the record (as :class:`grader.mistakes.Mistake`'s do by running them)."""

    id: str
    name: str
    hint: str
    nonfinite: bool = False
    functions: tuple[str, ...] = ()
    overrides: Mapping[str, Callable[..., Any]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def diagnosis(self) -> Diagnosis:
        return Diagnosis(self.id, self.name, self.hint, "mistake")


class ReplayBook:
    """The recorded mistakes, used as a :class:`grader.mistakes.MistakeBook` is."""

    def __init__(self, fixtures: Fixtures, mistakes: list[ReplayMistake]) -> None:
        self._fixtures = fixtures
        self._mistakes = {m.id: replace(m, overrides={fn: getattr(ReplayAPI(fixtures, m.id), fn) for fn in m.functions
                                                       if fn in fixtures.functions}) for m in mistakes}

    def __iter__(self) -> Iterator[ReplayMistake]:
        return iter(self._mistakes.values())

    def __len__(self) -> int:
        return len(self._mistakes)

    def __getitem__(self, id: str) -> ReplayMistake:
        return self._mistakes[id]

    def variant(self, id: str) -> ReplayAPI:
        if id not in self._mistakes:
            raise KeyError(id)
        return ReplayAPI(self._fixtures, id)


class ReplayAPI:
    """An API namespace answered from the record: the reference, or a mistake's variant."""

    def __init__(self, fixtures: Fixtures, api: str, ctx: CheckContext | None = None) -> None:
        self._fixtures, self._api, self._ctx = fixtures, api, ctx
        self._fallback = ctx is not None
        self._verified: dict[str, bool] = {}

    @property
    def parameters(self) -> dict[str, list[str]]:
        """The reference's parameter names, by function (the symbolic checks name a string answer's
        arguments with them)."""
        return self._fixtures.parameters

    def bind_context(self, ctx: CheckContext) -> ReplayAPI:
        """The reference as one check sees it: it may stand in the student's verified function."""
        return ReplayAPI(self._fixtures, self._api, ctx) if self._api == REFERENCE else self

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in self._fixtures.functions:
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._answer(f"fn:{name}", args, kwargs, _rounding, fallback=name)

        call.__name__ = name
        return call

    def __pipeline__(self, run: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        named = getattr(run, "__api_function__", None)
        fn_key = f"fn:{named}" if named is not None else pipeline_name(run)
        near = _expected if self._api == REFERENCE else _rounding
        entry = self._fixtures.find(fn_key, self._api, args, kwargs, near)
        if entry is not None:
            return self._fixtures.play(entry, args, kwargs, self._device)
        if named is not None:
            raise NotRecorded(fn_key, self._api)
        # the pipeline's own calls may still be recorded; never the student's function for an expected value
        fallback, self._fallback = self._fallback, False
        try:
            return run(self, *args, **kwargs)
        except NotRecorded:
            raise
        except Exception as e:  # noqa: BLE001 - a pipeline that needs the real code (autograd through it)
            raise NotRecorded(fn_key, self._api, f" ({type(e).__name__} replaying the check's computation)") \
                from None
        finally:
            self._fallback = fallback

    @property
    def _device(self) -> torch.device:
        return self._ctx.device if self._ctx is not None else torch.device("cpu")

    def _answer(self, fn_key: str, args: tuple, kwargs: dict, near: Nearness, fallback: str) -> Any:
        entry = self._fixtures.find(fn_key, self._api, args, kwargs, near)
        if entry is not None:
            return self._fixtures.play(entry, args, kwargs, self._device)
        if self._fallback and self._ctx is not None and fallback in self._fixtures.parameters:
            return self._students(fallback, args, kwargs)
        raise NotRecorded(fn_key, self._api)

    def _students(self, fn: str, args: tuple, kwargs: dict) -> Any:
        """The student's ``fn`` in place of the reference's, once it agreed with the record."""
        ctx = self._ctx
        assert ctx is not None
        if fn not in self._verified:
            self._verified[fn] = self._verify(fn)
        if not self._verified[fn]:
            raise NotRecorded(f"fn:{fn}", REFERENCE, f", and your {fn} does not agree with the reference on the "
                                                     "recorded inputs, so it cannot stand in for it")
        ctx.note(f"In the kit, the reference's {fn} was not recorded at inputs that depend on your answer: your "
                 f"own {fn} was used there (it agreed with the reference on the recorded inputs); official "
                 "grading uses the reference.")
        return getattr(ctx.student, fn)(*args, **kwargs)

    def _verify(self, fn: str) -> bool:
        from grader.checks import working_dtype
        from grader.compare import compare_tree

        ctx = self._ctx
        assert ctx is not None
        samples = self._fixtures.samples(f"fn:{fn}", REFERENCE, VERIFY_SAMPLES)
        for args, kwargs, expected in samples:
            actual = getattr(ctx.student, fn)(*args, **kwargs)
            if _is_pair(expected) and _is_pair(actual):
                # (value, cache): the cache is the student's own design; the value must agree
                actual, expected = actual[0], expected[0]
            dtype = working_dtype(args, kwargs) or torch.float64
            if compare_tree(fn, actual, expected, tol=ctx.tolerance(dtype), dtype=working_dtype(args, kwargs),
                            device=ctx.device) is not None:
                return False
        return bool(samples)


def _is_pair(x: Any) -> bool:
    return isinstance(x, tuple | list) and len(x) == 2


# -- nearness ---------------------------------------------------------------------------------------------
# How near a recorded call's inputs must be, relative to each tensor's scale: a minimum, and units of rounding
# of the tensor's dtype.
Nearness = tuple[float, float]
_rounding: Nearness = (0.0, NEAR_ROUNDING)
_expected: Nearness = (NEAR_EXPECTED, NEAR_ROUNDING)


def _leaves(tree: Any) -> list[torch.Tensor]:
    """The tensors of ``tree`` in a canonical order (dicts by key), as the calls of one shape key share it."""
    out: list[torch.Tensor] = []

    def walk(t: Any) -> None:
        if isinstance(t, torch.Tensor):
            out.append(t)
        elif isinstance(t, TrustedFunction):
            walk(t.kwargs)
        elif isinstance(t, Mapping):
            for k in sorted(t, key=str):
                walk(t[k])
        elif isinstance(t, tuple | list):
            for v in t:
                walk(v)

    walk(tree)
    return out


def _flat(tree: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All tensors of ``tree`` as one float64 vector, each entry's scale (its tensor's largest magnitude) and
    its dtype's unit of rounding (0 for integer tensors: they must be equal)."""
    values, scales, units = [], [], []
    for t in _leaves(tree):
        t = t.detach().to("cpu")
        if t.is_complex():
            t = torch.view_as_real(t)
        v = t.to(torch.float64).reshape(-1)
        finite = v.abs().nan_to_num(0.0, 0.0, 0.0)
        values.append(v)
        scales.append(torch.full_like(v, float(finite.max()) if v.numel() else 0.0))
        units.append(torch.full_like(v, float(torch.finfo(t.dtype).eps) if t.is_floating_point() else 0.0))
    if not values:
        empty = torch.zeros(0, dtype=torch.float64)
        return empty, empty, empty
    return torch.cat(values), torch.cat(scales), torch.cat(units)


# -- the fixtures --------------------------------------------------------------------------------------
@dataclass
class Fixtures:
    """A kit exercise's recorded fixtures (see :func:`open_fixtures`)."""

    folder: Path
    exercise: str
    seeds: tuple[int, ...]
    dtypes: tuple[str, ...]
    checks: tuple[str, ...]
    parameters: dict[str, list[str]]
    calls: dict[str, dict[str, Any]]
    work: dict[str, int]
    decode: Decoder
    mistakes: ReplayBook = field(init=False)
    reference: ReplayAPI = field(init=False)
    functions: frozenset[str] = field(init=False)
    _by_shape: dict[tuple[str, str, str], list[str]] = field(init=False, default_factory=dict)
    _decoded_args: dict[str, Any] = field(init=False, default_factory=dict)
    _buckets: dict[str, tuple[list[str], torch.Tensor, torch.Tensor]] = field(init=False, default_factory=dict)

    def _index(self, mistakes: list[ReplayMistake]) -> None:
        names = set(self.parameters)
        for key, e in self.calls.items():
            self._by_shape.setdefault((e["api"], e["fn"], e["shape"]), []).append(key)
            if e["fn"].startswith("fn:"):
                names.add(e["fn"][3:])
        self.functions = frozenset(names)
        self.mistakes = ReplayBook(self, mistakes)
        self.reference = ReplayAPI(self, REFERENCE)

    def reference_work(self, fn: str, inputs: Any) -> int:
        """The reference's work on inputs of these shapes (0: not recorded, no claim)."""
        args, kwargs = inputs
        try:
            return self.work.get(shape_key(f"fn:{fn}", tuple(args), dict(kwargs)), 0)
        except Unencodable:
            return 0

    def find(self, fn_key: str, api: str, args: tuple, kwargs: dict, near: Nearness) -> dict[str, Any] | None:
        try:
            entry = self.calls.get(call_key(fn_key, api, args, kwargs))
            if entry is not None:
                return entry
            candidates = self._by_shape.get((api, fn_key, shape_key(fn_key, args, kwargs)), [])
        except Unencodable:
            return None
        keys, values, scales = self._bucket(candidates) if candidates else ([], None, None)
        if not keys or values is None or scales is None:
            return None
        q, _, units = _flat((tuple(args), dict(kwargs)))
        if q.numel() != values.shape[1]:
            return None
        rel = torch.maximum(torch.full_like(units, near[0]), near[1] * units)
        nan = q.isnan()
        close = ((q - values).abs() <= rel * (values.abs() + scales)) | (nan & values.isnan())
        rows = (close & (nan == values.isnan())).all(dim=1).nonzero()
        return self.calls[keys[int(rows[0])]] if rows.numel() else None

    def _bucket(self, candidates: list[str]) -> tuple[list[str], torch.Tensor, torch.Tensor]:
        """The recorded inputs of calls of one shape key as one matrix (a row per call), for near lookups."""
        ident = candidates[0]
        if ident not in self._buckets:
            keys: list[str] = []
            rows: list[torch.Tensor] = []
            scales: list[torch.Tensor] = []
            for key in candidates:
                stored = self._args(key)
                if stored is None:
                    continue
                v, s, _ = _flat(stored)
                if rows and v.numel() != rows[0].numel():
                    continue
                keys.append(key)
                rows.append(v)
                scales.append(s)
            self._buckets[ident] = (keys, torch.stack(rows) if rows else torch.zeros(0, 0, dtype=torch.float64),
                                    torch.stack(scales) if scales else torch.zeros(0, 0, dtype=torch.float64))
        return self._buckets[ident]

    def _args(self, key: str) -> Any:
        if key not in self._decoded_args:
            raw = self.calls[key].get("args")
            value = None if raw is None else self.decode(raw)
            if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], tuple | list) \
                    and isinstance(value[1], dict):
                self._decoded_args[key] = (tuple(value[0]), value[1])
            else:
                self._decoded_args[key] = None
        return self._decoded_args[key]

    def samples(self, fn_key: str, api: str, limit: int) -> list[tuple[tuple, dict, Any]]:
        """Up to ``limit`` recorded calls of ``fn_key`` with their inputs and output."""
        out: list[tuple[tuple, dict, Any]] = []
        for key, e in self.calls.items():
            if len(out) >= limit:
                break
            if e["api"] == api and e["fn"] == fn_key and "out" in e and self._args(key) is not None:
                args, kwargs = self._args(key)
                out.append((args, kwargs, self.decode(e["out"])))
        return out

    def play(self, entry: dict[str, Any], args: tuple, kwargs: dict, device: torch.device) -> Any:
        """The recorded answer; the recorded in-place edits are made to ``args`` and ``kwargs``."""
        from grader.checks import _tensor_leaves, map_tree

        if "raises" in entry:
            raise RecordedFailure(str(entry["raises"]))
        if entry.get("after") is not None:
            after = self.decode(entry["after"])
            for live, now in zip(_tensor_leaves((args, kwargs)), _tensor_leaves(after), strict=False):
                if live.shape == now.shape and live.dtype == now.dtype:
                    with torch.no_grad():
                        live.copy_(now.to(live.device))
        out = self.decode(entry["out"])
        return map_tree(lambda x: x.to(device) if isinstance(x, torch.Tensor) else x, out)


def open_fixtures(folder: Path) -> Fixtures:
    """The fixtures in ``folder`` (written by :func:`grader.kit.record.record_fixtures`), checked."""
    folder = Path(folder)
    index, tensors = read_folder(folder)
    where = str(folder)
    decoder = Decoder(tensors, where)
    fx = Fixtures(
        folder=folder,
        exercise=_str(index.get("exercise"), where, "exercise"),
        seeds=tuple(_ints(index.get("seeds"), where, "seeds")),
        dtypes=tuple(_strs(index.get("dtypes"), where, "dtypes")),
        checks=tuple(_strs(index.get("checks"), where, "checks")),
        parameters=_parameters(index.get("parameters"), where),
        calls=_calls(index.get("calls"), where, len(tensors)),
        work=_work(index.get("work"), where),
        decode=decoder,
    )
    fx._index(_mistakes(index.get("mistakes"), where))
    return fx


# -- checking the index ----------------------------------------------------------------------------------
def _bad(where: str, what: str) -> FixtureError:
    return FixtureError(f"{where}/index.json: {what} is malformed; the kit's fixtures are damaged (rebuild "
                        "or download the kit again)")


def _str(v: Any, where: str, what: str) -> str:
    if not isinstance(v, str) or len(v) > 10_000:
        raise _bad(where, what)
    return v


def _strs(v: Any, where: str, what: str) -> list[str]:
    if not isinstance(v, list):
        raise _bad(where, what)
    return [_str(x, where, what) for x in v]


def _ints(v: Any, where: str, what: str) -> list[int]:
    if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise _bad(where, what)
    return v


def _parameters(v: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(v, dict):
        raise _bad(where, "parameters")
    return {_str(k, where, "parameters"): _strs(names, where, "parameters") for k, names in v.items()}


def _work(v: Any, where: str) -> dict[str, int]:
    if not isinstance(v, dict) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v.values()):
        raise _bad(where, "work")
    return v


def _calls(v: Any, where: str, n_tensors: int) -> dict[str, dict[str, Any]]:
    if not isinstance(v, dict):
        raise _bad(where, "calls")
    for key, e in v.items():
        if not (isinstance(e, dict) and all(isinstance(e.get(f), str) for f in ("fn", "api", "shape"))
                and ("out" in e or isinstance(e.get("raises"), str))):
            raise _bad(where, f"call {key[:16]}")
    return v


def _mistakes(v: Any, where: str) -> list[ReplayMistake]:
    if not isinstance(v, list):
        raise _bad(where, "mistakes")
    out = []
    for m in v:
        if not (isinstance(m, dict) and all(isinstance(m.get(f), str) for f in ("id", "name", "hint"))
                and isinstance(m.get("nonfinite", False), bool)):
            raise _bad(where, "mistakes")
        out.append(ReplayMistake(m["id"], m["name"], m["hint"], m.get("nonfinite", False),
                                 tuple(_strs(m.get("functions", []), where, "mistakes"))))
    return out
