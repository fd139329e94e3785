"""The check library: what an exercise's ``checks.py`` is written against.

A check is a function ``(ctx: CheckContext) -> None`` decorated with ``@check("id")``. It passes when it
returns. A failed expectation raises :class:`CheckFailed`; an error in student code raises
:class:`grader.errors.StudentError`. The runner (grader.grading) turns both into a ``CheckResult``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NoReturn

import torch

from grader.compare import Mismatch, compare_tree, describe
from grader.diagnosis import Diagnosis, confirms_variant
from grader.errors import GraderFault, StudentError
from grader.format import fmt_shape, num
from grader.kit.fixtures import NotRecorded
from grader.mistakes import Mistake, MistakeBook
from grader.results import Attachment, Comparison
from grader.tolerances import Tolerance, tolerance
from grader.trusted import TrustedFunction, trusted  # noqa: F401  (re-exported for checks)

CheckFn = Callable[["CheckContext"], None]
DEFAULT_DTYPES: tuple[torch.dtype, ...] = (torch.float64, torch.float32)
# A variant is compared with the submission at this multiple of the check's tolerance: both went through
# different roundings (the variant in float64 or in the inputs' dtype, the student in their own order).
MATCH_SLACK = 10.0
# The policy for inputs changed in place (docs/AUTHORING.md): one check of each exercise, with this id,
# charges it, with this one hint; every other check compares the values and notes the edit.
INPUTS_CHECK = "inputs_unchanged"
INPLACE_HINT = ("Work on a new tensor (x = x - m, not x -= m; or x.clone() first) instead of changing the "
                "argument in place: the caller's tensors are not yours to modify.")


def check(id: str) -> Callable[[CheckFn], CheckFn]:
    """Mark a function as the check ``id`` of the exercise's spec."""

    def mark(fn: CheckFn) -> CheckFn:
        fn.__check_id__ = id  # type: ignore[attr-defined]
        return fn

    return mark


def collect_checks(module: ModuleType) -> dict[str, CheckFn]:
    """The ``@check`` functions of a checks module, by id."""
    found: dict[str, CheckFn] = {}
    for value in vars(module).values():
        cid = getattr(value, "__check_id__", None)
        if cid is not None and callable(value):
            if cid in found:
                raise ValueError(f"{module.__name__}: two checks with id {cid!r}")
            found[cid] = value
    return found


@dataclass
class CheckFailed(Exception):
    """A failed expectation: what failed (one line), the numbers, the likely mistake (or advice), and
    typed attachments for reporters."""

    message: str
    details: str = ""
    diagnosis: Diagnosis | None = None
    hint: str = ""
    attachments: tuple[Attachment, ...] = ()

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Modification:
    """An input the student's function changed in place."""

    function: str
    argument: str


class StudentAPI:
    """Calls into the student's module. The grading runner provides the transport (the sandbox)."""

    def __init__(self, call: Callable[[str, tuple, dict], tuple[Any, list[Modification]]]) -> None:
        self._call = call
        self.modifications: list[Modification] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            value, modified = self._call(name, args, kwargs)
            self.modifications.extend(modified)
            return value

        call.__name__ = name
        return call


