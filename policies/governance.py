"""Governance: who may assume roles from CI, and the guardrails every member account lives under.

- A role that trusts GitHub Actions' OIDC tokens pins the audience and one exact subject: a wildcard in
  `sub` (or no `sub` at all) lets any branch, pull request or fork's workflow in.
- Every member account of the organization sits under service control policies that deny leaving the
  organization and turning off the security services, and that restrict regions. Accounts, OUs, SCPs and
  attachments are related through property dependencies, so the check holds in a first preview.
- Scope: what AWS keeps once per account lives in the account's baseline stack (account/), never in a workload
  stack, which a second region of the same account repeats (two owners of one password policy fight on each
  `up`). The stack's config says which it is (`scope`); the type alone decides, so nothing waits for values.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, StackIndex, defer, get, json_value, resource_policy, stack_policy

ROLE = "aws:iam/role:Role"
ACCOUNT = "aws:organizations/account:Account"
OU = "aws:organizations/organizationalUnit:OrganizationalUnit"
SCP = "aws:organizations/policy:Policy"
ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"
GITHUB = "token.actions.githubusercontent.com"
# One repository, and one ref, one environment, or its pull requests (GitHub's default `sub` claim formats).
_PINNED_SUBJECT = re.compile(r"^repo:[^/:]+/[^/:]+:(ref:refs/(heads|tags)/[^:]+|environment:[^:]+|pull_request)$")

# Once per AWS account, whatever the region (the AWS documentation is cited where each is made:
# components/security/account.py, audit.py, components/observability/integration.py).
ACCOUNT_WIDE = (
    "aws:iam/accountPasswordPolicy:AccountPasswordPolicy",  # IAM is global
    "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",  # every bucket of the account, any region
    "aws:cloudtrail/trail:Trail",  # one multi-region trail records every region
    "datadog:aws/integrationAccount:IntegrationAccount",  # Datadog holds one integration per AWS account id
    "datadog:aws/integrationExternalId:IntegrationExternalId",  # that integration's external id
)

REQUIRED_DENIES = [
    "organizations:LeaveOrganization",
    "guardduty:DeleteDetector",
    "cloudtrail:StopLogging",
    "config:StopConfigurationRecorder",
    "securityhub:DisableSecurityHub",
]


def _account_scoped(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    if config.get("scope", "workload") == "account":
        return []
    return ["exists once per AWS account, and this is a workload stack: a second stack of the account would own it too"]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _trusts_github(statement: Mapping[str, Any]) -> bool:
    federated = _listed(get(statement, "Principal", "Federated", default=[]))
    conditions = get(statement, "Condition", default={}) or {}
    keys = [key for block in conditions.values() if isinstance(block, Mapping) for key in block]
    return any(isinstance(f, str) and GITHUB in f for f in federated) or any(key.startswith(f"{GITHUB}:") for key in keys)


def _github_trust_pinned(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    document = json_value(args.props, "assumeRolePolicy")
    if document is UNKNOWN:
        defer("assumeRolePolicy")
    problems = []
    for statement in _listed((document or {}).get("Statement", [])):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow" or not _trusts_github(statement):
            continue
        conditions = statement.get("Condition") or {}
        equals = conditions.get("StringEquals") or {}
        subjects = _listed(equals.get(f"{GITHUB}:sub", []))
        if equals.get(f"{GITHUB}:aud") != "sts.amazonaws.com":
            problems.append(f"trusts GitHub OIDC tokens without StringEquals {GITHUB}:aud = sts.amazonaws.com")
        if any(f"{GITHUB}:sub" in block for op, block in conditions.items() if op != "StringEquals" and isinstance(block, Mapping)):
            problems.append(f"matches {GITHUB}:sub with a pattern operator, which admits subjects nobody reviewed")
        if not subjects:
            problems.append(f"trusts GitHub OIDC tokens without pinning {GITHUB}:sub, so any workflow of any repository may assume it")
        elif any(not isinstance(s, str) or "*" in s or "?" in s for s in subjects):
            problems.append(f"pins {GITHUB}:sub with a wildcard ({', '.join(map(str, subjects))})")
        elif loose := [s for s in subjects if not _PINNED_SUBJECT.match(s)]:
            problems.append(f"accepts {GITHUB}:sub {', '.join(loose)}, which pins no repository with a ref, environment or pull_request")
    return problems


def _denied_actions(document: Any) -> list[str]:
    """Action patterns this SCP denies unconditionally or on a condition (NotAction statements aside)."""
    patterns: list[str] = []
    for statement in _listed((document or {}).get("Statement", [])):
        if isinstance(statement, Mapping) and statement.get("Effect") == "Deny" and "Action" in statement:
            patterns += [a for a in _listed(statement["Action"]) if isinstance(a, str)]
    return patterns


def _restricts_regions(document: Any) -> bool:
    for statement in _listed((document or {}).get("Statement", [])):
        if isinstance(statement, Mapping) and statement.get("Effect") == "Deny":
            conditions = statement.get("Condition") or {}
            if any(isinstance(block, Mapping) and "aws:RequestedRegion" in block for block in conditions.values()):
                return True
    return False


def _ancestors(index: StackIndex, account: PolicyResource) -> list[PolicyResource]:
    """The account and every OU above it, through `parentId` dependencies."""
    chain, current, seen = [account], account, {account.urn}
    while parents := [p for p in index.deps(current, "parentId", OU) if p.urn not in seen]:
        current = parents[0]
        seen.add(current.urn)
        chain.append(current)
    return chain


def _guardrails_attached(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    required = list(config.get("requiredDenies") or REQUIRED_DENIES)
    found: list[Finding] = []
    for account in index.of_type(ACCOUNT):
        targets = {r.urn for r in _ancestors(index, account)}
        denied: list[str] = []
        regions, unknown = False, False
        for attachment in index.of_type(ATTACHMENT):
            if not any(t.urn in targets for t in index.deps(attachment, "targetId")):
                continue
            for scp in index.deps(attachment, "policyId", SCP):
                if get(scp.props, "type") not in ("SERVICE_CONTROL_POLICY", UNKNOWN):
                    continue
                document = json_value(scp.props, "content")
                if document is UNKNOWN:
                    unknown = True  # computed content: judged at the update, when the engine knows it
                    continue
                denied += _denied_actions(document)
                regions |= _restricts_regions(document)
        if unknown:
            continue
        missing = [a for a in required if not any(fnmatch.fnmatchcase(a.lower(), p.lower()) for p in denied)]
        if missing:
            found.append((account, f"is under no SCP that denies {', '.join(missing)}"))
        if not regions:
            found.append((account, "is under no SCP that restricts regions (aws:RequestedRegion)"))
    return found


POLICIES = [
    resource_policy(
        "github-oidc-trust-pinned",
        "Roles assumable by GitHub Actions pin the audience and one exact subject (repository and PR, branch or environment).",
        [ROLE],
        _github_trust_pinned,
        f"add StringEquals {GITHUB}:aud = sts.amazonaws.com and {GITHUB}:sub = repo:<owner>/<repo>:<pull_request|ref:...|environment:...>",
        id="KANNA-IAM-002",
    ),
    resource_policy(
        "account-scope",
        "What AWS keeps once per account (password policy, S3 account public access block, trail, Datadog integration) lives only in the account's baseline stack.",
        list(ACCOUNT_WIDE),
        _account_scoped,
        "move it to the account baseline (account/, components/security/account.py) with `pulumi state move` (preflight/moves.py)",
        PolicyConfigSchema(
            properties={
                "scope": {
                    "type": "string",
                    "enum": ["workload", "account"],
                    "default": "workload",
                    "description": "workload: a stack of one region (none of these); account: the account's baseline (account/).",
                }
            }
        ),
        id="KANNA-GOV-002",
    ),
    stack_policy(
        "scp-guardrails-attached",
        "Every member account is under SCPs that deny leaving the organization, disabling the security services, and other regions.",
        _guardrails_attached,
        "attach the baseline SCPs (bootstrap/organization.py) to the account's OU or a parent OU, with every required deny",
        PolicyConfigSchema(properties={"requiredDenies": {"type": "array", "items": {"type": "string"}, "default": REQUIRED_DENIES}}),
        id="KANNA-GOV-001",
    ),
]
