"""What a real first `pulumi up` would hit and mocks accept: the guards of issue 12, one class of problem each.

- the GCP identities hold exactly the roles the stack's resource types need, and no basic role;
- every invoke waits for what it needs (the API it calls), as the engine sees the request;
- every Datadog dashboard follows the rules of its layout;
- the Datadog integration role trusts the AWS account of the stack's Datadog site, and writes only the stack's logs.
"""

from __future__ import annotations

import json
import re
from typing import get_args

import pytest

from components.gcp.identity import MAX_CONDITION, aws_condition
from components.lib.contracts import IAM_ROLE_NAME_MAX, task_role_name
from policies.observability import dashboard_layout_problems
from preflight import ACCOUNT, BOOTSTRAP
from preflight.analyzer import PolicyPack
from settings.gcp import BASIC_ROLES, MANAGE_ROLES, READ_ROLES
from settings.observability import DATADOG_AWS_ACCOUNTS, DatadogSite, ObservabilitySettings
from settings.platform import MAX_ENVIRONMENTS, PlatformSettings
from settings.services import CATALOG
from tests.conftest import recording
from tests.kit import UNKNOWN, RecordedStack, deferred, judge, mutate, violations

PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
DASHBOARD = "datadog:index/dashboardJson:DashboardJson"


def _gcp_types(*stacks: RecordedStack) -> set[str]:
    return {r.type for stack in stacks for r in stack.registrations if r.custom and r.type.startswith("gcp:")}


# --- 1. GCP deploy identity -----------------------------------------------------------------------------------


def test_gcp_ci_identities_hold_the_roles_of_every_resource_type_and_no_basic_role(dev: RecordedStack, prod: RecordedStack) -> None:
    types = _gcp_types(dev, prod)
    assert len(types) > 15
    # A new resource type in a gcp_* component needs its roles in settings/gcp.py before CI can deploy or preview it.
    assert types - set(MANAGE_ROLES) == set() and types - set(READ_ROLES) == set()
    bootstrap = RecordedStack(recording("management", "update", BOOTSTRAP))
    for stack in ("dev", "prod"):
        held = {
            kind: {g.inputs["role"] for g in bootstrap.of_type(PROJECT_MEMBER) if g.name.startswith(f"{stack}-ci-{kind}-sa-")}
            for kind in ("preview", "drift", "deploy")
        }
        assert {MANAGE_ROLES[t] for t in types} <= held["deploy"]
        assert "roles/iam.serviceAccountUser" in held["deploy"]  # a transfer config runs as the loader account
        for kind in ("preview", "drift"):
            assert {READ_ROLES[t] for t in types} <= held[kind]
            assert not held[kind] & set(MANAGE_ROLES.values()), f"{stack} {kind} may change resources"
    # No CI identity anywhere (bootstrap's three per stack, each stack's own CI account) holds a basic role.
    ci_grants = [g for g in bootstrap.of_type(PROJECT_MEMBER) if "-ci-" in g.name]
    for stack in (dev, prod):
        ci = stack.one("gcp:serviceaccount/account:Account", f"{stack.recording.stack}-ci-sa")
        ci_grants += [g for g in stack.of_type(PROJECT_MEMBER) if ci in stack.deps(g, "member")]
    assert len(ci_grants) > 6 * 10
    assert [g.name for g in ci_grants if g.inputs["role"] in BASIC_ROLES] == []


# --- 2. Invokes wait for what they need -------------------------------------------------------------------------

# Every invoke the program makes, and what must exist before it can run: a GCP API, or None (an AWS-managed
# object or one an operator creates before the first up). An invoke not listed here fails the test: classify it.
INVOKE_NEEDS: dict[str, str | None] = {
    "aws:ec2/getManagedPrefixList:getManagedPrefixList": None,  # AWS's CloudFront prefix list
    "aws:secretsmanager/getSecretVersion:getSecretVersion": None,  # the company IdP's client secret (an operator's)
    "aws:route53/getZone:getZone": None,  # the stack's public zone, which bootstrap/ creates and delegates first
    "gcp:storage/getTransferProjectServiceAccount:getTransferProjectServiceAccount": "storagetransfer.googleapis.com",
}


