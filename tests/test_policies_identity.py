"""Identity and federation policies over gRPC: Datadog's external id, pinned GitHub federation, no basic GCP roles."""

from __future__ import annotations

import json

import pytest

from preflight import ACCOUNT as ACCOUNT_PROJECT
from preflight.analyzer import PolicyPack
from tests.conftest import recording
from tests.kit import UNKNOWN, deferred, judge, mutate, res, violations

ROLE = "aws:iam/role:Role"
INTEGRATION = "datadog:aws/integrationAccount:IntegrationAccount"
PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
MEMBER = "gcp:projects/iAMMember:IAMMember"
ACCOUNT = "gcp:serviceaccount/account:Account"


def datadog_trust(condition: dict | None) -> str:
    statement: dict = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::464622532012:root"}, "Action": "sts:AssumeRole"}
    if condition is not None:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def datadog(trust: object, named: bool = True) -> list:
    role = res(ROLE, "dd-role", {"assumeRolePolicy": trust})
    integration = res(INTEGRATION, "dd", {"authConfig": {"awsAuthConfigRole": {"roleName": UNKNOWN}}}, {"authConfig": [role]})
    return [role, integration] if named else [role]


@pytest.mark.parametrize("named", [True, False], ids=["named-by-integration", "trusting-datadog"])
def test_datadog_role_requires_its_external_id(pack: PolicyPack, named: bool) -> None:
    policy = "datadog-trust-external-id"
    assert violations(judge(pack, datadog(datadog_trust({"StringEquals": {"sts:ExternalId": "abc123"}}), named)), policy) == []
    for condition in (None, {"StringLike": {"sts:ExternalId": "*"}}, {"StringEquals": {"aws:SourceAccount": "1"}}):
        (found,) = violations(judge(pack, datadog(datadog_trust(condition), named)), policy)
        assert (
            "Role 'dd-role': is the Datadog integration's role and trusts an AWS account without requiring its external id" in found.message
        )
    diagnostics = judge(pack, datadog(UNKNOWN))
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


@pytest.mark.parametrize("mode", ["update", "first"])
def test_dropping_the_recorded_external_id_fails(pack: PolicyPack, mode: str) -> None:
    def drop(registration) -> None:  # type: ignore[no-untyped-def]
        # The trust without its condition (in a first preview the recorded trust is unknown: it holds the external id).
        registration.inputs["assumeRolePolicy"] = datadog_trust(None)

    # The integration is the account's (account/): its baseline stack holds the role.
    changed = mutate(recording("prod-account", mode, ACCOUNT_PROJECT), ROLE, "prod-datadog-integration-role", drop)
    (found,) = violations(judge(pack, changed, "prod-account"))
    assert found.policy == "datadog-trust-external-id"


GITHUB_OIDC = {"issuerUri": "https://token.actions.githubusercontent.com"}
PINNED = "assertion.repository == 'example-org/kanna-infra' && (assertion.ref in ['refs/heads/main'] || ('environment' in assertion && assertion.environment in ['prod']))"


@pytest.mark.parametrize(
    ("condition", "missing"),
    [
        (PINNED, None),
        ("assertion.sub == 'repo:example-org/kanna-infra:environment:prod'", None),
        ("assertion.repository_owner == 'example-org'", "repository and no ref or environment"),
        ("assertion.repository == 'example-org/kanna-infra'", "ref or environment"),
        ("assertion.repository.startsWith('example-org/') && assertion.ref == 'refs/heads/main'", "repository"),
        (
            "assertion.repository == 'example-org/kanna-infra' && assertion.ref == 'refs/heads/main' || assertion.repository_owner == 'example-org'",
            "repository and no ref",
        ),
    ],
)
def test_github_federation_pins_repository_and_ref_or_environment(pack: PolicyPack, condition: str, missing: str | None) -> None:
    provider = res(PROVIDER, "github", {"attributeCondition": condition, "oidc": GITHUB_OIDC})
    found = violations(judge(pack, [provider]), "workload-identity-provider-condition")
    if missing is None:
        assert found == []
    else:
        (finding,) = found
        assert (
            f"WorkloadIdentityPoolProvider 'github': lets GitHub tokens federate with a condition that pins no {missing}" in finding.message
        )
    diagnostics = judge(pack, [res(PROVIDER, "github", {"attributeCondition": condition, "oidc": {"issuerUri": UNKNOWN}})])
    assert violations(diagnostics, "workload-identity-provider-condition") == []
    assert deferred(diagnostics, "workload-identity-provider-condition")


