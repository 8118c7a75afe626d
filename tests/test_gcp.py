"""The GCP complement on the real dev and prod stacks, and the issue's "Done when" variants."""

from __future__ import annotations

import json

import pytest

from components.gcp.apis import APIS
from components.gcp.firebase import RULES_FILE
from preflight.analyzer import PolicyPack
from preflight.program import stack_config
from settings import SettingsError, load
from settings.gcp import read_roles
from tests.kit import UNKNOWN, RecordedStack, judge, mutate, res, violations

ACCOUNT = "gcp:serviceaccount/account:Account"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
DATASET_MEMBER = "gcp:bigquery/datasetIamMember:DatasetIamMember"
PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"


def env(stack: RecordedStack) -> str:
    return stack.recording.stack


def test_every_gcp_resource_uses_the_stack_provider(each_stack: RecordedStack) -> None:
    (provider,) = each_stack.of_type("pulumi:providers:gcp")
    project = f"kanna-{env(each_stack)}-example"
    assert provider.inputs["project"] == provider.inputs["billingProject"] == project
    assert provider.inputs["region"] == "asia-northeast1" and provider.inputs["userProjectOverride"] == "true"
    gcp_resources = [r for r in each_stack.registrations if r.custom and r.type.startswith("gcp:")]
    assert len(gcp_resources) > 60
    assert {r.provider.rsplit("::", 1)[0] for r in gcp_resources} == {provider.urn}
    assert {r.inputs.get("project") for r in gcp_resources if "project" in r.inputs} == {project}


def test_apis_enabled_and_never_disabled_on_destroy(each_stack: RecordedStack) -> None:
    services = each_stack.of_type("gcp:projects/service:Service")
    assert {s.inputs["service"] for s in services} == set(APIS)
    required = {"firebase", "identitytoolkit", "firestore", "fcm", "bigquery", "bigquerydatatransfer", "iamcredentials", "sts", "iam"}
    assert {f"{name}.googleapis.com" for name in required} <= set(APIS)
    assert all(s.inputs["disableOnDestroy"] is False for s in services)
    # Everything that calls an API waits for it.
    for type_ in ("gcp:firebase/project:Project", "gcp:bigquery/dataset:Dataset", "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"):
        for resource in each_stack.of_type(type_):
            assert {s.urn for s in services} <= set(resource.dependencies)


def test_firebase_apps_from_settings(each_stack: RecordedStack) -> None:
    (project,) = each_stack.of_type("gcp:firebase/project:Project")
    for type_, key, value in [
        ("gcp:firebase/appleApp:AppleApp", "bundleId", "com.example.kanna"),
        ("gcp:firebase/androidApp:AndroidApp", "packageName", "com.example.kanna"),
    ]:
        (app,) = each_stack.of_type(type_)
        assert app.inputs[key] == value and project.urn in app.dependencies
    (web,) = each_stack.of_type("gcp:firebase/webApp:WebApp")
    assert web.inputs["displayName"] == f"kanna {env(each_stack)} kanna-web"


def test_authentication(dev: RecordedStack, prod: RecordedStack) -> None:
    for stack, domains in ((dev, ["dev.example.com", "localhost"]), (prod, ["app.example.com"])):
        (auth,) = stack.of_type("gcp:identityplatform/config:Config")
        assert auth.inputs["authorizedDomains"] == domains
        assert auth.inputs["signIn"] == {
            "email": {"enabled": True, "passwordRequired": True},
            "anonymous": {"enabled": False},
            "allowDuplicateEmails": False,
        }
        assert auth.inputs["mfa"] == {
            "state": "ENABLED",
            "providerConfigs": [{"state": "ENABLED", "totpProviderConfig": {"adjacentIntervals": 1.0}}],
        }
        assert auth.inputs["client"] == {"permissions": {"disabledUserSignup": True, "disabledUserDeletion": True}}


def test_firestore_native_tokyo_recoverable_and_protected_in_prod(dev: RecordedStack, prod: RecordedStack) -> None:
    for stack in (dev, prod):
        (db,) = stack.of_type("gcp:firestore/database:Database")
        assert {
            k: db.inputs[k]
            for k in ("name", "locationId", "type", "pointInTimeRecoveryEnablement", "deleteProtectionState", "deletionPolicy")
        } == {
            "name": "(default)",
            "locationId": "asia-northeast1",
            "type": "FIRESTORE_NATIVE",
            "pointInTimeRecoveryEnablement": "POINT_IN_TIME_RECOVERY_ENABLED",
            "deleteProtectionState": "DELETE_PROTECTION_ENABLED",
            "deletionPolicy": "ABANDON",
        }
        assert db.protect is (stack is prod)


