"""Security policies over gRPC: a compliant, a violating and an unknown-values case each; dev is advisory."""

from __future__ import annotations

import json

import pytest

from preflight.analyzer import PolicyPack
from tests.kit import UNKNOWN, deferred, judge, res, violations

BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
TLS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}


def bucket(name: str = "b", *, block: dict | None = None, sse: object = "aws:kms", policy: object = TLS_ONLY, known: bool = True) -> list:
    b = res(BUCKET, name, {"bucketPrefix": f"kanna-{name}-"})
    ref = {"bucket": [b]}
    ident = "bucket-1" if known else UNKNOWN
    found = [b]
    if block is not None:
        found.append(res(PAB, f"{name}-pab", {"bucket": ident, **block}, ref))
    if sse is not None:
        rule = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": sse}, "bucketKeyEnabled": True}
        found.append(res(SSE, f"{name}-sse", {"bucket": ident, "rules": [rule]}, ref))
    if policy is not None:
        found.append(
            res(BUCKET_POLICY, f"{name}-policy", {"bucket": ident, "policy": policy if policy is UNKNOWN else json.dumps(policy)}, ref)
        )
    return found


ALL_ON = dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_secure_bucket_passes_every_bucket_policy(pack: PolicyPack, known: bool) -> None:
    diagnostics = judge(pack, bucket(block=ALL_ON, known=known))
    assert violations(diagnostics) == []
    assert [d for d in diagnostics if d.policy.startswith("s3-")] == []


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_bucket_without_public_access_block_fails(pack: PolicyPack, known: bool) -> None:
    (found,) = violations(judge(pack, bucket(block=None, known=known)), "s3-bucket-public-access-blocked")
    assert "Bucket 'b': has no BucketPublicAccessBlock" in found.message and "Fix: create buckets with" in found.message


def test_public_access_block_with_a_flag_off_fails(pack: PolicyPack) -> None:
    (found,) = violations(judge(pack, bucket(block={**ALL_ON, "restrictPublicBuckets": False})), "s3-bucket-public-access-blocked")
    assert "leaves restrictPublicBuckets off" in found.message


def test_public_access_block_of_another_bucket_does_not_count(pack: PolicyPack) -> None:
    other = bucket("other", block=ALL_ON)
    lone = bucket("lone", block=None)
    (found,) = violations(judge(pack, [*other, *lone]), "s3-bucket-public-access-blocked")
    assert "Bucket 'lone'" in found.message


def test_unknown_public_access_flag_is_deferred(pack: PolicyPack) -> None:
    diagnostics = judge(pack, bucket(block={**ALL_ON, "blockPublicAcls": UNKNOWN}))
    assert violations(diagnostics, "s3-bucket-public-access-blocked") == []
    assert len(deferred(diagnostics, "s3-bucket-public-access-blocked")) == 1


@pytest.mark.parametrize("sse", ["aws:kms", "AES256"])
def test_encrypted_bucket_passes(pack: PolicyPack, sse: str) -> None:
    assert violations(judge(pack, bucket(block=ALL_ON, sse=sse)), "s3-bucket-encrypted") == []


def test_unencrypted_bucket_fails_and_unknown_algorithm_defers(pack: PolicyPack) -> None:
    (found,) = violations(judge(pack, bucket(block=ALL_ON, sse=None)), "s3-bucket-encrypted")
    assert "has no default encryption" in found.message
    diagnostics = judge(pack, bucket(block=ALL_ON, sse=UNKNOWN))
    assert violations(diagnostics, "s3-bucket-encrypted") == [] and len(deferred(diagnostics, "s3-bucket-encrypted")) == 1


@pytest.mark.parametrize(
    "policy",
    [None, {"Version": "2012-10-17", "Statement": [{**TLS_ONLY["Statement"][0], "Effect": "Allow"}]}],
    ids=["no-policy", "allow-instead-of-deny"],
)
def test_bucket_without_tls_deny_fails(pack: PolicyPack, policy: object) -> None:
    (found,) = violations(judge(pack, bucket(block=ALL_ON, policy=policy)), "s3-bucket-tls-only")
    assert "aws:SecureTransport false" in found.message


