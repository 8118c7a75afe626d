"""Resources that leave a workload stack for its account's baseline stack, by `pulumi state move`: one table.

A resource that exists once per AWS account (the password policy, the multi-region trail, the Datadog
integration) can't sit in a stack that a second region of the same account repeats: both would own it. They
move to the account baseline (account/, one stack per workload account). An alias can't carry a resource to
another stack; `pulumi state move` rewrites the state of both (docs/state.md, "Moving resources to the account
baseline"). This table is the one record of those moves: tests/test_urns.py accepts a manifest URN that the
workload stack no longer registers only when it is moved here and the destination registers (or aliases) the
URN the move writes, and `python -m preflight moves` prints the runbook's commands from it.

What `pulumi state move` does (pkg/cmd/pulumi/state/state_move.go; https://www.pulumi.com/docs/iac/cli/commands/pulumi_state_move/):
- each URN given moves with all its children; a parent that is not moved stays, and the moved resource is
  re-parented onto the destination's root stack;
- each URN gets the destination's stack and project; since pulumi/pulumi#21953 (merged 2026-02-25, fixing
  #21816) the qualified type is rebuilt from the new parents, so a resource re-parented onto the root loses its
  old parent's type (`kanna:security:Security$aws:iam/...` becomes `aws:iam/...`). Older CLIs kept it, making
  URNs no program registers: the runbook checks the CLI version first (MINIMUM_CLI);
- providers are copied, not moved, under the destination's stack and project (the same name): the account
  program names its providers like the workload's (`<stack>-aws`), so the copy is the provider it registers.
  A provider of that URN already in the destination with other inputs stops the move (pulumi/pulumi#17076):
  move before the account stack's first `up`;
- dependencies on resources left behind are dropped from the moved resources (and printed): the account
  program gives them its own inputs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from . import ACCOUNT, MAIN, ROOT

# pulumi/pulumi#21953 (the qualified types rebuilt from the new parents) was merged on 2026-02-25; 3.226.0, out by
# early March 2026, is the first release we could date after it (an earlier 3.22x may hold it too).
MINIMUM_CLI = "3.226.0"
BACKEND_ORG = "organization"  # a DIY (S3) backend names every stack organization/<project>/<stack>


@dataclass(frozen=True)
class Move:
    """One `pulumi state move` argument: a resource (with its children) of a workload stack, and where it goes."""

    source: str  # the workload stack (the main program)
    dest: str  # the account stack (account/)
    urn: str  # the resource as the source's state (and its manifest, tests/urns/<source>.txt) names it
    provider: str  # the URN of its provider in the source, which the move copies
    why: str


def _account_moves(stack: str) -> list[Move]:
    main = f"urn:pulumi:{stack}::{MAIN.name}::"
    security, observability = f"{main}kanna:security:Security$", f"{main}kanna:observability:Observability$"
    aws, datadog = f"{main}pulumi:providers:aws::{stack}-aws", f"{main}pulumi:providers:datadog::{stack}-datadog"
    integration = "part of the account's one Datadog AWS integration (Datadog keys an integration by AWS account id)"

    def move(urn: str, provider: str, why: str) -> Move:
        return Move(stack, f"{stack}-account", urn, provider, why)

    return [
        move(f"{security}kanna:security:Audit::{stack}-audit", aws, "a multi-region trail records every region of the account"),
        move(f"{security}aws:iam/accountPasswordPolicy:AccountPasswordPolicy::{stack}-password-policy", aws, "IAM is global"),
        move(
            f"{security}aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock::{stack}-s3-account-public-access-block",
            aws,
            "S3's account-level public access block applies to every region",
        ),
        move(f"{observability}datadog:aws/integrationExternalId:IntegrationExternalId::{stack}-datadog-external-id", datadog, integration),
        move(f"{observability}aws:iam/role:Role::{stack}-datadog-integration-role", aws, integration),
        move(f"{observability}aws:iam/rolePolicy:RolePolicy::{stack}-datadog-integration-policy", aws, integration),
        move(
            f"{observability}aws:iam/rolePolicyAttachment:RolePolicyAttachment::{stack}-datadog-integration-security-audit",
            aws,
            integration,
        ),
        move(f"{observability}datadog:aws/integrationAccount:IntegrationAccount::{stack}-datadog-aws", datadog, integration),
    ]


MOVES: tuple[Move, ...] = (*_account_moves("dev"), *_account_moves("prod"))


def _parts(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, qualified type, name) of `urn:pulumi:<stack>::<project>::<qualified type>::<name>`."""
    head, project, qualified, name = urn.split("::", 3)
    return head.removeprefix("urn:pulumi:"), project, qualified, name


