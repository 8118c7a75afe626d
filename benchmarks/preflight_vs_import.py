"""The preflight of every stack, against a bare import of the SDK classes the program uses.

Both are measured in this one run, each as a fresh interpreter, and the ratio is printed. The SDK
imports are the floor: the preflight can't be faster than loading the classes it registers. Goal: <= 1.5x.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5  # fresh interpreters per side; medians are reported


def used_classes() -> list[str]:
    """`package.module:Class` for every resource type the stacks register (from one recording)."""
    sys.path.insert(0, str(ROOT))
    from preflight import MODES, PROJECTS
    from preflight.program import record

    tokens = {r.type for p in PROJECTS.values() for stack in p.stacks for r in record(stack, MODES[0], project=p).registrations if r.custom}
    classes = set()
    for token in tokens:
        package, module_path, name = token.split(":")
        if package == "pulumi":
            continue
        module = module_path.split("/")[0]
        classes.add(f"pulumi_{package}.{module}:{name}" if module != "index" else f"pulumi_{package}:{name}")
    return sorted(classes)


def timed(argv: list[str], ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode not in ok:
        raise SystemExit(f"{' '.join(argv[1:3])} exited {result.returncode}: {result.stderr.decode()[-2000:]}")
    return elapsed


def _list(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


def main() -> None:
    classes = used_classes()
    # The floor: the SDK classes, plus the policy SDK the pack process loads.
    bare = "import importlib, pulumi, pulumi_policy\n" + "\n".join(
        f"getattr(importlib.import_module({c.split(':')[0]!r}), {c.split(':')[1]!r})" for c in classes
    )
    floor, preflight = [], []
    # Interleaved, so a burst of load from other processes on the machine hits both sides alike.
    # Exit 1 (a mandatory violation) is still a complete run: every stack recorded and judged.
    for _ in range(RUNS):
        floor.append(timed([sys.executable, "-c", bare]))
        preflight.append(timed([sys.executable, "-m", "preflight", "--all"], ok=(0, 1)))
    f, p = statistics.median(floor), statistics.median(preflight)
    print(f"SDK classes used: {len(classes)} from {len({c.split('.')[0].split(':')[0] for c in classes})} packages")
    print(f"bare import of those classes: {f:.2f}s (median of {RUNS}; all: {_list(floor)})")
    print(
        f"preflight --all (dev, prod, bootstrap management x 2 previews, pack over gRPC): {p:.2f}s (median of {RUNS}; all: {_list(preflight)})"
    )
    print(f"ratio: {p / f:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
