"""Wall time of `grade least_squares` on the reference, next to `python -c "import torch"`.

Target (issue #2): grading adds under 1 second to the torch import. Runs are interleaved so that both
see the same machine state; the median of N runs is reported.

    python benchmarks/bench_grade_startup.py [--runs 7] [--exercise least_squares]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, NO_COLOR="1"), check=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--exercise", default="least_squares")
    args = ap.parse_args()
    grade = shutil.which("grade")
    grade_cmd = ([grade] if grade else [sys.executable, "cli.py"]) + [args.exercise,
                                                                      f"reference/{args.exercise}.py"]
    torch_cmd = [sys.executable, "-c", "import torch"]
    # grade skips the interpreter's teardown (os._exit); so does this variant, for a like-for-like figure.
    bare_cmd = [sys.executable, "-c", "import os, torch; os._exit(0)"]
    timed(torch_cmd)  # warm the page cache once
    check = subprocess.run(grade_cmd + ["--format", "json"], cwd=ROOT, capture_output=True, text=True, check=False)
    if check.returncode != 0:
        sys.exit(f"grade did not give full marks (exit {check.returncode}): {check.stderr[-500:]}")
    t_torch, t_bare, t_grade = [], [], []
    for _ in range(args.runs):
        t_torch.append(timed(torch_cmd))
        t_bare.append(timed(bare_cmd))
        t_grade.append(timed(grade_cmd))
    mt, mb, mg = statistics.median(t_torch), statistics.median(t_bare), statistics.median(t_grade)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"runs: {args.runs} (interleaved), medians")
    print("| command | median wall (s) | min | max |")
    print("|---|---|---|---|")
    print(f"| `python -c \"import torch\"` | {mt:.2f} | {min(t_torch):.2f} | {max(t_torch):.2f} |")
    print(f"| `python -c \"import os, torch; os._exit(0)\"` (no teardown) | {mb:.2f} | {min(t_bare):.2f} | "
          f"{max(t_bare):.2f} |")
    print(f"| `{' '.join(Path(c).name if i == 0 else c for i, c in enumerate(grade_cmd))}` | {mg:.2f} | "
          f"{min(t_grade):.2f} | {max(t_grade):.2f} |")
    print(f"grading adds {mg - mt:.2f} s to `import torch`, {mg - mb:.2f} s to `import torch` without teardown "
          "(target: < 1 s); grade exited 0 (full marks)")


if __name__ == "__main__":
    main()