def moved(move: Move, manifest: list[str]) -> dict[str, str]:
    """The manifest URNs this move takes (the resource and its descendants), each to the URN the move writes.

    A descendant's qualified type starts with the moved resource's; which instance is its parent the manifest
    doesn't say, so a moved resource with children must be the only one of its qualified type."""
    if move.urn not in manifest:
        raise ValueError(f"{move.urn} is not in the manifest of {move.source}")
    _, _, qualified, _ = _parts(move.urn)
    old_parent_prefix = qualified.rsplit("$", 1)[0] + "$" if "$" in qualified else ""
    children = [urn for urn in manifest if _parts(urn)[2].startswith(f"{qualified}$")]
    if children and sum(_parts(urn)[2] == qualified for urn in manifest) > 1:
        raise ValueError(f"{move.urn}: another resource has its qualified type, so its children are ambiguous")
    rewritten = {}
    for urn in [move.urn, *children]:
        _, _, qualified_type, name = _parts(urn)
        rewritten[urn] = f"urn:pulumi:{move.dest}::{ACCOUNT.name}::{qualified_type.removeprefix(old_parent_prefix)}::{name}"
    return rewritten


def copied_provider(move: Move) -> str:
    """The URN of the copy of the moved resource's provider in the destination (same type and name)."""
    _, _, qualified, name = _parts(move.provider)
    return f"urn:pulumi:{move.dest}::{ACCOUNT.name}::{qualified}::{name}"


def commands(moves: tuple[Move, ...] = MOVES) -> list[str]:
    """The runbook: one `pulumi state move` per source and destination, run from the repository root, after a
    comment line per resource saying why it moves."""
    out = []
    for source, dest in dict.fromkeys((m.source, m.dest) for m in moves):
        these = [m for m in moves if (m.source, m.dest) == (source, dest)]
        why = "\n".join(f"#   {_parts(m.urn)[3]}: {m.why}" for m in these)
        urns = " \\\n    ".join(f"'{m.urn}'" for m in these)
        out.append(
            f"# {source} -> {dest}:\n{why}\n"
            f"pulumi state move --source {BACKEND_ORG}/{MAIN.name}/{source} --dest {BACKEND_ORG}/{ACCOUNT.name}/{dest} \\\n    {urns}"
        )
    return out


RUNBOOK = ROOT / "docs" / "state.md"
BEGIN, END = "<!-- preflight moves: begin -->", "<!-- preflight moves: end -->"


def runbook_block() -> str:
    """The commands as docs/state.md shows them, between its markers (`python -m preflight moves --write`)."""
    return "\n".join([BEGIN, "```sh", f"pulumi version   # {MINIMUM_CLI} or later", *commands(), "```", END])


def runbook_in_docs() -> str:
    text = RUNBOOK.read_text()
    return text[text.index(BEGIN) : text.index(END) + len(END)] if BEGIN in text and END in text else ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight moves", description="Print the `pulumi state move` commands.")
    parser.add_argument("--write", action="store_true", help=f"rewrite the commands in {RUNBOOK.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if not args.write:
        print(runbook_block())
        return 0
    current = runbook_in_docs()
    if not current:
        print(f"moves: {RUNBOOK.relative_to(ROOT)} has no {BEGIN} ... {END} block to rewrite")
        return 2
    RUNBOOK.write_text(RUNBOOK.read_text().replace(current, runbook_block()))
    print(f"moves: wrote {len(MOVES)} moves to {RUNBOOK.relative_to(ROOT)}")
    return 0
