"""The security baseline on the real dev and prod stacks, and the "Done when" mutations judged in prod (and dev)."""

from __future__ import annotations

import json

import pytest

from account.settings import account_key
from account.settings import load as account_settings
from preflight.analyzer import PolicyPack
from preflight.parallel import Job
from preflight.program import Registration, stack_config
from settings import SettingsError, load
from tests.conftest import recorded, recording, variant
from tests.kit import UNKNOWN, RecordedStack, copied, judge, mutate, violations

BUCKET = "aws:s3/bucket:Bucket"


def only(stack: RecordedStack, type_: str):
    (found,) = stack.of_type(type_)
    return found


def key(stack: RecordedStack, purpose: str):
    return stack.one("aws:kms/key:Key", f"{stack.recording.stack}-{purpose}-key")


def urns(registrations: list) -> set[str]:
    return {r.urn for r in registrations}


def statements(registration, prop: str = "policy") -> dict:
    return {s.get("Sid"): s for s in json.loads(registration.inputs[prop])["Statement"]}


def test_guardduty_detector_and_features(each_stack: RecordedStack) -> None:
    detector = only(each_stack, "aws:guardduty/detector:Detector")
    assert detector.inputs["enable"] is True
    features = {f.inputs["name"]: f for f in each_stack.of_type("aws:guardduty/detectorFeature:DetectorFeature")}
    assert set(features) == {"S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "RUNTIME_MONITORING", "EBS_MALWARE_PROTECTION"}
    for feature in features.values():
        assert feature.inputs["status"] == "ENABLED" and each_stack.deps(feature, "detectorId") == [detector]
    assert features["RUNTIME_MONITORING"].inputs["additionalConfigurations"] == [
        {"name": "ECS_FARGATE_AGENT_MANAGEMENT", "status": "ENABLED"}
    ]


def test_high_severity_findings_reach_an_encrypted_topic(each_stack: RecordedStack) -> None:
    rule = only(each_stack, "aws:cloudwatch/eventRule:EventRule")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern == {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"], "detail": {"severity": [{"numeric": [">=", 7]}]}}
    target = only(each_stack, "aws:cloudwatch/eventTarget:EventTarget")
    topic = only(each_stack, "aws:sns/topic:Topic")
    assert each_stack.deps(target, "rule") == [rule] and each_stack.deps(target, "arn") == [topic]
    assert each_stack.deps(topic, "kmsMasterKeyId") == [key(each_stack, "logs")]
    topic_policy = only(each_stack, "aws:sns/topicPolicy:TopicPolicy")
    assert urns(each_stack.deps(topic_policy, "policy")) == {topic.urn, rule.urn}
    if each_stack.recording.mode == "update":
        publish = statements(topic_policy)["FindingsRulePublishes"]
        assert publish["Principal"] == {"Service": "events.amazonaws.com"} and publish["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(
            "guardduty-findings"
        )


def test_inspector_scans_ecr_images_continuously(each_stack: RecordedStack) -> None:
    enabler = only(each_stack, "aws:inspector2/enabler:Enabler")
    account = {"dev": "222222222222", "prod": "111111111111"}[each_stack.recording.stack]
    assert enabler.inputs["resourceTypes"] == ["ECR"] and enabler.inputs["accountIds"] == [account]
    scanning = only(each_stack, "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration")
    assert scanning.inputs["scanType"] == "ENHANCED"
    assert scanning.inputs["rules"] == [
        {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}
    ]


def test_security_hub_standards_on_top_of_a_recording_config(each_stack: RecordedStack) -> None:
    hub = only(each_stack, "aws:securityhub/account:Account")
    assert hub.inputs["enableDefaultStandards"] is False
    status = only(each_stack, "aws:cfg/recorderStatus:RecorderStatus")
    assert status.urn in hub.dependencies and status.inputs["isEnabled"] is True
    arns = {s.inputs["standardsArn"] for s in each_stack.of_type("aws:securityhub/standardsSubscription:StandardsSubscription")}
    assert arns == {
        "arn:aws:securityhub:ap-northeast-1::standards/aws-foundational-security-best-practices/v/1.0.0",
        "arn:aws:securityhub:ap-northeast-1::standards/cis-aws-foundations-benchmark/v/3.0.0",
    }
    assert all(hub.urn in s.dependencies for s in each_stack.of_type("aws:securityhub/standardsSubscription:StandardsSubscription"))
    recorder = only(each_stack, "aws:cfg/recorder:Recorder")
    assert recorder.inputs["recordingGroup"] == {"allSupported": True, "includeGlobalResourceTypes": True}
    channel = only(each_stack, "aws:cfg/deliveryChannel:DeliveryChannel")
    (bucket,) = each_stack.deps(channel, "s3BucketName")
    assert bucket.name.endswith("-config") and each_stack.deps(channel, "s3KmsKeyArn") == [key(each_stack, "logs")]
    assert recorder.urn in channel.dependencies and channel.urn in status.dependencies


def test_cloudtrail_multi_region_validated_encrypted_to_bucket_and_logs(each_account: RecordedStack) -> None:
    each_stack = each_account  # one trail per account, in its baseline (account/): it records every region
    env = account_key(each_stack.recording.stack)
    trail = only(each_stack, "aws:cloudtrail/trail:Trail")
    assert trail.inputs["isMultiRegionTrail"] is True and trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["includeGlobalServiceEvents"] is True and trail.inputs["name"] == f"kanna-{env}"
    audit_key = each_stack.one("aws:kms/key:Key", f"{env}-audit-key")
    assert each_stack.deps(trail, "kmsKeyId") == [audit_key] and trail.protect is (env == "prod")
    (bucket,) = each_stack.deps(trail, "s3BucketName")
    assert bucket.name == f"{env}-cloudtrail" and bucket.inputs["objectLockEnabled"] is True
    (group,) = each_stack.deps(trail, "cloudWatchLogsGroupArn")
    assert group.inputs["name"] == f"/kanna/{env}/cloudtrail" and each_stack.deps(group, "kmsKeyId") == [audit_key]
    assert group.inputs["retentionInDays"] == {"dev": 90, "prod": 365}[env]
    (role,) = each_stack.deps(trail, "cloudWatchLogsRoleArn")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    policy = each_stack.one("aws:s3/bucketPolicy:BucketPolicy", f"{env}-cloudtrail-policy")
    assert policy.urn in trail.dependencies  # CloudTrail checks the bucket policy when the trail is created
    lock = each_stack.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", f"{env}-cloudtrail-object-lock")
    assert (
        lock.inputs["rule"]["defaultRetention"]
        == {"dev": {"mode": "GOVERNANCE", "days": 30}, "prod": {"mode": "COMPLIANCE", "days": 365}}[env]
    )
    logging = each_stack.one("aws:s3/bucketLogging:BucketLogging", f"{env}-cloudtrail-access-logging")
    assert [b.name for b in each_stack.deps(logging, "targetBucket")] == [f"{env}-audit-access-logs"]
    if each_stack.recording.mode == "update":
        assert set(statements(audit_key)) == {
            "AccountAdministers",
            "AccountIamDecides",
            "CloudWatchLogsOfThisAccount",
            "CloudTrailOfThisAccountEncrypts",
            "CloudTrailDescribes",
        }
        writes = statements(policy)["CloudTrailWrites"]
        assert (
            writes["Condition"]["StringEquals"]["aws:SourceArn"] == f"arn:aws:cloudtrail:ap-northeast-1:{_account(env)}:trail/kanna-{env}"
        )
        assert statements(policy)["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def _account(env: str) -> str:
    return {"dev": "222222222222", "prod": "111111111111"}[env]


def test_every_bucket_is_secure_and_protected_in_prod(each_stack: RecordedStack) -> None:
    env = each_stack.recording.stack
    names = {f"{env}-access-logs", f"{env}-config", f"{env}-sessions", f"{env}-edge-logs", f"{env}-log-export"}
    # Written by AWS services that only support SSE-S3 (server access logs, ALB logs) and, for CloudFront, ACLs.
    _secure_buckets(each_stack, env, names, {f"{env}-access-logs", f"{env}-edge-logs"}, key(each_stack, "logs"))


def test_the_account_buckets_are_secure_and_protected_in_prod(each_account: RecordedStack) -> None:
    env = account_key(each_account.recording.stack)
    audit_key = each_account.one("aws:kms/key:Key", f"{env}-audit-key")
    _secure_buckets(each_account, env, {f"{env}-cloudtrail", f"{env}-audit-access-logs"}, {f"{env}-audit-access-logs"}, audit_key)


def _secure_buckets(each_stack: RecordedStack, env: str, names: set[str], sse_s3: set[str], kms: Registration) -> None:
    buckets = each_stack.of_type(BUCKET)
    assert {b.name for b in buckets} == names
    for bucket in buckets:
        assert bucket.protect is (env == "prod")
        assert bucket.inputs["forceDestroy"] is False

        def one(type_: str, bucket=bucket):
            (found,) = [r for r in each_stack.of_type(type_) if each_stack.deps(r, "bucket") == [bucket]]
            return found

        block = one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        assert all(
            block.inputs[flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        assert one("aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
        ownership = "BucketOwnerPreferred" if bucket.name.endswith("edge-logs") else "BucketOwnerEnforced"
        assert one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs["rule"] == {"objectOwnership": ownership}
        (rule,) = one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs["rules"]
        if bucket.name in sse_s3:
            assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
        else:
            sse = one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
            assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms" and rule["bucketKeyEnabled"] is True
            assert each_stack.deps(sse, "rules") == [kms]
        policy = one("aws:s3/bucketPolicy:BucketPolicy")
        assert block.urn in policy.dependencies
        if each_stack.recording.mode == "update":
            assert "DenyInsecureTransport" in statements(policy)
        else:
            assert policy.inputs["policy"] == UNKNOWN  # built from the bucket ARN


def test_key_policies_are_scoped_to_their_users(each_stack: RecordedStack) -> None:
    env = each_stack.recording.stack
    account = _account(env)
    logs = statements(key(each_stack, "logs"))
    assert logs["CloudTrailOfThisAccountEncrypts"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": account},
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account}:trail/*"},
    }
    assert logs["CloudWatchLogsOfThisAccount"]["Principal"] == {"Service": "logs.ap-northeast-1.amazonaws.com"}
    secrets = statements(key(each_stack, "secrets"))
    assert set(secrets) == {"AccountAdministers", "AccountUsesViaSecretsManager"}
    assert secrets["AccountUsesViaSecretsManager"]["Condition"]["StringEquals"]["kms:ViaService"] == [
        "secretsmanager.ap-northeast-1.amazonaws.com"
    ]
    data = statements(key(each_stack, "data"))
    assert "rds.ap-northeast-1.amazonaws.com" in data["AccountUsesViaDataServices"]["Condition"]["StringEquals"]["kms:ViaService"]
    # The root administers every key but uses none directly (no kms:* and no crypto in the admin statement).
    for purpose in ("data", "logs", "secrets"):
        admin = statements(key(each_stack, purpose))["AccountAdministers"]["Action"]
        assert "kms:*" not in admin and "kms:Decrypt" not in admin and "kms:PutKeyPolicy" not in admin and "kms:Put*" in admin


def test_internal_user_pool(each_stack: RecordedStack) -> None:
    env = each_stack.recording.stack
    pool = only(each_stack, "aws:cognito/userPool:UserPool")
    i = pool.inputs
    assert i["mfaConfiguration"] == "ON" and i["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert i["passwordPolicy"]["minimumLength"] == 14 and all(
        i["passwordPolicy"][k] is True for k in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols")
    )
    assert i["userPoolAddOns"] == {"advancedSecurityMode": "ENFORCED"} and i["userPoolTier"] == "PLUS"
    assert i["deletionProtection"] == "ACTIVE" and i["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}
    assert pool.protect is (env == "prod")
    client = only(each_stack, "aws:cognito/userPoolClient:UserPoolClient")
    # One per admin host of every environment (tests/test_cloud_constraints.py derives them from the listener rules).
    hosts = {"dev": [f"{e}-admin.dev.example.com" for e in ("alpha", "beta", "gamma")], "prod": ["admin.example.com"]}[env]
    assert client.inputs["callbackUrls"] == [f"https://{host}/oauth2/idpresponse" for host in hosts]
    assert client.inputs["generateSecret"] is True and client.inputs["allowedOauthFlows"] == ["code"]
    assert client.inputs["supportedIdentityProviders"] == ["COGNITO"]
    assert each_stack.deps(client, "userPoolId") == [pool]
    cognito_domain = only(each_stack, "aws:cognito/userPoolDomain:UserPoolDomain")
    assert cognito_domain.inputs["domain"] == f"kanna-{env}-internal" and each_stack.deps(cognito_domain, "userPoolId") == [pool]
    (identity,) = each_stack.of_type("kanna:security:Identity")
    assert set(identity.outputs) == {"userPoolArn", "userPoolClientId", "userPoolDomain"}


def _with_idp(kind: str) -> Job:
    """prod federated with the company's identity provider (recorded in a forked child: conftest)."""
    config, secrets = stack_config("prod")
    idp = (
        {"type": "SAML", "name": "Corp", "metadataUrl": "https://idp.example.com/metadata.xml"}
        if kind == "SAML"
        else {
            "type": "OIDC",
            "name": "Corp",
            "issuer": "https://idp.example.com",
            "clientId": "kanna-admin",
            "clientSecretArn": "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:corp-oidc-AbCdEf",
        }
    )
    config["kanna-infra:security"] = json.dumps({"idp": idp})
    return variant("prod", "update", config, secrets)


@pytest.mark.parametrize("kind", [pytest.param(kind, marks=pytest.mark.records(_with_idp(kind))) for kind in ("SAML", "OIDC")])
def test_company_idp_federation_from_settings(kind: str) -> None:
    stack = RecordedStack(recorded(_with_idp(kind)))
    provider = only(stack, "aws:cognito/identityProvider:IdentityProvider")
    assert provider.inputs["providerType"] == kind and provider.inputs["providerName"] == "Corp"
    client = only(stack, "aws:cognito/userPoolClient:UserPoolClient")
    assert client.inputs["supportedIdentityProviders"] == ["COGNITO", "Corp"] and provider.urn in client.dependencies
    details = provider.inputs["providerDetails"]
    if kind == "SAML":
        assert details == {"MetadataURL": "https://idp.example.com/metadata.xml"}
    else:
        assert details["oidc_issuer"] == "https://idp.example.com"
        assert details["client_secret"]["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"  # a secret


@pytest.mark.parametrize(
    ("security", "expected"),
    [
        (
            {"idp": {"type": "OIDC", "name": "Corp", "issuer": "https://i", "clientId": "c"}},
            "security.idp.clientSecretArn = (not set): an OIDC IdP needs",
        ),
        ({"idp": {"type": "OIDC", "name": "Corp", "clientSecret": "hunter2"}}, "security.idp.clientSecret"),
        ({"sessionLogRetentionDays": 42}, "security.sessionLogRetentionDays = 42: not a CloudWatch retention period"),
    ],
    ids=["oidc-without-secret-arn", "inline-secret-refused", "bad-retention"],
)
def test_bad_security_settings_are_one_clear_line(security: dict, expected: str) -> None:
    with pytest.raises(SettingsError) as error:
        load("prod", {"kanna-infra:awsAccountId": "111111111111", "kanna-infra:security": json.dumps(security)})
    assert expected in str(error.value) and str(error.value).startswith("stack 'prod': kanna-infra:")


def test_prod_audit_logs_are_locked_in_compliance_mode() -> None:
    with pytest.raises(SettingsError) as error:
        account_settings(
            "prod-account",
            {
                "kanna-account:awsAccountId": "111111111111",
                "kanna-account:workloads": json.dumps({"prod": "ap-northeast-1"}),
                "kanna-account:security": json.dumps({"auditLockMode": "GOVERNANCE"}),
            },
        )
    assert str(error.value) == (
        "stack 'prod-account': kanna-account:security.auditLockMode = \"GOVERNANCE\": prod audit logs are locked in COMPLIANCE mode; "
        "allowed: COMPLIANCE"
    )


def test_ssm_session_preferences_log_encrypted(each_stack: RecordedStack) -> None:
    env = each_stack.recording.stack
    document = only(each_stack, "aws:ssm/document:Document")
    assert document.inputs["name"] == "SSM-SessionManagerRunShell" and document.inputs["documentType"] == "Session"
    group = each_stack.one("aws:cloudwatch/logGroup:LogGroup", f"{env}-sessions")
    bucket = each_stack.one(BUCKET, f"{env}-sessions")
    assert urns(each_stack.deps(document, "content")) == {group.urn, bucket.urn, key(each_stack, "logs").urn}
    assert each_stack.deps(group, "kmsKeyId") == [key(each_stack, "logs")] and group.protect is (env == "prod")
    if each_stack.recording.mode == "update":
        inputs = json.loads(document.inputs["content"])["inputs"]
        assert inputs["s3EncryptionEnabled"] is True and inputs["cloudWatchEncryptionEnabled"] is True
        assert inputs["cloudWatchLogGroupName"] == f"/kanna/{env}/sessions" and inputs["kmsKeyId"].startswith("arn:aws:kms:")
        assert inputs["runAsEnabled"] is False


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_operator_policy_scopes_sessions_by_stack_tag(env: str) -> None:
    each_stack = RecordedStack(recording(env))  # update preview: the policy embeds the logs key ARN
    policy = each_stack.one("aws:iam/policy:Policy", f"{env}-operator-sessions")
    s = statements(policy)
    assert s["SessionsOnThisStacksInstances"]["Condition"]["StringEquals"] == {"ssm:resourceTag/Stack": env}
    assert s["EcsExecOnThisStacksTasks"]["Condition"] == {"StringEquals": {"aws:ResourceTag/Stack": env}}
    assert s["OwnSessionsOnly"]["Resource"] == f"arn:aws:ssm:*:{_account(env)}:session/${{aws:userid}}-*"
    assert s["OnlyTheLoggedPreferences"]["Resource"].endswith(":document/SSM-SessionManagerRunShell")
    task = each_stack.one("aws:iam/policy:Policy", f"{env}-exec-logging-task")
    assert statements(task)["WriteSessionObjects"]["Resource"].endswith("/ecs-exec/*")
    (access,) = each_stack.of_type("kanna:security:OperatorAccess")
    assert set(access.outputs) == {"sessionLogGroup", "sessionBucket", "operatorPolicyArn", "execTaskPolicyArn"}


def test_no_ssh_or_bastion(each_stack: RecordedStack) -> None:
    assert each_stack.of_type("aws:ec2/instance:Instance") == [] and each_stack.of_type("aws:ec2/keyPair:KeyPair") == []


def test_account_defaults(each_account: RecordedStack) -> None:
    block = only(each_account, "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock")
    assert all(block.inputs[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    password = only(each_account, "aws:iam/accountPasswordPolicy:AccountPasswordPolicy")
    assert password.inputs["minimumPasswordLength"] == 14 and password.inputs["passwordReusePrevention"] == 24
    prod = each_account.recording.stack == "prod-account"
    for moved in (block, password):
        # Where `pulumi state move` put them: under the root stack (preflight/moves.py).
        assert moved.alias_urns == [f"urn:pulumi:{each_account.recording.stack}::kanna-account::{moved.type}::{moved.name}"]
        assert moved.protect is prod


def test_ebs_is_encrypted_by_default_in_the_stacks_region(each_stack: RecordedStack) -> None:
    assert only(each_stack, "aws:ebs/encryptionByDefault:EncryptionByDefault").inputs["enabled"] is True
    assert each_stack.deps(only(each_stack, "aws:ebs/defaultKmsKey:DefaultKmsKey"), "keyArn") == [key(each_stack, "data")]
    assert each_stack.of_type("aws:iam/user:User") == []


# --- "Done when": each mutation fails preflight in prod and in dev, naming the policy ------------------------


def _drop_public_access_block(registrations: list, env: str) -> list:
    return [r for r in registrations if r.name != f"{env}-access-logs-public-access-block"]


MUTATIONS = {
    "public access block removed": (
        "s3-bucket-public-access-blocked",
        lambda rec, env: _drop_public_access_block(copied(rec.registrations), env),
        "Bucket '{env}-access-logs': has no BucketPublicAccessBlock",
    ),
    "key rotation off": (
        "kms-key-rotation",
        lambda rec, env: mutate(rec, "aws:kms/key:Key", f"{env}-logs-key", lambda r: r.inputs.update(enableKeyRotation=False)),
        "Key '{env}-logs-key': does not rotate",
    ),
    "GuardDuty disabled": (
        "guardduty-enabled",
        lambda rec, env: mutate(rec, "aws:guardduty/detector:Detector", f"{env}-guardduty", lambda r: r.inputs.update(enable=False)),
        "Detector '{env}-guardduty': is disabled",
    ),
    "GuardDuty removed": (
        "guardduty-enabled",
        lambda rec, env: [r for r in rec.registrations if r.type != "aws:guardduty/detector:Detector"],
        "Stack 'kanna-infra-{env}': has no GuardDuty detector",
    ),
}


@pytest.mark.parametrize("mode", ["update", "first"])
@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_done_when_mutations_fail_in_prod_and_in_dev(pack: PolicyPack, mutation: str, mode: str) -> None:
    policy, change, message = MUTATIONS[mutation]
    prod = recording("prod", mode)
    found = violations(judge(pack, change(prod, "prod"), "prod"))
    assert [d.policy for d in found] == [policy]
    assert message.format(env="prod") in found[0].message and "Fix:" in found[0].message
    # dev holds no customer data but faces the internet: its security baseline is mandatory too (policies/config/dev.json).
    dev = recording("dev", mode)
    assert [d.policy for d in violations(judge(pack, change(dev, "dev"), "dev"))] == [policy]


@pytest.mark.parametrize("mode", ["update", "first"])
def test_admin_is_reachable_only_through_cognito_and_a_plain_forward_fails(pack: PolicyPack, mode: str) -> None:
    for stack_name, level in (("prod", "mandatory"), ("dev", "mandatory")):
        stack = RecordedStack(recording(stack_name, mode))
        (pool,) = stack.of_type("aws:cognito/userPool:UserPool")
        admin_rules = [r for r in stack.of_type("aws:lb/listenerRule:ListenerRule") if "-admin-" in r.name]
        assert admin_rules, "every environment's admin route, and its test rule"
        for rule in admin_rules:
            # Cognito first, with the security baseline's pool, then the forward; tagged internal for the pack.
            assert [a["type"] for a in sorted(rule.inputs["actions"], key=lambda a: a["order"])] == ["authenticate-cognito", "forward"]
            assert pool in stack.deps(rule, "actions") and rule.inputs["tags"] == {"Internal": "true"}
        (prod_rule,) = [r for r in admin_rules if not r.name.endswith("-test-rule")][:1]

        def plain_forward(rule: Registration) -> None:
            rule.inputs["actions"] = [a | {"order": 1} for a in rule.inputs["actions"] if a["type"] == "forward"]

        found = violations(
            judge(pack, mutate(stack.recording, prod_rule.type, prod_rule.name, plain_forward), stack_name),
            "internal-routes-authenticated",
            level=level,
        )
        assert [d.urn.rsplit("::", 1)[-1] for d in found] == [prod_rule.name]
        assert "without an authenticate-cognito action first" in found[0].message