def test_every_invoke_depends_on_the_api_it_calls(each_stack: RecordedStack) -> None:
    calls = each_stack.recording.calls
    assert {c.token for c in calls} >= {"gcp:storage/getTransferProjectServiceAccount:getTransferProjectServiceAccount"}
    apis = {r.inputs["service"]: r.urn for r in each_stack.of_type("gcp:projects/service:Service")}
    for call in calls:
        assert call.token in INVOKE_NEEDS, f"{call.token}: say in INVOKE_NEEDS what it needs"
        need = INVOKE_NEEDS[call.token]
        if need is not None:
            assert apis[need] in call.depends_on, f"{call.token} runs before {need} is enabled"
        # A first preview answers an invoke that waits for resources as unknown, as the engine does.
        assert call.unknown == (each_stack.recording.mode == "first" and bool(call.depends_on))


def test_transfer_agent_subject_comes_from_the_invoke(each_stack: RecordedStack) -> None:
    outputs = each_stack.outputs
    if each_stack.recording.mode == "first":
        assert outputs["gcpLogTransferSubjectId"] == UNKNOWN  # the API isn't enabled before the first up
    else:
        assert outputs["gcpLogTransferSubjectId"] == "100000000000000000001"


# --- 4. Datadog dashboards follow their layout's rules ------------------------------------------------------------


def test_every_dashboard_follows_its_layout_rules(each_stack: RecordedStack) -> None:
    dashboards = each_stack.of_type(DASHBOARD)
    assert len(dashboards) == 1
    for dashboard in dashboards:
        if each_stack.recording.mode == "first":
            assert dashboard.inputs["dashboard"] == UNKNOWN  # it embeds SLO ids
            continue
        document = json.loads(dashboard.inputs["dashboard"])
        assert document["layout_type"] == "ordered"
        assert dashboard_layout_problems(document) == []
        kinds = {w["definition"]["type"] for g in document["widgets"] for w in g["definition"].get("widgets", [])}
        assert "list_stream" in kinds  # the deploy events are still shown


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            {"layout_type": "ordered", "widgets": [{"definition": {"type": "event_stream", "query": "*"}}]},
            "widget widgets[0] (event_stream) is of type event_stream, which Datadog accepts only on free dashboards",
        ),
        (
            {
                "layout_type": "ordered",
                "widgets": [
                    {"definition": {"type": "group", "layout_type": "ordered", "widgets": [{"definition": {"type": "event_timeline"}}]}}
                ],
            },
            "is of type event_timeline, which Datadog accepts only on free dashboards",
        ),
        ({"layout_type": "free", "widgets": [{"definition": {"type": "note"}}]}, "has no layout (x, y, width, height)"),
        (
            {"layout_type": "free", "widgets": [{"definition": {"type": "group"}, "layout": {"x": 0, "y": 0, "width": 1, "height": 1}}]},
            "is a group, which only an ordered dashboard holds",
        ),
        ({"layout_type": "grid", "widgets": []}, "layout_type 'grid' is not a dashboard layout"),
    ],
)
def test_layout_rules_refuse_what_datadog_refuses(document: dict, problem: str) -> None:
    assert any(problem in found for found in dashboard_layout_problems(document))


@pytest.mark.parametrize("mode", ["update", "first"])
def test_dashboard_layout_policy(pack: PolicyPack, mode: str) -> None:
    from tests.conftest import recording

    stack = recording("prod", mode)
    assert violations(judge(pack, stack.registrations), "datadog-dashboard-layout") == []
    if mode == "first":
        assert len(deferred(judge(pack, stack.registrations), "datadog-dashboard-layout")) == 1
        return

    def event_stream(r):  # the old main's deploy widget
        document = json.loads(r.inputs["dashboard"])
        document["widgets"][-1]["definition"]["widgets"] = [{"definition": {"type": "event_stream", "query": "source:codedeploy"}}]
        r.inputs["dashboard"] = json.dumps(document)

    (found,) = violations(judge(pack, mutate(stack, DASHBOARD, "prod-dashboard", event_stream)), "datadog-dashboard-layout")
    assert "DashboardJson 'prod-dashboard'" in found.message and "only on free dashboards" in found.message


