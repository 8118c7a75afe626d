"""Identity and federation: third parties assume roles only with their external id, and no CI or workload identity
gets a basic role (Owner, Editor, Viewer) on a GCP project.

The Datadog integration's role is found through property dependencies (the IntegrationAccount's authConfig
names the role), and by its trust in Datadog's AWS accounts, so the check holds in a first preview.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource

from settings.observability import DATADOG_AWS_ACCOUNTS as SITE_ACCOUNTS

from ._lib import UNKNOWN, Finding, StackIndex, each, get, items, json_value, stack_policy, sure

ROLE = "aws:iam/role:Role"
DATADOG_ACCOUNT = "datadog:aws/integrationAccount:IntegrationAccount"
# The AWS accounts Datadog's integration assumes roles from: every site's, from the one table the stacks use.
DATADOG_AWS_ACCOUNTS = tuple(sorted(set(SITE_ACCOUNTS.values())))
BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
# Project-level grants: (property naming the grantee(s), holds a list).
PROJECT_GRANTS: dict[str, tuple[str, bool]] = {
    "gcp:projects/iAMMember:IAMMember": ("member", False),
    "gcp:projects/iAMBinding:IAMBinding": ("members", True),
    "gcp:organizations/iAMMember:IAMMember": ("member", False),
    "gcp:organizations/iAMBinding:IAMBinding": ("members", True),
    "gcp:folder/iAMMember:IAMMember": ("member", False),
    "gcp:folder/iAMBinding:IAMBinding": ("members", True),
}
PROJECT_POLICY = "gcp:projects/iAMPolicy:IAMPolicy"
# Non-human grantees: service accounts and federated (workload identity) principals.
WORKLOAD_PREFIXES = ("serviceAccount:", "principal://", "principalSet://")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _trusts_datadog(document: Any) -> bool:
    for statement in _listed((document or {}).get("Statement", [])):
        principals = _listed(get(statement, "Principal", "AWS", default=[]))
        if any(isinstance(p, str) and any(f":{a}:" in p or p == a for a in DATADOG_AWS_ACCOUNTS) for p in principals):
            return True
    return False


def _external_id_problems(document: Any) -> list[str]:
    problems = []
    for statement in _listed((document or {}).get("Statement", [])):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow" or not get(statement, "Principal", "AWS"):
            continue
        equals = get(statement, "Condition", "StringEquals", default={}) or {}
        external = next((v for k, v in equals.items() if k.lower() == "sts:externalid"), None)
        if not isinstance(external, str) or not external or "*" in external:
            problems.append("trusts an AWS account without requiring its external id (StringEquals sts:ExternalId)")
    return problems


def _datadog_external_id(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    named = {role.urn for account in index.of_type(DATADOG_ACCOUNT) for role in index.deps(account, "authConfig", ROLE)}

    def check(role: PolicyResource) -> list[str]:
        document = json_value(role.props, "assumeRolePolicy")
        if document is UNKNOWN and role.urn not in named:
            return []  # an unknown trust of a role no integration names: judged at the update, by the trust itself
        document = sure(document, "assumeRolePolicy")
        if role.urn not in named and not _trusts_datadog(document):
            return []
        return [f"is the Datadog integration's role and {problem}" for problem in _external_id_problems(document)]

    return each(index.of_type(ROLE), check)


def _grants(resource: PolicyResource) -> list[tuple[Any, Any]]:
    """(role, member) pairs a project-level grant makes."""
    if resource.resource_type == PROJECT_POLICY:
        policy = sure(json_value(resource.props, "policyData"), "policyData") or {}
        return [(b.get("role"), m) for b in policy.get("bindings", []) for m in b.get("members", [])]
    prop, many = PROJECT_GRANTS[resource.resource_type]
    members = items(resource.props, prop) if many else [get(resource.props, prop)]
    return [(get(resource.props, "role"), member) for member in members]


def _no_basic_roles(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    def check(grant: PolicyResource) -> list[str]:
        problems = []
        for role, member in _grants(grant):
            if sure(role, "role") not in BASIC_ROLES:
                continue
            # A member that flows from a service account of this stack is one, even before its email is known.
            workload = isinstance(member, str) and member.startswith(WORKLOAD_PREFIXES)
            if workload or index.deps(grant, "member") or index.deps(grant, "members") or member is UNKNOWN:
                problems.append(f"gives {member if isinstance(member, str) else 'a service account'} the basic role {role}")
        return problems

    return each(index.of_type(*PROJECT_GRANTS, PROJECT_POLICY), check)


POLICIES = [
    stack_policy(
        "datadog-trust-external-id",
        "The Datadog integration's role (named by the IntegrationAccount, or trusting Datadog's AWS accounts) requires Datadog's external id.",
        _datadog_external_id,
        "add Condition StringEquals sts:ExternalId = the datadog.aws.IntegrationExternalId to the role's trust (components/observability/observability.py)",
        id="KANNA-IAM-003",
    ),
    stack_policy(
        "gcp-no-basic-roles",
        "No service account or federated (CI, workload) identity holds a basic role (roles/owner, roles/editor, roles/viewer) on a GCP project, folder or organization.",
        _no_basic_roles,
        "grant the predefined or custom roles the identity needs (settings gcp.github.roles), never a basic role",
        id="KANNA-IAM-005",
        controls=("CIS GCP 1.5",),
    ),
]