def test_deployed_ruleset_is_the_rules_file(each_stack: RecordedStack) -> None:
    (ruleset,) = each_stack.of_type("gcp:firebaserules/ruleset:Ruleset")
    (source_file,) = ruleset.inputs["source"]["files"]
    assert source_file == {"name": "firestore.rules", "content": RULES_FILE.read_text()}
    assert "allow read, write: if false;" in source_file["content"]  # deny by default
    (release,) = each_stack.of_type("gcp:firebaserules/release:Release")
    assert release.inputs["name"] == "cloud.firestore"
    assert each_stack.deps(release, "rulesetName") == [ruleset]
    (db,) = each_stack.of_type("gcp:firestore/database:Database")
    assert db.urn in release.dependencies


def grants_to(stack: RecordedStack, account: str) -> list[tuple[str, str]]:
    """(type, role) of every IAM grant whose member flows from the service account `account`."""
    (sa,) = [a for a in stack.of_type(ACCOUNT) if a.name == account]
    return sorted(
        (r.type, r.inputs["role"] if not stack.deps(r, "role") else stack.deps(r, "role")[0].type)
        for r in stack.registrations
        if "role" in r.inputs and sa in stack.deps(r, "member")
    )


def test_backend_sends_fcm_through_a_one_permission_role_and_writes_firestore(each_stack: RecordedStack) -> None:
    e = env(each_stack)
    (role,) = each_stack.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")
    assert role.inputs["permissions"] == ["cloudmessaging.messages.create"]
    assert grants_to(each_stack, f"{e}-backend-sa") == [
        (DATASET_MEMBER, "roles/bigquery.dataEditor"),
        (PROJECT_MEMBER, "gcp:projects/iAMCustomRole:IAMCustomRole"),
        (PROJECT_MEMBER, "roles/bigquery.jobUser"),
        (PROJECT_MEMBER, "roles/datastore.user"),
    ]
    (usage_write,) = [r for r in each_stack.of_type(DATASET_MEMBER) if r.name == f"{e}-backend-writes-usage"]
    assert [d.inputs["datasetId"] for d in each_stack.deps(usage_write, "datasetId")] == ["usage"]


def test_no_service_account_key_anywhere(each_stack: RecordedStack) -> None:
    assert each_stack.of_type("gcp:serviceaccount/key:Key") == []
    assert not any("awsAccessKey" in json.dumps(r.inputs) or "secretAccessKey" in json.dumps(r.inputs) for r in each_stack.registrations)


def test_datasets_and_partitioned_tables(dev: RecordedStack, prod: RecordedStack) -> None:
    days = {"dev": {"app_logs": 30, "audit_logs": 90, "usage": 90}, "prod": {"app_logs": 90, "audit_logs": 400, "usage": 730}}
    for stack in (dev, prod):
        datasets = {d.inputs["datasetId"]: d for d in stack.of_type("gcp:bigquery/dataset:Dataset")}
        assert set(datasets) == {"app_logs", "audit_logs", "usage"}
        for dataset_id, dataset in datasets.items():
            ms = days[env(stack)][dataset_id] * 86_400_000
            assert dataset.inputs["location"] == "asia-northeast1" and dataset.protect is (stack is prod)
            assert dataset.inputs["defaultPartitionExpirationMs"] == ms and "accesses" not in dataset.inputs
            (table,) = [t for t in stack.of_type("gcp:bigquery/table:Table") if stack.deps(t, "datasetId") == [dataset]]
            assert table.inputs["timePartitioning"] == {"type": "DAY", "field": "timestamp", "expirationMs": ms}
            assert table.protect is table.inputs["deletionProtection"] is (stack is prod)
            assert json.loads(table.inputs["schema"])[0]["name"] == "timestamp"


def test_redash_reads_each_dataset_and_runs_jobs_only(each_stack: RecordedStack) -> None:
    e = env(each_stack)
    assert grants_to(each_stack, f"{e}-redash-sa") == [(DATASET_MEMBER, "roles/bigquery.dataViewer")] * 3 + [
        (PROJECT_MEMBER, "roles/bigquery.jobUser")
    ]
    (sa,) = [a for a in each_stack.of_type(ACCOUNT) if a.name == f"{e}-redash-sa"]
    viewer_datasets = sorted(
        each_stack.deps(r, "datasetId")[0].inputs["datasetId"]
        for r in each_stack.of_type(DATASET_MEMBER)
        if sa in each_stack.deps(r, "member")
    )
    assert viewer_datasets == ["app_logs", "audit_logs", "usage"]