# --- 5. and Checkov: the Datadog integration role ---------------------------------------------------------------

# Datadog's AWS account per site, from docs.datadoghq.com/integrations/guide/aws-manual-setup/ (commercial partition).
DOCUMENTED = {
    "datadoghq.com": "464622532012",
    "us3.datadoghq.com": "464622532012",
    "us5.datadoghq.com": "464622532012",
    "datadoghq.eu": "464622532012",
    "ap1.datadoghq.com": "417141415827",
    "ap2.datadoghq.com": "412381753143",
    "ddog-gov.com": "392588925713",
}


@pytest.mark.parametrize("site", get_args(DatadogSite))
def test_every_allowed_datadog_site_has_its_aws_account(site: str) -> None:
    assert set(DATADOG_AWS_ACCOUNTS) == set(get_args(DatadogSite))
    assert ObservabilitySettings.model_validate({"datadogSite": site}).datadog_aws_account == DOCUMENTED[site]


def _integration_policy(stack: RecordedStack, env: str) -> list[dict]:
    return json.loads(stack.one("aws:iam/rolePolicy:RolePolicy", f"{env}-datadog-integration-policy").inputs["policy"])["Statement"]


def test_integration_role_trusts_the_site_account_and_writes_only_the_stack_logs(prod: RecordedStack, dev: RecordedStack) -> None:
    # The prod account runs prod (Tokyo) and its standby prod-dr (Osaka); CloudFront's logs are in us-east-1.
    regions = {"prod": ("ap-northeast-1", "ap-northeast-3", "us-east-1"), "dev": ("ap-northeast-1", "us-east-1")}
    for stack, account in ((prod, "111111111111"), (dev, "222222222222")):
        env = stack.recording.stack
        # The integration is the account's (account/, one per AWS account); what it subscribes is the workload's.
        baseline = RecordedStack(recording(f"{env}-account", "update", ACCOUNT))
        trust = json.loads(baseline.one("aws:iam/role:Role", f"{env}-datadog-integration-role").inputs["assumeRolePolicy"])
        assert [s["Principal"] for s in trust["Statement"]] == [{"AWS": "arn:aws:iam::417141415827:root"}]  # ap1
        writes = {s["Sid"]: s for s in _integration_policy(baseline, env) if s["Sid"] != "ReadOnly"}
        assert all(s["Resource"] != "*" for s in writes.values())
        assert writes["LogAutosubscriptionBuckets"]["Resource"] == f"arn:aws:s3:::kanna-{env}-*"
        assert writes["LogAutosubscriptionLogGroups"]["Resource"] == [
            f"arn:aws:logs:{region}:{account}:log-group:*" for region in regions[env]
        ]
        # The edge's log bucket, which Datadog subscribes the forwarder to, is within the pattern.
        edge_logs = stack.one("aws:s3/bucket:Bucket", f"{env}-edge-logs")
        assert edge_logs.inputs["bucketPrefix"].startswith(f"kanna-{env}-")


# --- 10. ECS task roles federate into GCP ---------------------------------------------------------------------