def test_unknown_bucket_policy_defers_unless_another_bucket_fails(pack: PolicyPack) -> None:
    diagnostics = judge(pack, bucket(block=ALL_ON, policy=UNKNOWN))
    assert violations(diagnostics, "s3-bucket-tls-only") == [] and len(deferred(diagnostics, "s3-bucket-tls-only")) == 1
    # A definite violation elsewhere is reported even while one bucket's policy is still unknown.
    mixed = [*bucket("pending", block=ALL_ON, policy=UNKNOWN), *bucket("open", block=ALL_ON, policy=None)]
    (found,) = violations(judge(pack, mixed), "s3-bucket-tls-only")
    assert "Bucket 'open'" in found.message


SECRET, ROTATION = "aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretRotation:SecretRotation"
REASON = "Datadog issues this key and no Secrets Manager function can create one"


def secret_with(rotation: dict | None, tags: object = None, *, by_dependency: bool = True) -> list:
    secret = res(SECRET, "s", {"name": "kanna/prod/x", **({"tags": tags} if tags is not None else {})})
    if rotation is None:
        return [secret]
    props = {"secretId": UNKNOWN if by_dependency else "kanna/prod/x", "rotationLambdaArn": "arn:aws:lambda:::function:f", **rotation}
    return [secret, res(ROTATION, "s-rotation", props, {"secretId": [secret]} if by_dependency else None)]


@pytest.mark.parametrize(
    ("resources", "outcome"),
    [
        (secret_with({"rotationRules": {"automaticallyAfterDays": 30}}), "pass"),
        # First preview: the rotation's secretId is unknown, its property dependency says which secret it is.
        (secret_with({"rotationRules": {"automaticallyAfterDays": 30}}, by_dependency=True), "pass"),
        (secret_with({"rotationRules": {"automaticallyAfterDays": 30}}, by_dependency=False), "pass"),
        (secret_with(None), "fail"),
        (secret_with({"rotationEnabled": False}), "fail"),
        (secret_with(None, {"kanna:rotation-exempt": REASON}), "pass"),
        (secret_with(None, {"kanna:rotation-exempt": " "}), "fail"),
        (secret_with(None, {"team": "sre"}), "fail"),
        (secret_with(None, UNKNOWN), "defer"),
        (secret_with(None, {"kanna:rotation-exempt": UNKNOWN}), "defer"),
    ],
    ids=[
        "rotates",
        "rotates-first-preview",
        "rotates-by-name",
        "never",
        "disabled",
        "exempt",
        "blank-reason",
        "other-tag",
        "tags-unknown",
        "reason-unknown",
    ],
)
def test_secrets_rotate_or_say_why_not(pack: PolicyPack, resources: list, outcome: str) -> None:
    diagnostics = judge(pack, resources)
    found = violations(diagnostics, "secrets-rotate")
    assert len(found) == (outcome == "fail") and len(deferred(diagnostics, "secrets-rotate")) == (outcome == "defer")
    if found:
        assert "Secret 's':" in found[0].message and "rotation_exempt(reason)" in found[0].message


