"""The one diagnosis model: what a named mistake is, and when the evidence is enough to name it.

Value checks, the gradient engine and the symbolic engine all produce a :class:`Diagnosis` and all decide
"does the submission make this known mistake?" with :func:`confirms_variant`. The rule, because a wrong
diagnosis is worse than none:

* a variant (a known mistake, or a generic pattern's transformation of the reference) is named only when
  it *differs* from the reference somewhere on these inputs, and the submission agrees with it within the
  tolerance everywhere the variant is finite, including where it differs;
* non-finite entries are evidence only for variants declared to produce them (``nonfinite=True``): a
  submission that is NaN where a mistake is also NaN has not been shown to make that mistake;
* a constant factor is fitted by :func:`fit_factor`, the one least-squares fit every engine uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from grader import format as fmt

if TYPE_CHECKING:
    import torch

    from grader.tolerances import Tolerance

Source = Literal["mistake", "pattern"]


@dataclass(frozen=True)
class Diagnosis:
    """A named likely mistake.

    ``id`` is machine-readable: a mistake id from the exercise's ``mistakes.py`` (``source="mistake"``) or a
    generic pattern id such as ``transposed`` (``source="pattern"``). ``name`` is a few words
    ("factor 2 missing"), ``hint`` what to fix. ``factor`` is the fitted constant, when there is one.
    """

    id: str
    name: str
    hint: str
    source: Source = "mistake"
    factor: float | None = None

    @property
    def sentence(self) -> str:
        return fmt.likely_mistake(self)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "hint": self.hint, "source": self.source, "factor": self.factor}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Diagnosis:
        return cls(str(d["id"]), str(d.get("name", "")), str(d.get("hint", "")), d.get("source", "mistake"),
                   d.get("factor"))


def confirms_variant(actual: torch.Tensor, expected: torch.Tensor, variant: torch.Tensor, tol: Tolerance, *,
                     nonfinite: bool = False) -> bool:
    """True when ``actual`` reproduces ``variant`` where ``variant`` differs from ``expected``.

    All three are compared in float64. ``tol`` is the tolerance of the submission's dtype (widened by the
    caller if the variant went through one more rounding). See the module docstring for the rule.
    """
    import torch

    if not all(isinstance(t, torch.Tensor) for t in (actual, expected, variant)):
        return False
    if not (actual.shape == expected.shape == variant.shape):
        return False
    a, e, v = (t.detach().to("cpu", torch.float64) for t in (actual, expected, variant))
    v_fin, e_fin, a_fin = torch.isfinite(v), torch.isfinite(e), torch.isfinite(a)
    differs = ~_close(v, e, tol) | (v_fin != e_fin)
    if nonfinite:
        special = ~v_fin
        same_special = (a == v) | (torch.isnan(a) & torch.isnan(v))
        if not bool(same_special[special].all()):
            return False
        evidence = differs
    else:
        evidence = differs & v_fin
    if not bool(evidence.any()):
        return False  # the variant is the reference on these inputs (or differs only where it is not finite)
    where = v_fin
    return bool((a_fin[where] & _close(a[where], v[where], tol)).all())


def fit_factor(actual: torch.Tensor, expected: torch.Tensor) -> float | None:
    """The least-squares constant c with actual ≈ c·expected on finite entries, or None (no finite,
    nonzero expected entry)."""
    import torch

    a = actual.detach().to("cpu", torch.float64).flatten()
    e = expected.detach().to("cpu", torch.float64).flatten()
    ok = torch.isfinite(a) & torch.isfinite(e)
    a, e = a[ok], e[ok]
    den = float((e * e).sum())
    if den == 0.0 or not (den < float("inf")):
        return None
    return float((a * e).sum()) / den


def _close(a: torch.Tensor, b: torch.Tensor, tol: Tolerance) -> torch.Tensor:
    import torch

    diff = (a - b).abs()
    return torch.nan_to_num(diff, nan=float("inf")) <= tol.atol + tol.rtol * torch.nan_to_num(b.abs(), nan=0.0,
                                                                                                 posinf=0.0)
