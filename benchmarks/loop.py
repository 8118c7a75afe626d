"""The warm test loop (`make test` with its virtualenv already built), timed step by step. Goal: under 90 s.

`python benchmarks/loop.py` runs the steps `make test` runs, in order, and prints each one's wall time
and CPU time and the total, and pytest's slowest tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STEPS = {
    "ruff check": [sys.executable, "-m", "ruff", "check", "."],
    "ruff format --check": [sys.executable, "-m", "ruff", "format", "--check", "."],
    "pyrefly check": [str(BIN / "pyrefly"), "check", "--python-interpreter-path", sys.executable],
    "pytest": [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--durations=10"],
}
GOAL = 90.0


def main() -> None:
    seconds, cpu = {}, {}
    for step, argv in STEPS.items():
        before, start = os.times(), time.perf_counter()
        result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        seconds[step], after = time.perf_counter() - start, os.times()
        # CPU of the step and the processes it waited for (not the pack, which pytest kills): steadier under load.
        cpu[step] = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        if result.returncode != 0:
            raise SystemExit(f"{step} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        if step == "pytest":
            slowest = result.stdout.split("slowest 10 durations", 1)[-1].split("\n\n", 1)[0]
    total = sum(seconds.values())
    print(f"machine: {os.cpu_count()} cores, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")
    for step, took in seconds.items():
        print(f"{step:22} {took:6.1f} s wall, {cpu[step]:6.1f} s CPU")
    print(f"{'warm test loop':22} {total:6.1f} s (goal < {GOAL:.0f} s: {'met' if total < GOAL else 'NOT met'})")
    print(f"pytest's slowest tests:{slowest}")


if __name__ == "__main__":
    main()
