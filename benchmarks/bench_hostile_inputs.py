"""How fast hostile symbolic inputs are refused: the timings the tests used to assert.

The tests check that each input is refused with the right message; this script checks that it is refused
quickly (targets below, generous so that a loaded machine does not flag them). Median of N runs.

    python benchmarks/bench_hostile_inputs.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sympy as sp  # noqa: E402

from grader.symbolic import ParseError, TreeError, from_tree, grade_answer, matrix, parse, scalar  # noqa: E402

x = scalar("x")
SCALAR = {"x": x}
ALLOWED = [x, matrix("W", "T", "D")]


def refused(run: Callable[[], object], error: type[Exception]) -> Callable[[], None]:
    def case() -> None:
        try:
            run()
        except error:
            return
        raise AssertionError("not refused")

    return case


def deep_tree() -> list:
    tree: list = ["Symbol", "x"]
    for _ in range(300):
        tree = ["Add", tree, ["Integer", "1"]]
    return tree


WIDE_TREE = ["Add"] + [["Mul", ["Integer", str(i)], ["Symbol", "x"]] for i in range(5000)]
SLOW_SIMPLIFY = " + ".join(f"tanh({k}x)^2 + sech({k}x)^2" for k in range(1, 10)) + " - 9 + sech(x)^2"

# name: (case, target in seconds)
CASES: dict[str, tuple[Callable[[], None], float]] = {
    "parse: a million characters": (refused(lambda: parse("x" * 1_000_000, SCALAR), ParseError), 1.0),
    "parse: power tower 2**2**2**2**2**2": (refused(lambda: parse("2**2**2**2**2**2", SCALAR), ParseError), 1.0),
    "parse: 10^999": (refused(lambda: parse("10^999", SCALAR), ParseError), 1.0),
    "parse: 40-digit literal": (refused(lambda: parse("1" * 40, SCALAR), ParseError), 1.0),
    "parse: 100 nested brackets": (refused(lambda: parse("(" * 100 + "x" + ")" * 100, SCALAR), ParseError), 1.0),
    "parse: 500 unary minus": (refused(lambda: parse("-" * 500 + "x", SCALAR), ParseError), 1.0),
    "tree: nested 300 deep": (refused(lambda: from_tree(deep_tree(), ALLOWED), TreeError), 2.0),
    "tree: 5000 terms": (refused(lambda: from_tree(WIDE_TREE, ALLOWED), TreeError), 2.0),
    "grade: simplification cut off at 1 s": (lambda: None if grade_answer(
        SLOW_SIMPLIFY, 1 - sp.tanh(x) ** 2, [x], timeout=1.0).correct else sys.exit("wrong verdict"), 5.0),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    slow = 0
    print(f"{'case':45} {'median':>9} {'target':>8}")
    for name, (case, target) in CASES.items():
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            case()
            times.append(time.perf_counter() - t0)
        median = statistics.median(times)
        slow += median > target
        print(f"{name:45} {median:8.3f}s {target:7.1f}s{'  SLOW' if median > target else ''}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
