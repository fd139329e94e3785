"""The cost of isolation: starting a sandbox and grading one submission, with and without bwrap.

For each backend (``none``, then ``bwrap`` where it works here), interleaved, ``--runs`` times:

* **start**: ``Sandbox(isolation=...)`` until its zygote answers (torch imported in the warm process;
  with bwrap, the runtime copy and the mount namespace included);
* **first grade**: ``grade("least_squares", reference)`` in that fresh sandbox (fork of a worker, copy of
  the submission into its private folder, the import, eleven checks, cleanup of the session);
* **next grade**: the same submission graded again in the warm sandbox (what each further submission of
  a batch costs);
* **close**: ``Sandbox.close()``.

Run: ``python benchmarks/bench_isolation.py --runs 5`` (about a minute on 2 cores). Prints a Markdown
table of medians (min–max) for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.grading import GradeOptions, grade  # noqa: E402
from grader.sandbox.client import Sandbox, isolation_available  # noqa: E402

EX = "least_squares"
SUBMISSION = ROOT / "reference" / f"{EX}.py"
PHASES = ("start", "first grade", "next grade", "close")


def one_run(isolation: str) -> dict[str, float]:
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    sb = Sandbox(isolation=isolation)
    session = sb.open(SUBMISSION)
    session.ensure_started()  # waits for the zygote: start includes importing torch there
    session.close()
    times["start"] = time.perf_counter() - t0
    for phase in ("first grade", "next grade"):
        t = time.perf_counter()
        result = grade(EX, SUBMISSION, GradeOptions(), sandbox=sb)
        times[phase] = time.perf_counter() - t
        if not result.full_marks:
            raise SystemExit(f"{isolation}: the reference did not get full marks: "
                             f"{[c.message for c in result.checks if not c.passed]}")
    t = time.perf_counter()
    sb.close()
    times["close"] = time.perf_counter() - t
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ok, why = isolation_available()
    backends = ["none", "bwrap"] if ok else ["none"]
    if not ok:
        print(f"bwrap is not measured: {why}")
    runs: dict[str, list[dict[str, float]]] = {b: [] for b in backends}
    for _ in range(args.runs):
        for b in backends:  # interleaved, so that drifts in machine load hit both alike
            runs[b].append(one_run(b))
    print(f"{platform.machine()}, Python {platform.python_version()}, {args.runs} runs per backend, "
          "seconds, median (min–max)\n")
    print("| phase | " + " | ".join(f"`{b}`" for b in backends) + " |")
    print("|---|" + "---|" * len(backends))
    for phase in PHASES:
        cells = []
        for b in backends:
            xs = [r[phase] for r in runs[b]]
            cells.append(f"{statistics.median(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})")
        print(f"| {phase} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
