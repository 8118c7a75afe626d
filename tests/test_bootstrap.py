"""bootstrap/: the recorded management stack, asserted on real values, and judged by the same policy pack.

The SCPs are checked twice: statement by statement, and by what they decide, through a small evaluator of
the IAM features they use (Action/NotAction, ArnNotLike/StringEquals/StringNotEquals). Dropping a deny,
widening a region or exempting another principal fails a test here.
"""

from __future__ import annotations

import fnmatch
import json
from functools import cache
from typing import Any

import pytest
import yaml

from bootstrap.settings import BootstrapSettingsError, load
from bootstrap.state import admin_arns, backend_url, secrets_provider, state_bucket_name
from preflight import BOOTSTRAP, ROOT
from preflight.analyzer import PolicyPack
from preflight.program import Registration
from settings.gcp import deploy_roles, read_roles
from tests.conftest import recording
from tests.kit import RecordedStack, judge, violations

ACCOUNTS = {"prod": "111111111111", "dev": "222222222222", "shared": "333333333333"}
MANAGEMENT = "444444444444"
REPO = "example-org/kanna-infra"
ROLE, ROLE_POLICY, ATTACHMENT = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SCP, SCP_ATTACHMENT, OU = (
    "aws:organizations/policy:Policy",
    "aws:organizations/policyAttachment:PolicyAttachment",
    ("aws:organizations/organizationalUnit:OrganizationalUnit"),
)
PERMISSION_SET = "aws:ssoadmin/permissionSet:PermissionSet"


@cache
def management(mode: str = "update") -> RecordedStack:
    return RecordedStack(recording("management", mode, BOOTSTRAP))


@pytest.fixture(scope="module", params=["update", "first"])
def each_mode(request: pytest.FixtureRequest) -> RecordedStack:
    return management(request.param)


def doc(registration: Registration, key: str) -> dict[str, Any]:
    return json.loads(registration.inputs[key])


def provider_account(stack: RecordedStack, registration: Registration) -> str:
    provider = stack.by_urn[registration.provider.rsplit("::", 1)[0]]
    return json.loads(provider.inputs["allowedAccountIds"])[0]


def provider_region(stack: RecordedStack, registration: Registration) -> str:
    return stack.by_urn[registration.provider.rsplit("::", 1)[0]].inputs["region"]


# --- SCPs ---------------------------------------------------------------------------------------------


def scp(name: str) -> dict[str, Any]:
    return doc(management().one(SCP, f"scp-{name}"), "content")


def matches(patterns: str | list[str], value: str) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in ([patterns] if isinstance(patterns, str) else patterns))


def denies(policy: dict[str, Any], action: str, region: str = "ap-northeast-1", principal: str = "arn:aws:iam::1:role/dev") -> bool:
    """Whether an SCP denies `action` in `region` for `principal` (the IAM features our SCPs use, no more)."""
    context = {"aws:RequestedRegion": region, "aws:PrincipalArn": principal}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Deny" and statement["Resource"] == "*"
        if "Action" in statement and not matches(statement["Action"], action):
            continue
        if "NotAction" in statement and matches(statement["NotAction"], action):
            continue
        applies = True
        for operator, conditions in statement.get("Condition", {}).items():
            for key, expected in conditions.items():
                hit = (
                    matches(expected, context[key])
                    if operator == "ArnNotLike"
                    else context[key] in ([expected] if isinstance(expected, str) else expected)
                )
                applies &= {"ArnNotLike": not hit, "StringNotEquals": not hit, "StringEquals": hit}[operator]
        if applies:
            return True
    return False


def test_guardrails_scp_statements_exactly() -> None:
    policy = scp("guardrails")
    assert [s["Sid"] for s in policy["Statement"]] == [
        "DenyLeavingOrganization",
        "DenyGuardDutyChanges",
        "DenyCloudTrailChanges",
        "DenyConfigChanges",
        "DenySecurityHubChanges",
    ]
    leave = policy["Statement"][0]
    assert leave == {"Sid": "DenyLeavingOrganization", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}
    for statement in policy["Statement"][1:]:
        # The only exemption: the pipeline's deploy roles, which manage the security baseline.
        assert statement["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/kanna-*-deploy"]}}


