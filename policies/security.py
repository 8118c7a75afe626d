"""The security baseline: locked-down buckets, rotating keys, a validated and encrypted trail, GuardDuty on, MFA on
the internal user pool, no admin-everything IAM policy, logged ECS Exec, no open SSH/RDP, internal routes behind
Cognito, a multi-region trail, Security Hub with its standards, GuardDuty with its protections, and no resource policy
that admits everyone.

Bucket checks relate a bucket to its public access block, encryption configuration and policy through the
property dependency on `bucket`, so they hold in a first preview, when no bucket name or id is known yet.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, Pending, StackIndex, defer, each, get, items, json_value, resource_policy, stack_policy

BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KEY = "aws:kms/key:Key"
TRAIL = "aws:cloudtrail/trail:Trail"
DETECTOR = "aws:guardduty/detector:Detector"
USER_POOL = "aws:cognito/userPool:UserPool"
IAM_POLICY_PROPS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
ROLE = "aws:iam/role:Role"
CLUSTER = "aws:ecs/cluster:Cluster"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
# The written exception (components/data/rotation.py, rotation_exempt): a tag whose value says why the secret can't rotate.
ROTATION_EXEMPT = "kanna:rotation-exempt"
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
SSE_ALGORITHMS = ("aws:kms", "aws:kms:dsse", "AES256")


def _known(value: Any, what: str) -> Any:
    if value is UNKNOWN:
        defer(what)
    return value


# --- S3 ---------------------------------------------------------------------------------------------------------


def _each_bucket(index: StackIndex, check: Any) -> list[Finding]:
    """Runs `check(bucket)` per bucket; defers only when nothing definite was found and some bucket was unknown."""
    found: list[Finding] = []
    pending: list[str] = []
    for bucket in index.of_type(*BUCKETS):
        try:
            found += [(bucket, problem) for problem in check(index, bucket)]
        except Pending as exc:
            pending.append(str(exc))
    if pending and not found:
        defer(pending[0])
    return found


def _sure(value: Any, what: str) -> Any:
    if value is UNKNOWN:
        raise Pending(what)
    return value


def _public_access_block(index: StackIndex, bucket: PolicyResource) -> list[str]:
    blocks = index.dependents(bucket, PUBLIC_ACCESS_BLOCK, "bucket")
    if not blocks:
        return ["has no BucketPublicAccessBlock"]
    problems = []
    for block in blocks:
        off = [flag for flag in PAB_FLAGS if _sure(get(block.props, flag, default=False), f"{block.name}.{flag}") is not True]
        if off:
            problems.append(f"its public access block '{block.name}' leaves {', '.join(off)} off")
    return problems


def _sse_algorithms(config: PolicyResource) -> list[Any]:
    return [get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm") for rule in items(config.props, "rules")]


def _encryption(index: StackIndex, bucket: PolicyResource) -> list[str]:
    configs = [c for type_ in ENCRYPTION for c in index.dependents(bucket, type_, "bucket")]
    algorithms = [a for c in configs for a in _sse_algorithms(c)]
    inline = get(bucket.props, "serverSideEncryptionConfiguration", "rule", "applyServerSideEncryptionByDefault", "sseAlgorithm")
    algorithms += [inline] if inline is not None else []
    if any(a in SSE_ALGORITHMS for a in algorithms):
        return []
    _sure(UNKNOWN if UNKNOWN in algorithms else None, f"{bucket.name}: sseAlgorithm")
    return ["has no default encryption (BucketServerSideEncryptionConfiguration)"]


def _denies_insecure_transport(document: Any) -> bool:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        secure = get(statement, "Condition", "Bool", "aws:SecureTransport")
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        principal = statement.get("Principal")
        everyone = principal == "*" or (isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"]))
        if str(secure).lower() == "false" and everyone and ({"s3:*", "*"} & set(actions)):
            return True
    return False


def _tls(index: StackIndex, bucket: PolicyResource) -> list[str]:
    documents = [json_value(p.props, "policy") for p in index.dependents(bucket, BUCKET_POLICY, "bucket")]
    if (inline := json_value(bucket.props, "policy")) is not None:
        documents.append(inline)
    if any(_denies_insecure_transport(d) for d in documents):
        return []
    _sure(UNKNOWN if UNKNOWN in documents else None, f"{bucket.name}: bucket policy")
    return ["has no bucket policy denying requests with aws:SecureTransport false"]


def _public_access_blocked(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    return _each_bucket(index, _public_access_block)


def _encrypted(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    return _each_bucket(index, _encryption)


def _tls_only(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    return _each_bucket(index, _tls)


# --- keys, trail, detection, identity ---------------------------------------------------------------------------


def _rotates(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    spec = _known(get(args.props, "customerMasterKeySpec", default="SYMMETRIC_DEFAULT"), "customerMasterKeySpec")
    if spec != "SYMMETRIC_DEFAULT":
        return []  # KMS rotates only symmetric encryption keys
    rotation = _known(get(args.props, "enableKeyRotation", default=False), "enableKeyRotation")
    return [] if rotation is True else ["does not rotate (enableKeyRotation is not true)"]


def _trail_validates(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    validation = _known(get(args.props, "enableLogFileValidation", default=False), "enableLogFileValidation")
    return [] if validation is True else ["does not validate its log files (enableLogFileValidation is not true)"]


def _trail_encrypted(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    # An unknown key ARN (first preview) is still a key: only an absent one fails.
    return [] if get(args.props, "kmsKeyId") not in (None, "") else ["writes its logs without a KMS key (kmsKeyId is not set)"]


def _guardduty_enabled(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    detectors = index.of_type(DETECTOR)
    if not detectors:
        # Reported on the stack itself; a set of resources without the stack (a fragment under test) is not a stack.
        return [(stack, "has no GuardDuty detector") for stack in index.of_type("pulumi:pulumi:Stack")]
    enabled = [_known(get(d.props, "enable", default=True), f"{d.name}.enable") is not False for d in detectors]
    return [] if any(enabled) else [(d, "is disabled (enable is false)") for d in detectors]


def _secrets_rotate(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    """A secret rotates when a SecretRotation's secretId flows from it (or names it), and rotation isn't disabled;
    otherwise its `kanna:rotation-exempt` tag says why not."""
    found: list[Finding] = []
    pending: list[str] = []
    for secret in index.of_type(SECRET):
        rotations = [
            r
            for r in index.of_type(SECRET_ROTATION)
            if secret in index.deps(r, "secretId") or get(r.props, "secretId") in (get(secret.props, "name"), get(secret.props, "arn"))
        ]
        if rotations:
            found += [
                (secret, f"has its rotation '{r.name}' disabled (rotationEnabled false)")
                for r in rotations
                if get(r.props, "rotationEnabled") is False
            ]
            continue
        tags = get(secret.props, "tags")
        reason = get(tags, ROTATION_EXEMPT) if isinstance(tags, Mapping) else tags
        if reason is UNKNOWN:
            pending.append(f"{secret.name}.tags")
        elif not (isinstance(reason, str) and reason.strip()):
            found.append((secret, f"never rotates: no SecretRotation's secretId is this secret, and no {ROTATION_EXEMPT} tag says why"))
    if pending and not found:
        defer(", ".join(pending))
    return found


def _mfa_required(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    mfa = _known(get(args.props, "mfaConfiguration", default="OFF"), "mfaConfiguration")
    return [] if mfa == "ON" else [f"does not require MFA (mfaConfiguration is {mfa})"]


# --- IAM --------------------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _star_on_star(document: Any) -> bool:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for statement in _as_list(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = {str(a) for a in _as_list(statement.get("Action"))}
        if ("*" in actions or "*:*" in actions) and "*" in _as_list(statement.get("Resource")):
            return True
    return False


def _no_star_on_star(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    if args.resource_type == ROLE:
        documents = [(f"inline policy '{get(p, 'name')}'", json_value(p, "policy")) for p in items(args.props, "inlinePolicies")]
    else:
        documents = [("policy", json_value(args.props, IAM_POLICY_PROPS[args.resource_type]))]
    for _where, document in documents:
        _known(document, "policy document")
    return [f"its {where} allows Action '*' on Resource '*'" for where, document in documents if _star_on_star(document)]


# --- ECS Exec, security groups ----------------------------------------------------------------------------------


def _exec_logged(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    exec_config = _known(get(args.props, "configuration", "executeCommandConfiguration"), "configuration.executeCommandConfiguration")
    logging = _known(get(exec_config, "logging", default="DEFAULT"), "executeCommandConfiguration.logging")
    if logging != "OVERRIDE":
        return [f"does not log ECS Exec sessions to its own encrypted destinations (executeCommandConfiguration.logging is {logging})"]
    log = _known(get(exec_config, "logConfiguration"), "executeCommandConfiguration.logConfiguration") or {}
    to_logs = get(log, "cloudWatchLogGroupName") is not None and _known(
        get(log, "cloudWatchEncryptionEnabled"), "cloudWatchEncryptionEnabled"
    )
    to_s3 = get(log, "s3BucketName") is not None and _known(get(log, "s3BucketEncryptionEnabled"), "s3BucketEncryptionEnabled")
    return [] if to_logs is True or to_s3 is True else ["logs ECS Exec sessions to no encrypted CloudWatch log group or S3 bucket"]


def _opens(protocol: Any, from_port: Any, to_port: Any, ports: list[int]) -> list[int]:
    protocol = str(protocol).lower()
    if protocol in ("-1", "all"):
        return list(ports)
    if protocol not in ("tcp", "6", "udp", "17"):
        return []
    low, high = float(from_port or 0), float(to_port if to_port is not None else from_port or 0)
    return [p for p in ports if low <= p <= high]


def _no_admin_ports(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    ports = [int(p) for p in config.get("ports", [22, 3389])]
    if args.resource_type == SECURITY_GROUP:
        rules = [(r, "protocol") for r in items(args.props, "ingress")]
    elif args.resource_type == SG_RULE:
        kind = _known(get(args.props, "type"), "type")
        rules = [(args.props, "protocol")] if kind == "ingress" else []
    else:
        rules = [(args.props, "ipProtocol")]
    found = []
    for rule, protocol_key in rules:
        _known(rule, "ingress")
        protocol = _known(get(rule, protocol_key), protocol_key)
        from_port = _known(get(rule, "fromPort"), "fromPort")
        to_port = _known(get(rule, "toPort"), "toPort")
        if opened := _opens(protocol, from_port, to_port, ports):
            found.append(f"allows inbound {'/'.join(map(str, opened))} (protocol {protocol}, ports {from_port}-{to_port})")
    return found


# --- internal routes --------------------------------------------------------------------------------------------


def _condition_values(condition: Any, key: str) -> list[Any]:
    return [_known(v, f"conditions.{key}.values") for v in items(condition, key, "values")]


def _internal(args: ResourceValidationArgs, config: Mapping[str, Any]) -> str | None:
    tags = _known(get(args.props, "tags", default={}), "tags")
    if str(get(tags, "Internal", default="")).lower() == "true":
        return "is tagged Internal=true"
    hosts, prefixes = config.get("internalHosts", []), config.get("internalPathPrefixes", [])
    for condition in items(args.props, "conditions"):
        _known(condition, "conditions")
        for host in _condition_values(condition, "hostHeader"):
            if any(fnmatch.fnmatch(str(host).lower(), pattern.lower()) for pattern in hosts):
                return f"matches internal host {host}"
        for path in _condition_values(condition, "pathPattern"):
            if any(str(path) == prefix or str(path).startswith(prefix.rstrip("/") + "/") for prefix in prefixes):
                return f"matches internal path {path}"
    return None


def _behind_cognito(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    why = _internal(args, config)
    if why is None:
        return []
    actions = [_known(a, "actions") for a in items(args.props, "actions")]
    ordered = sorted(enumerate(actions), key=lambda pair: (_known(get(pair[1], "order", default=pair[0] + 1), "actions.order"), pair[0]))
    kinds = [_known(get(action, "type"), "actions.type") for _, action in ordered]
    serving = [i for i, kind in enumerate(kinds) if kind in ("forward", "redirect")]
    if not serving:
        return []  # a fixed response serves nothing behind the route
    if "authenticate-cognito" in kinds[: serving[0]]:
        return []
    return [f"{why} but {kinds[serving[0]]}s without an authenticate-cognito action first"]


ROUTE_CONFIG = PolicyConfigSchema(
    properties={
        "internalHosts": {"type": "array", "items": {"type": "string"}, "default": ["admin.*", "internal.*"]},
        "internalPathPrefixes": {"type": "array", "items": {"type": "string"}, "default": ["/admin", "/internal"]},
    }
)
PORTS_CONFIG = PolicyConfigSchema(properties={"ports": {"type": "array", "items": {"type": "number"}, "default": [22, 3389]}})

POLICIES = [
    stack_policy(
        "s3-bucket-public-access-blocked",
        "Every S3 bucket has a public access block with all four settings on.",
        _public_access_blocked,
        "create buckets with components.lib.buckets.secure_bucket(), or add an aws.s3.BucketPublicAccessBlock with all four flags True",
        id="KANNA-SEC-001",
        controls=("AWS FSBP S3.8", "CIS AWS 2.1.4"),
    ),
    stack_policy(
        "s3-bucket-encrypted",
        "Every S3 bucket has default encryption (SSE-KMS, or SSE-S3 where AWS can write nothing else).",
        _encrypted,
        "create buckets with components.lib.buckets.secure_bucket(), or add an aws.s3.BucketServerSideEncryptionConfiguration",
        id="KANNA-SEC-002",
    ),
    stack_policy(
        "s3-bucket-tls-only",
        "Every S3 bucket's policy denies requests not made over TLS.",
        _tls_only,
        "create buckets with components.lib.buckets.secure_bucket(), or add a Deny s3:* statement with Bool aws:SecureTransport false",
        id="KANNA-SEC-003",
        controls=("AWS FSBP S3.5", "CIS AWS 2.1.1"),
    ),
    resource_policy(
        "kms-key-rotation",
        "Symmetric KMS keys rotate automatically.",
        [KEY],
        _rotates,
        "set enable_key_rotation=True (components.security.keys does, with a 365-day period)",
        id="KANNA-SEC-004",
        controls=("AWS FSBP KMS.4", "CIS AWS 3.6"),
    ),
    stack_policy(
        "secrets-rotate",
        "Every Secrets Manager secret rotates (a SecretRotation), or says in its kanna:rotation-exempt tag why it can't.",
        _secrets_rotate,
        "rotate it with an aws.secretsmanager.SecretRotation (database users: components/data/rotation.py), or, when no rotation "
        "function can rotate it (a third party's key), tag it with components.data.rotation.rotation_exempt(reason)",
        id="KANNA-SEC-013",
        controls=("AWS FSBP SecretsManager.1",),
    ),
    resource_policy(
        "cloudtrail-log-file-validation",
        "CloudTrail validates its log files, so tampering is detectable.",
        [TRAIL],
        _trail_validates,
        "set enable_log_file_validation=True",
        id="KANNA-SEC-005",
        controls=("AWS FSBP CloudTrail.4", "CIS AWS 3.2"),
    ),
    resource_policy(
        "cloudtrail-encrypted",
        "CloudTrail encrypts its logs with a customer-managed KMS key.",
        [TRAIL],
        _trail_encrypted,
        "set kms_key_id to the logs key (keys.logs.arn)",
        id="KANNA-SEC-006",
        controls=("AWS FSBP CloudTrail.2", "CIS AWS 3.5"),
    ),
    stack_policy(
        "guardduty-enabled",
        "Every stack has an enabled GuardDuty detector.",
        _guardduty_enabled,
        "keep the regional baseline's aws.guardduty.Detector with enable=True (components/security/regional.py)",
        id="KANNA-SEC-007",
        controls=("AWS FSBP GuardDuty.1",),
    ),
    resource_policy(
        "cognito-mfa-required",
        "Cognito user pools require MFA.",
        [USER_POOL],
        _mfa_required,
        'set mfa_configuration="ON" with software_token_mfa_configuration enabled',
        id="KANNA-SEC-008",
    ),
    resource_policy(
        "iam-no-star-on-star",
        "No IAM policy allows every action on every resource.",
        [*IAM_POLICY_PROPS, ROLE],
        _no_star_on_star,
        "name the actions and resources the principal needs; administrators come from the organization's SSO, not from this stack",
        id="KANNA-IAM-001",
        controls=("AWS FSBP IAM.1",),
    ),
    resource_policy(
        "ecs-exec-logged",
        "ECS clusters log ECS Exec sessions (logging OVERRIDE) to an encrypted log group or bucket.",
        [CLUSTER],
        _exec_logged,
        "set configuration.execute_command_configuration with logging='OVERRIDE' and the security component's exec_logging destinations",
        id="KANNA-COMP-005",
    ),
    resource_policy(
        "no-admin-ports-open",
        "No security group allows inbound SSH (22) or RDP (3389); operators use SSM Session Manager.",
        [SECURITY_GROUP, INGRESS_RULE, SG_RULE],
        _no_admin_ports,
        "remove the rule and reach hosts and tasks with SSM Session Manager / ECS Exec (components.security.operator_access)",
        PORTS_CONFIG,
        id="KANNA-NET-006",
        controls=("AWS FSBP EC2.13", "AWS FSBP EC2.14", "AWS FSBP EC2.53", "AWS FSBP EC2.54", "CIS AWS 5.2", "CIS AWS 5.3"),
    ),
    resource_policy(
        "internal-routes-authenticated",
        "ALB rules for internal routes (internal hosts or paths, or tagged Internal=true) authenticate with Cognito before forwarding.",
        [LISTENER_RULE],
        _behind_cognito,
        "put an authenticate-cognito action (security.internal_auth) before the forward action, with a lower order",
        ROUTE_CONFIG,
        id="KANNA-EDGE-009",
    ),
]


# --- the trail, Security Hub, GuardDuty's features --------------------------------------------------------------

SECURITY_HUB = "aws:securityhub/account:Account"
STANDARD = "aws:securityhub/standardsSubscription:StandardsSubscription"
DETECTOR_FEATURE = "aws:guardduty/detectorFeature:DetectorFeature"
STACK = "pulumi:pulumi:Stack"
REQUIRED_STANDARDS = ["aws-foundational-security-best-practices/v/1.0.0", "cis-aws-foundations-benchmark/v/3.0.0"]
REQUIRED_FEATURES = ["S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "RUNTIME_MONITORING", "EBS_MALWARE_PROTECTION"]


def _trails_log(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    trails = index.of_type(TRAIL)
    if not trails:
        return [(stack, "has no CloudTrail trail") for stack in index.of_type(STACK)]

    def check(trail: PolicyResource) -> list[str]:
        problems = []
        if _sure(get(trail.props, "enableLogging", default=True), "enableLogging") is False:
            problems.append("is not logging (enableLogging is false)")
        if _sure(get(trail.props, "isMultiRegionTrail", default=False), "isMultiRegionTrail") is not True:
            problems.append("records one region only (isMultiRegionTrail is not true)")
        if _sure(get(trail.props, "includeGlobalServiceEvents", default=True), "includeGlobalServiceEvents") is False:
            problems.append("leaves out global service events such as IAM (includeGlobalServiceEvents is false)")
        return problems

    return each(trails, check)


def _security_hub_standards(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    required = list(config.get("requiredStandards", REQUIRED_STANDARDS))
    hubs = index.of_type(SECURITY_HUB)
    if not hubs:
        return [(stack, "has no Security Hub account") for stack in index.of_type(STACK)]
    arns = [get(s.props, "standardsArn") for s in index.of_type(STANDARD)]
    missing = [r for r in required if not any(isinstance(a, str) and a.endswith(r) for a in arns)]
    if missing and UNKNOWN in arns:
        defer("standardsArn")
    return [(hubs[0], f"does not subscribe to {', '.join(missing)}")] if missing else []


def _guardduty_features(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    required = list(config.get("requiredFeatures", REQUIRED_FEATURES))

    def check(detector: PolicyResource) -> list[str]:
        if _sure(get(detector.props, "enable", default=True), "enable") is False:
            return []  # guardduty-enabled reports a disabled detector
        enabled = set()
        for feature in index.dependents(detector, DETECTOR_FEATURE, "detectorId"):
            if _sure(get(feature.props, "status"), f"{feature.name}.status") == "ENABLED":
                enabled.add(_sure(get(feature.props, "name"), f"{feature.name}.name"))
        missing = [f for f in required if f not in enabled]
        return [f"does not enable {', '.join(missing)} (aws.guardduty.DetectorFeature status ENABLED)"] if missing else []

    return each(index.of_type(DETECTOR), check)


# --- resource policies that admit everyone ----------------------------------------------------------------------

RESOURCE_POLICIES = {
    KEY: "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
    BUCKET_POLICY: "policy",
    BUCKETS[0]: "policy",
    BUCKETS[1]: "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
}
# Condition keys that tie a request to this organization or account (or to one of its resources).
LIMITING_KEYS = {
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "aws:principalarn",
    "kms:calleraccount",
}


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    aws = principal.get("AWS") if isinstance(principal, Mapping) else None
    return aws == "*" or (isinstance(aws, list) and "*" in aws)


def _limited(conditions: Any) -> bool:
    if not isinstance(conditions, Mapping):
        return False
    for operator, block in conditions.items():
        if "Not" in str(operator) or not isinstance(block, Mapping):
            continue  # StringNotEquals admits everyone else
        for key, value in block.items():
            values = value if isinstance(value, list) else [value]
            if key.lower() in LIMITING_KEYS and values and all(isinstance(v, str) and v.strip("*?") for v in values):
                return True
    return False


def _public_statements(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    document = json_value(args.props, RESOURCE_POLICIES[args.resource_type])
    if document is UNKNOWN:
        defer("policy")
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    problems = []
    for statement in _as_list(statements):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue  # a Deny to everyone only narrows access
        if _everyone(statement.get("Principal")) and not _limited(statement.get("Condition")):
            what = statement.get("Sid") or statement.get("Action")
            problems.append(f"grants '*' ({what}) with no condition limiting it to this organization or account")
    return problems


POLICIES += [
    stack_policy(
        "cloudtrail-logging",
        "Every stack has a CloudTrail trail that is logging, multi-region, and includes global service events.",
        _trails_log,
        "keep the account baseline's aws.cloudtrail.Trail (account/, components/security/audit.py) with enable_logging, is_multi_region_trail and include_global_service_events",
        id="KANNA-SEC-009",
        controls=("AWS FSBP CloudTrail.1", "CIS AWS 3.1"),
    ),
    stack_policy(
        "securityhub-standards",
        "Security Hub is on and subscribes to the standards the stack requires (FSBP and CIS by default).",
        _security_hub_standards,
        "keep the regional baseline's aws.securityhub.Account and a StandardsSubscription per standard (components/security/regional.py)",
        PolicyConfigSchema(properties={"requiredStandards": {"type": "array", "items": {"type": "string"}, "default": REQUIRED_STANDARDS}}),
        id="KANNA-SEC-010",
        controls=("AWS FSBP SecurityHub.1",),
    ),
    stack_policy(
        "guardduty-features",
        "Every enabled GuardDuty detector enables the protections the stack requires (S3, RDS, runtime, malware by default).",
        _guardduty_features,
        "keep an aws.guardduty.DetectorFeature with status ENABLED per required feature (components/security/regional.py)",
        PolicyConfigSchema(properties={"requiredFeatures": {"type": "array", "items": {"type": "string"}, "default": REQUIRED_FEATURES}}),
        id="KANNA-SEC-011",
        controls=("AWS FSBP GuardDuty.9", "AWS FSBP GuardDuty.10", "AWS FSBP GuardDuty.11"),
    ),
    resource_policy(
        "resource-policy-no-public-principal",
        "No KMS key, bucket, topic, queue, secret or image repository policy allows a '*' principal without a condition limiting it to this"
        " organization or account (aws:PrincipalOrgID, aws:SourceAccount, aws:SourceArn, aws:PrincipalAccount...).",
        list(RESOURCE_POLICIES),
        _public_statements,
        "name the principal (an account, role or service), or add a condition on aws:PrincipalOrgID or aws:SourceAccount",
        id="KANNA-SEC-012",
    ),
]
