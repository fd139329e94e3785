"""Name the kind of mistake behind a wrong tensor: "what did the student do?".

:func:`name_pattern` compares a claimed tensor with the true one and, when they differ in a
recognisable way, returns a :class:`Pattern`: a machine id (``"transposed"``, ``"scaled"``...), a hint
for the student that names the tensor, and the constant factor when there is one. It knows nothing
about exercises; exercise-specific mistakes live in each exercise's ``mistakes.py`` and are tried
first by the checks.

Why these patterns: they are the mistakes students make when they derive a gradient by hand (a
transposed or reshaped matrix, a missing ``2`` or ``1/T``, a sign, a bias not summed over the batch,
a forgotten term that leaves whole rows wrong, an off-by-one that breaks a few entries).

Rules, so that a correct answer is never "diagnosed":

* comparisons run in float64, with the tolerance of the claimed tensor's own dtype
  (:func:`grader.tolerances.tolerance`) unless ``tol`` is given;
* when ``actual`` is close to ``expected`` (same shape, within ``tol``) the answer is always ``None``;
* a transformation is accepted only if the transformed expected value matches ``actual`` entry by
  entry within the tolerance (a little widened: the claim went through one more rounding);
* NaN, Inf, empty, 0-dim, integer and boolean tensors never raise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import torch

from grader.tolerances import Tolerance, tolerance

__all__ = ["Pattern", "name_pattern", "describe_factor"]

# A transformed expected value is compared with this much more room than the plain tolerance: the
# student's wrong value went through one more rounding than the reference (a product by T, a sum).
_SLACK = 4.0
# At most this many indices are listed in a hint.
_MAX_LISTED = 6
# "A few wrong entries" means at most this fraction of the tensor.
_FEW_ENTRIES = 1 / 3


@dataclass(frozen=True)
class Pattern:
    """A recognised mistake: ``id`` for machines, ``hint`` for the student, the factor if any."""

    id: str
    hint: str
    factor: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "hint": self.hint, "factor": self.factor}


# --------------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------------
def name_pattern(
    actual: torch.Tensor,
    expected: torch.Tensor,
    *,
    name: str = "the result",
    tol: Tolerance | None = None,
    factors: Mapping[str, float] | None = None,
) -> Pattern | None:
    """The mistake that turns ``expected`` into ``actual``, or None if none is recognised.

    ``name`` is how the hint names the tensor (``"dW3"``). ``factors`` names the sizes of the problem
    a constant factor may come from, e.g. ``{"T": 7, "N": 5}``: a claim 7 times too large is then
    reported as "a factor of T = 7" (a sum over T where a mean was needed).
    """
    try:
        a, e, tol = _prepare(actual, expected, tol)
    except (TypeError, ValueError, RuntimeError):
        return None
    if a is None or e is None:
        return None
    ctx = _Ctx(a, e, tol, name, dict(factors or {}))
    if a.shape == e.shape and _close(a, e, tol, equal_nan=True):
        return None
    for finder in _FINDERS:
        found = finder(ctx)
        if found is not None:
            return found
    return None


def describe_factor(c: float, factors: Mapping[str, float] | None = None) -> tuple[float, str] | None:
    """``(value, words)`` for a factor that is a "nice" one (2, ½, −1, T, 1/T, 2/T...), else None.

    ``c`` is matched to a relative precision of 1e-3 (a float32 fit is that good); the caller
    verifies the snapped value entry by entry.
    """
    for value, words in _nice_factors(factors or {}):
        if math.isclose(c, value, rel_tol=1e-3, abs_tol=0.0):
            return value, words
    return None


# --------------------------------------------------------------------------------------------------
# preparation
# --------------------------------------------------------------------------------------------------
@dataclass
class _Ctx:
    a: torch.Tensor  # float64 (or None-free)
    e: torch.Tensor
    tol: Tolerance
    name: str
    factors: dict[str, float]

    @property
    def loose(self) -> Tolerance:
        return self.tol.scaled(_SLACK)


def _prepare(
    actual: object, expected: object, tol: Tolerance | None
) -> tuple[torch.Tensor | None, torch.Tensor | None, Tolerance]:
    """Both as float64 CPU tensors, and the tolerance of ``actual``'s dtype (float64's otherwise)."""
    a = actual if isinstance(actual, torch.Tensor) else torch.as_tensor(actual)
    e = expected if isinstance(expected, torch.Tensor) else torch.as_tensor(expected)
    if a.is_complex() or e.is_complex():
        return None, None, tol or tolerance(torch.float64)
    if tol is None:
        dtype = a.dtype if a.is_floating_point() else torch.float64
        try:
            tol = tolerance(dtype, a.device)
        except KeyError:
            tol = tolerance(torch.float64)
    a64 = a.detach().to("cpu", torch.float64)
    e64 = e.detach().to("cpu", torch.float64)
    return a64, e64, tol


def _close(a: torch.Tensor, e: torch.Tensor, tol: Tolerance, *, equal_nan: bool = False) -> bool:
    if a.shape != e.shape:
        return False
    if a.numel() == 0:
        return True
    return bool(torch.isclose(a, e, rtol=tol.rtol, atol=tol.atol, equal_nan=equal_nan).all())


def _wrong_mask(a: torch.Tensor, e: torch.Tensor, tol: Tolerance) -> torch.Tensor:
    return ~torch.isclose(a, e, rtol=tol.rtol, atol=tol.atol, equal_nan=True)


# --------------------------------------------------------------------------------------------------
# factors
# --------------------------------------------------------------------------------------------------
def _frac(num: str, den: str) -> str:
    return f"{num}/{den}"


def _nice_factors(factors: Mapping[str, float]) -> Iterator[tuple[float, str]]:
    """Named factors first (they explain the mistake best), then the usual small constants."""
    for key, raw in factors.items():
        k = float(raw)
        if not math.isfinite(k) or k == 0 or abs(k) == 1:
            continue
        kv = _num(k)
        for value, words in (
            (k, f"{key} = {kv}"),
            (1 / k, f"1/{key} = 1/{kv}"),
            (2 * k, f"2{key} = {_num(2 * k)}"),
            (k / 2, f"{key}/2 = {_num(k / 2)}"),
            (2 / k, f"2/{key} = 2/{kv}"),
            (1 / (2 * k), f"1/(2{key}) = 1/{_num(2 * k)}"),
        ):
            yield value, words
            yield -value, f"−({words})"
    for value, words in (
        (-1.0, "−1"),
        (2.0, "2"),
        (0.5, "1/2"),
        (-2.0, "−2"),
        (-0.5, "−1/2"),
        (4.0, "4"),
        (0.25, "1/4"),
        (3.0, "3"),
        (1 / 3, "1/3"),
    ):
        yield value, words


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _fit_factor(a: torch.Tensor, e: torch.Tensor) -> float | None:
    """Least-squares ``c`` with ``a ≈ c·e``; None when ``e`` cannot pin a factor down."""
    ee = float((e * e).sum())
    if not math.isfinite(ee) or ee == 0.0:
        return None
    c = float((a * e).sum()) / ee
    return c if math.isfinite(c) else None


def _match_factor(ctx: _Ctx, a: torch.Tensor, e: torch.Tensor, *, allow_any: bool) -> tuple[float, str] | None:
    """``(factor, words)`` if ``a`` is a constant multiple of ``e`` other than 1 (and 0)."""
    if a.shape != e.shape or a.numel() == 0 or not bool(torch.isfinite(a).all()):
        return None
    c = _fit_factor(a, e)
    if c is None:
        return None
    nice = describe_factor(c, ctx.factors)
    if nice is not None and _close(a, nice[0] * e, ctx.loose):
        return nice
    if not allow_any or math.isclose(c, 1.0, rel_tol=10 * ctx.tol.rtol) or abs(c) < 1e-12:
        return None
    # an arbitrary constant needs two independent nonzero entries, otherwise any claim "fits"
    if int((e.abs() > ctx.tol.atol).sum()) < 2 or not _close(a, c * e, ctx.loose):
        return None
    words = f"{c:.4g}"
    return c, (words if words not in ("1", "-1") else f"{c:.8g}")


# --------------------------------------------------------------------------------------------------
# finders: each returns a Pattern or None; tried in order
# --------------------------------------------------------------------------------------------------
def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + (",)" if t.dim() == 1 else ")")


def _find_missing(ctx: _Ctx) -> Pattern | None:
    if ctx.a.numel() == 0 and ctx.e.numel() > 0:
        return Pattern(
            "missing",
            f"{ctx.name} is empty (shape {_shape(ctx.a)}); it should have shape {_shape(ctx.e)}: "
            "nothing was computed or it was sliced away.",
        )
    return None


def _find_non_finite(ctx: _Ctx) -> Pattern | None:
    if not bool(torch.isfinite(ctx.e).all()):
        return None  # the truth itself is not finite: nothing sensible to say
    bad = ~torch.isfinite(ctx.a)
    n = int(bad.sum())
    if n == 0:
        return None
    where = _list_indices(bad, ctx.a.shape)
    return Pattern(
        "not_finite",
        f"{ctx.name} has {n} NaN or infinite {_plural(n, 'entry', 'entries')} ({where}) where the correct "
        "values are finite: look for an overflow in exp, a log of 0 or a division by 0.",
    )


def _find_zero(ctx: _Ctx) -> Pattern | None:
    if ctx.a.numel() == 0 or not bool((ctx.a.abs() <= ctx.tol.atol).all()):
        return None
    if bool((ctx.e.abs() <= ctx.tol.atol).all()):
        return None
    if ctx.a.shape != ctx.e.shape:
        return Pattern(
            "zero",
            f"{ctx.name} is all zeros and has shape {_shape(ctx.a)} instead of {_shape(ctx.e)}: "
            "it was never computed (a placeholder left in, or the result not returned).",
        )
    return Pattern(
        "zero",
        f"{ctx.name} is all zeros but the correct value is not: it was never computed or never "
        "accumulated (a placeholder left in, an update to a copy, or a missing term).",
    )


def _same_shape_views(e: torch.Tensor) -> Iterator[tuple[str, torch.Tensor]]:
    """Rearrangements of ``e`` that keep its shape: the correct value, transposed or reshaped."""
    yield "identity", e
    if e.dim() >= 2 and e.shape[-1] == e.shape[-2] and e.shape[-1] > 1:
        yield "transposed", e.transpose(-1, -2)
    if e.dim() == 2 and e.shape[0] != e.shape[1] and min(e.shape) > 1:
        yield "reshaped_not_transposed", e.T.reshape(e.shape)


def _other_shape_views(e: torch.Tensor, a_shape: torch.Size) -> Iterator[tuple[str, torch.Tensor]]:
    """Rearrangements of ``e`` into ``actual``'s (different) shape."""
    if e.dim() == 2 and a_shape == e.T.shape:
        yield "transposed", e.T
        yield "reshaped_not_transposed", e.reshape(a_shape)
    elif e.dim() >= 2 and a_shape == e.transpose(-1, -2).shape:
        yield "transposed", e.transpose(-1, -2)
    if e.numel() == math.prod(a_shape) and e.numel() > 0:
        yield "reshaped", e.reshape(a_shape)


