"""Functions a check hands to student code (``numerical_jacobian(f, x)``).

A function cannot cross the process boundary as an object. A :class:`TrustedFunction` names a function in
a grader or exercise module plus its keyword arguments (tensors, numbers), and carries the function's own
source: the student's process, which sees neither the grader's package nor the exercises, rebuilds the
function from that source (it may use ``torch``, ``math`` and ``numpy`` only). In the parent, the same
object is simply called.
"""

from __future__ import annotations

import importlib
import inspect
import math
import sys
from dataclasses import dataclass, field
from typing import Any

# Imported in the student's process too, where grader.loader is absent: its module prefix is repeated here
# (grader.loader.PREFIX, checked equal by a test).
LOADER_PREFIX = "_dlx_"
ALLOWED_PREFIXES = ("exercises.", "grader.", "reference.", LOADER_PREFIX)


@dataclass(frozen=True)
class TrustedFunction:
    module: str
    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    path: str = ""  # the file of an exercise module loaded by path (grader.loader), which has no import name
    source: str = field(default="", compare=False, repr=False)

    def resolve(self) -> Any:
        if not self.module.startswith(ALLOWED_PREFIXES):
            raise ValueError(f"functions may only come from {ALLOWED_PREFIXES}, not {self.module!r}")
        if self.source:  # in the student's process: rebuilt from the source the grader sent
            import numpy
            import torch

            namespace: dict[str, Any] = {"__name__": self.module, "torch": torch, "math": math, "np": numpy}
            exec(compile(self.source, f"<trusted {self.module}.{self.name}>", "exec"), namespace)  # noqa: S102
            return namespace[self.name]
        if self.module.startswith(LOADER_PREFIX):  # in the grader: an exercise module loaded by path
            from grader.loader import load_by_name

            return getattr(load_by_name(self.module, self.path), self.name)
        return getattr(importlib.import_module(self.module), self.name)

    def source_code(self) -> str:
        """The function's source, dedented (sent to the student's process with it)."""
        import textwrap

        if not self.module.startswith(ALLOWED_PREFIXES):
            raise ValueError(f"functions may only come from {ALLOWED_PREFIXES}, not {self.module!r}")
        try:
            return textwrap.dedent(inspect.getsource(self.resolve()))
        except (OSError, TypeError) as e:
            raise ValueError(f"no source for {self.module}.{self.name}: {e}") from None

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
    path = (getattr(sys.modules.get(module), "__file__", None) or "") if module.startswith(LOADER_PREFIX) else ""
    return TrustedFunction(module, fn.__name__, dict(kwargs), path)