@pytest.mark.parametrize(
    ("props", "outcome"),
    [
        ({"enableKeyRotation": True}, "pass"),
        ({"enableKeyRotation": False}, "fail"),
        ({}, "fail"),
        ({"enableKeyRotation": UNKNOWN}, "defer"),
        ({"customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}, "pass"),
    ],
    ids=["rotates", "off", "absent", "unknown", "asymmetric"],
)
def test_kms_key_rotation(pack: PolicyPack, props: dict, outcome: str) -> None:
    diagnostics = judge(pack, [res("aws:kms/key:Key", "k", props)])
    found = violations(diagnostics, "kms-key-rotation")
    assert len(found) == (outcome == "fail") and len(deferred(diagnostics, "kms-key-rotation")) == (outcome == "defer")
    if found:
        assert "Key 'k': does not rotate" in found[0].message and "enable_key_rotation=True" in found[0].message


@pytest.mark.parametrize(
    ("props", "failing"),
    [
        ({"enableLogFileValidation": True, "kmsKeyId": "arn:aws:kms:ap-northeast-1:111111111111:key/k"}, set()),
        ({"enableLogFileValidation": True, "kmsKeyId": UNKNOWN}, set()),  # a key not known yet is still a key
        ({"enableLogFileValidation": False, "kmsKeyId": "k"}, {"cloudtrail-log-file-validation"}),
        ({"enableLogFileValidation": True}, {"cloudtrail-encrypted"}),
        ({}, {"cloudtrail-log-file-validation", "cloudtrail-encrypted"}),
    ],
    ids=["compliant", "unknown-key", "no-validation", "no-key", "neither"],
)
def test_cloudtrail_validates_and_encrypts(pack: PolicyPack, props: dict, failing: set) -> None:
    trail = res("aws:cloudtrail/trail:Trail", "t", {"isMultiRegionTrail": True, **props})  # cloudtrail-logging's concern
    found = [d for d in violations(judge(pack, [trail])) if d.policy.startswith("cloudtrail")]
    assert {d.policy for d in found} == failing


def test_cloudtrail_unknown_validation_defers(pack: PolicyPack) -> None:
    diagnostics = judge(pack, [res("aws:cloudtrail/trail:Trail", "t", {"enableLogFileValidation": UNKNOWN, "kmsKeyId": "k"})])
    assert len(deferred(diagnostics, "cloudtrail-log-file-validation")) == 1


STACK = res("pulumi:pulumi:Stack", "kanna-infra-prod")
ACCOUNT_STACK = res("pulumi:pulumi:Stack", "kanna-account-prod-account")


@pytest.mark.parametrize(
    ("detectors", "outcome"),
    [([{"enable": True}], "pass"), ([{}], "pass"), ([{"enable": False}], "fail"), ([], "fail"), ([{"enable": UNKNOWN}], "defer")],
    ids=["enabled", "default-enabled", "disabled", "missing", "unknown"],
)
def test_guardduty_enabled(pack: PolicyPack, detectors: list, outcome: str) -> None:
    resources = [STACK, *(res("aws:guardduty/detector:Detector", f"d{i}", props) for i, props in enumerate(detectors))]
    diagnostics = judge(pack, resources)
    found = violations(diagnostics, "guardduty-enabled")
    assert len(found) == (outcome == "fail") and len(deferred(diagnostics, "guardduty-enabled")) == (outcome == "defer")
    if outcome == "fail":
        assert ("is disabled" if detectors else "has no GuardDuty detector") in found[0].message


@pytest.mark.parametrize(("mfa", "outcome"), [("ON", "pass"), ("OPTIONAL", "fail"), (None, "fail"), (UNKNOWN, "defer")])
def test_cognito_mfa_required(pack: PolicyPack, mfa: object, outcome: str) -> None:
    diagnostics = judge(pack, [res("aws:cognito/userPool:UserPool", "pool", {} if mfa is None else {"mfaConfiguration": mfa})])
    found = violations(diagnostics, "cognito-mfa-required")
    assert len(found) == (outcome == "fail") and len(deferred(diagnostics, "cognito-mfa-required")) == (outcome == "defer")


def doc(action: object, resource: object, effect: str = "Allow") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]})


@pytest.mark.parametrize(
    ("type_", "props", "outcome"),
    [
        ("aws:iam/policy:Policy", {"policy": doc("s3:GetObject", "*")}, "pass"),
        ("aws:iam/policy:Policy", {"policy": doc("*", "*", effect="Deny")}, "pass"),
        ("aws:iam/policy:Policy", {"policy": doc("*", "*")}, "fail"),
        ("aws:iam/rolePolicy:RolePolicy", {"policy": doc(["s3:GetObject", "*:*"], ["*"])}, "fail"),
        ("aws:iam/role:Role", {"inlinePolicies": [{"name": "admin", "policy": doc("*", "*")}]}, "fail"),
        ("aws:iam/role:Role", {"inlinePolicies": [{"name": "read", "policy": doc("s3:*", "arn:aws:s3:::b/*")}]}, "pass"),
        ("aws:iam/rolePolicy:RolePolicy", {"policy": UNKNOWN}, "defer"),
    ],
    ids=["scoped", "deny", "star", "role-policy-star", "role-inline-star", "role-inline-scoped", "unknown"],
)
def test_iam_no_star_on_star(pack: PolicyPack, type_: str, props: dict, outcome: str) -> None:
    diagnostics = judge(pack, [res(type_, "p", props)])
    found = violations(diagnostics, "iam-no-star-on-star")
    assert len(found) == (outcome == "fail") and len(deferred(diagnostics, "iam-no-star-on-star")) == (outcome == "defer")
    if found:
        assert "allows Action '*' on Resource '*'" in found[0].message


def cluster(exec_config: object) -> object:
    return res("aws:ecs/cluster:Cluster", "c", {"name": "c", "configuration": {"executeCommandConfiguration": exec_config}})