def _find_rearranged(ctx: _Ctx) -> Pattern | None:
    """Transposed / reshaped / constant factor, and combinations of a rearrangement with a factor."""
    a, e = ctx.a, ctx.e
    views = list(_same_shape_views(e) if a.shape == e.shape else _other_shape_views(e, a.shape))
    for view_id, v in views:  # exact rearrangements first: "transposed" beats "transposed ×(−1)"
        if view_id != "identity" and _close(a, v, ctx.loose):
            return _rearranged_pattern(ctx, view_id, None)
    for view_id, v in views:
        fac = _match_factor(ctx, a, v, allow_any=True)
        if fac is not None:
            return _rearranged_pattern(ctx, view_id, fac)
    return None


def _rearranged_pattern(ctx: _Ctx, view_id: str, fac: tuple[float, str] | None) -> Pattern:
    if view_id == "identity":
        assert fac is not None
        return _factor_pattern(ctx, *fac)
    n, a, e = ctx.name, ctx.a, ctx.e
    if view_id == "transposed":
        if a.shape == e.shape:
            text = (
                f"{n} is the correct value transposed: rows and columns are swapped (the shape "
                f"{_shape(e)} is the same only because the matrix is square)."
            )
        else:
            text = (
                f"{n} is the correct value transposed: you returned shape {_shape(a)} where {_shape(e)} "
                "is expected; a gradient has the shape of its variable."
            )
    elif view_id == "reshaped_not_transposed":
        if a.shape == e.shape:
            text = (
                f"{n} was reshaped instead of transposed: it holds the entries of the transpose "
                f"(shape {_shape(e.T)}) reshaped to {_shape(e)}; use .T, not .reshape or .view."
            )
        else:
            text = (
                f"{n} was reshaped instead of transposed: it has the transpose's shape {_shape(a)} but "
                f"holds the correct entries in their original order (a .reshape or .view, not .T); a "
                f"gradient has the shape of its variable, {_shape(e)}."
            )
    else:  # "reshaped"
        text = (
            f"{n} has the right values in the wrong shape: {_shape(a)} instead of {_shape(e)}; "
            "reshape it (or drop the extra dimension)."
        )
    if fac is None:
        return Pattern(view_id, text)
    return Pattern(view_id, f"{text} It is also off by a factor of {fac[1]}.", fac[0])


