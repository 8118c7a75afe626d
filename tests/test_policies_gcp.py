"""GCP policies over gRPC: a compliant case, a violating case and an unknown-values case each."""

from __future__ import annotations

import json

import pytest

from preflight.analyzer import PolicyPack
from tests.kit import UNKNOWN, deferred, judge, res, violations

FIRESTORE = "gcp:firestore/database:Database"
DATASET = "gcp:bigquery/dataset:Dataset"
ACCOUNT = "gcp:serviceaccount/account:Account"
PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
PITR_ON, PROTECTION_ON = "POINT_IN_TIME_RECOVERY_ENABLED", "DELETE_PROTECTION_ENABLED"


@pytest.mark.parametrize(
    ("pitr", "protection", "problems"),
    [
        (PITR_ON, PROTECTION_ON, []),
        ("POINT_IN_TIME_RECOVERY_DISABLED", PROTECTION_ON, ["point-in-time recovery POINT_IN_TIME_RECOVERY_DISABLED"]),
        (PITR_ON, None, ["delete protection DELETE_PROTECTION_DISABLED"]),
        (None, None, ["point-in-time recovery", "delete protection"]),
    ],
    ids=["both-on", "no-pitr", "protection-absent", "both-absent"],
)
def test_firestore_pitr_and_delete_protection(pack: PolicyPack, pitr: object, protection: object, problems: list[str]) -> None:
    props = {k: v for k, v in {"pointInTimeRecoveryEnablement": pitr, "deleteProtectionState": protection}.items() if v}
    found = violations(judge(pack, [res(FIRESTORE, "chat", props)]), "firestore-pitr-and-delete-protection")
    assert len(found) == len(problems)
    for diagnostic, problem in zip(found, problems, strict=True):
        assert "Database 'chat'" in diagnostic.message and problem in diagnostic.message and "Fix: set point_in_time" in diagnostic.message


def test_firestore_unknown_settings_are_deferred(pack: PolicyPack) -> None:
    diagnostics = judge(pack, [res(FIRESTORE, "chat", {"pointInTimeRecoveryEnablement": UNKNOWN, "deleteProtectionState": PROTECTION_ON})])
    assert violations(diagnostics, "firestore-pitr-and-delete-protection") == []
    assert len(deferred(diagnostics, "firestore-pitr-and-delete-protection")) == 1


PUBLIC_GRANTS = {
    "dataset-member": (
        "gcp:bigquery/datasetIamMember:DatasetIamMember",
        {"datasetId": "logs", "role": "roles/bigquery.dataViewer", "member": "allUsers"},
    ),
    "dataset-binding": (
        "gcp:bigquery/datasetIamBinding:DatasetIamBinding",
        {"datasetId": "logs", "role": "roles/bigquery.dataViewer", "members": ["group:bi@example.com", "allAuthenticatedUsers"]},
    ),
    "dataset-policy": (
        "gcp:bigquery/datasetIamPolicy:DatasetIamPolicy",
        {"datasetId": "logs", "policyData": json.dumps({"bindings": [{"role": "roles/bigquery.dataViewer", "members": ["allUsers"]}]})},
    ),
    "dataset-accesses": (DATASET, {"datasetId": "logs", "accesses": [{"role": "READER", "specialGroup": "allAuthenticatedUsers"}]}),
    "dataset-access": ("gcp:bigquery/datasetAccess:DatasetAccess", {"datasetId": "logs", "role": "READER", "iamMember": "allUsers"}),
    "table-member": ("gcp:bigquery/iamMember:IamMember", {"tableId": "events", "role": "roles/bigquery.dataViewer", "member": "allUsers"}),
    "table-binding": (
        "gcp:bigquery/iamBinding:IamBinding",
        {"tableId": "events", "role": "roles/bigquery.dataViewer", "members": ["allUsers"]},
    ),
}


@pytest.mark.parametrize("case", PUBLIC_GRANTS, ids=list(PUBLIC_GRANTS))
def test_bigquery_public_grant_fails(pack: PolicyPack, case: str) -> None:
    type_, props = PUBLIC_GRANTS[case]
    (found,) = violations(judge(pack, [res(type_, "grant", props)]), "bigquery-not-public")
    assert (
        "'grant'" in found.message and "anyone on the internet" in found.message and "Fix: grant a named service account" in found.message
    )


@pytest.mark.parametrize("case", PUBLIC_GRANTS, ids=list(PUBLIC_GRANTS))
def test_bigquery_named_grant_passes(pack: PolicyPack, case: str) -> None:
    type_, props = PUBLIC_GRANTS[case]
    named = json.loads(json.dumps(props).replace("allAuthenticatedUsers", "projectReaders").replace("allUsers", "group:bi@example.com"))
    assert violations(judge(pack, [res(type_, "grant", named)]), "bigquery-not-public") == []


