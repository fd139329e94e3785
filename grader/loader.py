"""Importing an exercise's Python files by path.

An exercise folder can live anywhere (a course's own repository, an installed package): it need not be
an importable package. Its files (``checks.py``, the reference solution, and ``instructor/checks.py`` and
``instructor/mistakes.py``) are loaded by path into a module namespace of their own,
``_dlx_<exercise>_<hash of the folder>``, so that two collections can both have a
``least_squares/checks.py`` without one replacing the other in ``sys.modules``. The namespace is a package
whose ``__path__`` is the folder, with a sub-package ``instructor`` whose ``__path__`` is ``instructor/``,
so the files of one exercise import each other as they would in a package: the public checks are
``<namespace>.checks``, the hidden ones ``<namespace>.instructor.checks`` (which import the public ones'
helpers with ``from ..checks import helper``), the reference is always ``<namespace>.reference``
(``from ..reference import softmax`` in ``instructor/mistakes.py``).

The name depends only on the folder's resolved path: the sandbox's child process, which has no search
path, computes the same name from the same path (see :mod:`grader.trusted`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType

PREFIX = "_dlx_"


def package_name(folder: Path) -> str:
    """The module namespace of the exercise folder ``folder``: stable across processes."""
    import hashlib
    resolved = folder.resolve()
    digest = hashlib.sha1(str(resolved).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    stem = re.sub(r"\W", "_", resolved.name)[:40]
    return f"{PREFIX}{stem}_{digest}"


INSTRUCTOR = "instructor"  # the sub-folder (and sub-package) a student kit never contains


def _package(folder: Path, name: str | None = None) -> str:
    name = name or package_name(folder)
    for module, where in ((name, folder), (f"{name}.{INSTRUCTOR}", folder / INSTRUCTOR)):
        if module not in sys.modules:
            pkg = ModuleType(module, f"exercise folder {where}")
            pkg.__path__ = [str(where.resolve())]
            pkg.__package__ = module
            sys.modules[module] = pkg
    return name


def load_module(path: Path, name: str) -> ModuleType:
    """Import the file ``path`` as module ``name`` (registered in ``sys.modules``), once per process.

    Exceptions raised by the file's code propagate; the module is then forgotten, so a fixed file can
    be loaded again.
    """
    import importlib.util

    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) == str(path):
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_exercise_file(folder: Path, path: Path, role: str) -> ModuleType:
    """Load ``path`` (a file of the exercise in ``folder``) as ``<its namespace>.<role>``.

    ``role`` is ``checks``, ``reference``, ``instructor.checks`` or ``instructor.mistakes``: the reference
    gets that name wherever its file lies, so ``from ..reference import f`` (in ``instructor/``) finds it
    once the exercise has loaded it.
    """
    return load_module(path.resolve(), f"{_package(folder)}.{role}")


def load_by_name(name: str, path: str) -> ModuleType:
    """The exercise module ``name`` (``<namespace>.<role>``), loading it from ``path`` if this process has
    not yet: how the sandbox's child rebuilds a trusted function of an exercise found on a search path."""
    if name in sys.modules:
        return sys.modules[name]
    package, _, role = name.partition(".")
    instructor = role.startswith(f"{INSTRUCTOR}.")
    if not package.startswith(PREFIX) or not role or "." in role.removeprefix(f"{INSTRUCTOR}."):
        raise ImportError(f"{name!r} is not an exercise module")
    folder = Path(path).parent
    _package(folder.parent if instructor else folder, package)
    return load_module(Path(path), name)
