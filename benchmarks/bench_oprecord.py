"""Cost of recording what a student call runs (grader/sandbox/oprecord.py), in process.

Calls each torch reference's functions on the checks' sizes, plain and inside ``Recorder.run``, interleaved,
and reports the median time per call and the number of aten operations recorded. The grading of a whole
reference adds the sandbox round trips on top, which the recorder does not change.

    python benchmarks/bench_oprecord.py [--runs 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.sandbox.oprecord import Recorder  # noqa: E402
from reference import jacobians, least_squares, mlp_backprop, softmax_ce  # noqa: E402


def cases() -> dict[str, Callable[[], Any]]:
    g = torch.Generator().manual_seed(0)
    sizes = (5, 7, 4, 4, 3)
    params = {}
    for i in range(1, 5):
        params[f"W{i}"] = torch.randn(sizes[i], sizes[i - 1], generator=g, dtype=torch.float64)
        params[f"b{i}"] = torch.randn(sizes[i], generator=g, dtype=torch.float64)
    X, Y = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.rand(6, 3, generator=g, dtype=torch.float64)
    _, cache = mlp_backprop.forward(params, X)
    z, labels = torch.randn(7, 5, generator=g, dtype=torch.float64), torch.randint(0, 5, (7,), generator=g)
    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    W, theta, y = randn(8, 3), randn(3), randn(8)
    Wj, bj, xj = randn(3, 4), randn(3), randn(4)
    return {
        "mlp forward": lambda: mlp_backprop.forward(params, X),
        "mlp backward": lambda: mlp_backprop.backward(params, cache, Y),
        "cross_entropy_grad": lambda: softmax_ce.cross_entropy_grad(z, labels),
        "ls_solve": lambda: least_squares.ls_solve(W, y),
        "ls_grad": lambda: least_squares.ls_grad(W, theta, y),
        "numerical_jacobian": lambda: jacobians.numerical_jacobian(lambda v: torch.sigmoid(Wj @ v + bj), xj),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    runs = parser.parse_args().runs
    torch.set_num_threads(1)
    recorder = Recorder(str(ROOT / "reference" / "x.py"))
    print(f"torch {torch.__version__}, median of {runs} interleaved runs per call")
    print(f"{'call':20s} {'plain':>10s} {'recorded':>10s} {'ops':>5s} {'per op':>8s}")
    for name, fn in cases().items():
        fn(), recorder.run(fn, (), {})  # warm
        plain, recorded = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            t1 = time.perf_counter()
            recorder.run(fn, (), {})
            t2 = time.perf_counter()
            plain.append(t1 - t0)
            recorded.append(t2 - t1)
        ops = sum(n for k, n in recorder.take()["counts"].items() if k.startswith("aten::"))
        p, r = statistics.median(plain) * 1e6, statistics.median(recorded) * 1e6
        print(f"{name:20s} {p:8.0f}µs {r:8.0f}µs {ops:5d} {(r - p) / max(ops, 1):6.1f}µs")


if __name__ == "__main__":
    main()