def _factor_pattern(ctx: _Ctx, c: float, words: str) -> Pattern:
    n = ctx.name
    if c == -1.0:
        return Pattern(
            "sign_flipped",
            f"{n} has the wrong sign: it is −1 × the correct value. Check the sign of a difference "
            "(out − Y versus Y − out) or a minus sign lost in the chain rule.",
            -1.0,
        )
    for key, raw in ctx.factors.items():
        k = float(raw)
        if k != 0 and abs(k) != 1 and c == k:
            return Pattern(
                "summed_not_averaged",
                f"{n} is {key} = {_num(k)} times too large: a sum over {key} where the mean is needed "
                f"(divide by {key}).",
                c,
            )
        if k != 0 and abs(k) != 1 and c == 1 / k:
            return Pattern(
                "averaged_not_summed",
                f"{n} is off by a factor of 1/{key} = 1/{_num(k)}: a mean over {key} where the sum is "
                f"needed, or a 1/{key} applied twice.",
                c,
            )
    return Pattern(
        "scaled",
        f"{n} is off by a factor of {words}: it equals {words} × the correct value, so a constant is "
        "missing or extra (a 2 from a square, a 1/T from a mean).",
        c,
    )


def _find_batch(ctx: _Ctx) -> Pattern | None:
    """``actual`` has one more leading axis than ``expected``: per-sample values not reduced."""
    a, e, n = ctx.a, ctx.e, ctx.name
    if a.dim() != e.dim() + 1 or a.shape[1:] != e.shape or a.shape[0] < 1:
        return None
    t = a.shape[0]
    s = a.sum(0)
    if _close(s, e, ctx.loose):
        return Pattern(
            "not_summed_over_batch",
            f"{n} is not summed over the batch: you returned one row per sample, shape {_shape(a)}; the "
            f"gradient is their sum over the {t} samples, shape {_shape(e)} (.sum(0)).",
        )
    if _close(s / t, e, ctx.loose):
        return Pattern(
            "not_averaged_over_batch",
            f"{n} is not averaged over the batch: you returned one row per sample, shape {_shape(a)}; the "
            f"result is their mean over the {t} samples, shape {_shape(e)} (.mean(0)).",
            1.0 / t,
        )
    fac = _match_factor(ctx, s, e, allow_any=True)
    if fac is not None:
        return Pattern(
            "not_summed_over_batch",
            f"{n} is not summed over the batch (shape {_shape(a)} instead of {_shape(e)}), and its sum "
            f"over the {t} samples is also off by a factor of {fac[1]}.",
            fac[0],
        )
    return None