def test_log_pipeline_is_keyless_s3_to_staging_to_bigquery(each_stack: RecordedStack) -> None:
    e = env(each_stack)
    account = {"dev": "222222222222", "prod": "111111111111"}[e]
    (bucket,) = each_stack.of_type("gcp:storage/bucket:Bucket")
    assert bucket.inputs["publicAccessPrevention"] == "enforced" and bucket.inputs["uniformBucketLevelAccess"] is True
    jobs = {j.inputs["transferSpec"]["awsS3DataSource"]["path"]: j for j in each_stack.of_type("gcp:storage/transferJob:TransferJob")}
    assert set(jobs) == {"app/", "audit/"}
    for prefix, job in jobs.items():
        source = job.inputs["transferSpec"]["awsS3DataSource"]
        assert source == {
            "bucketName": f"kanna-{e}-log-export-{account}",
            "path": prefix,
            "roleArn": f"arn:aws:iam::{account}:role/{e}-bigquery-log-export",
        }
        assert each_stack.deps(job, "transferSpec") == [bucket]
    loads = {c.inputs["destinationDatasetId"]: c for c in each_stack.of_type("gcp:bigquery/dataTransferConfig:DataTransferConfig")}
    assert set(loads) == {"app_logs", "audit_logs"}
    for dataset_id, load_config in loads.items():
        assert load_config.inputs["dataSourceId"] == "google_cloud_storage"
        assert load_config.inputs["params"]["destination_table_name_template"] == "events"
        prefix = {"app_logs": "app", "audit_logs": "audit"}[dataset_id]
        assert load_config.inputs["params"]["data_path_template"] == f"gs://kanna-{e}-example-log-staging/{prefix}/*"
        assert [a.name for a in each_stack.deps(load_config, "serviceAccountName")] == [f"{e}-log-loader-sa"]
    # The loader writes the two log datasets only; the transfer agent reaches only the staging bucket.
    assert grants_to(each_stack, f"{e}-log-loader-sa") == [
        (DATASET_MEMBER, "roles/bigquery.dataEditor"),
        (DATASET_MEMBER, "roles/bigquery.dataEditor"),
        ("gcp:projects/iAMMember:IAMMember", "roles/bigquery.jobUser"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "roles/storage.objectViewer"),
    ]


def test_aws_federation_admits_only_the_listed_task_roles(each_stack: RecordedStack) -> None:
    e = env(each_stack)
    account = {"dev": "222222222222", "prod": "111111111111"}[e]
    providers = {p.inputs["workloadIdentityPoolProviderId"]: p for p in each_stack.of_type(PROVIDER)}
    aws = providers["aws"]
    assert aws.inputs["aws"] == {"accountId": account}
    environments = {"dev": ["alpha", "beta", "gamma"], "prod": ["prod"]}[e]
    assert aws.inputs["attributeCondition"] == " || ".join(
        f"assertion.arn.startsWith('arn:aws:sts::{account}:assumed-role/{environment}-{service}-task/')"
        for environment in environments
        for service in ("core-api", "sidekiq")
    )
    for environment, service in ((v, s) for v in environments for s in ("core-api", "sidekiq")):
        (binding,) = [b for b in each_stack.of_type(SA_MEMBER) if b.name == f"{environment}-{service}-task-acts-as-backend"]
        assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
        assert [a.name for a in each_stack.deps(binding, "serviceAccountId")] == [f"{e}-backend-sa"]
        assert [p.name for p in each_stack.deps(binding, "member")] == [f"{e}-aws-pool"]
        if each_stack.recording.mode == "update":
            assert binding.inputs["member"].endswith(
                f"/attribute.aws_role/arn:aws:sts::{account}:assumed-role/{environment}-{service}-task"
            )
        else:
            assert binding.inputs["member"] == UNKNOWN  # the pool's resource name (with the project number) is not known yet


def test_github_federation_admits_only_the_repository_on_protected_refs(dev: RecordedStack, prod: RecordedStack) -> None:
    for stack, environment in ((dev, "dev"), (prod, "prod")):
        (github,) = [p for p in stack.of_type(PROVIDER) if p.inputs["workloadIdentityPoolProviderId"] == "github"]
        assert github.inputs["oidc"] == {"issuerUri": "https://token.actions.githubusercontent.com"}
        assert github.inputs["attributeCondition"] == (
            "assertion.repository == 'example-org/kanna-infra' && (assertion.ref in ['refs/heads/main'] || "
            f"('environment' in assertion && assertion.environment in ['{environment}']))"
        )
        e = env(stack)
        assert grants_to(stack, f"{e}-ci-sa") == [(PROJECT_MEMBER, role) for role in read_roles()]
        (binding,) = [b for b in stack.of_type(SA_MEMBER) if b.name == f"{e}-github-acts-as-ci"]
        assert binding.inputs["member"].endswith("/attribute.repository/example-org/kanna-infra")


# "Done when": each non-compliant variant of a real stack fails, naming the policy and the resource.