def test_bigquery_unknown_member_is_deferred_but_a_known_public_one_still_fails(pack: PolicyPack) -> None:
    member = "gcp:bigquery/datasetIamMember:DatasetIamMember"
    diagnostics = judge(pack, [res(member, "sa", {"datasetId": "logs", "role": "roles/bigquery.dataViewer", "member": UNKNOWN})])
    assert violations(diagnostics, "bigquery-not-public") == [] and len(deferred(diagnostics, "bigquery-not-public")) == 1
    binding = res(
        "gcp:bigquery/datasetIamBinding:DatasetIamBinding", "b", {"role": "roles/bigquery.dataViewer", "members": [UNKNOWN, "allUsers"]}
    )
    assert len(violations(judge(pack, [binding]), "bigquery-not-public")) == 1


@pytest.mark.parametrize("condition", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_provider_without_condition_fails(pack: PolicyPack, condition: object) -> None:
    props = {"workloadIdentityPoolProviderId": "aws", "aws": {"accountId": "111111111111"}}
    if condition is not None:
        props["attributeCondition"] = condition
    (found,) = violations(judge(pack, [res(PROVIDER, "aws", props)]), "workload-identity-provider-condition")
    assert "WorkloadIdentityPoolProvider 'aws'" in found.message and "no attribute condition" in found.message


def test_provider_with_condition_passes_and_unknown_defers(pack: PolicyPack) -> None:
    ok = res(PROVIDER, "gh", {"attributeCondition": "assertion.repository == 'example-org/kanna-infra'"})
    assert violations(judge(pack, [ok]), "workload-identity-provider-condition") == []
    diagnostics = judge(pack, [res(PROVIDER, "gh", {"attributeCondition": UNKNOWN})])
    assert violations(diagnostics) == [] and len(deferred(diagnostics, "workload-identity-provider-condition")) == 1


@pytest.mark.parametrize("account", ["sa@example-project.iam.gserviceaccount.com", UNKNOWN], ids=["known", "unknown-account"])
def test_service_account_key_fails_even_with_unknown_values(pack: PolicyPack, account: object) -> None:
    (found,) = violations(judge(pack, [res("gcp:serviceaccount/key:Key", "key", {"serviceAccountId": account})]), "no-service-account-keys")
    assert "Key 'key'" in found.message and "Fix: remove the key" in found.message


def bi_grant(role: str, account_id: str = "prod-redash", member: object = UNKNOWN, type_: str = "gcp:projects/iAMMember:IAMMember") -> list:
    account = res(ACCOUNT, "bi-sa", {"accountId": account_id})
    grant = res(type_, "bi-grant", {"role": role, "member": member, "project": "p"}, {"member": [account]})
    return [account, grant]


@pytest.mark.parametrize("role", ["roles/bigquery.dataViewer", "roles/bigquery.jobUser"])
@pytest.mark.parametrize("member", [UNKNOWN, "serviceAccount:prod-redash@p.iam.gserviceaccount.com"], ids=["first-preview", "known"])
def test_bi_read_roles_pass(pack: PolicyPack, role: str, member: object) -> None:
    assert violations(judge(pack, bi_grant(role, member=member)), "bi-identity-read-only") == []


@pytest.mark.parametrize("role", ["roles/bigquery.dataEditor", "roles/bigquery.dataOwner", "roles/bigquery.admin", "roles/editor"])
@pytest.mark.parametrize("type_", ["gcp:projects/iAMMember:IAMMember", "gcp:bigquery/datasetIamMember:DatasetIamMember"])
def test_bi_write_roles_fail_through_property_dependencies(pack: PolicyPack, role: str, type_: str) -> None:
    (found,) = violations(judge(pack, bi_grant(role, type_=type_)), "bi-identity-read-only")
    assert "'bi-grant'" in found.message and f"role {role}" in found.message and "not read-only" in found.message


def test_bi_write_role_by_literal_email_fails_and_other_accounts_may_write(pack: PolicyPack) -> None:
    account = res(ACCOUNT, "bi-sa", {"accountId": "dev-redash"})
    literal = res(
        "gcp:bigquery/datasetIamMember:DatasetIamMember",
        "lit",
        {"role": "roles/bigquery.dataEditor", "member": "serviceAccount:dev-redash@p.iam.gserviceaccount.com"},
    )
    (found,) = violations(judge(pack, [account, literal], "dev"), "bi-identity-read-only")
    assert "'lit'" in found.message
    assert violations(judge(pack, bi_grant("roles/bigquery.dataEditor", account_id="prod-log-loader")), "bi-identity-read-only") == []


def test_bi_unknown_role_is_deferred(pack: PolicyPack) -> None:
    diagnostics = judge(pack, bi_grant(UNKNOWN))
    assert violations(diagnostics, "bi-identity-read-only") == [] and len(deferred(diagnostics, "bi-identity-read-only")) == 1