def test_gcp_condition_admits_exactly_the_task_roles_that_exist(each_stack: RecordedStack) -> None:
    env = each_stack.recording.stack
    account = {"dev": "222222222222", "prod": "111111111111"}[env]
    provider = each_stack.one("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider", f"{env}-aws-provider")
    admitted = re.findall(rf"startsWith\('arn:aws:sts::{account}:assumed-role/([^/']+)/'\)", provider.inputs["attributeCondition"])
    # The roles of the backend services' task definitions, by the physical name the engine is given.
    roles = {r.urn: r for r in each_stack.of_type("aws:iam/role:Role")}
    task_roles = {}
    for task in each_stack.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        (role_urn,) = task.property_dependencies["taskRoleArn"]
        task_roles[task.inputs["family"].removeprefix("kanna-")] = roles[role_urn].inputs["name"]
    backend = [f"{e}-{s}" for e in ({"dev": ["alpha", "beta", "gamma"], "prod": ["prod"]}[env]) for s in ("core-api", "sidekiq")]
    assert sorted(admitted) == sorted(task_roles[family] for family in backend)
    assert len(admitted) == {"dev": 6, "prod": 2}[env]
    # Every task role is named explicitly (no random suffix), by the one function.
    assert all(name == task_role_name(*family.split("-", 1)) for family, name in task_roles.items())


def test_task_role_names_and_the_condition_fit_their_limits() -> None:
    longest_env = "e" * 10  # settings/platform.py: 1-10 characters
    assert max(len(task_role_name(longest_env, service)) for service in CATALOG) <= IAM_ROLE_NAME_MAX
    # The most a stack has: 12 ten-character environments, each with the backend services' task roles.
    environments = [f"e{i:02d}" + "e" * 7 for i in range(MAX_ENVIRONMENTS)]
    backend = PlatformSettings().gcp_backends()
    assert len(aws_condition(environments, "222222222222", backend)) <= MAX_CONDITION


# --- 16. The BigQuery log transfer's AWS side ----------------------------------------------------------------


