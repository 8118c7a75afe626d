"""The URN manifest: every URN of every committed stack, so that moving code can't delete and recreate a resource.

A real `up` deletes each resource of the last state whose URN the program no longer registers, and creates what
it registers instead, unless the new registration names the old URN in its `aliases`. A change of logical name,
type or parent changes the URN. `tests/urns/<stack>.txt` holds the URNs as they were (update preview: a first
preview registers the same ones); tests/test_urns.py fails when one of them is neither registered nor aliased.

`python -m preflight urns` checks every stack against its manifest; `--write` rewrites the manifests, which a
commit that removes a resource on purpose does, so that the removal is visible in its diff.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import PROJECTS, ROOT, Project
from .program import Recording, record

MANIFESTS = ROOT / "tests" / "urns"


def manifest_path(project: Project, stack: str) -> Path:
    return MANIFESTS / f"{stack}.txt"  # stack names are unique across the projects (dev, prod, management)


def urns(recording: Recording) -> list[str]:
    """Every URN the program registers, the stack and providers included, sorted: one line each in the manifest."""
    return sorted({r.urn for r in recording.registrations})


def read(project: Project, stack: str) -> list[str]:
    return [line for line in manifest_path(project, stack).read_text().splitlines() if line]


def missing(manifest: list[str], recording: Recording) -> list[str]:
    """The manifest's URNs the recording neither registers nor aliases: each a delete (and a create) in an `up`."""
    kept = {r.urn for r in recording.registrations} | {urn for r in recording.registrations for urn in r.alias_urns}
    return [urn for urn in manifest if urn not in kept]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight urns", description="Check or rewrite the URN manifests.")
    parser.add_argument("--write", action="store_true", help="rewrite tests/urns/<stack>.txt from the current program")
    args = parser.parse_args(argv)
    failed = False
    for project in PROJECTS.values():
        for stack in project.stacks:
            recording = record(stack, "update", project=project)
            if recording.error is not None:
                print(f"urns: {recording.label}: the program failed: {recording.error}")
                return 2
            path = manifest_path(project, stack)
            if args.write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("".join(f"{urn}\n" for urn in urns(recording)))
                print(f"urns: {recording.label}: wrote {len(recording.registrations)} URNs to {path.relative_to(ROOT)}")
                continue
            gone = missing(read(project, stack), recording)
            failed |= bool(gone)
            for urn in gone:
                print(f"urns: {recording.label}: {urn} is neither registered nor aliased: an `up` would delete it")
    return 1 if failed else 0
