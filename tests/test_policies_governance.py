"""Governance policies over gRPC: GitHub OIDC trust pinned, and SCP guardrails over every member account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies.governance import ACCOUNT_WIDE
from preflight import ACCOUNT as ACCOUNT_PROJECT
from preflight import BOOTSTRAP
from preflight.analyzer import PolicyPack
from preflight.program import Registration
from tests.conftest import recording as recorded
from tests.kit import UNKNOWN, deferred, judge, mutate, res, violations

ROLE = "aws:iam/role:Role"
GITHUB = "token.actions.githubusercontent.com"
ORG, OU = "aws:organizations/organization:Organization", "aws:organizations/organizationalUnit:OrganizationalUnit"
ACCOUNT, SCP = "aws:organizations/account:Account", "aws:organizations/policy:Policy"
ATTACHMENT = "aws:organizations/policyAttachment:PolicyAttachment"


def trust(condition: dict[str, Any] | None, federated: str = f"arn:aws:iam::1:oidc-provider/{GITHUB}") -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": federated}, "Action": "sts:AssumeRoleWithWebIdentity"}
    if condition is not None:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


PINNED = {"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": "repo:example-org/kanna-infra:environment:prod"}}


def role(policy: Any) -> Registration:
    return res(ROLE, "ci", {"assumeRolePolicy": policy})


def test_pinned_github_trust_passes(pack: PolicyPack) -> None:
    assert violations(judge(pack, [role(trust(PINNED))])) == []
    service = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    )
    assert violations(judge(pack, [role(service)])) == []  # not a GitHub role: not this policy's business


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        (None, "without pinning"),
        ({"StringLike": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": "repo:example-org/*"}}, "pattern operator"),
        ({"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": "repo:example-org/kanna-infra:*"}}, "with a wildcard"),
        ({"StringEquals": {f"{GITHUB}:sub": "repo:example-org/kanna-infra:pull_request"}}, "aud = sts.amazonaws.com"),
        # No wildcard, and still not pinned: the whole repository (any branch), or a custom claim naming only the owner.
        ({"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": "repo:example-org/kanna-infra"}}, "pins no repository"),
        ({"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com", f"{GITHUB}:sub": "repository_owner:example-org"}}, "pins no repository"),
    ],
)
def test_loose_github_trust_fails(pack: PolicyPack, condition: dict[str, Any] | None, problem: str) -> None:
    found = violations(judge(pack, [role(trust(condition))]), "github-oidc-trust-pinned")
    assert found and any(problem in d.message for d in found)
    assert all("\nKANNA-IAM-002 Role 'ci': " in d.message and "Fix: add StringEquals" in d.message for d in found)


def test_unknown_trust_policy_is_deferred(pack: PolicyPack) -> None:
    diagnostics = judge(pack, [role(UNKNOWN)])
    assert violations(diagnostics) == [] and deferred(diagnostics, "github-oidc-trust-pinned")


SCP_CONTENT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"},
        {"Effect": "Deny", "Action": ["guardduty:DeleteDetector", "cloudtrail:StopLogging"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["config:StopConfigurationRecorder", "securityhub:Disable*"], "Resource": "*"},
        {
            "Effect": "Deny",
            "NotAction": ["iam:*"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["ap-northeast-1"]}},
        },
    ],
}


def organization(content: Any, attach_to: str = "workloads") -> list[Registration]:
    org = res(ORG, "org", {"featureSet": "ALL"})
    workloads = res(OU, "workloads", {"name": "workloads", "parentId": UNKNOWN}, {"parentId": [org]})
    prod = res(OU, "prod", {"name": "prod", "parentId": UNKNOWN}, {"parentId": [workloads]})
    account = res(ACCOUNT, "account-prod", {"email": "aws+prod@example.com", "parentId": UNKNOWN}, {"parentId": [prod]})
    scp = res(SCP, "baseline", {"type": "SERVICE_CONTROL_POLICY", "content": content if content is UNKNOWN else json.dumps(content)})
    target = {"workloads": workloads, "prod": prod, "none": org}[attach_to]
    attachment = res(ATTACHMENT, "attach", {"policyId": UNKNOWN, "targetId": UNKNOWN}, {"policyId": [scp], "targetId": [target]})
    return [org, workloads, prod, account, scp, attachment]


@pytest.mark.parametrize("attach_to", ["workloads", "prod"])
def test_account_under_guardrails_passes_with_unknown_ids(pack: PolicyPack, attach_to: str) -> None:
    assert violations(judge(pack, organization(SCP_CONTENT, attach_to))) == []


def test_account_without_guardrails_fails(pack: PolicyPack) -> None:
    found = violations(judge(pack, organization(SCP_CONTENT, "none")), "scp-guardrails-attached")
    assert [d.message.split("\n")[1].split(". Fix: ")[0] for d in found] == [
        "KANNA-GOV-001 Account 'account-prod': is under no SCP that denies organizations:LeaveOrganization, guardduty:DeleteDetector, "
        "cloudtrail:StopLogging, config:StopConfigurationRecorder, securityhub:DisableSecurityHub",
        "KANNA-GOV-001 Account 'account-prod': is under no SCP that restricts regions (aws:RequestedRegion)",
    ]
    assert all(d.urn.endswith("::account-prod") and "Fix: attach the baseline SCPs" in d.message for d in found)


def test_unknown_scp_content_is_judged_at_the_update(pack: PolicyPack) -> None:
    assert violations(judge(pack, organization(UNKNOWN))) == []


def without(sid: str) -> Any:
    def change(registration: Registration) -> None:
        document = json.loads(registration.inputs["content"])
        document["Statement"] = [s for s in document["Statement"] if s["Sid"] != sid]
        registration.inputs["content"] = json.dumps(document)

    return change


@pytest.mark.parametrize("mode", ["update", "first"])
@pytest.mark.parametrize(
    ("scp", "sid", "missing"),
    [
        ("scp-guardrails", "DenyGuardDutyChanges", "denies guardduty:DeleteDetector"),
        ("scp-guardrails", "DenyLeavingOrganization", "denies organizations:LeaveOrganization"),
        ("scp-guardrails", "DenySecurityHubChanges", "denies securityhub:DisableSecurityHub"),
        ("scp-regions", "DenyOutsideHomeAndUsEast1", None),
    ],
)
def test_dropping_a_deny_from_the_bootstrap_scps_fails(pack: PolicyPack, mode: str, scp: str, sid: str, missing: str | None) -> None:
    recording = recorded("management", mode, BOOTSTRAP)
    assert violations(judge(pack, recording.registrations, "management")) == []
    found = violations(judge(pack, mutate(recording, SCP, scp, without(sid)), "management"), "scp-guardrails-attached")
    if missing is None:
        assert found == []  # the second regions statement still restricts regions
        both = mutate(
            recording, SCP, scp, lambda r: (without("DenyOutsideHomeAndUsEast1")(r), without("DenyUsEast1ExceptCloudFrontNeeds")(r))
        )
        found = violations(judge(pack, both, "management"), "scp-guardrails-attached")
        missing = "restricts regions"
    assert sorted(d.message.split("\n")[1].split("'")[1] for d in found) == ["account-dev", "account-prod", "account-shared"]
    assert all(missing in d.message for d in found)


def test_widening_a_bootstrap_ci_role_trust_fails(pack: PolicyPack) -> None:
    recording = recorded("management", "update", BOOTSTRAP)

    def widen(registration: Registration) -> None:
        registration.inputs["assumeRolePolicy"] = registration.inputs["assumeRolePolicy"].replace("environment:prod", "*")

    found = violations(judge(pack, mutate(recording, ROLE, "prod-ci-deploy-role", widen), "management"), "github-oidc-trust-pinned")
    assert (
        len(found) == 1 and "Role 'prod-ci-deploy-role': pins token.actions.githubusercontent.com:sub with a wildcard" in found[0].message
    )


# --- account-scope (KANNA-GOV-002): what exists once per account lives only in the account's baseline -----------


@pytest.mark.parametrize("type_", ACCOUNT_WIDE)
def test_an_account_wide_resource_fails_in_a_workload_stack_and_passes_in_its_account(pack: PolicyPack, type_: str) -> None:
    resource = res(type_, "moved-back", {"name": "kanna-prod"})
    (found,) = violations(judge(pack, [resource], "prod"), "account-scope")
    assert "'moved-back': exists once per AWS account, and this is a workload stack" in found.message and "Fix:" in found.message
    assert violations(judge(pack, [resource], "prod-account"), "account-scope") == []


def test_the_scope_is_the_type_s_so_unknown_inputs_are_judged_at_once(pack: PolicyPack) -> None:
    # A first preview knows the type: nothing to defer, in either scope.
    trail = res("aws:cloudtrail/trail:Trail", "unknown-trail", {"name": UNKNOWN, "s3BucketName": UNKNOWN})
    diagnostics = judge(pack, [trail], "dev")
    assert [d.urn.rsplit("::", 1)[-1] for d in violations(diagnostics, "account-scope")] == ["unknown-trail"]
    assert deferred(diagnostics, "account-scope") == []
    assert violations(judge(pack, [trail], "dev-account"), "account-scope") == []


@pytest.mark.parametrize("mode", ["update", "first"])
def test_the_committed_stacks_keep_their_scope(pack: PolicyPack, mode: str) -> None:
    # prod as committed passes; prod given back the password policy its baseline took over fails.
    prod = recorded("prod", mode)
    assert violations(judge(pack, prod.registrations, "prod"), "account-scope") == []
    policy = next(r for r in recorded("prod-account", mode, ACCOUNT_PROJECT).registrations if r.name == "prod-password-policy")
    (found,) = violations(judge(pack, [*prod.registrations, policy], "prod"), "account-scope")
    assert "AccountPasswordPolicy 'prod-password-policy'" in found.message