def test_log_transfer_reads_the_bucket_and_assumes_the_role_the_aws_side_creates(each_stack: RecordedStack) -> None:
    env, first = each_stack.recording.stack, each_stack.recording.mode == "first"
    account = {"dev": "222222222222", "prod": "111111111111"}[env]
    (bucket,) = [b for b in each_stack.of_type("aws:s3/bucket:Bucket") if b.name == f"{env}-log-export"]
    role = each_stack.one("aws:iam/role:Role", f"{env}-bigquery-log-export-role")
    jobs = each_stack.of_type("gcp:storage/transferJob:TransferJob")
    assert len(jobs) == 2
    for job in jobs:
        source = job.inputs["transferSpec"]["awsS3DataSource"]
        # The GCP side names what the AWS side creates: the same bucket, the same role.
        assert source["bucketName"] == bucket.inputs["bucket"]
        assert source["roleArn"] == f"arn:aws:iam::{account}:role/{role.inputs['name']}"
    paths = sorted(j.inputs["transferSpec"]["awsS3DataSource"]["path"] for j in jobs)
    assert paths == ["app/", "audit/"]
    # Secure defaults: SSE-KMS with the logs key, no public access, TLS only, objects expire.
    under = lambda type_: [r for r in each_stack.of_type(type_) if r.name.startswith(f"{env}-log-export")]  # noqa: E731
    (encryption,) = under("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    by_default = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert by_default["sseAlgorithm"] == "aws:kms"
    assert [k.name for k in each_stack.deps(encryption, "rules")] == [f"{env}-logs-key"]
    (block,) = under("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    (expiry,) = under("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert expiry.inputs["rules"][0]["expiration"]["days"] == 30
    # How logs get there: one subscription-fed Firehose stream per prefix, writing exactly what the transfer reads.
    streams = {s.inputs["extendedS3Configuration"]["prefix"]: s for s in under("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")}
    assert sorted(streams) == paths
    for stream in streams.values():
        processors = [p["type"] for p in stream.inputs["extendedS3Configuration"]["processingConfiguration"]["processors"]]
        assert processors == ["Decompression", "CloudWatchLogProcessing", "AppendDelimiterToRecord"]
        assert stream.inputs["extendedS3Configuration"]["bucketArn"] == f"arn:aws:s3:::{bucket.inputs['bucket']}"
        assert bucket.urn in stream.dependencies  # the ARN is derived from the name: the bucket must exist first
    filters = under("aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter")
    assert sorted(each_stack.deps(f, "destinationArn")[0].name for f in filters) == sorted(s.name for s in streams.values())
    # Every service's task role may write the export groups (and only them: the writer policy's resources).
    (writer,) = under("aws:iam/policy:Policy")
    attached = [
        a for a in each_stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if writer in each_stack.deps(a, "policyArn")
    ]
    task_roles = {r.inputs["name"] for r in each_stack.of_type("aws:iam/role:Role") if r.inputs.get("name", "").endswith("-task")}
    assert {a.inputs["role"] for a in attached} == task_roles and len(task_roles) == len(CATALOG) * (3 if env == "dev" else 1)
    if first:
        assert role.inputs["assumeRolePolicy"] == UNKNOWN  # the transfer agent is looked up once its API is on
        return
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Federated": "accounts.google.com"} and trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {"StringEquals": {"accounts.google.com:sub": each_stack.outputs["gcpLogTransferSubjectId"]}}
    reads = json.loads(each_stack.one("aws:iam/rolePolicy:RolePolicy", f"{env}-bigquery-log-export-policy").inputs["policy"])
    get_object = next(s for s in reads["Statement"] if s["Action"] == "s3:GetObject")
    assert get_object["Resource"] == [f"arn:aws:s3:::{bucket.inputs['bucket']}/{path}*" for path in paths]


# --- 3. The hosted zone exists and is delegated before the certificates wait on it ------------------------------


def test_platform_only_looks_its_zone_up_and_bootstrap_creates_and_delegates_it(each_stack: RecordedStack) -> None:
    env = each_stack.recording.stack
    domain = {"dev": "dev.example.com", "prod": "example.com"}[env]
    # No zone in the platform: a zone created with its certificates is never delegated in time.
    assert each_stack.of_type("aws:route53/zone:Zone") == []
    (lookup,) = [c for c in each_stack.recording.calls if c.token == "aws:route53/getZone:getZone"]
    assert lookup.args == {"name": domain, "privateZone": False} and not lookup.unknown  # known at the first preview
    zone_id = "Z" + _zone_hash(domain)
    records = each_stack.of_type("aws:route53/record:Record")
    assert len(records) > 3 and {r.inputs["zoneId"] for r in records} == {zone_id}
    assert {r.name for r in records if r.name.endswith("-cert-validation")} == {
        f"{env}-alb-cert-validation",
        f"{env}-cloudfront-cert-validation",
    }


def _zone_hash(domain: str) -> str:
    from preflight.mocks import _hash

    return _hash("aws:route53/getZone:getZone" + domain).upper()


def test_bootstrap_creates_each_stack_zone_in_its_account_and_delegates_dev() -> None:
    for mode in ("update", "first"):
        bootstrap = RecordedStack(recording("management", mode, BOOTSTRAP))
        zones = {z.inputs["name"]: z for z in bootstrap.of_type("aws:route53/zone:Zone")}
        assert sorted(zones) == ["dev.example.com", "example.com"]
        providers = {p.urn: p for p in bootstrap.of_type("pulumi:providers:aws")}
        for domain, account in (("example.com", "111111111111"), ("dev.example.com", "222222222222")):
            zone = zones[domain]
            assert zone.protect, f"{domain}: a deleted zone takes its delegation with it"
            assert providers[zone.provider.rsplit("::", 1)[0]].inputs["allowedAccountIds"] == f'["{account}"]'
        (delegation,) = bootstrap.of_type("aws:route53/record:Record")
        assert delegation.inputs["name"] == "dev.example.com" and delegation.inputs["type"] == "NS"
        assert bootstrap.deps(delegation, "zoneId") == [zones["example.com"]]
        assert bootstrap.deps(delegation, "records") == [zones["dev.example.com"]]
        if mode == "update":
            assert set(bootstrap.outputs["zones"]) == {"dev", "prod"}
            assert len(bootstrap.outputs["zones"]["prod"]["nameServers"]) == 4