def _find_reduced(ctx: _Ctx) -> Pattern | None:
    """``actual`` has one leading axis less than ``expected``: reduced where per-sample was needed."""
    a, e, n = ctx.a, ctx.e, ctx.name
    if e.dim() != a.dim() + 1 or e.shape[1:] != a.shape or e.shape[0] < 2:
        return None
    t = e.shape[0]
    if _close(a, e.sum(0), ctx.loose):
        how, fn = "summed", "sum"
    elif _close(a, e.mean(0), ctx.loose):
        how, fn = "averaged", "mean"
    else:
        return None
    return Pattern(
        f"{how}_over_batch",
        f"{n} was {how} over the batch: shape {_shape(a)} is the {fn} over the {t} samples, but one row "
        f"per sample is expected, shape {_shape(e)}.",
    )


def _find_rows(ctx: _Ctx) -> Pattern | None:
    """Right for some rows (or columns) only: a term missing for part of the tensor."""
    a, e = ctx.a, ctx.e
    if a.shape != e.shape or e.dim() < 2 or e.shape[0] < 2 or e[0].numel() < 2:
        return None
    wrong = _wrong_mask(a, e, ctx.tol)
    for axis, word in ((0, "row"), (1, "column")):
        if e.shape[axis] < 2:
            continue
        per = wrong.movedim(axis, 0).reshape(e.shape[axis], -1)
        bad = per.any(1)
        nbad, total = int(bad.sum()), int(per.shape[0])
        if nbad == 0 or nbad == total:
            continue
        # the wrong lines must be wrong through and through, not a stray entry in each
        if bool((per[bad].float().mean(1) >= 0.5).all()):
            return _rows_pattern(ctx, word, bad)
    return None