@pytest.mark.parametrize(
    "action",
    [
        "guardduty:DeleteDetector",
        "guardduty:UpdateDetector",
        "guardduty:DisassociateFromAdministratorAccount",
        "cloudtrail:StopLogging",
        "cloudtrail:DeleteTrail",
        "cloudtrail:UpdateTrail",
        "cloudtrail:PutEventSelectors",
        "config:StopConfigurationRecorder",
        "config:DeleteConfigurationRecorder",
        "config:DeleteDeliveryChannel",
        "securityhub:DisableSecurityHub",
        "securityhub:BatchDisableStandards",
    ],
)
def test_security_services_cannot_be_disabled_or_altered(action: str) -> None:
    policy = scp("guardrails")
    assert denies(
        policy, action, principal=f"arn:aws:iam::{ACCOUNTS['prod']}:role/aws-reserved/sso.amazonaws.com/x/AWSReservedSSO_administrator_1"
    )
    assert denies(policy, action, principal=f"arn:aws:iam::{ACCOUNTS['prod']}:role/kanna-prod-preview")
    assert not denies(policy, action, principal=f"arn:aws:iam::{ACCOUNTS['prod']}:role/kanna-prod-deploy")


def test_nobody_leaves_the_organization() -> None:
    assert denies(scp("guardrails"), "organizations:LeaveOrganization", principal=f"arn:aws:iam::{ACCOUNTS['prod']}:role/kanna-prod-deploy")
    assert not denies(scp("guardrails"), "guardduty:GetFindings")


