"""Wall time to grade each exercise on its reference solution, with one warm sandbox.

    python benchmarks/bench_exercises.py [--runs 3] [--device cpu] [--markdown]

For every exercise: one warm-up grade (the worker imports the submission), then ``--runs`` timed
``grader.grading.grade`` calls with seeds 0, 1, …, in float64 + float32 (the default dtypes). Reports the
median, min and max wall time, the slowest check, and whether every run got full marks.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from grader.exercises import all_exercises  # noqa: E402
from grader.grading import GradeOptions, grade  # noqa: E402
from grader.sandbox.client import Sandbox  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--exercise", action="append", help="only these exercises (repeatable)")
    args = ap.parse_args()
    names = args.exercise or [ex.name for ex in all_exercises()]
    print(f"# {platform.platform(terse=True)}, python {platform.python_version()}, torch {torch.__version__}, "
          f"{os.cpu_count()} cores, device {args.device}, median of {args.runs}")
    print("| exercise | checks | median (s) | min | max | slowest check (s) | full marks |")
    print("|---|---|---|---|---|---|---|")
    with Sandbox(device=args.device) as sb:
        for name in names:
            reference = ROOT / "reference" / f"{name}.py"
            grade(name, reference, GradeOptions(seed=0, device=args.device), sandbox=sb)  # warm-up
            times, full, slowest = [], True, ("", 0.0)
            for seed in range(args.runs):
                t0 = time.perf_counter()
                r = grade(name, reference, GradeOptions(seed=seed, device=args.device), sandbox=sb)
                times.append(time.perf_counter() - t0)
                full = full and r.full_marks
                worst = max(r.checks, key=lambda c: c.duration)
                if worst.duration > slowest[1]:
                    slowest = (worst.id, worst.duration)
            print(f"| {name} | {len(r.checks)} | {statistics.median(times):.2f} | {min(times):.2f} | "
                  f"{max(times):.2f} | {slowest[0]} ({slowest[1]:.2f}) | {'yes' if full else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
