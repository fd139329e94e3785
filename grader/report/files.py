"""The export files of a single ``grade EXERCISE FILE`` run (``--junit``, ``--gradescope``, ``--summary``).

The one result becomes a one-element list of :class:`grader.submissions.Submission`, redacted once for the
audience, and each export format writes its file exactly as it would for a batch of one.
``--summary -`` appends to the file named by ``$GITHUB_STEP_SUMMARY`` (GitHub Actions collects what every
step appends there); a path is written afresh.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from grader.errors import GraderError
from grader.report.registry import ReportOptions, export
from grader.results import Audience, ExerciseResult, redact
from grader.submissions import Submission

STEP_SUMMARY_VAR = "GITHUB_STEP_SUMMARY"


def submission_of(result: ExerciseResult, audience: Audience, student: str | None = None) -> Submission:
    """``result`` as a graded entry of ``student`` (default: the file's stem), redacted for ``audience``."""
    path = Path(result.submission)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = ""
    seed = result.environment.get("seed")
    return Submission(student=student or path.stem, exercise=result.exercise,
                      state="graded" if result.complete else "grader_fault", report=redact(result, audience),
                      path=str(path), sha256=digest, seed=seed if isinstance(seed, int) else None,
                      duration=result.duration)


def write_exports(result: ExerciseResult, targets: Mapping[str, str | Path], audience: Audience = "student", *,
                  student: str | None = None, options: ReportOptions | None = None) -> list[Path]:
    """Write ``result`` in each format of ``targets`` (format name -> path, or ``-`` for
    ``$GITHUB_STEP_SUMMARY`` in append mode). Returns the paths written."""
    if not targets:
        return []
    entries = [submission_of(result, audience, student)]
    written = []
    for name, target in targets.items():
        path, mode = _destination(target)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, mode, encoding="utf-8", newline="") as stream:
                export(name, entries, stream, options=options)
        except OSError as e:
            raise GraderError(f"cannot write the {name} export to {path}: {e.strerror}") from None
        written.append(path)
    return written


def _destination(target: str | Path) -> tuple[Path, Literal["w", "a"]]:
    if str(target) != "-":
        return Path(target), "w"
    summary = os.environ.get(STEP_SUMMARY_VAR)
    if not summary:
        raise GraderError(f"`-` means ${STEP_SUMMARY_VAR}, which is not set (it is, in a GitHub Actions step)")
    return Path(summary), "a"
