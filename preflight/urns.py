"""The URN manifest: every URN of every committed stack, so that moving code can't delete and recreate a resource.

A real `up` deletes each resource of the last state whose URN the program no longer registers, and creates what
it registers instead, unless the new registration names the old URN in its `aliases`. A change of logical name,
type or parent changes the URN. `tests/urns/<stack>.txt` holds the URNs as they were (update preview: a first
preview registers the same ones); tests/test_urns.py fails when one of them is neither registered nor aliased.

A resource that moves to another stack (preflight/moves.py: `pulumi state move`, for what exists once per
account) is accounted for when the destination registers, or aliases, the URN the move writes there.

`python -m preflight urns [STACK ...]` checks every stack (or those) against its manifest; `--write` rewrites the
manifests, which a commit that removes a resource on purpose does, so that the removal is visible in its diff, and
which a new stack's first commit does for that stack alone (`--write dev-account`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from . import ACCOUNT, PROJECTS, ROOT, Project
from .moves import MOVES, moved
from .program import Recording, record

MANIFESTS = ROOT / "tests" / "urns"


def manifest_path(project: Project, stack: str) -> Path:
    return MANIFESTS / f"{stack}.txt"  # stack names are unique across the projects (dev, prod, management)


def urns(recording: Recording) -> list[str]:
    """Every URN the program registers, the stack and providers included, sorted: one line each in the manifest."""
    return sorted({r.urn for r in recording.registrations})


def read(project: Project, stack: str) -> list[str]:
    return [line for line in manifest_path(project, stack).read_text().splitlines() if line]


def kept(recording: Recording) -> set[str]:
    """Every URN an `up` of this recording keeps: those it registers, and those its registrations alias."""
    return {r.urn for r in recording.registrations} | {urn for r in recording.registrations for urn in r.alias_urns}


def missing(manifest: list[str], recording: Recording) -> list[str]:
    """The manifest's URNs the recording neither registers nor aliases: each a delete (and a create) in an `up`."""
    keeps = kept(recording)
    return [urn for urn in manifest if urn not in keeps]


def destinations(stack: str, manifest: list[str]) -> dict[str, tuple[str, str]]:
    """The manifest URNs that `pulumi state move` takes out of `stack`: URN -> (destination stack, URN written there)."""
    return {old: (move.dest, new) for move in MOVES if move.source == stack for old, new in moved(move, manifest).items()}


def unaccounted(stack: str, manifest: list[str], recording: Recording, dest: Callable[[str], Recording]) -> list[str]:
    """The manifest URNs an `up` would delete: neither kept by the stack, nor moved to a stack (`dest` records it)
    that keeps the URN the move writes there. A moved URN the stack still keeps is a conflict, and listed too:
    after the move, its next `up` would create a second owner of an account-wide resource."""
    moves, keeps = destinations(stack, manifest), kept(recording)
    lost = [urn for urn in missing(manifest, recording) if urn not in moves or moves[urn][1] not in kept(dest(moves[urn][0]))]
    return sorted(lost + [urn for urn in moves if urn in keeps])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight urns", description="Check or rewrite the URN manifests.")
    parser.add_argument("--write", action="store_true", help="rewrite tests/urns/<stack>.txt from the current program")
    parser.add_argument("stacks", nargs="*", help="only these stacks (a new stack's first manifest); default: every stack")
    args = parser.parse_args(argv)
    failed = False
    for project in PROJECTS.values():
        for stack in project.stacks:
            if args.stacks and stack not in args.stacks:
                continue
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
            gone = unaccounted(stack, read(project, stack), recording, lambda dest: record(dest, "update", project=ACCOUNT))
            failed |= bool(gone)
            for urn in gone:
                print(
                    f"urns: {recording.label}: {urn} is neither registered, aliased nor moved (preflight/moves.py): an `up` would delete it"
                )
    return 1 if failed else 0
