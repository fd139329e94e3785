"""Time to grade one symbolic answer, over the corpus of tests/symbolic/corpus.py.

Each answer of the corpus (correct, near-miss and hostile) is graded the way the `derivatives` checks
grade it (``exercises.derivatives.checks.grade``: a forked child with the whole grading, 2 s budget), with
the contract's symbols, at seed 0, after one warm-up grading. Reported: median, 90th percentile and worst
wall time per answer, per kind, and the slowest answers. With ``--phases`` the seed-dependent part
(``decide_numerically``, in process) is timed as well, to show what the child's fork and the exact
proof add.

Run: ``PYTHONPATH=$PWD python benchmarks/bench_symbolic.py [--repeat 3] [--phases]``.
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

from exercises.derivatives import checks  # noqa: E402
from grader.mistakes import load_book  # noqa: E402
from grader.symbolic import decide_numerically  # noqa: E402
from reference import derivatives as reference  # noqa: E402
from tests.symbolic.corpus import CORRECT, HOSTILE, WRONG, Case  # noqa: E402

BOOK = load_book("derivatives")


def grade_once(case: Case) -> tuple[float, str]:
    args = checks.SYMBOLS[case.fn]()
    answer = case.build(args)
    t0 = time.perf_counter()
    v = checks.grade(answer, reference, BOOK, case.fn, args, seed=0)
    return time.perf_counter() - t0, v.status


def numeric_once(case: Case) -> float:
    fn = case.fn
    args = checks.SYMBOLS[fn]()
    answer = case.build(args)
    t0 = time.perf_counter()
    decide_numerically(answer, getattr(reference, fn)(*args), args, names=checks.parameter_names(reference, fn),
                       primitive=checks.PRIMITIVES[fn](*args) if fn in checks.PRIMITIVES else None,
                       variable=args[0], candidates=checks.known_mistakes(BOOK, fn, args), seed=0,
                       domains=checks.DOMAINS[fn](args) if fn in checks.DOMAINS else None)
    return time.perf_counter() - t0


def summary(name: str, times: list[float]) -> str:
    s = sorted(times)
    p90 = s[min(len(s) - 1, int(0.9 * len(s)))]
    return (f"{name:10} n={len(s):3}  median {statistics.median(s) * 1000:7.0f} ms  p90 {p90 * 1000:7.0f} ms  "
            f"worst {s[-1] * 1000:7.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1, help="grade each answer this many times (best is kept)")
    ap.add_argument("--phases", action="store_true", help="also time the in-process numeric decision")
    opts = ap.parse_args()
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    grade_once(CORRECT[0])  # warm-up: imports and caches of the parent process
    rows: list[tuple[float, str, Case]] = []
    by_kind: dict[str, list[float]] = {}
    for kind, cases in (("correct", CORRECT), ("wrong", WRONG), ("hostile", HOSTILE)):
        for case in cases:
            best = min(grade_once(case)[0] for _ in range(opts.repeat))
            rows.append((best, kind, case))
            by_kind.setdefault(kind, []).append(best)
    for kind, times in by_kind.items():
        print(summary(kind, times))
    print(summary("all", [r[0] for r in rows]))
    print("slowest:")
    for t, kind, case in sorted(rows, key=lambda r: -r[0])[:5]:
        print(f"  {t * 1000:6.0f} ms  {kind:8} {case.label[:70]}")
    if opts.phases:
        numeric = [numeric_once(c) for c in CORRECT + WRONG]
        print(summary("numeric", numeric) + "   (decide_numerically, in process, correct + wrong)")


if __name__ == "__main__":
    main()
