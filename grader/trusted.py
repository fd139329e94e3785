"""Functions a check hands to student code (``numerical_jacobian(f, x)``).

A function cannot cross the process boundary as code. A :class:`TrustedFunction` names a function in a
grader or exercise module plus its keyword arguments (tensors, numbers); the student's process imports
that module and rebuilds the function. In the parent, the same object is simply called.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from typing import Any

from grader.loader import PREFIX, load_by_name

ALLOWED_PREFIXES = ("exercises.", "grader.", "reference.", PREFIX)


@dataclass(frozen=True)
class TrustedFunction:
    module: str
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    path: str = ""  # the file of an exercise module loaded by path (grader.loader), which has no import name

    def resolve(self) -> Any:
        if not self.module.startswith(ALLOWED_PREFIXES):
            raise ValueError(f"functions may only come from {ALLOWED_PREFIXES}, not {self.module!r}")
        if self.module.startswith(PREFIX):
            return getattr(load_by_name(self.module, self.path), self.name)
        return getattr(importlib.import_module(self.module), self.name)

    def resolve_bound(self) -> Any:
        """A plain function with the keyword arguments bound (what the student's code receives)."""
        fn, kwargs = self.resolve(), self.kwargs

        def bound(*args: Any) -> Any:
            return fn(*args, **kwargs)

        bound.__name__ = self.name
        return bound

    def __call__(self, *args: Any) -> Any:
        return self.resolve()(*args, **self.kwargs)

    def __repr__(self) -> str:
        return f"{self.name}(…)"


def trusted(fn: Any, **kwargs: Any) -> TrustedFunction:
    """Wrap a module-level function of an exercise or the grader: ``trusted(perceptron, W=W, b=b)``."""
    module = fn.__module__
    path = (getattr(sys.modules.get(module), "__file__", None) or "") if module.startswith(PREFIX) else ""
    return TrustedFunction(module, fn.__name__, dict(kwargs), path)