class CheckContext:
    """Everything a check needs: the student, the reference, the mistakes, seeded randomness."""

    def __init__(
        self,
        *,
        check_id: str,
        student: StudentAPI,
        reference: ModuleType | Any,  # a module, or a kit's recording or replaying API (grader.kit)
        mistakes: MistakeBook | Any | None = None,
        seed: int = 0,
        dtypes: tuple[torch.dtype, ...] = DEFAULT_DTYPES,
        device: str | torch.device = "cpu",
        parameters: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.check_id = check_id
        self.student = student
        # a kit's recorded reference (grader.kit.replay) answers for this check: it may fall back to the
        # student's own function (verified first) and note it on this check
        bind = getattr(reference, "bind_context", None)
        self.reference = bind(self) if callable(bind) else reference
        self.mistakes = mistakes
        self.seed = seed
        self.dtypes = dtypes
        self.device = torch.device(device)
        self._parameters = dict(parameters or {})
        self.notes: list[str] = []
        # Set while a kit's fixtures are recorded (grader.kit.record): every expectation also runs the
        # diagnosis paths (every variant on its inputs), so that a failure in the kit can be diagnosed.
        self.record_diagnosis = False
        # Seeded per check so adding a check does not change the data of the others.
        self.generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(check_id.encode()))

    # -- seeded data (generated on the CPU, so a seed gives the same numbers on every device) ----
    def randn(self, *shape: int, dtype: torch.dtype = torch.float64, scale: float = 1.0) -> torch.Tensor:
        x = torch.randn(*shape, generator=self.generator, dtype=torch.float64) * scale
        return x.to(device=self.device, dtype=dtype)

    def rand(self, *shape: int, low: float = 0.0, high: float = 1.0,
             dtype: torch.dtype = torch.float64) -> torch.Tensor:
        x = low + (high - low) * torch.rand(*shape, generator=self.generator, dtype=torch.float64)
        return x.to(device=self.device, dtype=dtype)

    def randint(self, low: int, high: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(low, high, shape, generator=self.generator).to(self.device)

    def tolerance(self, dtype: torch.dtype, scale: float = 1.0) -> Tolerance:
        return tolerance(dtype, self.device, scale)

    # -- expectations --------------------------------------------------------------------------
    def fail(self, message: str, *, details: str = "", diagnosis: Diagnosis | None = None, hint: str = "",
             attachments: tuple[Attachment, ...] = ()) -> NoReturn:
        raise CheckFailed(message, details, diagnosis, hint, attachments)

    def expect(self, condition: bool, message: str, **kw: Any) -> None:
        if not condition:
            self.fail(message, **kw)

    def parameter_names(self, fn: str) -> list[str] | None:
        """The parameter names of the student's ``fn`` as written in their file (None when unknown)."""
        names = self._parameters.get(fn)
        return list(names) if names is not None else None

    def note(self, text: str) -> None:
        """A line shown with the check's result even when it passes (verbose mode)."""
        self.notes.append(text)

    def expect_close(
        self,
        fn: str | Callable[..., Any],
        *args: Any,
        label: str | None = None,
        scale: float = 1.0,
        factors: Mapping[str, float] | None = None,
        truth: Any = None,
        within: Tolerance | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run ``fn`` on the student and compare with the right value for the same inputs.

        ``fn`` is an API function name or a pipeline ``(api, *args, **kwargs) -> value``. The right value
        is the reference's, run in float64 on the same inputs, unless ``truth`` gives it (a numerical
        derivative is compared with the analytic one, never with the reference's own finite difference).
        The student's result must have the inputs' dtype and device, the right shapes, and values within
        the dtype's tolerance (times ``scale``), or within ``within`` when the check knows a larger error
        is legitimate (a finite difference's truncation and round-off). ``factors`` names constants for
        the diagnosis (``{"T": 7}`` turns "off by 7" into "off by a factor of T").

        An input changed in place is not charged here (see :meth:`expect_inputs_unchanged`): the value is
        still compared, and the modification is noted.
        """
        name = label or (f"{fn}(…)" if isinstance(fn, str) else str(getattr(fn, "__name__", "result")))
        run = _as_pipeline(fn)
        self.student.modifications.clear()
        actual = run(self.student, *args, **kwargs)
        self._note_modifications()
        dtype = working_dtype(args, kwargs)
        if truth is None:
            args64, kwargs64 = to_float64((args, kwargs))
            expected = call_api(run, self.reference, args64, kwargs64)
        else:
            expected = truth
        tol = within or self.tolerance(dtype or torch.float64, scale)
        mismatch = compare_tree(name, actual, expected, tol=tol, dtype=dtype, device=self.device)
        # a variant is matched at the dtype's tolerance even when the verdict allowed more (``within``)
        match_tol = self.tolerance(dtype or torch.float64, scale).scaled(MATCH_SLACK)
        if mismatch is None:
            if self.record_diagnosis:
                self.match_mistake(run, args, kwargs, actual, expected, match_tol)
            return actual
        diagnosis = self.diagnose(run, args, kwargs, actual, expected, mismatch, tol, factors, match_tol=match_tol)
        details = mismatch.details
        if diagnosis is None:
            details = "\n".join(x for x in (details, measured_factor_line(mismatch, tol)) if x)
        raise CheckFailed(mismatch.message, details, diagnosis,
                          attachments=(Comparison(label=name, inputs=tuple(describe_inputs(args, kwargs))),))

    # -- inputs changed in place: charged once -----------------------------------------------------------
    def _note_modifications(self) -> None:
        for m in self.student.modifications:
            text = (f"{m.function} modified its input {m.argument} in place (charged once, by the check "
                    f"{INPUTS_CHECK}).")
            if text not in self.notes:
                self.notes.append(text)

    def expect_inputs_unchanged(self, calls: Sequence[tuple[str | Callable[..., Any], tuple]]) -> None:
        """The one place an in-place edit of an input costs marks (docs/AUTHORING.md, "Inputs changed in
        place"): every call of ``calls`` (an API function or a pipeline, and its arguments) must leave the
        caller's tensors as they were. Every other check compares values and only notes the edit."""
        for fn, args in calls:
            run = _as_pipeline(fn)
            self.student.modifications.clear()
            run(self.student, *args)
            if self.record_diagnosis:
                list(self._mistakes_modifying(run, args, {}))
            if self.student.modifications:
                self.fail_modified(run, args, {}, self.student.modifications[0])

    def fail_modified(self, run: Callable[..., Any], args: tuple, kwargs: dict, m: Modification) -> NoReturn:
        """The student changed an input in place: name the known mistake whose variant changes the same
        input on the same call, if any (observed, so confirmed), else the generic diagnosis."""
        diagnosis = next((v.diagnosis for v in self._mistakes_modifying(run, args, kwargs)),
                         input_modified(INPLACE_HINT))
        self.fail(f"{m.function} modified its input {m.argument} in place",
                  details="The caller's tensor had changed after the call: inputs belong to the caller.",
                  diagnosis=diagnosis, hint=INPLACE_HINT)

    def _mistakes_modifying(self, run: Callable[..., Any], args: tuple, kwargs: dict) -> Iterator[Mistake]:
        for m in self.mistakes or ():
            a, k = clone_tree(args), clone_tree(kwargs)
            try:
                with torch.no_grad():
                    call_api(run, self.mistakes.variant(m.id), a, k)  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - a variant that cannot run says nothing
                continue
            if _changed_tensors((a, k), (args, kwargs)):
                yield m

    def expect_gradients(
        self,
        loss: Callable[[dict[str, torch.Tensor]], torch.Tensor],
        params: Mapping[str, torch.Tensor],
        claimed: Any,
        *,
        gradients_of: Callable[[Any], Mapping[str, torch.Tensor]] | None = None,
        factors: Mapping[str, float] | None = None,
        label: str = "gradients",
    ) -> None:
        """Check claimed gradients against finite differences of ``loss`` (grader.gradcheck), and say
        which tensor, which entries and which mistake.

        ``loss`` is trusted (it runs here, in float64). ``gradients_of(api)`` computes the gradients with
        an API namespace: run on the reference it gives the true gradients (exact localisation), on each
        mistake's variant the known wrong answers the engine can name.
        """
        from grader.gradcheck import check_gradients

        if not isinstance(claimed, Mapping):
            self.fail(f"{label} should be a dict of tensors, got {describe(claimed)}")
        for name, p in params.items():
            g = claimed.get(name)
            if not isinstance(g, torch.Tensor) or g.shape != p.shape:
                self.fail(f"{label}[{name!r}] should be a tensor of shape {fmt_shape(p.shape)}, got {describe(g)}")
        true_grads, known = None, {}
        if gradients_of is not None:
            true_grads = call_api(gradients_of, self.reference, (), {})
            for m in self.mistakes or ():
                try:
                    with torch.no_grad():
                        known[m.id] = (m.name, m.hint,
                                       call_api(gradients_of, self.mistakes.variant(m.id), (), {}))  # type: ignore
                except Exception:  # noqa: BLE001 - a variant that cannot run here names nothing
                    continue
        escaped: list[Exception] = []

        def trusted_loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
            try:
                return loss(p)
            except (StudentError, NotRecorded) as e:  # a kit's loss may call the student's code (grader.kit)
                escaped.append(e)
                raise

        result = check_gradients(trusted_loss, dict(params), {k: claimed[k] for k in params}, true_grads=true_grads,
                                 mistakes=known or None, factors=factors, seed=self.seed)
        if escaped:  # the finite differences did not run on the loss: say why, not "f raised"
            raise escaped[0]
        if result.status == "inconclusive":  # finite differences could not decide: not a pass, not the student's
            raise GraderFault(f"{label}: the gradient check could not decide ({result.message})", retryable=False)
        if not result.passed:
            cr = result.to_check_result(self.check_id, label)
            raise CheckFailed(f"{label}: {result.message}", cr.details, cr.diagnosis, attachments=cr.attachments)

    # -- diagnosis -------------------------------------------------------------------------------
    def diagnose(self, run: Callable[..., Any], args: tuple, kwargs: dict, actual: Any, expected: Any,
                 mismatch: Mismatch, tol: Tolerance,
                 factors: Mapping[str, float] | None = None, *,
                 match_tol: Tolerance | None = None) -> Diagnosis | None:
        """Name the likely mistake: first the exercise's known mistakes (matched at ``match_tol``, by default
        ``tol`` widened by ``MATCH_SLACK``), then generic patterns (at ``tol``)."""
        known = self.match_mistake(run, args, kwargs, actual, expected, match_tol or tol.scaled(MATCH_SLACK))
        if known is not None:
            return known
        return pattern_diagnosis(mismatch, factors, tol)

    def match_mistake(self, run: Callable[..., Any], args: tuple, kwargs: dict, actual: Any,
                      expected: Any, tol: Tolerance) -> Diagnosis | None:
        """The first mistake whose variant the student's value confirms on these inputs
        (grader.diagnosis.confirms_variant: agreement where the variant differs from ``expected``, on
        finite entries; non-finite entries count only for a mistake declared ``nonfinite``).

        Each variant runs in float64 and, if the inputs are not float64, in their own dtype too: some
        mistakes (overflow, lost precision) only show in float32. ``tol`` is the comparison's tolerance,
        already widened for the extra rounding of a variant (``MATCH_SLACK``).
        """
        if self.mistakes is None:
            return None
        inputs = [to_float64((args, kwargs))]
        if working_dtype(args, kwargs) not in (None, torch.float64):
            inputs.append((args, kwargs))
        for m in self.mistakes:
            for a, k in inputs:
                try:
                    with torch.no_grad():
                        guess = call_api(run, self.mistakes.variant(m.id), clone_tree(a), clone_tree(k))
                except Exception:  # noqa: BLE001 - a variant that cannot run on these inputs says nothing
                    continue
                if confirms_tree(actual, expected, guess, tol, nonfinite=m.nonfinite):
                    return m.diagnosis
        return None


def confirms_tree(actual: Any, expected: Any, variant: Any, tol: Tolerance, *, nonfinite: bool = False) -> bool:
    """:func:`grader.diagnosis.confirms_variant` for structured values (tensors, numbers, tuples, dicts).

    The submission must have the variant's structure (keys, lengths, shapes). When the variant's structure
    differs from the reference's (a missing key, a row instead of a vector), that difference is the
    evidence, and the submission must agree with the variant on its finite entries.
    """
    fa, fe, fv = flatten(actual), flatten(expected), flatten(variant)
    if fa is None or fe is None or fv is None or fa[0] != fv[0]:
        return False
    if fe[0] == fv[0]:
        return confirms_variant(fa[1], fe[1], fv[1], tol, nonfinite=nonfinite)
    if fv[1].numel() == 0:
        return True  # the variant differs only in structure (a missing value), and the submission shares it
    # the variant differs everywhere: a reference of NaNs makes every finite entry of it evidence
    return confirms_variant(fa[1], torch.full_like(fv[1], math.nan), fv[1], tol, nonfinite=nonfinite)


def flatten(tree: Any) -> tuple[Any, torch.Tensor] | None:
    """``(structure, values)``: the nesting, keys and shapes of ``tree``, and all its numbers as one float64
    vector; None for anything that is not numbers (a string, an opaque object, a complex tensor)."""
    leaves: list[torch.Tensor] = []

    def walk(t: Any) -> Any:
        if isinstance(t, torch.Tensor):
            if t.is_complex():
                raise TypeError
            leaves.append(t.detach().to("cpu", torch.float64).reshape(-1))
            return ("tensor", tuple(t.shape))
        if isinstance(t, bool | int | float):
            leaves.append(torch.tensor([float(t)], dtype=torch.float64))
            return ("number",)
        if isinstance(t, Mapping):
            return ("dict", tuple((str(k), walk(t[k])) for k in sorted(t, key=str)))
        if isinstance(t, tuple | list):
            return ("sequence", tuple(walk(v) for v in t))
        if t is None:
            return ("none",)
        raise TypeError

    try:
        structure = walk(tree)
    except TypeError:
        return None
    values = torch.cat(leaves) if leaves else torch.zeros(0, dtype=torch.float64)
    return structure, values


def _tensor_leaves(tree: Any) -> list[torch.Tensor]:
    """Every tensor of a tree, those bound in a trusted function included."""
    out: list[torch.Tensor] = []
    map_tree(lambda x: out.append(x) if isinstance(x, torch.Tensor) else None, tree)
    return out


def _changed_tensors(after: Any, before: Any) -> bool:
    """True when a tensor of ``after`` (a copy handed to a variant) no longer equals its original."""
    a, b = _tensor_leaves(after), _tensor_leaves(before)
    if len(a) != len(b):
        return True
    for x, y in zip(a, b, strict=True):
        if x.shape != y.shape or x.dtype != y.dtype:
            return True
        if x.is_floating_point() and not bool(((x == y) | (x.isnan() & y.isnan())).all()):
            return True
        if not x.is_floating_point() and not torch.equal(x, y):
            return True
    return False


def input_modified(hint: str) -> Diagnosis:
    """The generic diagnosis of an input changed in place (observed, so always confirmed)."""
    return Diagnosis("input_modified", "input changed in place", hint, "pattern")


def pattern_diagnosis(mismatch: Mismatch, factors: Mapping[str, float] | None,
                      tol: Tolerance) -> Diagnosis | None:
    """Generic patterns (grader.patterns) for one mismatching tensor."""
    if not isinstance(mismatch.actual, torch.Tensor) or not isinstance(mismatch.expected, torch.Tensor):
        return None
    from grader.patterns import name_pattern

    return name_pattern(mismatch.actual, mismatch.expected, name=mismatch.label, tol=tol, factors=factors,
                        any_factor=False)


def measured_factor_line(mismatch: Mismatch, tol: Tolerance) -> str:
    """"Yours is 0.5275 × the expected value in every entry.": a constant factor that is no recognisable
    mistake is a measurement for the details, not a diagnosis."""
    if not isinstance(mismatch.actual, torch.Tensor) or not isinstance(mismatch.expected, torch.Tensor):
        return ""
    from grader.patterns import measured_factor

    c = measured_factor(mismatch.actual, mismatch.expected, tol)
    return "" if c is None else f"Yours is {num(c)} × the expected value, in every entry."


# -- helpers ----------------------------------------------------------------------------------------
def _as_pipeline(fn: str | Callable[..., Any]) -> Callable[..., Any]:
    if isinstance(fn, str):
        run = lambda api, *a, **k: getattr(api, fn)(*a, **k)  # noqa: E731
        run.__api_function__ = fn  # type: ignore[attr-defined]  # named in a kit's fixtures (grader.kit)
        return run
    return fn


def call_api(run: Callable[..., Any], api: Any, args: tuple, kwargs: dict) -> Any:
    """``run(api, *args, **kwargs)``: a pipeline on the reference or a mistake's variant. A kit's recording or
    replaying API (grader.kit) takes the whole pipeline as one call, so that a pipeline that needs the real
    code (autograd through the reference's forward) is answered from the record."""
    hook = getattr(api, "__pipeline__", None)
    if hook is not None:
        return hook(run, tuple(args), dict(kwargs))
    return run(api, *args, **kwargs)


def working_dtype(*trees: Any) -> torch.dtype | None:
    """The floating dtype of the first floating tensor among the inputs: results must have it."""
    for leaf in iter_leaves(trees):
        if isinstance(leaf, torch.Tensor) and leaf.is_floating_point():
            return leaf.dtype
    return None


def iter_leaves(tree: Any):
    if isinstance(tree, Mapping):
        for v in tree.values():
            yield from iter_leaves(v)
    elif isinstance(tree, tuple | list):
        for v in tree:
            yield from iter_leaves(v)
    else:
        yield tree


def map_tree(fn: Callable[[Any], Any], tree: Any) -> Any:
    if isinstance(tree, TrustedFunction):
        return TrustedFunction(tree.module, tree.name, map_tree(fn, tree.kwargs))
    if isinstance(tree, Mapping):
        return {k: map_tree(fn, v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(map_tree(fn, v) for v in tree)
    if isinstance(tree, list):
        return [map_tree(fn, v) for v in tree]
    return fn(tree)


def to_float64(tree: Any) -> Any:
    return map_tree(lambda x: x.to(torch.float64) if isinstance(x, torch.Tensor) and x.is_floating_point()
                    else x, tree)


def clone_tree(tree: Any) -> Any:
    return map_tree(lambda x: x.clone() if isinstance(x, torch.Tensor) else x, tree)


def describe_inputs(args: tuple, kwargs: dict) -> list[str]:
    out = [describe(a) for a in args]
    out += [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return out
