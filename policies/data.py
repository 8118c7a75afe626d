"""Data stores: encrypted (Performance Insights too), backed up, protected in prod, spread over AZs, and reachable only
from the task security groups of ECS services.

Public accessibility and isolated subnets are checked in `network.py` (data-store-not-public,
data-store-isolated-subnets). Which instances belong to a cluster, and which security group guards a
data store, are found through property dependencies (instance -> clusterIdentifier -> cluster, rule ->
securityGroupId -> group <- vpcSecurityGroupIds <- cluster), so the checks hold in a first preview too.

Replacement is blocked by `protect`: the engine refuses to delete a protected resource, and a replace
is a delete, so a change that would replace a protected cluster, instance, cache, key or secret fails at
preview. `data-prod-protect` makes sure every stateful data resource carries it in prod.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, StackIndex, collect, defer, each, get, resource_policy, stack_policy, sure
from .network import CACHE_CLUSTER, CACHE_GROUP, DB_CLUSTER, DB_CLUSTER_INSTANCE, DB_INSTANCE, Ingress, ingress_rules

KMS_KEY = "aws:kms/key:Key"
SECRET = "aws:secretsmanager/secret:Secret"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SERVICE = "aws:ecs/service:Service"
DATA_PORTS = (3306, 5432, 6379)
# What `protect` must cover in prod: losing any of these loses data, or the key to it.
PROTECTED_TYPES = (DB_CLUSTER, DB_CLUSTER_INSTANCE, DB_INSTANCE, CACHE_GROUP, KMS_KEY, SECRET)
# Data stores and the property that lists their security groups.
GUARDED = {
    DB_CLUSTER: "vpcSecurityGroupIds",
    DB_INSTANCE: "vpcSecurityGroupIds",
    CACHE_GROUP: "securityGroupIds",
    CACHE_CLUSTER: "securityGroupIds",
}

_REQUIRED = PolicyConfigSchema(
    properties={"required": {"type": "boolean", "default": False, "description": "true in prod: the rule applies."}}
)


def _known(value: Any, what: str) -> Any:
    if value is UNKNOWN:
        defer(what)
    return value


def _storage_encrypted(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    encrypted = _known(get(args.props, "storageEncrypted", default=False), "storageEncrypted")
    if not encrypted:
        return ["stores data unencrypted (storageEncrypted is not true)"]
    if get(args.props, "kmsKeyId") is None:
        return ["is encrypted with the AWS-managed key instead of the customer-managed data key (kmsKeyId is not set)"]
    return []


def _cache_encrypted(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    found = []
    if not _known(get(args.props, "atRestEncryptionEnabled", default=False), "atRestEncryptionEnabled"):
        found.append("is not encrypted at rest (atRestEncryptionEnabled is not true)")
    if not _known(get(args.props, "transitEncryptionEnabled", default=False), "transitEncryptionEnabled"):
        found.append("accepts unencrypted connections (transitEncryptionEnabled is not true)")
    elif _known(get(args.props, "transitEncryptionMode", default="required"), "transitEncryptionMode") == "preferred":
        found.append("still accepts plaintext connections (transitEncryptionMode is preferred, not required)")
    return found


def _backup_retention(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    if args.resource_type == CACHE_GROUP:
        prop, minimum = "snapshotRetentionLimit", int(config.get("minimumCacheDays", 0))
        days = _known(get(args.props, prop, default=0), prop)
    else:
        prop, minimum = "backupRetentionPeriod", int(config.get("minimumDays", 1))
        days = _known(get(args.props, prop, default=1), prop)  # AWS keeps 1 day when it is not set
    if days < minimum:
        return [f"keeps backups {days:g} days ({prop}), below this stack's minimum of {minimum}"]
    return []


def _deletion_protection(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    if not config.get("required", False):
        return []
    found = []
    if args.resource_type != CACHE_GROUP and not _known(get(args.props, "deletionProtection", default=False), "deletionProtection"):
        found.append("can be deleted through the AWS API (deletionProtection is not true)")
    if _known(get(args.props, "skipFinalSnapshot", default=False), "skipFinalSnapshot") is True:
        found.append("would be deleted without a final snapshot (skipFinalSnapshot is true)")
    elif get(args.props, "finalSnapshotIdentifier") is None:
        found.append("would be deleted without a final snapshot (finalSnapshotIdentifier is not set)")
    return found


def _protected(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    if config.get("required", False) and not args.opts.protect:
        return ["is not protected: a delete, or a change that replaces it, would go ahead (the protect option is false)"]
    return []


def _multi_az(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    if not config.get("required", False):
        return []
    found: list[Finding] = []
    for cluster in index.of_type(DB_CLUSTER):
        instances = index.dependents(cluster, DB_CLUSTER_INSTANCE, "clusterIdentifier")
        azs = {_known(get(i.props, "availabilityZone"), f"{i.name}.availabilityZone") for i in instances}
        if len(instances) < 2 or len(azs - {None}) < 2:
            found.append((cluster, f"runs {len(instances)} instance(s) in {len(azs - {None})} known AZ(s); it needs at least 2 in 2 AZs"))
    for group in index.of_type(CACHE_GROUP):
        nodes = _known(get(group.props, "numCacheClusters", default=1), "numCacheClusters")
        failover = _known(get(group.props, "automaticFailoverEnabled", default=False), "automaticFailoverEnabled")
        multi_az = _known(get(group.props, "multiAzEnabled", default=False), "multiAzEnabled")
        if nodes < 2 or not failover or not multi_az:
            found.append(
                (group, f"has {nodes:g} node(s), automatic failover {failover}, Multi-AZ {multi_az}; it needs 2+ nodes and both on")
            )
    return found


SAR_STACK = "aws:serverlessrepository/cloudFormationStack:CloudFormationStack"
LAMBDA = "aws:lambda/function:Function"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
# AWS's own Secrets Manager rotation functions for RDS, published in the Serverless Application Repository.
_ROTATION_APP = re.compile(r"^arn:aws:serverlessrepo:[a-z0-9-]+:297356227824:applications/SecretsManagerRDS\w*Rotation\w*$")


def _client_groups(index: StackIndex) -> set[str]:
    """The security groups of the database's real clients: what ECS services put on their tasks
    (networkConfiguration.securityGroups), and what a secret's rotation function runs with, since rotating a
    database user's password means connecting to the database (AWS's SAR rotation applications, or a Lambda
    function that a SecretRotation invokes)."""
    groups = {sg.urn for service in index.of_type(SERVICE) for sg in index.deps(service, "networkConfiguration", SECURITY_GROUP)}
    for stack in index.of_type(SAR_STACK):
        if isinstance(app := get(stack.props, "applicationId"), str) and _ROTATION_APP.match(app):
            groups |= {sg.urn for sg in index.deps(stack, "parameters", SECURITY_GROUP)}
    rotators = {fn.urn for rotation in index.of_type(ROTATION) for fn in index.deps(rotation, "rotationLambdaArn", LAMBDA)}
    for function in index.of_type(LAMBDA):
        if function.urn in rotators:
            groups |= {sg.urn for sg in index.deps(function, "vpcConfig", SECURITY_GROUP)}
    return groups


def _data_ports_from_tasks(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    guarded = {
        sg.urn for type_, prop in GUARDED.items() for store in index.of_type(type_) for sg in index.deps(store, prop, SECURITY_GROUP)
    }
    clients = _client_groups(index)

    def check(rule: Ingress) -> list[Finding]:
        if rule.group is None or rule.group.urn not in guarded:
            return []
        ports = [port for port in DATA_PORTS if rule.covers(port)]
        if not ports:
            return []
        opened = f"data port {', '.join(map(str, ports))} of '{rule.group.name}'"
        found = [(rule.owner, f"opens {opened} to the CIDR range {sure(c, 'source CIDR')}") for c in rule.cidrs]
        found += [(rule.owner, f"opens {opened} to the prefix list {p}") for p in rule.prefix_lists]
        found += [
            (rule.owner, f"opens {opened} to '{g.name}', which is no ECS service's task group")
            for g in rule.sources
            if g.urn not in clients
        ]
        return found

    return collect(ingress_rules(index), check)


def _performance_insights_key(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    def check(instance: PolicyResource) -> list[str]:
        if sure(get(instance.props, "performanceInsightsEnabled", default=False), "performanceInsightsEnabled") is not True:
            return []
        keys = index.deps(instance, "performanceInsightsKmsKeyId", KMS_KEY)
        if not keys:
            return ["encrypts Performance Insights with the AWS-managed key, not this stack's (performanceInsightsKmsKeyId)"]
        clusters = index.deps(instance, "clusterIdentifier", DB_CLUSTER)
        storage = {k.urn for c in clusters for k in index.deps(c, "kmsKeyId", KMS_KEY)}
        if storage and not storage & {k.urn for k in keys}:
            return [f"encrypts Performance Insights with '{keys[0].name}', not its cluster's data key"]
        return []

    return each(index.of_type(DB_CLUSTER_INSTANCE, DB_INSTANCE), check)


POLICIES = [
    resource_policy(
        "data-storage-encrypted",
        "Databases encrypt their storage with the customer-managed data key.",
        [DB_CLUSTER, DB_INSTANCE],
        _storage_encrypted,
        "set storage_encrypted=True and kms_key_id to the keys component's data key ARN",
        id="KANNA-DATA-002",
        controls=("AWS FSBP RDS.3", "AWS FSBP RDS.27"),
    ),
    resource_policy(
        "cache-encrypted",
        "Redis/Valkey encrypts at rest and requires TLS in transit.",
        [CACHE_GROUP],
        _cache_encrypted,
        "set at_rest_encryption_enabled=True with kms_key_id, transit_encryption_enabled=True and transit_encryption_mode='required'",
        id="KANNA-DATA-003",
        controls=("AWS FSBP ElastiCache.4", "AWS FSBP ElastiCache.5"),
    ),
    resource_policy(
        "data-backup-retention",
        "Databases and caches keep backups at least as long as the stack's minimum.",
        [DB_CLUSTER, CACHE_GROUP],
        _backup_retention,
        "raise backupRetentionDays (Aurora) or snapshotRetentionDays (Redis) in the stack's data settings",
        PolicyConfigSchema(
            properties={
                "minimumDays": {"type": "integer", "minimum": 1, "maximum": 35, "default": 1},
                "minimumCacheDays": {"type": "integer", "minimum": 0, "maximum": 35, "default": 0},
            }
        ),
        id="KANNA-DATA-004",
        controls=("AWS FSBP RDS.11", "AWS FSBP ElastiCache.1"),
    ),
    resource_policy(
        "data-prod-deletion-protection",
        "In prod, databases have deletion protection, and databases and caches take a final snapshot.",
        [DB_CLUSTER, DB_INSTANCE, CACHE_GROUP],
        _deletion_protection,
        "set deletion_protection=True, skip_final_snapshot=False and a final_snapshot_identifier (the components do when protect is on)",
        _REQUIRED,
        id="KANNA-DATA-005",
        controls=("AWS FSBP RDS.7", "AWS FSBP RDS.8"),
    ),
    resource_policy(
        "data-prod-protect",
        "In prod, every cluster, instance, cache, KMS key and secret is protected, so nothing deletes or replaces it.",
        list(PROTECTED_TYPES),
        _protected,
        "create it with ResourceOptions(protect=settings.protect); to replace it on purpose, unprotect it in a reviewed change first",
        _REQUIRED,
        id="KANNA-DATA-006",
    ),
    stack_policy(
        "data-prod-multi-az",
        "In prod, each Aurora cluster runs 2+ instances in 2+ AZs, and each cache 2+ nodes with Multi-AZ failover.",
        _multi_az,
        "set appReaders >= 1 (Aurora) or nodes >= 2 (Redis); the components spread instances over the network's AZs",
        _REQUIRED,
        id="KANNA-DATA-007",
        controls=("AWS FSBP RDS.15", "AWS FSBP ElastiCache.3"),
    ),
    stack_policy(
        "data-port-no-public-ingress",
        "Data ports (3306, 5432, 6379) admit only the task security groups of ECS services (and of secret rotation functions): never a CIDR range, a prefix list or another group.",
        _data_ports_from_tasks,
        "remove the rule; pass the client service's task security group to the data component instead",
        id="KANNA-DATA-008",
    ),
    stack_policy(
        "performance-insights-encrypted",
        "Writers and readers with Performance Insights encrypt it with this stack's KMS key, their cluster's data key.",
        _performance_insights_key,
        "set performance_insights_kms_key_id to the keys component's data key ARN on every cluster instance",
        id="KANNA-DATA-009",
    ),
]