@pytest.mark.parametrize(
    ("exec_config", "outcome"),
    [
        (
            {
                "logging": "OVERRIDE",
                "logConfiguration": {"cloudWatchLogGroupName": "/kanna/prod/sessions", "cloudWatchEncryptionEnabled": True},
            },
            "pass",
        ),
        ({"logging": "OVERRIDE", "logConfiguration": {"s3BucketName": UNKNOWN, "s3BucketEncryptionEnabled": True}}, "pass"),
        ({"logging": "DEFAULT"}, "fail"),
        ({"logging": "OVERRIDE", "logConfiguration": {"cloudWatchLogGroupName": "g", "cloudWatchEncryptionEnabled": False}}, "fail"),
        (None, "fail"),
        ({"logging": UNKNOWN}, "defer"),
    ],
    ids=["logs", "s3-unknown-name", "default", "unencrypted", "absent", "unknown"],
)
def test_ecs_exec_logged(pack: PolicyPack, exec_config: object, outcome: str) -> None:
    diagnostics = judge(pack, [cluster(exec_config)])
    found = violations(diagnostics, "ecs-exec-logged")
    assert len(found) == (outcome == "fail") and len(deferred(diagnostics, "ecs-exec-logged")) == (outcome == "defer")


def test_ecs_exec_policy_applies_only_when_a_cluster_exists(pack: PolicyPack) -> None:
    assert violations(judge(pack, [STACK]), "ecs-exec-logged") == []


