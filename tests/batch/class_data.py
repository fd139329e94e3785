"""The small synthetic class of the batch tests (softmax_ce): two correct submissions, two with a named
mistake, one that loops forever, and one binary file. Imported as ``tests.batch.class_data`` (a bare
``from conftest import`` finds whichever conftest was imported first)."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.batch.batch import BatchOptions

EXERCISE = "softmax_ce"
CORRECT = f"from reference.{EXERCISE} import *\n"
LOOPS = "def softmax(z):\n    while True:\n        pass\n"
EXITS = "import os\nos._exit(3)\n"  # ends the process that loads it
MISTAKES = {"carol": "wrong_axis", "dave": "missing_1_over_T"}


def make_class(folder: Path, mutant) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for s in ("alice", "bob"):
        (folder / f"{s}.py").write_text(CORRECT)
    for s, mistake in MISTAKES.items():
        shutil.copy(mutant(EXERCISE, mistake), folder / f"{s}.py")
    (folder / "eve.py").write_text(LOOPS)
    (folder / "frank.py").write_bytes(b"\x7fELF\x00\x00binary")
    return folder


def options(folder: Path, db: Path, **kw) -> BatchOptions:
    """Options for the test class: in this process (warm, no pool to start) unless ``in_process=False``."""
    base = {"in_process": True, "timeout": 1.0, "isolation": "none", "dtypes": ("float64",)}
    return BatchOptions((EXERCISE,), folder, db, **{**base, **kw})
