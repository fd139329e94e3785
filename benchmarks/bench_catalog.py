"""Wall time of the catalogue commands (`grade list`, `grade show`, `grade init`) vs `python -c pass`.

Target (issue #7): each answers in under 0.3 s; none of them imports torch. Each command runs as a
subprocess, interleaved with the others so that all see the same machine state; the median of N runs
is reported, with the interpreter's own start-up (`python -c pass`) for scale, and the import of
``grader.spec`` (pyyaml, msgspec and the spec models) against pyyaml alone: the share of the spec's
validation.

    python benchmarks/bench_catalog.py [--runs 15] [--exercise least_squares]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.3


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; the CPU time (user + system) is what the command itself costs,
    and varies less than the wall time on a shared machine."""
    env = dict(os.environ, NO_COLOR="1", PYTHONPATH=str(ROOT))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.decode()[-500:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--exercise", default="least_squares")
    args = ap.parse_args()
    cli = [sys.executable, str(ROOT / "cli.py")]
    with tempfile.TemporaryDirectory() as tmp:
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            # what the spec's validation costs: yaml alone, then yaml + msgspec + the spec models
            "python -c 'import yaml'": [sys.executable, "-c", "import yaml"],
            "python -c 'import grader.spec'": [sys.executable, "-c", "import grader.spec"],
            "grade list": [*cli, "list"],
            f"grade show {args.exercise}": [*cli, "show", args.exercise],
            f"grade init {args.exercise} --force": [*cli, "init", args.exercise, "--force"],
        }
        for cmd in commands.values():  # warm the page cache, and fail early on a broken command
            timed(cmd, Path(tmp))
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                wall, used = timed(cmd, Path(tmp))
                times[name].append(wall)
                cpu[name].append(used)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {load:.1f} at the end")
    print(f"runs: {args.runs} (interleaved), seconds")
    print("| command | median wall | min wall | max wall | median CPU (user + sys) |")
    print("|---|---|---|---|---|")
    for name, ts in times.items():
        print(f"| `{name}` | {statistics.median(ts):.3f} | {min(ts):.3f} | {max(ts):.3f} | "
              f"{statistics.median(cpu[name]):.3f} |")
    worst = max(statistics.median(ts) for name, ts in times.items() if name.startswith("grade"))
    verdict = "met" if worst < TARGET_S else "NOT met"
    print(f"slowest catalogue command: {worst:.3f} s median (target < {TARGET_S} s: {verdict})")


if __name__ == "__main__":
    main()