@pytest.mark.parametrize(
    ("type_", "props", "outcome"),
    [
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"ipProtocol": "tcp", "fromPort": 443.0, "toPort": 443.0}, "pass"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0}, "fail"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"ipProtocol": "-1"}, "fail"),
        (
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            {"type": "ingress", "protocol": "tcp", "fromPort": 3000.0, "toPort": 3500.0},
            "fail",
        ),
        ("aws:ec2/securityGroupRule:SecurityGroupRule", {"type": "egress", "protocol": "-1", "fromPort": 0.0, "toPort": 0.0}, "pass"),
        ("aws:ec2/securityGroup:SecurityGroup", {"ingress": [{"protocol": "tcp", "fromPort": 0.0, "toPort": 65535.0}]}, "fail"),
        ("aws:ec2/securityGroup:SecurityGroup", {"ingress": [{"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0}]}, "pass"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {"ipProtocol": "tcp", "fromPort": UNKNOWN, "toPort": 22.0}, "defer"),
    ],
    ids=["https", "ssh", "all-traffic", "rdp-in-range", "egress", "inline-all-ports", "inline-https", "unknown-port"],
)
def test_no_admin_ports_open(pack: PolicyPack, type_: str, props: dict, outcome: str) -> None:
    diagnostics = judge(pack, [res(type_, "sg", props)])
    found = violations(diagnostics, "no-admin-ports-open")
    assert len(found) == (outcome == "fail") and len(deferred(diagnostics, "no-admin-ports-open")) == (outcome == "defer")
    if found:
        assert "allows inbound" in found[0].message and "SSM Session Manager" in found[0].message


COGNITO = {
    "type": "authenticate-cognito",
    "order": 1.0,
    "authenticateCognito": {"userPoolArn": "arn", "userPoolClientId": "c", "userPoolDomain": "d"},
}
FORWARD = {"type": "forward", "order": 2.0, "targetGroupArn": "arn:tg"}


def rule(conditions: object, actions: object, tags: dict | None = None) -> object:
    return res("aws:lb/listenerRule:ListenerRule", "admin-rule", {"conditions": conditions, "actions": actions, "tags": tags or {}})


ADMIN_HOST = [{"hostHeader": {"values": ["admin.example.com"]}}]


@pytest.mark.parametrize(
    ("conditions", "actions", "tags", "outcome"),
    [
        (ADMIN_HOST, [COGNITO, FORWARD], None, "pass"),
        (ADMIN_HOST, [FORWARD], None, "fail"),
        (ADMIN_HOST, [{**FORWARD, "order": 1.0}, {**COGNITO, "order": 2.0}], None, "fail"),
        ([{"pathPattern": {"values": ["/admin/*"]}}], [FORWARD], None, "fail"),
        ([{"hostHeader": {"values": ["api.example.com"]}}], [FORWARD], {"Internal": "true"}, "fail"),
        ([{"hostHeader": {"values": ["api.example.com"]}}], [FORWARD], None, "pass"),
        (ADMIN_HOST, [{"type": "fixed-response", "order": 1.0}], None, "pass"),
        ([{"hostHeader": {"values": [UNKNOWN]}}], [FORWARD], None, "defer"),
        (ADMIN_HOST, UNKNOWN, None, "defer"),
    ],
    ids=[
        "cognito-then-forward",
        "plain-forward",
        "forward-first",
        "admin-path",
        "tagged",
        "public-host",
        "fixed-response",
        "unknown-host",
        "unknown-actions",
    ],
)
def test_internal_routes_authenticated(pack: PolicyPack, conditions: object, actions: object, tags: dict | None, outcome: str) -> None:
    diagnostics = judge(pack, [rule(conditions, actions, tags)])
    found = violations(diagnostics, "internal-routes-authenticated")
    assert len(found) == (outcome == "fail") and len(deferred(diagnostics, "internal-routes-authenticated")) == (outcome == "defer")
    if found:
        assert "ListenerRule 'admin-rule'" in found[0].message and "without an authenticate-cognito action first" in found[0].message


def test_internal_hosts_come_from_policy_config(pack: PolicyPack, tmp_path) -> None:
    config = tmp_path / "prod.json"
    config.write_text(
        json.dumps({"all": "mandatory", "internal-routes-authenticated": {"internalHosts": ["ops.*"], "internalPathPrefixes": []}})
    )
    plain = [FORWARD]
    assert violations(
        judge(pack, [rule([{"hostHeader": {"values": ["ops.example.com"]}}], plain)], config=config), "internal-routes-authenticated"
    )
    assert violations(judge(pack, [rule(ADMIN_HOST, plain)], config=config), "internal-routes-authenticated") == []


SECURITY_POLICIES = [
    "s3-bucket-public-access-blocked",
    "s3-bucket-encrypted",
    "s3-bucket-tls-only",
    "kms-key-rotation",
    "secrets-rotate",
    "cloudtrail-log-file-validation",
    "cloudtrail-encrypted",
    "guardduty-enabled",
    "cognito-mfa-required",
    "iam-no-star-on-star",
    "ecs-exec-logged",
    "no-admin-ports-open",
    "internal-routes-authenticated",
]


def test_security_policies_are_mandatory_in_prod_and_in_dev(pack: PolicyPack) -> None:
    """dev holds no customer data but faces the internet: its security baseline is prod's."""
    from tests.kit import CONFIG_DIR

    for stack in ("prod", "dev"):
        levels = pack.configure(CONFIG_DIR / f"{stack}.json")
        assert {name: levels[name] for name in SECURITY_POLICIES} == dict.fromkeys(SECURITY_POLICIES, "mandatory"), stack
    key = res("aws:kms/key:Key", "k", {"enableKeyRotation": False})
    assert len(violations(judge(pack, [key], "dev"), "kms-key-rotation")) == 1


# --- trail logging, Security Hub standards, GuardDuty features, public resource policies -------------------------

TRAIL = "aws:cloudtrail/trail:Trail"
GOOD_TRAIL = {"enableLogging": True, "isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": "arn:key"}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"enableLogging": False}, "is not logging"),
        ({"isMultiRegionTrail": False}, "records one region only"),
        ({"includeGlobalServiceEvents": False}, "leaves out global service events"),
        ({"isMultiRegionTrail": UNKNOWN}, "defer"),
    ],
)
def test_cloudtrail_logs_every_region(pack: PolicyPack, changes: dict, problem: str | None) -> None:
    # The trail is the account's: its baseline stack (account/) must hold one.
    diagnostics = judge(pack, [ACCOUNT_STACK, res(TRAIL, "trail", {**GOOD_TRAIL, **changes})], "prod-account")
    found = violations(diagnostics, "cloudtrail-logging")
    if problem == "defer":
        assert found == [] and deferred(diagnostics, "cloudtrail-logging")
    elif problem:
        assert len(found) == 1 and f"Trail 'trail': {problem}" in found[0].message
    else:
        assert found == []
    (found,) = violations(judge(pack, [ACCOUNT_STACK], "prod-account"), "cloudtrail-logging")
    assert "Stack 'kanna-account-prod-account': has no CloudTrail trail" in found.message


def test_a_workload_stack_leaves_the_trail_to_its_account_baseline(pack: PolicyPack) -> None:
    # The reviewed exception of policies/config/prod.json: prod's trail is prod-account's (a second would log twice).
    assert violations(judge(pack, [STACK]), "cloudtrail-logging") == []
    (found,) = violations(judge(pack, [res("pulumi:pulumi:Stack", "kanna-infra-other")]), "cloudtrail-logging")
    assert "Stack 'kanna-infra-other': has no CloudTrail trail" in found.message