@pytest.mark.parametrize("mode", ["update", "first"])
def test_dataset_granted_to_all_users_fails(pack: PolicyPack, mode: str) -> None:
    from tests.conftest import recording

    stack = recording("prod", mode)
    changed = mutate(stack, DATASET_MEMBER, "prod-redash-reads-usage", lambda r: r.inputs.update(member="allUsers"))
    found = violations(judge(pack, changed))
    assert [(d.policy, "prod-redash-reads-usage" in d.message) for d in found] == [("bigquery-not-public", True)]


@pytest.mark.parametrize("mode", ["update", "first"])
def test_provider_without_condition_fails(pack: PolicyPack, mode: str) -> None:
    from tests.conftest import recording

    stack = recording("dev", mode)
    changed = mutate(stack, PROVIDER, "dev-aws-provider", lambda r: r.inputs.pop("attributeCondition"))
    found = violations(judge(pack, changed, "dev"))
    assert [(d.policy, "'dev-aws-provider'" in d.message) for d in found] == [("workload-identity-provider-condition", True)]


@pytest.mark.parametrize("mode", ["update", "first"])
def test_service_account_key_fails(pack: PolicyPack, mode: str) -> None:
    from tests.conftest import recording

    stack = RecordedStack(recording("prod", mode))
    (backend,) = [a for a in stack.of_type(ACCOUNT) if a.name == "prod-backend-sa"]
    key = res(
        "gcp:serviceaccount/key:Key",
        "prod-backend-key",
        {"serviceAccountId": UNKNOWN if mode == "first" else "x"},
        {"serviceAccountId": [backend]},
    )
    found = violations(judge(pack, [*stack.registrations, key]))
    assert [(d.policy, "'prod-backend-key'" in d.message) for d in found] == [("no-service-account-keys", True)]


@pytest.mark.parametrize("mode", ["update", "first"])
def test_bi_write_grant_fails(pack: PolicyPack, mode: str) -> None:
    from tests.conftest import recording

    stack = recording("prod", mode)
    changed = mutate(stack, DATASET_MEMBER, "prod-redash-reads-audit-logs", lambda r: r.inputs.update(role="roles/bigquery.dataEditor"))
    found = violations(judge(pack, changed))
    assert [(d.policy, "'prod-redash-reads-audit-logs'" in d.message) for d in found] == [("bi-identity-read-only", True)]


# Settings: one clear line per bad value.

BASE = {"kanna-infra:awsAccountId": "111111111111"}
BAD_GCP = {
    "bad project id": ({"projectId": "Kanna_Prod"}, 'gcp.projectId = "Kanna_Prod"', "allowed: text matching"),
    "bad region": ({"projectId": "kanna-prod-example", "region": "us-central1"}, "gcp.region", "'asia-northeast1'"),
    "bad bundle id": ({"projectId": "kanna-prod-example", "apps": {"iosBundleIds": ["kanna"]}}, "gcp.apps.iosBundleIds", "reverse-DNS"),
    "localhost in prod": ({"projectId": "kanna-prod-example", "authorizedDomains": ["localhost"]}, "gcp.authorizedDomains", "no localhost"),
    "short audit logs in prod": (
        {"projectId": "kanna-prod-example", "tableExpirationDays": {"auditLogs": 30}},
        "gcp.tableExpirationDays.auditLogs = 30",
        "365 to 3650",
    ),
    "bad repository": ({"projectId": "kanna-prod-example", "github": {"repository": "kanna-infra"}}, "gcp.github.repository", "owner/name"),
    "owner for CI": (
        {"projectId": "kanna-prod-example", "github": {"roles": ["roles/owner"]}},
        "gcp.github.roles",
        "rewrite the project's IAM",
    ),
    "basic viewer for CI": (
        {"projectId": "kanna-prod-example", "github": {"roles": ["roles/viewer"]}},
        "gcp.github.roles",
        "basic role, wider than CI needs",
    ),
    "unknown key": ({"projectId": "kanna-prod-example", "projectNumber": 1}, "gcp.projectNumber", "allowed keys:"),
}


@pytest.mark.parametrize("case", BAD_GCP, ids=list(BAD_GCP))
def test_bad_gcp_setting_gives_one_line(case: str) -> None:
    gcp, where, allowed = BAD_GCP[case]
    with pytest.raises(SettingsError) as caught:
        load("prod", {**BASE, "kanna-infra:gcp": json.dumps(gcp)})
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and message.startswith("stack 'prod': kanna-infra:"), message
    assert where in message and allowed in message, message


def test_committed_gcp_settings() -> None:
    for stack in ("dev", "prod"):
        settings = load(stack, stack_config(stack)[0])
        assert settings.gcp is not None and settings.gcp.project_id == f"kanna-{stack}-example"
        assert settings.gcp.github.repository == "example-org/kanna-infra" and not settings.gcp.self_signup
