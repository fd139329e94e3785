"""Name the kind of mistake behind a wrong tensor: "what did the student do?".

:func:`name_pattern` compares a claimed tensor with the true one and, when they differ in a
recognisable way, returns a :class:`grader.diagnosis.Diagnosis` (``source="pattern"``): a machine id
(``"transposed"``, ``"scaled"``...), a hint for the student that names the tensor, and the constant factor
when there is one. It knows nothing
about exercises; exercise-specific mistakes live in each exercise's ``mistakes.py`` and are tried
first by the checks.

Why these patterns: they are the mistakes students make when they derive a gradient by hand (a
transposed or reshaped matrix, a missing ``2`` or ``1/T``, a sign, a bias not summed over the batch,
a forgotten term that leaves whole rows wrong, rows written in each other's places, an off-by-one that breaks a
few entries).

Rules, so that a correct answer is never "diagnosed":

* comparisons run in float64, with the tolerance of the claimed tensor's own dtype
  (:func:`grader.tolerances.tolerance`, the one table) unless ``tol`` is given;
* when ``actual`` is close to ``expected`` (same shape, within ``tol``) the answer is always ``None``;
* a transformation is accepted only if the transformed expected value matches ``actual`` entry by
  entry within the tolerance (a little widened: the claim went through one more rounding);
* a localised diagnosis ("right except for k entries", "right for some rows only", "rows i and j swapped")
  needs the located entries to be grossly wrong and all the others right: a value slightly off everywhere
  (a finite difference with another step, float32 round-off, gradients whose small entries underflowed to
  0) is not a localised mistake, and gets no diagnosis; "swapped" also needs every wrong row (or column) to
  hold, within the tolerance, what another wrong one should, each used once;
* NaN, Inf, empty, 0-dim, integer and boolean tensors never raise.

The rearrangements a wrong answer is tested for (transposed, reshaped, not reduced over the batch) are
listed once, in :func:`rearrangements`; the gradient engine uses the same list.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import torch

from grader import format as fmt
from grader.compare import unravel
from grader.diagnosis import Diagnosis, fit_factor
from grader.tolerances import Tolerance, tolerance

__all__ = ["Pattern", "name_pattern", "describe_factor", "measured_factor", "rearrangements"]

# A transformed expected value is compared with this much more room than the plain tolerance: the
# student's wrong value went through one more rounding than the reference (a product by T, a sum).
_SLACK = 4.0
# "A few wrong entries" means at most this fraction of the tensor.
_FEW_ENTRIES = 1 / 3
# A located entry is grossly wrong when it is off by this multiple of its tolerance or this fraction of its
# own value, and the located errors reach this fraction of the tensor's largest entry: a finite
# difference's step error (a few times the tolerance) or entries that underflowed to 0 (tiny next to the
# others) are not (see _located).
_GROSS_TOL = 1e3
_GROSS_REL = 0.1
_GROSS_SCALE = 1e-4

# What the finders return: the one diagnosis type (the old name stays for the engines that import it).
Pattern = Diagnosis


def _pattern(id: str, hint: str, factor: float | None = None) -> Diagnosis:
    return Diagnosis(id, "", hint, "pattern", factor)


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
    any_factor: bool = True,
) -> Diagnosis | None:
    """The mistake that turns ``expected`` into ``actual``, or None if none is recognised.

    ``name`` is how the hint names the tensor (``"dW3"``). ``factors`` names the sizes of the problem
    a constant factor may come from, e.g. ``{"T": 7, "N": 5}``: a claim 7 times too large is then
    reported as "a factor of T = 7" (a sum over T where a mean was needed). ``any_factor=False`` names
    only the recognisable factors (2, 1/2, −1, T, 1/T…): an arbitrary one such as 0.53 is often a
    coincidence (a wrong scalar shared by a rank-one gradient) and is then left to
    :func:`measured_factor`, a measurement rather than a diagnosis.
    """
    try:
        a, e, tol = _prepare(actual, expected, tol)
    except (TypeError, ValueError, RuntimeError):
        return None
    if a is None or e is None:
        return None
    ctx = _Ctx(a, e, tol, name, dict(factors or {}), any_factor)
    if a.shape == e.shape and _close(a, e, tol, equal_nan=True):
        return None
    for finder in _FINDERS:
        found = finder(ctx)
        if found is not None:
            return found
    return None


def rearrangements(claim: torch.Tensor, shape: Sequence[int]) -> Iterator[tuple[str, torch.Tensor]]:
    """The ways a claim may be the right value rearranged, as ``(pattern id, claim mapped back to shape)``.

    Each yields what the right value would be if the claim were it transposed, reshaped instead of
    transposed, reshaped, or not reduced over a leading batch axis. ``"identity"`` comes first when the
    shapes agree. Value checks compare each with the right value (up to a constant factor); the gradient
    engine tests each against finite-difference measurements.
    """
    a, shape = claim, torch.Size(shape)
    if a.shape == shape:
        yield "identity", a
        if a.dim() >= 2 and a.shape[-1] == a.shape[-2] and a.shape[-1] > 1:
            yield "transposed", a.transpose(-1, -2)
        if a.dim() == 2 and a.shape[0] != a.shape[1] and min(a.shape) > 1:
            yield "reshaped_not_transposed", a.reshape(a.shape[1], a.shape[0]).T  # claim = truth.T reshaped
        return
    if a.dim() == 2 and len(shape) == 2 and a.shape == torch.Size(reversed(shape)):
        yield "transposed", a.T
        yield "reshaped_not_transposed", a.reshape(shape)  # claim = truth reshaped to the transpose's shape
        return
    if a.dim() >= 2 and len(shape) == a.dim() and a.transpose(-1, -2).shape == shape:
        yield "transposed", a.transpose(-1, -2)
    if a.dim() == len(shape) + 1 and a.shape[1:] == shape and a.shape[0] > 0:
        yield "not_summed_over_batch", a.sum(0)
        yield "not_averaged_over_batch", a.mean(0)
    if a.numel() == math.prod(shape) and a.numel() > 0:
        yield "reshaped", a.reshape(shape)


_BATCH = ("not_summed_over_batch", "not_averaged_over_batch")


def measured_factor(actual: torch.Tensor, expected: torch.Tensor, tol: Tolerance | None = None) -> float | None:
    """The constant c with actual ≈ c·expected entry by entry (same shape, finite, at least two nonzero
    entries, c ≠ 1), or None."""
    try:
        a, e, tol = _prepare(actual, expected, tol)
    except (TypeError, ValueError, RuntimeError):
        return None
    if a is None or e is None or a.shape != e.shape or a.numel() == 0 or not bool(torch.isfinite(a).all()):
        return None
    found = _match_factor(_Ctx(a, e, tol, "", {}), a, e, allow_any=True)
    return None if found is None else found[0]


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
    any_factor: bool = True

    @property
    def loose(self) -> Tolerance:
        return self.tol.scaled(_SLACK)

    @cached_property
    def located(self) -> torch.Tensor | None:
        """:func:`_located`, computed once for the finders that need it."""
        return _located(self)


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


def _match_factor(ctx: _Ctx, a: torch.Tensor, e: torch.Tensor, *, allow_any: bool) -> tuple[float, str] | None:
    """``(factor, words)`` if ``a`` is a constant multiple of ``e`` other than 1 (and 0)."""
    if a.shape != e.shape or a.numel() == 0 or not bool(torch.isfinite(a).all()):
        return None
    c = fit_factor(a, e)
    if c is None or not math.isfinite(c):
        return None
    nice = describe_factor(c, ctx.factors)
    if nice is not None and _close(a, nice[0] * e, ctx.loose):
        return nice
    if not (allow_any and ctx.any_factor) or math.isclose(c, 1.0, rel_tol=10 * ctx.tol.rtol) or abs(c) < 1e-12:
        return None
    # an arbitrary constant needs two independent nonzero entries, otherwise any claim "fits"
    if int((e.abs() > ctx.tol.atol).sum()) < 2 or not _close(a, c * e, ctx.loose):
        return None
    words = f"{c:.4g}"
    return c, (words if words not in ("1", "-1") else f"{c:.8g}")


# --------------------------------------------------------------------------------------------------
# finders: each returns a Pattern or None; tried in order
# --------------------------------------------------------------------------------------------------
def _find_missing(ctx: _Ctx) -> Diagnosis | None:
    if ctx.a.numel() == 0 and ctx.e.numel() > 0:
        return _pattern(
            "missing",
            f"{ctx.name} is empty (shape {_shape(ctx.a)}); it should have shape {_shape(ctx.e)}: "
            "nothing was computed or it was sliced away.",
        )
    return None


def _find_non_finite(ctx: _Ctx) -> Diagnosis | None:
    if not bool(torch.isfinite(ctx.e).all()):
        return None  # the truth itself is not finite: nothing sensible to say
    bad = ~torch.isfinite(ctx.a)
    n = int(bad.sum())
    if n == 0:
        return None
    where = _list_indices(bad, ctx.a.shape)
    return _pattern(
        "not_finite",
        f"{ctx.name} has {fmt.plural(n, 'NaN or infinite entry', 'NaN or infinite entries')} ({where}) where "
        "the correct "
        "values are finite: look for an overflow in exp, a log of 0 or a division by 0.",
    )


def _find_zero(ctx: _Ctx) -> Diagnosis | None:
    if ctx.a.numel() == 0 or not bool((ctx.a.abs() <= ctx.tol.atol).all()):
        return None
    if bool((ctx.e.abs() <= ctx.tol.atol).all()):
        return None
    if ctx.a.shape != ctx.e.shape:
        return _pattern(
            "zero",
            f"{ctx.name} is all zeros and has shape {_shape(ctx.a)} instead of {_shape(ctx.e)}: "
            "it was never computed (a placeholder left in, or the result not returned).",
        )
    return _pattern(
        "zero",
        f"{ctx.name} is all zeros but the correct value is not: it was never computed or never "
        "accumulated (a placeholder left in, an update to a copy, or a missing term).",
    )


def _find_rearranged(ctx: _Ctx) -> Diagnosis | None:
    """Transposed / reshaped / constant factor, and combinations of a rearrangement with a factor."""
    a, e = ctx.a, ctx.e
    views = [(view_id, r) for view_id, r in rearrangements(a, e.shape) if view_id not in _BATCH]
    for view_id, r in views:  # exact rearrangements first: "transposed" beats "transposed ×(−1)"
        if view_id != "identity" and _close(r, e, ctx.loose):
            return _rearranged_pattern(ctx, view_id, None)
    for view_id, r in views:
        fac = _match_factor(ctx, r, e, allow_any=True)
        if fac is not None:
            return _rearranged_pattern(ctx, view_id, fac)
    return None


def _rearranged_pattern(ctx: _Ctx, view_id: str, fac: tuple[float, str] | None) -> Diagnosis:
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
        return _pattern(view_id, text)
    return _pattern(view_id, f"{text} It is also off by a factor of {fac[1]}.", fac[0])


def _factor_pattern(ctx: _Ctx, c: float, words: str) -> Diagnosis:
    n = ctx.name
    if c == -1.0:
        return _pattern(
            "sign_flipped",
            f"{n} has the wrong sign: it is −1 × the correct value. Check the sign of a difference "
            "(out − Y versus Y − out) or a minus sign lost in the chain rule.",
            -1.0,
        )
    for key, raw in ctx.factors.items():
        k = float(raw)
        if k != 0 and abs(k) != 1 and c == k:
            return _pattern(
                "summed_not_averaged",
                f"{n} is {key} = {_num(k)} times too large: a sum over {key} where the mean is needed "
                f"(divide by {key}).",
                c,
            )
        if k != 0 and abs(k) != 1 and c == 1 / k:
            return _pattern(
                "averaged_not_summed",
                f"{n} is off by a factor of 1/{key} = 1/{_num(k)}: a mean over {key} where the sum is "
                f"needed, or a 1/{key} applied twice.",
                c,
            )
    return _pattern(
        "scaled",
        f"{n} is off by a factor of {words}: it equals {words} × the correct value, so a constant is "
        "missing or extra (a 2 from a square, a 1/T from a mean).",
        c,
    )


def _find_batch(ctx: _Ctx) -> Diagnosis | None:
    """``actual`` has one more leading axis than ``expected``: per-sample values not reduced."""
    a, e, n = ctx.a, ctx.e, ctx.name
    if a.dim() != e.dim() + 1 or a.shape[1:] != e.shape or a.shape[0] < 1:
        return None
    t = a.shape[0]
    s = dict(rearrangements(a, e.shape))["not_summed_over_batch"]
    if _close(s, e, ctx.loose):
        return _pattern(
            "not_summed_over_batch",
            f"{n} is not summed over the batch: you returned one row per sample, shape {_shape(a)}; the "
            f"gradient is their sum over the {t} samples, shape {_shape(e)} (.sum(0)).",
        )
    if _close(s / t, e, ctx.loose):
        return _pattern(
            "not_averaged_over_batch",
            f"{n} is not averaged over the batch: you returned one row per sample, shape {_shape(a)}; the "
            f"result is their mean over the {t} samples, shape {_shape(e)} (.mean(0)).",
            1.0 / t,
        )
    fac = _match_factor(ctx, s, e, allow_any=True)
    if fac is not None:
        return _pattern(
            "not_summed_over_batch",
            f"{n} is not summed over the batch (shape {_shape(a)} instead of {_shape(e)}), and its sum "
            f"over the {t} samples is also off by a factor of {fac[1]}.",
            fac[0],
        )
    return None


def _find_reduced(ctx: _Ctx) -> Diagnosis | None:
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
    return _pattern(
        f"{how}_over_batch",
        f"{n} was {how} over the batch: shape {_shape(a)} is the {fn} over the {t} samples, but one row "
        f"per sample is expected, shape {_shape(e)}.",
    )


def _located(ctx: _Ctx) -> torch.Tensor | None:
    """The wrong entries, when each is grossly wrong and every other entry is right; else None.

    Grossly wrong: off by ``_GROSS_TOL`` times its tolerance, or by ``_GROSS_REL`` of its own value; and
    the largest of these errors is at least ``_GROSS_SCALE`` of the tensor's largest entry. So a value
    slightly off everywhere (a few entries past the tolerance) and entries that underflowed to 0 (tiny
    next to the others) are not localised mistakes.
    """
    a, e, tol = ctx.a, ctx.e, ctx.tol
    if a.shape != e.shape or e.numel() < 2:
        return None
    wrong = _wrong_mask(a, e, tol)
    if not bool(wrong.any()):
        return None
    finite_e = e[torch.isfinite(e)]
    scale = float(finite_e.abs().max()) if finite_e.numel() else 0.0
    diff = torch.nan_to_num((a - e).abs(), nan=math.inf)
    size = torch.nan_to_num(e.abs(), nan=0.0, posinf=0.0)
    gross = (diff >= _GROSS_TOL * (tol.atol + tol.rtol * size)) | (diff >= _GROSS_REL * size)
    if not bool(gross[wrong].all()) or float(diff[wrong].max()) < _GROSS_SCALE * scale:
        return None
    return wrong


def _find_swapped(ctx: _Ctx) -> Diagnosis | None:
    """Whole rows (or columns) in the wrong places: every wrong line holds, within tolerance, what another wrong line
    should, each used once (an index mix-up, ``W[[i, j]]`` written where ``W[[j, i]]`` was meant)."""
    a, e = ctx.a, ctx.e
    if a.shape != e.shape or e.dim() < 2:
        return None
    wrong = ctx.located
    if wrong is None:
        return None
    for axis, word in ((0, "row"), (1, "column")):
        per = wrong.movedim(axis, 0).reshape(e.shape[axis], -1)
        bad = per.any(1).nonzero().flatten().tolist()
        if not 2 <= len(bad) <= _MAX_SWAPPED:
            continue
        la, le = a.movedim(axis, 0), e.movedim(axis, 0)
        holds = _permutation({i: [j for j in bad if j != i and _close(la[i], le[j], ctx.loose)] for i in bad})
        if holds is not None:
            return _swapped_pattern(ctx, word, holds)
    return None


_MAX_SWAPPED = 8  # more wrong lines than this are not searched for a permutation


def _permutation(options: dict[int, list[int]]) -> dict[int, int] | None:
    """One assignment ``i -> options[i]`` using every target once, or None (a small backtracking search)."""
    order = sorted(options, key=lambda i: len(options[i]))
    out: dict[int, int] = {}

    def place(k: int) -> bool:
        if k == len(order):
            return True
        i = order[k]
        for j in options[i]:
            if j not in out.values():
                out[i] = j
                if place(k + 1):
                    return True
                del out[i]
        return False

    return dict(sorted(out.items())) if place(0) else None


def _swapped_pattern(ctx: _Ctx, word: str, holds: dict[int, int]) -> Diagnosis:
    idx = list(holds)
    if len(idx) == 2:
        i, j = idx
        text = (f"{ctx.name} has {word}s {i} and {j} swapped: {word} {i} holds what {word} {j} should, and "
                f"{word} {j} what {word} {i} should; the others are right.")
    else:
        pairs = fmt.listing(f"{word} {i} holds {word} {j}'s" for i, j in holds.items())
        where = fmt.listing(map(str, idx))
        text = f"{ctx.name} has {word}s {where} in the wrong places: {pairs}; the others are right."
    return _pattern(f"{word}s_swapped", text + " Look for an index mix-up.")


def _find_rows(ctx: _Ctx) -> Diagnosis | None:
    """Right for some rows (or columns) only: a term missing for part of the tensor."""
    a, e = ctx.a, ctx.e
    if a.shape != e.shape or e.dim() < 2 or e.shape[0] < 2 or e[0].numel() < 2:
        return None
    wrong = ctx.located
    if wrong is None:
        return None
    for axis, word in ((0, "row"), (1, "column")):
        if e.shape[axis] < 2:
            continue
        per = wrong.movedim(axis, 0).reshape(e.shape[axis], -1)
        bad = per.any(1)
        nbad, total = int(bad.sum()), int(per.shape[0])
        if nbad == 0 or nbad == total:
            continue
        # the wrong lines must be wrong through and through: more than half of each, and at least two entries
        # (one wrong entry in a row of two is a wrong entry, not a wrong row)
        lines = per[bad]
        if bool(((lines.float().mean(1) > 0.5) & (lines.sum(1) >= 2)).all()):
            return _rows_pattern(ctx, word, bad)
    return None


def _rows_pattern(ctx: _Ctx, word: str, bad: torch.Tensor) -> Diagnosis:
    nbad, total = int(bad.sum()), bad.numel()
    bad_idx = bad.nonzero().flatten().tolist()
    good_idx = (~bad).nonzero().flatten().tolist()
    if len(good_idx) < len(bad_idx):
        lines = word if len(good_idx) == 1 else word + "s"
        only = f"only {lines} {fmt.listing(map(str, good_idx))} {_are(good_idx)} right"
        text = f"{ctx.name} is right for some {word}s only: {only} ({nbad} of {total} {word}s are wrong)."
    else:
        lines = word if nbad == 1 else word + "s"
        text = (
            f"{ctx.name} is right for some {word}s only: {lines} "
            f"{fmt.listing(map(str, bad_idx))} {_are(bad_idx)} wrong ({nbad} of {total}), the others are right."
        )
    return _pattern(f"some_{word}s_wrong", text + " A term or a sample is missing for those.")


def _find_entries(ctx: _Ctx) -> Diagnosis | None:
    """A few grossly wrong entries, all others right: an index off by one, a boundary case, a term
    forgotten."""
    wrong = ctx.located
    if wrong is None:
        return None
    n, total = int(wrong.sum()), ctx.e.numel()
    if n > _FEW_ENTRIES * total:
        return None
    where = _list_indices(wrong, ctx.e.shape, ctx.a, ctx.e)
    return _pattern(
        "some_entries_wrong",
        f"{ctx.name} is right except for {n} of {fmt.plural(total, 'entry', 'entries')}: {where}. "
        "Look for an index off by one or a boundary case.",
    )


_FINDERS: tuple[Callable[[_Ctx], Pattern | None], ...] = (
    _find_missing,
    _find_non_finite,
    _find_zero,
    _find_rearranged,
    _find_batch,
    _find_reduced,
    _find_swapped,
    _find_rows,
    _find_entries,
)


# --------------------------------------------------------------------------------------------------
# wording helpers
# --------------------------------------------------------------------------------------------------
def _shape(t: torch.Tensor) -> str:
    return fmt.fmt_shape(t.shape)


def _are(idx: list[int]) -> str:
    return "is" if len(idx) == 1 else "are"


def _list_indices(
    mask: torch.Tensor, shape: torch.Size, a: torch.Tensor | None = None, e: torch.Tensor | None = None
) -> str:
    flat = mask.reshape(-1).nonzero().flatten().tolist()
    parts = []
    for i in flat:
        where = fmt.fmt_index(unravel(i, shape))
        if a is not None and e is not None:
            where += f" = {fmt.num(a.reshape(-1)[i].item())} instead of {fmt.num(e.reshape(-1)[i].item())}"
        parts.append(where)
    return "at " + fmt.listing(parts)