HUB, STANDARD = "aws:securityhub/account:Account", "aws:securityhub/standardsSubscription:StandardsSubscription"
FSBP = "arn:aws:securityhub:ap-northeast-1::standards/aws-foundational-security-best-practices/v/1.0.0"
CIS = "arn:aws:securityhub:ap-northeast-1::standards/cis-aws-foundations-benchmark/v/3.0.0"


def test_security_hub_keeps_the_required_standards(pack: PolicyPack) -> None:
    hub = res(HUB, "hub", {"enableDefaultStandards": False})
    standards = [res(STANDARD, f"s{i}", {"standardsArn": arn}) for i, arn in enumerate((FSBP, CIS))]
    assert violations(judge(pack, [STACK, hub, *standards]), "securityhub-standards") == []
    (found,) = violations(judge(pack, [STACK, hub, standards[0]]), "securityhub-standards")
    assert "Account 'hub': does not subscribe to cis-aws-foundations-benchmark/v/3.0.0" in found.message
    (found,) = violations(judge(pack, [STACK, *standards]), "securityhub-standards")
    assert "has no Security Hub account" in found.message
    diagnostics = judge(pack, [STACK, hub, standards[0], res(STANDARD, "s9", {"standardsArn": UNKNOWN})])
    assert violations(diagnostics, "securityhub-standards") == [] and deferred(diagnostics, "securityhub-standards")


DETECTOR, FEATURE = "aws:guardduty/detector:Detector", "aws:guardduty/detectorFeature:DetectorFeature"


def detector_with(features: dict[str, object]) -> list:
    detector = res(DETECTOR, "gd", {"enable": True})
    found = [
        res(FEATURE, f"f-{n}", {"detectorId": UNKNOWN, "name": n, "status": s}, {"detectorId": [detector]}) for n, s in features.items()
    ]
    return [STACK, detector, *found]


def test_guardduty_enables_its_protections(pack: PolicyPack) -> None:
    every = dict.fromkeys(("S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "RUNTIME_MONITORING", "EBS_MALWARE_PROTECTION"), "ENABLED")
    assert violations(judge(pack, detector_with(every)), "guardduty-features") == []
    (found,) = violations(judge(pack, detector_with({**every, "RUNTIME_MONITORING": "DISABLED"})), "guardduty-features")
    assert "Detector 'gd': does not enable RUNTIME_MONITORING" in found.message
    (found,) = violations(judge(pack, detector_with({})), "guardduty-features")
    assert "S3_DATA_EVENTS, RDS_LOGIN_EVENTS, RUNTIME_MONITORING, EBS_MALWARE_PROTECTION" in found.message
    diagnostics = judge(pack, detector_with({**every, "S3_DATA_EVENTS": UNKNOWN}))
    assert violations(diagnostics, "guardduty-features") == [] and deferred(diagnostics, "guardduty-features")


def policy_doc(principal: object, condition: dict | None = None, effect: str = "Allow") -> str:
    statement: dict = {"Sid": "S", "Effect": effect, "Principal": principal, "Action": "kms:Decrypt", "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.parametrize(
    ("type_", "prop"),
    [("aws:kms/key:Key", "policy"), (BUCKET_POLICY, "policy"), ("aws:sns/topicPolicy:TopicPolicy", "policy")],
)
def test_no_resource_policy_admits_everyone_without_a_limiting_condition(pack: PolicyPack, type_: str, prop: str) -> None:
    policy = "resource-policy-no-public-principal"

    def judged(document: object) -> list:
        return violations(judge(pack, [res(type_, "r", {prop: document, "enableKeyRotation": True})]), policy)

    assert judged(policy_doc({"AWS": "arn:aws:iam::111111111111:root"})) == []
    assert judged(policy_doc("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})) == []
    assert judged(policy_doc({"AWS": "*"}, {"StringEquals": {"aws:SourceAccount": "111111111111"}})) == []
    assert judged(policy_doc("*", {"Bool": {"aws:SecureTransport": "false"}}, effect="Deny")) == []
    for document in (
        policy_doc("*"),
        policy_doc({"AWS": ["*"]}),
        policy_doc("*", {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
        policy_doc("*", {"StringLike": {"aws:PrincipalOrgID": "*"}}),
        policy_doc("*", {"Bool": {"aws:SecureTransport": "true"}}),
    ):
        (found,) = judged(document)
        assert "'r': grants '*' (S) with no condition limiting it to this organization or account" in found.message
    diagnostics = judge(pack, [res(type_, "r", {prop: UNKNOWN})])
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)
