"""The preflight against its floor, a bare import of the SDK classes the stacks use, measured in this one run.

Each side runs as a fresh interpreter, interleaved, so a burst of load from other processes hits all alike;
medians are reported. The floor is what no preflight can beat: loading the classes it registers (and the
policy SDK the pack loads). Goals: `preflight --all` at 2.0x the floor or less, one stack (dev, the largest,
both previews) at 1.3x or less. Wall time is the goal; CPU time (this process's children, user + system) is
printed too, as it moves less with the load of a shared machine. Two other floors are printed for reference:
without the garbage collector (the preflight runs without it), and without the interpreter's teardown (the
preflight ends with os._exit, preflight/__main__.py).

`python benchmarks/preflight_vs_import.py [RUNS]` (default 3).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
GOALS = {"preflight --all": 2.0, "preflight dev": 1.3}


def used_classes() -> list[str]:
    """`package.module:Class` for every resource type the stacks register, from one `preflight --all` run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "all.json"
        run([sys.executable, "-m", "preflight", "--all", "--quiet", "--json", str(out)])
        tokens = {entry["type"] for outcome in json.loads(out.read_text()) for entry in outcome["plan"]}
    classes = set()
    for token in tokens:
        package, module_path, name = token.split(":")
        if package == "pulumi":
            continue
        module = module_path.split("/")[0]
        classes.add(f"pulumi_{package}.{module}:{name}" if module != "index" else f"pulumi_{package}:{name}")
    return sorted(classes)


def run(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children)."""
    before = os.times()
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = os.times()
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[1:4])} exited {result.returncode}: {result.stderr.decode()[-2000:]}")
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    classes = used_classes()
    bare = "import importlib, pulumi, pulumi_policy\n" + "\n".join(
        f"getattr(importlib.import_module({c.split(':')[0]!r}), {c.split(':')[1]!r})" for c in classes
    )
    sides = {
        "bare import (the floor)": [sys.executable, "-c", bare],
        "bare import, no garbage collector": [sys.executable, "-c", "import gc; gc.disable()\n" + bare],
        # The preflight ends with os._exit, without the interpreter's teardown; this floor skips it too.
        "bare import, no teardown": [sys.executable, "-c", bare + "\nimport os; os._exit(0)"],
        "preflight --all": [sys.executable, "-m", "preflight", "--all", "--quiet"],
        "preflight dev": [sys.executable, "-m", "preflight", "dev", "--quiet"],
    }
    times: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    for _ in range(RUNS):
        for side, argv in sides.items():
            times[side].append(run(argv))
    wall = {side: statistics.median(w for w, _ in found) for side, found in times.items()}
    cpu = {side: statistics.median(c for _, c in found) for side, found in times.items()}
    floor = "bare import (the floor)"
    print(
        f"machine: {os.cpu_count()} cores, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end; {RUNS} runs per side"
    )
    print(f"SDK classes used: {len(classes)} from {len({c.split('.')[0].split(':')[0] for c in classes})} packages")
    for side in sides:
        all_walls = ", ".join(f"{w:.2f}" for w, _ in times[side])
        print(f"{side:36} wall {wall[side]:6.2f} s (all: {all_walls})   CPU {cpu[side]:6.2f} s")
    for side, goal in GOALS.items():
        ratio = wall[side] / wall[floor]
        print(
            f"ratio {side:16} / floor: {ratio:.2f}x wall (goal <= {goal}x: {'met' if ratio <= goal else 'NOT met'}), "
            f"{cpu[side] / cpu[floor]:.2f}x CPU; {wall[side] / wall['bare import, no garbage collector']:.2f}x wall "
            f"against the floor without the collector, {wall[side] / wall['bare import, no teardown']:.2f}x against "
            "the floor without the teardown"
        )


if __name__ == "__main__":
    main()
