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
RUNS = 3


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


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    classes = used_classes()
    # The floor: the SDK classes, plus the policy SDK the pack process loads.
    bare = "import importlib, pulumi, pulumi_policy\n" + "\n".join(
        f"getattr(importlib.import_module({c.split(':')[0]!r}), {c.split(':')[1]!r})" for c in classes
    )
    floor = [timed([sys.executable, "-c", bare]) for _ in range(RUNS)]
    preflight = [timed([sys.executable, "-m", "preflight", "--all"]) for _ in range(RUNS)]
    f, p = statistics.median(floor), statistics.median(preflight)
    print(f"SDK classes used: {len(classes)} from {len({c.split('.')[0].split(':')[0] for c in classes})} packages")
    print(f"bare import of those classes: {f:.2f}s (median of {RUNS})")
    print(f"preflight --all (dev, prod, bootstrap management x 2 previews, policy pack over gRPC): {p:.2f}s (median of {RUNS})")
    print(f"ratio: {p / f:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