def test_regions_scp_statements_exactly() -> None:
    first, second = scp("regions")["Statement"]
    assert first["Sid"] == "DenyOutsideHomeAndUsEast1"
    # Exactly the regions of the committed stacks (Tokyo, and Osaka for prod-dr), from their stack files.
    assert first["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": ["ap-northeast-1", "ap-northeast-3", "us-east-1"]}}
    assert {"iam:*", "organizations:*", "route53:*", "cloudfront:*", "sts:*", "support:*"} <= set(first["NotAction"])
    assert not {"ec2:*", "s3:*", "rds:*", "ecs:*", "kms:*", "acm:*", "wafv2:*"} & set(first["NotAction"])
    assert second["Sid"] == "DenyUsEast1ExceptCloudFrontNeeds"
    assert second["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}
    assert set(second["NotAction"]) - set(first["NotAction"]) == {"acm:*", "wafv2:*", "cloudwatch:*", "logs:*", "sns:*", "kms:*"}


@pytest.mark.parametrize(
    ("action", "region", "denied"),
    [
        ("ec2:RunInstances", "ap-northeast-1", False),
        ("ec2:RunInstances", "us-west-2", True),
        ("ec2:RunInstances", "ap-northeast-3", False),
        ("ec2:RunInstances", "ap-northeast-2", True),
        ("ec2:RunInstances", "us-east-1", True),
        ("rds:CreateDBCluster", "eu-west-1", True),
        ("acm:RequestCertificate", "us-east-1", False),
        ("acm:RequestCertificate", "eu-west-1", True),
        ("wafv2:CreateWebACL", "us-east-1", False),
        ("iam:CreateRole", "us-east-1", False),
        ("iam:CreateRole", "eu-west-1", False),
        ("cloudfront:CreateDistribution", "us-east-1", False),
        ("s3:CreateBucket", "us-east-1", True),
    ],
)
def test_regions_scp_decides(action: str, region: str, denied: bool) -> None:
    assert denies(scp("regions"), action, region) is denied


def test_scps_fit_and_are_attached_to_every_member_ou(each_mode: RecordedStack) -> None:
    policies = each_mode.of_type(SCP)
    assert sorted(p.inputs["name"] for p in policies) == ["kanna-guardrails", "kanna-regions"]
    assert all(p.inputs["type"] == "SERVICE_CONTROL_POLICY" and len(p.inputs["content"]) <= 5120 for p in policies)
    attached = {
        (each_mode.deps(a, "policyId", SCP)[0].name, each_mode.deps(a, "targetId", OU)[0].inputs["name"])
        for a in each_mode.of_type(SCP_ATTACHMENT)
    }
    assert attached == {(p, ou) for p in ("scp-guardrails", "scp-regions") for ou in ("workloads", "shared")}


def test_ou_tree_and_accounts(each_mode: RecordedStack) -> None:
    ous = {o.name: o for o in each_mode.of_type(OU)}
    for child in ("ou-workloads-prod", "ou-workloads-dev"):
        assert [p.name for p in each_mode.deps(ous[child], "parentId")] == ["ou-workloads"]
    for top in ("ou-workloads", "ou-shared"):
        assert [p.type for p in each_mode.deps(ous[top], "parentId")] == ["aws:organizations/organization:Organization"]
    accounts = {a.name: a for a in each_mode.of_type("aws:organizations/account:Account")}
    expected = {"account-prod": "ou-workloads-prod", "account-dev": "ou-workloads-dev", "account-shared": "ou-shared"}
    for name, ou in expected.items():
        account = accounts[name]
        assert [p.name for p in each_mode.deps(account, "parentId")] == [ou]
        assert account.inputs["email"] == f"aws+{name.removeprefix('account-')}@example.com"
        assert account.protect and account.ignore_changes == ["roleName"] and account.inputs["closeOnDeletion"] is False
    organization = each_mode.one("aws:organizations/organization:Organization", "organization")
    assert organization.protect and organization.inputs["enabledPolicyTypes"] == ["SERVICE_CONTROL_POLICY"]
    assert "sso.amazonaws.com" in organization.inputs["awsServiceAccessPrincipals"]


# --- Identity Center ----------------------------------------------------------------------------------


def test_permission_sets_and_their_policies(each_mode: RecordedStack) -> None:
    sets = {p.inputs["name"]: p for p in each_mode.of_type(PERMISSION_SET)}
    assert {name: p.inputs["sessionDuration"] for name, p in sets.items()} == {
        "administrator": "PT1H",
        "sre": "PT4H",
        "developer-readonly": "PT8H",
    }
    managed: dict[str, set[str]] = {}
    for attachment in each_mode.of_type("aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment"):
        (owner,) = each_mode.deps(attachment, "permissionSetArn", PERMISSION_SET)
        managed.setdefault(owner.inputs["name"], set()).add(attachment.inputs["managedPolicyArn"].removeprefix("arn:aws:iam::aws:policy/"))
    assert managed == {
        "administrator": {"AdministratorAccess"},
        "sre": {"PowerUserAccess", "IAMReadOnlyAccess"},
        "developer-readonly": {"ReadOnlyAccess"},
    }
    (inline,) = each_mode.of_type("aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy")
    assert [p.inputs["name"] for p in each_mode.deps(inline, "permissionSetArn")] == ["developer-readonly"]
    (deny,) = doc(inline, "inlinePolicy")["Statement"]
    assert deny["Effect"] == "Deny" and {"s3:GetObject", "secretsmanager:GetSecretValue", "kms:Decrypt", "ssm:GetParameter"} <= set(
        deny["Action"]
    )


def test_group_assignments(each_mode: RecordedStack) -> None:
    groups = {
        "9a6744b8-e0a1-70d6-2d39-6a5e3c1b0a01": "administrators",
        "9a6744b8-e0a1-70d6-2d39-6a5e3c1b0a02": "sre",
        "9a6744b8-e0a1-70d6-2d39-6a5e3c1b0a03": "developers",
    }
    accounts = {v: k for k, v in ACCOUNTS.items()}
    found = set()
    for assignment in each_mode.of_type("aws:ssoadmin/accountAssignment:AccountAssignment"):
        assert assignment.inputs["principalType"] == "GROUP" and assignment.inputs["targetType"] == "AWS_ACCOUNT"
        (permission_set,) = each_mode.deps(assignment, "permissionSetArn", PERMISSION_SET)
        found.add((groups[assignment.inputs["principalId"]], permission_set.inputs["name"], accounts[assignment.inputs["targetId"]]))
    everywhere = ("prod", "dev", "shared")
    assert found == (
        {("administrators", "administrator", a) for a in everywhere}
        | {("sre", "sre", a) for a in everywhere}
        | {("developers", "developer-readonly", a) for a in ("prod", "dev")}
    )


# --- CI roles -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize(
    ("kind", "sub", "managed"),
    [
        ("preview", f"repo:{REPO}:pull_request", "ReadOnlyAccess"),
        ("drift", f"repo:{REPO}:ref:refs/heads/main", "ReadOnlyAccess"),
        ("deploy", f"repo:{REPO}:environment:{{stack}}", "PowerUserAccess"),
    ],
)
def test_ci_role_trust_and_permissions(stack: str, kind: str, sub: str, managed: str) -> None:
    recorded = management()
    role = recorded.one(ROLE, f"{stack}-ci-{kind}-role")
    assert role.inputs["name"] == f"kanna-{stack}-{kind}"
    assert provider_account(recorded, role) == ACCOUNTS[stack]  # the role lives in the stack's own account
    (statement,) = doc(role, "assumeRolePolicy")["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    # Exact subject, no wildcard: prod deploy only from the prod environment, preview only for pull requests.
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": sub.format(stack=stack),
        }
    }
    (oidc,) = recorded.deps(role, "assumeRolePolicy")
    assert oidc.inputs["url"] == "https://token.actions.githubusercontent.com" and oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    attachments = [a for a in recorded.of_type(ATTACHMENT) if recorded.deps(a, "role") == [role]]
    assert [a.inputs["policyArn"] for a in attachments] == [f"arn:aws:iam::aws:policy/{managed}"]
    (inline,) = [p for p in recorded.of_type(ROLE_POLICY) if recorded.deps(p, "role") == [role]]
    statements = {s["Sid"]: s for s in doc(inline, "policy")["Statement"]}
    bucket = f"arn:aws:s3:::kanna-pulumi-state-{MANAGEMENT}"
    if kind == "preview":
        # prod's roles run prod-dr as well (same account): its state too.
        runs = [stack, "prod-dr"] if stack == "prod" else [stack]
        assert statements["WriteLock"]["Resource"] == [f"{bucket}/.pulumi/locks/kanna-infra/{s}/*" for s in runs]
        assert statements["StackSecrets"]["Action"] == ["kms:Decrypt"]
        assert "WriteState" not in statements
    else:
        assert f"{bucket}/.pulumi/stacks/kanna-infra/{stack}.json*" in statements["WriteState"]["Resource"]
    other = "prod" if stack == "dev" else "dev"
    assert all(f"/{other}" not in json.dumps(s["Resource"]) for s in statements.values())  # never the other stack's state
    if kind == "deploy":
        assert statements["NotTheCiRoles"]["Effect"] == "Deny"
        assert f"arn:aws:iam::{ACCOUNTS[stack]}:role/kanna-{stack}-*" in statements["NotTheCiRoles"]["Resource"]
        assert statements["NoUsersOrKeys"]["Action"] == ["iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile"]
        # Service-linked roles (prod-dr's first ECR replication creates AWSServiceRoleForECRReplication), outside the deny.
        slr = f"arn:aws:iam::{ACCOUNTS[stack]}:role/aws-service-role/replication.ecr.amazonaws.com/AWSServiceRoleForECRReplication"
        allowed = statements["ServiceRolesAndPolicies"]
        assert "iam:CreateServiceLinkedRole" in allowed["Action"] and allowed["Resource"] == "*"
        assert not any(fnmatch.fnmatchcase(slr, denied) for denied in statements["NotTheCiRoles"]["Resource"])


