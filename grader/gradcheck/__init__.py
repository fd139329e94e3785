"""Gradient checking that says which tensor is wrong, which entries, and what kind of mistake.

Public API::

    from grader.gradcheck import check_gradients, check_vjp, check_file_function

    result = check_gradients(f, params, claimed)      # f(params: dict[str, Tensor]) -> scalar
    result.passed, result.message, result.tensor("W3").diagnosis.hint, result.to_dict()

See ``docs/GRADCHECK.md`` for the method, the file convention of :func:`check_file_function` and the
result format.
"""

from grader.gradcheck.engine import check_gradients, check_vjp
from grader.gradcheck.fd import FDSettings, FunctionError
from grader.gradcheck.files import FileTarget, check_file_function, load_target
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
    "check_file_function",
    "load_target",
    "FileTarget",
    "FDSettings",
    "FunctionError",
    "GradcheckResult",
    "TensorVerdict",
    "Localisation",
    "EntryError",
    "Diagnosis",
    "DirectionCheck",
]
