"""Gradient checking that says which tensor is wrong, which entries, and what kind of mistake.

Public API::

    from grader.gradcheck import check_gradients, check_vjp

    result = check_gradients(f, params, claimed)      # f(params: dict[str, Tensor]) -> scalar
    result.passed, result.message, result.tensor("W3").diagnosis.hint, result.to_dict()

A pure library: it depends on torch and on the grader's diagnosis, formatting and tolerance modules, never
on the sandbox, the CLI or the reporters. The ``FILE.py:NAME`` convention lives in :mod:`grader.targets`,
``grade gradcheck`` in :mod:`grader.gradient_command`, the rich error maps in :mod:`grader.report.gradient_map`.
See ``docs/GRADCHECK.md`` for the method and the result format.
"""

from grader.gradcheck.engine import check_gradients, check_vjp
from grader.gradcheck.fd import FDSettings, FunctionError
from grader.gradcheck.result import (
    Diagnosis,
    DirectionCheck,
    EntryError,
    GradcheckResult,
    Localisation,
    TensorVerdict,
)

__all__ = [
    "check_gradients",
    "check_vjp",
    "FDSettings",
    "FunctionError",
    "GradcheckResult",
    "TensorVerdict",
    "Localisation",
    "EntryError",
    "Diagnosis",
    "DirectionCheck",
]
