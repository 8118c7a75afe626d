"""The deploy workflow's choices, written from the catalog: a new service is offered once it is in settings/services.py.

    python -m deploy.workflows --write    # rewrites the choices in .github/workflows/deploy-service.yml
    python -m deploy.workflows --check    # exit 1 while they are stale (tests/test_workflows.py compares the same)

GitHub reads a `choice` input's options from the workflow file itself, so they can't be computed when the
workflow runs; they are generated here instead. Only the `options:` lines change: the file's comments stay.
"""

from __future__ import annotations

import argparse
import re
import sys

from preflight import ROOT, STACKS
from settings import of_stack
from settings.services import CATALOG

WORKFLOW = ROOT / ".github" / "workflows" / "deploy-service.yml"
COMMAND = "python -m deploy.workflows --write"


def choices() -> dict[str, list[str]]:
    """The `workflow_dispatch` inputs of type choice and their options: the stacks services ship to (not a standby,
    which gets the images by ECR replication: docs/disaster-recovery.md), and every catalog service (the workers too:
    they deploy rolling)."""
    return {"stack": [s for s in STACKS if not of_stack(s).dr.standby], "service": list(CATALOG)}


def render(text: str, options: dict[str, list[str]]) -> str:
    """`text` (the workflow) with each input's `options: [...]` line set to `options[input]`."""
    for name, values in options.items():
        # The input's block: its key at six spaces, then its deeper-indented lines, one of which is `options:`.
        pattern = re.compile(rf"^(      {re.escape(name)}:\n(?:        .*\n)*?        options: )\[.*\]$", re.MULTILINE)
        line = f"[{', '.join(values)}]"
        text, found = pattern.subn(lambda m, line=line: m.group(1) + line, text)
        if found != 1:
            raise ValueError(f"{WORKFLOW.relative_to(ROOT)}: no single choice input {name!r} with an `options: [...]` line")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.workflows", description=__doc__.splitlines()[0] if __doc__ else None)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help=f"rewrite the choices of {WORKFLOW.relative_to(ROOT)}")
    action.add_argument("--check", action="store_true", help="exit 1 when they are stale")
    args = parser.parse_args(argv)
    committed = WORKFLOW.read_text()
    wanted = render(committed, choices())
    if args.write:
        if wanted != committed:
            WORKFLOW.write_text(wanted)
        return 0
    if wanted != committed:
        print(f"stale: {WORKFLOW.relative_to(ROOT)}'s choices differ from the catalog; run {COMMAND}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
