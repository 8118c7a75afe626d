"""`python -m preflight cost [dev|prod|--all] [--json] [--save FILE]` and `python -m preflight cost diff BASE HEAD`.

The first records each stack as an update preview (the same recording the preflight makes), estimates it
and prints the tables, the savings ratios and the usage assumed; `--save` keeps the estimate for a later
`cost diff`, which compares two saved estimates offline (a pull request's base against its head).
`--policy-config` writes each stack's budget and usage into `policies/config/<stack>.json`, where the
cost-within-budget policy reads them (a test keeps the files equal to the stack settings).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import settings
from settings import SettingsError

from .. import MAIN, ROOT
from ..program import ProgramError, record, stack_config
from .estimate import Resource, estimate
from .report import diff, document, ratios, render, render_diff

POLICY = "cost-within-budget"
EXIT_PROGRAM = 2


def policy_entry(cost: settings.CostSettings) -> dict[str, Any]:
    """What the cost-within-budget policy is configured with: the stack's budgets and usage assumptions."""
    return {
        "monthlyBudgetUsd": cost.monthly_budget_usd,
        "environmentBudgetUsd": cost.environment_budget_usd,
        "usage": cost.usage(),
        "reason": "the stack's budgets and usage assumptions (kanna-infra:cost in its stack file), written here by "
        "`python -m preflight cost <stack> --policy-config`",
    }


def estimate_stack(stack: str, stack_file: Path | None = None, mode: str = "update") -> dict[str, Any]:
    """Records `stack` and returns its estimate document; raises ProgramError or SettingsError."""
    config, secrets = stack_config(stack, stack_file)
    cost = settings.load(stack, config).cost
    recording = record(stack, mode, config, secrets)
    if recording.error is not None:
        raise ProgramError(recording.error)
    resources = [Resource.of(r) for r in recording.registrations]
    found = estimate(resources, cost)
    return document(stack, found, ratios(resources, found))


def write_policy_config(stack: str) -> Path:
    config, _ = stack_config(stack)
    path = ROOT / "policies" / "config" / f"{stack}.json"
    document = json.loads(path.read_text())
    document[POLICY] = policy_entry(settings.load(stack, config).cost)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def main(argv: list[str]) -> int:
    if argv[:1] == ["diff"]:
        return _diff(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m preflight cost", description="Monthly cost estimate of kanna-infra stacks, offline.")
    parser.add_argument("stacks", nargs="*", help="stacks to estimate (dev, prod)")
    parser.add_argument("--all", action="store_true", help="every stack of the main program")
    parser.add_argument("--json", action="store_true", help="print the estimates as JSON instead of tables")
    parser.add_argument("--save", type=Path, help="also write the estimates as JSON to this file, for `cost diff`")
    parser.add_argument("--stack-file", type=Path, help="use this file instead of Pulumi.<stack>.yaml (one stack only)")
    parser.add_argument("--policy-config", action="store_true", help="write budgets and usage into policies/config/<stack>.json")
    args = parser.parse_args(argv)
    stacks = list(MAIN.stacks) if args.all else args.stacks
    if not stacks:
        parser.error("name a stack or pass --all")
    if args.stack_file and len(stacks) != 1:
        parser.error("--stack-file needs exactly one stack")
    if args.policy_config:
        for stack in stacks:
            print(f"wrote {write_policy_config(stack).relative_to(ROOT)}")
        return 0
    documents = []
    for stack in stacks:
        try:
            documents.append(estimate_stack(stack, args.stack_file))
        except (ProgramError, SettingsError) as exc:
            print(f"preflight cost: {exc}", file=sys.stderr)
            return EXIT_PROGRAM
    if args.save:
        args.save.write_text(json.dumps(documents, indent=1) + "\n")
    if args.json:
        print(json.dumps(documents, indent=2))
    else:
        print("\n\n".join(render(d) for d in documents))
    return 0


def _diff(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight cost diff", description="The cost change from BASE to HEAD.")
    parser.add_argument("base", type=Path, help="estimates saved with --save on the base branch")
    parser.add_argument("head", type=Path, help="estimates saved with --save on the pull request")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table for the pull request comment")
    parser.add_argument("--json", action="store_true", help="the diff as JSON")
    args = parser.parse_args(argv)
    found = diff(json.loads(args.base.read_text()), json.loads(args.head.read_text()))
    print(json.dumps(found, indent=2) if args.json else render_diff(found, markdown=args.markdown))
    return 0