def _rows_pattern(ctx: _Ctx, word: str, bad: torch.Tensor) -> Pattern:
    nbad, total = int(bad.sum()), bad.numel()
    bad_idx = bad.nonzero().flatten().tolist()
    good_idx = (~bad).nonzero().flatten().tolist()
    if len(good_idx) < len(bad_idx):
        lines = _plural(len(good_idx), word, word + "s")
        only = f"only {lines} {_index_list(good_idx)} {_are(good_idx)} right"
        text = f"{ctx.name} is right for some {word}s only: {only} ({nbad} of {total} {word}s are wrong)."
    else:
        text = (
            f"{ctx.name} is right for some {word}s only: {_plural(nbad, word, word + 's')} "
            f"{_index_list(bad_idx)} {_are(bad_idx)} wrong ({nbad} of {total}), the others are right."
        )
    return Pattern(f"some_{word}s_wrong", text + " A term or a sample is missing for those.")


def _find_entries(ctx: _Ctx) -> Pattern | None:
    """A few wrong entries: an index off by one, a boundary case, a single term forgotten."""
    a, e = ctx.a, ctx.e
    if a.shape != e.shape or e.numel() < 2:
        return None
    wrong = _wrong_mask(a, e, ctx.tol)
    n, total = int(wrong.sum()), e.numel()
    if n == 0 or n > _FEW_ENTRIES * total:
        return None
    where = _list_indices(wrong, e.shape, a, e)
    return Pattern(
        "some_entries_wrong",
        f"{ctx.name} is right except for {n} of {total} {_plural(total, 'entry', 'entries')}: {where}. "
        "Look for an index off by one or a boundary case.",
    )


_FINDERS: tuple[Callable[[_Ctx], Pattern | None], ...] = (
    _find_missing,
    _find_non_finite,
    _find_zero,
    _find_rearranged,
    _find_batch,
    _find_reduced,
    _find_rows,
    _find_entries,
)


# --------------------------------------------------------------------------------------------------
# wording helpers
# --------------------------------------------------------------------------------------------------
def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _are(idx: list[int]) -> str:
    return "is" if len(idx) == 1 else "are"


def _index_list(idx: list[int]) -> str:
    shown = ", ".join(str(i) for i in idx[:_MAX_LISTED])
    return shown + (", …" if len(idx) > _MAX_LISTED else "")


def _fmt_index(flat: int, shape: torch.Size) -> str:
    if len(shape) == 0:
        return "()"
    idx = []
    for size in reversed(shape):
        idx.append(flat % size)
        flat //= size
    inner = ", ".join(str(i) for i in reversed(idx))
    return f"[{inner}]"


def _list_indices(
    mask: torch.Tensor, shape: torch.Size, a: torch.Tensor | None = None, e: torch.Tensor | None = None
) -> str:
    flat = mask.reshape(-1).nonzero().flatten().tolist()
    parts = []
    for i in flat[:_MAX_LISTED]:
        where = _fmt_index(i, shape)
        if a is not None and e is not None:
            where += f" = {a.reshape(-1)[i].item():.4g} instead of {e.reshape(-1)[i].item():.4g}"
        parts.append(where)
    if len(flat) > _MAX_LISTED:
        parts.append(f"and {len(flat) - _MAX_LISTED} more")
    return "at " + ", ".join(parts)