def test_only_three_roles_per_stack_and_one_oidc_provider_per_account(each_mode: RecordedStack) -> None:
    roles = each_mode.of_type(ROLE)
    assert sorted(r.inputs["name"] for r in roles if provider_account(each_mode, r) != MANAGEMENT) == sorted(
        f"kanna-{s}-{k}" for s in ("dev", "prod") for k in ("preview", "drift", "deploy")
    )
    # The management account's only role is S3's, for the state's replication.
    assert [r.name for r in roles if provider_account(each_mode, r) == MANAGEMENT] == ["state-replication"]
    providers = each_mode.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert sorted(provider_account(each_mode, p) for p in providers) == sorted([ACCOUNTS["dev"], ACCOUNTS["prod"]])


# --- State backend ------------------------------------------------------------------------------------


def test_state_bucket_protections(each_mode: RecordedStack) -> None:
    bucket = each_mode.one("aws:s3/bucket:Bucket", "state")
    assert bucket.inputs["bucket"] == f"kanna-pulumi-state-{MANAGEMENT}" and bucket.protect
    assert provider_account(each_mode, bucket) == MANAGEMENT

    def about(type_: str) -> Registration:
        (found,) = [r for r in each_mode.of_type(type_) if each_mode.deps(r, "bucket") == [bucket]]
        return found

    assert about("aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    (rule,) = about("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and rule["bucketKeyEnabled"] is True
    sse = about("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert [k.name for k in each_mode.deps(sse, "rules")] == ["state-bucket-key"]
    block = about("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    logging = about("aws:s3/bucketLogging:BucketLogging")
    assert [b.inputs["bucket"] for b in each_mode.deps(logging, "targetBucket")] == [f"kanna-pulumi-state-logs-{MANAGEMENT}"]
    (lifecycle,) = about("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert lifecycle["noncurrentVersionExpiration"]["noncurrentDays"] == 90 and "expiration" not in lifecycle
    policy = about("aws:s3/bucketPolicy:BucketPolicy")
    assert sorted(r.name for r in each_mode.deps(policy, "policy", ROLE)) == sorted(
        f"{s}-ci-{k}-role" for s in ("dev", "prod") for k in ("preview", "drift", "deploy")
    )


def test_state_bucket_policy() -> None:
    policy = management().one("aws:s3/bucketPolicy:BucketPolicy", "state-policy")
    assert len(policy.inputs["policy"]) < 20480  # S3's bucket policy size limit
    statements = {s["Sid"]: s for s in doc(policy, "policy")["Statement"]}
    assert statements["TlsOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and statements["TlsOnly"]["Effect"] == "Deny"
    others = statements["OnlyCiRolesAndAdministrators"]
    assert others["Effect"] == "Deny" and others["Principal"] == "*" and others["Action"] == "s3:*"
    allowed = others["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert len(allowed) == 7 and allowed[-1].endswith(":role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_administrator_*")
    writes = {sid: s["Resource"] for sid, s in statements.items() if sid.endswith("Write")}
    # prod's roles run prod-dr too (its previews and drift checks): its state, and nothing of dev's.
    assert writes["ProdPreviewWrite"] == [
        f"arn:aws:s3:::kanna-pulumi-state-{MANAGEMENT}/.pulumi/locks/kanna-infra/{stack}/*" for stack in ("prod", "prod-dr")
    ]
    assert f"arn:aws:s3:::kanna-pulumi-state-{MANAGEMENT}/.pulumi/stacks/kanna-infra/prod-dr.json*" in writes["ProdDeployWrite"]
    assert all("/prod" not in json.dumps(r) for sid, r in writes.items() if sid.startswith("Dev"))


REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
OSAKA = "ap-northeast-3"


def test_state_replica_protections(each_mode: RecordedStack) -> None:
    """The replica in Osaka, in the management account: protected, versioned, private, SSE-KMS with its own protected key."""
    replica = each_mode.one("aws:s3/bucket:Bucket", "state-replica")
    assert replica.inputs["bucket"] == state_bucket_name(MANAGEMENT, OSAKA) == f"kanna-pulumi-state-{MANAGEMENT}-{OSAKA}"
    assert replica.protect and provider_account(each_mode, replica) == MANAGEMENT and provider_region(each_mode, replica) == OSAKA

    def about(type_: str) -> Registration:
        (found,) = [r for r in each_mode.of_type(type_) if each_mode.deps(r, "bucket") == [replica]]
        assert provider_region(each_mode, found) == OSAKA
        return found

    assert about("aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    sse = about("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    (rule,) = sse.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and rule["bucketKeyEnabled"] is True
    (key,) = each_mode.deps(sse, "rules")
    assert key.name == "state-replica-key" and key.protect and key.inputs["enableKeyRotation"] is True
    assert provider_region(each_mode, key) == OSAKA
    block = about("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    (lifecycle,) = about("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert lifecycle["noncurrentVersionExpiration"]["noncurrentDays"] == 90  # lifecycle rules are not replicated
    policy = about("aws:s3/bucketPolicy:BucketPolicy")
    assert [r.name for r in each_mode.deps(policy, "policy", ROLE)] == ["state-replication"]


def test_state_replica_policy() -> None:
    recorded = management()
    policy = recorded.one("aws:s3/bucketPolicy:BucketPolicy", "state-replica-policy")
    arn = f"arn:aws:s3:::{state_bucket_name(MANAGEMENT, OSAKA)}"
    statements = {s["Sid"]: s for s in doc(policy, "policy")["Statement"]}
    assert statements["TlsOnly"]["Effect"] == "Deny" and statements["TlsOnly"]["Resource"] == [arn, f"{arn}/*"]
    assert statements["TlsOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    others = statements["OnlyReplicationAndAdministrators"]
    assert others["Effect"] == "Deny" and others["Principal"] == "*" and others["Resource"] == [arn, f"{arn}/*"]
    role = recorded.one(ROLE, "state-replication")
    # The same administrators as the state bucket's policy: they operate prod-dr from here when Tokyo is lost.
    home = doc(recorded.one("aws:s3/bucketPolicy:BucketPolicy", "state-policy"), "policy")["Statement"][1]
    assert home["Condition"]["ArnNotLike"]["aws:PrincipalArn"][-1:] == admin_arns(MANAGEMENT)
    replication, *admins = others["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert replication.endswith(":role/state-replication") and admins == admin_arns(MANAGEMENT)
    assert recorded.deps(policy, "policy", ROLE) == [role]


def test_replica_backend_url_in_docs_and_outputs() -> None:
    """The one name of the replica (`state_bucket_name`) is what the runbook logs in to and what bootstrap exports."""
    url = backend_url(state_bucket_name(MANAGEMENT, OSAKA), OSAKA)
    assert management().outputs["replicaBackendUrl"] == url
    runbook = (ROOT / "docs" / "disaster-recovery.md").read_text().replace("$MANAGEMENT", MANAGEMENT)
    assert url.removesuffix("&awssdk=v2") + "&awssdk=v2&profile=management-admin" in runbook
    assert "pulumi stack export -s prod-dr" in runbook and "pulumi stack import -s prod-dr" in runbook
    assert url in (ROOT / "docs" / "state.md").read_text()


def test_state_replication_rule(each_mode: RecordedStack) -> None:
    config = each_mode.one(REPLICATION, "state-replication")
    assert [b.name for b in each_mode.deps(config, "bucket")] == ["state"]  # the home bucket replicates
    assert provider_region(each_mode, config) == "ap-northeast-1"
    assert [r.name for r in each_mode.deps(config, "role")] == ["state-replication"]
    (rule,) = config.inputs["rules"]
    assert rule["status"] == "Enabled" and rule["filter"] == {"prefix": ""}  # every object
    # Delete markers replicate: the backend deletes its lock files, which must not stay current in the replica.
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    destination = rule["destination"]
    assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert destination["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}
    assert [r.name for r in each_mode.deps(config, "rules", "aws:s3/bucket:Bucket")] == ["state-replica"]
    assert [r.name for r in each_mode.deps(config, "rules", "aws:kms/key:Key")] == ["state-replica-key"]
    if each_mode is management("update"):  # the mock's ARNs end with the logical name
        assert destination["bucket"].endswith("/state-replica")
        assert destination["encryptionConfiguration"]["replicaKmsKeyId"].endswith("key/state-replica-key")
    # S3 refuses the configuration until both buckets are versioned.
    assert {urn.rsplit("::", 1)[1] for urn in config.dependencies} >= {"state-versioning", "state-replica-versioning"}


def test_replication_role_trust_and_permissions() -> None:
    recorded = management()
    role = recorded.one(ROLE, "state-replication")
    assert provider_account(recorded, role) == MANAGEMENT
    (trust,) = doc(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": MANAGEMENT}}
    (inline,) = [p for p in recorded.of_type(ROLE_POLICY) if recorded.deps(p, "role") == [role]]
    statements = {s["Sid"]: s for s in doc(inline, "policy")["Statement"]}
    source, replica = f"arn:aws:s3:::{state_bucket_name(MANAGEMENT)}", f"arn:aws:s3:::{state_bucket_name(MANAGEMENT, OSAKA)}"
    assert statements["SourceBucket"]["Action"] == ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    assert statements["SourceBucket"]["Resource"] == source
    assert all(a.startswith("s3:GetObjectVersion") for a in statements["SourceVersions"]["Action"])
    assert statements["SourceVersions"]["Resource"] == f"{source}/*"
    assert all(a.startswith("s3:Replicate") for a in statements["ReplicaObjects"]["Action"])
    assert statements["ReplicaObjects"]["Resource"] == f"{replica}/*"
    assert sorted(k.name for k in recorded.deps(inline, "policy", "aws:kms/key:Key")) == ["state-bucket-key", "state-replica-key"]
    decrypt, encrypt = statements["DecryptSource"], statements["EncryptReplica"]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"].endswith("key/state-bucket-key")
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.ap-northeast-1.amazonaws.com"}
    assert "kms:Decrypt" not in encrypt["Action"] and encrypt["Resource"].endswith("key/state-replica-key")
    assert encrypt["Condition"]["StringEquals"] == {"kms:ViaService": f"s3.{OSAKA}.amazonaws.com"}
    # Nothing else: no wildcard action, no other bucket.
    assert set(statements) == {"SourceBucket", "SourceVersions", "ReplicaObjects", "DecryptSource", "EncryptReplica"}
    assert "*" not in json.dumps([s["Action"] for s in statements.values()])


@pytest.mark.parametrize("kind", ["preview", "drift", "deploy"])
def test_prod_ci_roles_decrypt_prod_dr_secrets(kind: str) -> None:
    recorded = management()
    role = recorded.one(ROLE, f"prod-ci-{kind}-role")
    (inline,) = [p for p in recorded.of_type(ROLE_POLICY) if recorded.deps(p, "role") == [role]]
    secrets = {s["Sid"]: s for s in doc(inline, "policy")["Statement"]}["StackSecrets"]
    assert [arn.rsplit("/", 1)[1] for arn in secrets["Resource"]] == ["prod-pulumi-state-key", "prod-dr-pulumi-state-key"]
    assert {k.name for k in recorded.deps(inline, "policy", "aws:kms/key:Key")} >= {"prod-pulumi-state-key", "prod-dr-pulumi-state-key"}
    assert "kms:Decrypt" in secrets["Action"]


@pytest.mark.parametrize(("stack", "region"), [("dev", "ap-northeast-1"), ("prod", "ap-northeast-1"), ("prod-dr", "ap-northeast-3")])
def test_stack_files_use_the_secrets_keys_bootstrap_creates(stack: str, region: str) -> None:
    recorded = management()
    aliases = {(a.inputs["name"], provider_region(recorded, a)): a for a in recorded.of_type("aws:kms/alias:Alias")}
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    # prod-dr's key is in Osaka, so its secrets decrypt when Tokyo is lost; prod's stays in Tokyo (KMS can't
    # turn a key multi-Region in place).
    assert document["secretsprovider"] == secrets_provider(stack, region) == f"awskms://alias/kanna/{stack}/pulumi-state?region={region}"
    assert document["config"].get("kanna-infra:region", "ap-northeast-1") == region
    alias = aliases[(f"alias/kanna/{stack}/pulumi-state", region)]
    # The alias resolves in the account of the credentials: it must be the stack's own account.
    assert provider_account(recorded, alias) == document["config"]["kanna-infra:awsAccountId"] == ACCOUNTS[stack.removesuffix("-dr")]
    (key,) = recorded.deps(alias, "targetKeyId")
    assert key.protect and key.inputs["enableKeyRotation"] is True
    assert provider_region(recorded, key) == region and key.provider == alias.provider


def test_bootstrap_secrets_key() -> None:
    recorded = management()
    aliases = {a.inputs["name"]: a for a in recorded.of_type("aws:kms/alias:Alias")}
    management_file = yaml.safe_load((BOOTSTRAP.directory / "Pulumi.management.yaml").read_text())
    assert management_file["secretsprovider"] == "awskms://alias/kanna/management/pulumi-state?region=ap-northeast-1"
    assert provider_account(recorded, aliases["alias/kanna/management/pulumi-state"]) == MANAGEMENT


# --- The policy pack, and bad settings ------------------------------------------------------------------


def test_policy_pack_passes_bootstrap(pack: PolicyPack, each_mode: RecordedStack) -> None:
    diagnostics = judge(pack, each_mode.registrations, "management")
    assert violations(diagnostics) == [] and violations(diagnostics, level="advisory") == []


GOOD = {
    "kanna-bootstrap:managementAccountId": MANAGEMENT,
    "kanna-bootstrap:accounts": json.dumps(
        {k: {"id": v, "email": f"aws+{k}@example.com", "ou": "shared" if k == "shared" else f"workloads/{k}"} for k, v in ACCOUNTS.items()}
    ),
}


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (
            {"kanna-bootstrap:stacks": json.dumps({"dev": "staging"})},
            'kanna-bootstrap:stacks.dev = "staging": unknown account; allowed: prod, dev, shared',
        ),
        ({"kanna-bootstrap:managementAccountId": "111111111111"}, "an account id is used twice"),
        ({"kanna-bootstrap:stateVersionRetentionDays": "7"}, 'kanna-bootstrap:stateVersionRetentionDays = "7"'),
        ({"kanna-bootstrap:github": json.dumps({"repository": "not a repo"})}, "kanna-bootstrap:github.repository"),
        ({"kanna-bootstrap:stateBucket": "x"}, 'kanna-bootstrap:stateBucket = "x": unknown key'),
        (
            {"kanna-bootstrap:region": "eu-west-1"},
            'kanna-bootstrap:region = "eu-west-1": not a region this code supports (settings/regions.py); allowed: ap-northeast-1, ap-northeast-3',
        ),
    ],
)
def test_bad_settings_give_one_line(change: dict[str, str], line: str) -> None:
    with pytest.raises(BootstrapSettingsError) as error:
        load("management", {**GOOD, **change})
    message = str(error.value)
    assert len(message.splitlines()) == 1 and message.startswith("stack 'management': ") and line in message


def test_committed_settings_load() -> None:
    settings = load("management", GOOD)
    assert settings.account_of("prod").id == ACCOUNTS["prod"] and settings.github.repository == REPO


# --- GCP Workload Identity Federation -----------------------------------------------------------------


def test_gcp_federation_only_for_this_repository(each_mode: RecordedStack) -> None:
    (provider,) = each_mode.of_type("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    assert provider.inputs["attributeCondition"] == f"assertion.repository == '{REPO}'"
    assert provider.inputs["oidc"]["issuerUri"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["attributeMapping"]["google.subject"] == "assertion.sub"


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize(
    ("kind", "sub", "roles"),
    [
        ("preview", "pull_request", read_roles()),
        ("drift", "ref:refs/heads/main", read_roles()),
        ("deploy", "environment:{stack}", deploy_roles()),
    ],
)
def test_gcp_service_accounts_impersonated_by_one_subject(stack: str, kind: str, sub: str, roles: list[str]) -> None:
    recorded = management()
    account = recorded.one("gcp:serviceaccount/account:Account", f"{stack}-ci-{kind}-sa")
    assert account.inputs["accountId"] == f"kanna-{stack}-{kind}" and account.inputs["project"] == f"kanna-{stack}-example"
    federation = recorded.one("gcp:serviceaccount/iAMMember:IAMMember", f"{stack}-ci-{kind}-sa-federation")
    assert recorded.deps(federation, "serviceAccountId") == [account]
    assert federation.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert federation.inputs["member"] == (
        "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/subject/"
        f"repo:{REPO}:{sub.format(stack=stack)}"
    )
    grants = [g for g in recorded.of_type("gcp:projects/iAMMember:IAMMember") if g.name.startswith(f"{stack}-ci-{kind}-sa-")]
    assert sorted(g.inputs["role"] for g in grants) == roles
    assert {g.inputs["member"] for g in grants} == {f"serviceAccount:{stack}-ci-{kind}-sa@example-project.iam.gserviceaccount.com"}
    assert {g.inputs["project"] for g in grants} == {f"kanna-{stack}-example"}