def grant(role: str, member: object, via_account: bool = True, name: str = "ci-grant") -> list:
    account = res(ACCOUNT, "ci-sa", {"accountId": "prod-github-ci"})
    props = {"project": "kanna-prod-example", "role": role, "member": member}
    return [account, res(MEMBER, name, props, {"member": [account]} if via_account else {})]


def test_no_ci_or_workload_identity_gets_a_basic_role(pack: PolicyPack) -> None:
    policy = "gcp-no-basic-roles"
    assert violations(judge(pack, grant("roles/bigquery.jobUser", UNKNOWN)), policy) == []
    assert violations(judge(pack, grant("roles/owner", "user:admin@example.com", via_account=False)), policy) == []  # a person, not CI
    for role in ("roles/owner", "roles/editor", "roles/viewer"):
        (found,) = violations(judge(pack, grant(role, "serviceAccount:prod-github-ci@p.iam.gserviceaccount.com")), policy)
        assert f"IAMMember 'ci-grant': gives serviceAccount:prod-github-ci@p.iam.gserviceaccount.com the basic role {role}" in found.message
    federated = "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/*"
    (found,) = violations(judge(pack, grant("roles/editor", federated, via_account=False)), policy)
    assert "the basic role roles/editor" in found.message
    diagnostics = judge(pack, grant(UNKNOWN, UNKNOWN))  # type: ignore[arg-type]
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


@pytest.mark.parametrize("mode", ["update", "first"])
def test_prod_ci_holds_no_basic_role_and_regaining_viewer_is_caught(pack: PolicyPack, mode: str) -> None:
    # No exception is configured: CI reads through one narrow role per resource type (settings/gcp.py).
    stack = recording("prod", mode)
    assert violations(judge(pack, stack.registrations), "gcp-no-basic-roles") == []
    viewer = mutate(stack, MEMBER, "prod-ci-browser", lambda r: r.inputs.update(role="roles/viewer"))
    (found,) = violations(judge(pack, viewer), "gcp-no-basic-roles")
    assert "IAMMember 'prod-ci-browser'" in found.message and "roles/viewer" in found.message


SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
POOL_PRINCIPAL = "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/subject/"


def repository_only(*members: object) -> list:
    """The bootstrap's shape: the provider pins the repository, and each grant one exact subject."""
    provider = res(
        PROVIDER,
        "github-provider",
        {
            "attributeCondition": "assertion.repository == 'example-org/kanna-infra'",
            "oidc": GITHUB_OIDC,
            "workloadIdentityPoolId": "github",
        },
    )
    grants = [
        res(SA_MEMBER, f"acts-as-{i}", {"serviceAccountId": UNKNOWN, "role": "roles/iam.workloadIdentityUser", "member": m})
        for i, m in enumerate(members)
    ]
    return [provider, *grants]


def test_a_repository_only_condition_passes_when_every_grant_names_one_subject(pack: PolicyPack) -> None:
    policy = "workload-identity-provider-condition"
    exact = [POOL_PRINCIPAL + "repo:example-org/kanna-infra:environment:prod", POOL_PRINCIPAL + "repo:example-org/kanna-infra:pull_request"]
    assert violations(judge(pack, repository_only(*exact)), policy) == []
    every_branch = "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/github/attribute.repository/example-org/kanna-infra"
    (found,) = violations(judge(pack, repository_only(*exact, every_branch)), policy)
    assert f"'acts-as-2' grants {every_branch}" in found.message
    (found,) = violations(judge(pack, repository_only()), policy)  # no grant here to pin anything: the condition alone counts
    assert "pins no ref or environment" in found.message
    diagnostics = judge(pack, repository_only(exact[0], UNKNOWN))
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)
