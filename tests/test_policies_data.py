"""Data policies over gRPC: a compliant case, a violating case and an unknown-values case each."""

from __future__ import annotations

import pytest

from policies.data import POLICIES
from preflight.analyzer import PolicyPack
from tests.kit import UNKNOWN, deferred, judge, res, violations

CLUSTER, INSTANCE = "aws:rds/cluster:Cluster", "aws:rds/clusterInstance:ClusterInstance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
SG, RULE = "aws:ec2/securityGroup:SecurityGroup", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
OLD_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"

GOOD_CLUSTER = {
    "engine": "aurora-mysql",
    "storageEncrypted": True,
    "kmsKeyId": "arn:aws:kms:ap-northeast-1:111111111111:key/data",
    "backupRetentionPeriod": 14,
    "deletionProtection": True,
    "skipFinalSnapshot": False,
    "finalSnapshotIdentifier": "prod-mysql-final",
}
GOOD_CACHE = {
    "atRestEncryptionEnabled": True,
    "kmsKeyId": "arn:aws:kms:ap-northeast-1:111111111111:key/data",
    "transitEncryptionEnabled": True,
    "transitEncryptionMode": "required",
    "snapshotRetentionLimit": 7,
    "numCacheClusters": 2,
    "automaticFailoverEnabled": True,
    "multiAzEnabled": True,
    "finalSnapshotIdentifier": "prod-redis-final",
}


DATA_POLICIES = {policy.name for policy in POLICIES}


def ours(diagnostics: list) -> list:
    """Violations of this module's policies (synthetic stores have no subnets for the network policies)."""
    return [d for d in violations(diagnostics) if d.policy in DATA_POLICIES]


def cluster(name: str = "db", protect: bool = True, **changes: object) -> object:
    return res(CLUSTER, name, {**GOOD_CLUSTER, **changes}, protect=protect)


def cache(protect: bool = True, **changes: object) -> object:
    return res(CACHE, "redis", {**GOOD_CACHE, **changes}, protect=protect)


def instances(of: object, azs: list[object]) -> list:
    return [
        res(
            INSTANCE,
            f"db-{i}",
            {"clusterIdentifier": UNKNOWN, "availabilityZone": az, "publiclyAccessible": False},
            {"clusterIdentifier": [of]},
            protect=True,
        )
        for i, az in enumerate(azs)
    ]


def ha_cluster(**changes: object) -> list:
    db = cluster(**changes)
    return [db, *instances(db, ["ap-northeast-1a", "ap-northeast-1c"])]


def test_compliant_prod_data_stores_pass(pack: PolicyPack) -> None:
    assert ours(judge(pack, [*ha_cluster(), cache()], "prod")) == []


# data-storage-encrypted


@pytest.mark.parametrize(
    ("changes", "problem"),
    [({"storageEncrypted": False}, "unencrypted"), ({"kmsKeyId": None}, "AWS-managed key")],
    ids=["unencrypted", "aws-managed-key"],
)
def test_unencrypted_cluster_fails(pack: PolicyPack, changes: dict, problem: str) -> None:
    (found,) = violations(judge(pack, ha_cluster(**changes)), "data-storage-encrypted")
    assert "Cluster 'db'" in found.message and problem in found.message and "Fix: set storage_encrypted=True" in found.message


def test_unknown_encryption_is_deferred(pack: PolicyPack) -> None:
    diagnostics = judge(pack, ha_cluster(storageEncrypted=UNKNOWN))
    assert violations(diagnostics, "data-storage-encrypted") == []
    assert len(deferred(diagnostics, "data-storage-encrypted")) == 1
    # An unknown key ARN (the key is created in the same preview) is fine: it is set.
    assert violations(judge(pack, ha_cluster(kmsKeyId=UNKNOWN)), "data-storage-encrypted") == []


# cache-encrypted


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"atRestEncryptionEnabled": False}, "not encrypted at rest"),
        ({"transitEncryptionEnabled": False}, "unencrypted connections"),
        ({"transitEncryptionMode": "preferred"}, "plaintext"),
    ],
    ids=["at-rest", "in-transit", "preferred-mode"],
)
def test_unencrypted_cache_fails(pack: PolicyPack, changes: dict, problem: str) -> None:
    (found,) = violations(judge(pack, [cache(**changes)]), "cache-encrypted")
    assert "ReplicationGroup 'redis'" in found.message and problem in found.message and "transit_encryption_mode" in found.message


def test_unknown_cache_encryption_is_deferred(pack: PolicyPack) -> None:
    diagnostics = judge(pack, [cache(transitEncryptionEnabled=UNKNOWN)])
    assert violations(diagnostics, "cache-encrypted") == []
    assert len(deferred(diagnostics, "cache-encrypted")) == 1


# data-backup-retention: 14 days in prod, 7 in dev (policies/config)


@pytest.mark.parametrize(("stack", "days", "fails"), [("prod", 14, False), ("prod", 7, True), ("dev", 7, False), ("dev", 3, True)])
def test_backup_retention_against_the_stack_minimum(pack: PolicyPack, stack: str, days: int, fails: bool) -> None:
    found = violations(judge(pack, [cluster(backupRetentionPeriod=days)], stack), "data-backup-retention")
    assert len(found) == fails
    if fails:
        assert f"keeps backups {days} days" in found[0].message and f"minimum of {14 if stack == 'prod' else 7}" in found[0].message


def test_cache_snapshot_retention_and_unknown(pack: PolicyPack) -> None:
    (found,) = violations(judge(pack, [cache(snapshotRetentionLimit=0)]), "data-backup-retention")
    assert "ReplicationGroup 'redis'" in found.message and "snapshotRetentionLimit" in found.message
    diagnostics = judge(pack, [cluster(backupRetentionPeriod=UNKNOWN)])
    assert violations(diagnostics, "data-backup-retention") == [] and len(deferred(diagnostics, "data-backup-retention")) == 1


# data-prod-deletion-protection and data-prod-protect: required in prod only


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"deletionProtection": False}, "deletionProtection is not true"),
        ({"skipFinalSnapshot": True}, "skipFinalSnapshot is true"),
        ({"finalSnapshotIdentifier": None}, "finalSnapshotIdentifier is not set"),
    ],
)
def test_prod_cluster_without_deletion_protection_fails(pack: PolicyPack, changes: dict, problem: str) -> None:
    (found,) = violations(judge(pack, [cluster(**changes)], "prod"), "data-prod-deletion-protection")
    assert "Cluster 'db'" in found.message and problem in found.message
    assert violations(judge(pack, [cluster(**changes)], "dev"), "data-prod-deletion-protection") == []


def test_unknown_deletion_protection_is_deferred(pack: PolicyPack) -> None:
    diagnostics = judge(pack, [cluster(deletionProtection=UNKNOWN)], "prod")
    assert violations(diagnostics, "data-prod-deletion-protection") == []
    assert len(deferred(diagnostics, "data-prod-deletion-protection")) == 1


@pytest.mark.parametrize("type_", [CLUSTER, INSTANCE, CACHE, "aws:kms/key:Key", "aws:secretsmanager/secret:Secret"])
def test_unprotected_stateful_resource_fails_in_prod_only(pack: PolicyPack, type_: str) -> None:
    resource = res(type_, "stateful", {}, protect=False)
    (found,) = violations(judge(pack, [resource], "prod"), "data-prod-protect")
    assert "'stateful'" in found.message and "protect option is false" in found.message and "replaces it" in found.message
    assert violations(judge(pack, [res(type_, "stateful", {}, protect=True)], "prod"), "data-prod-protect") == []
    assert violations(judge(pack, [resource], "dev"), "data-prod-protect") == []


def test_protect_is_judged_even_when_every_value_is_unknown(pack: PolicyPack) -> None:
    # protect is a resource option: it is known in a first preview, whatever the inputs.
    unknown = res(CLUSTER, "db", dict.fromkeys(GOOD_CLUSTER, UNKNOWN), protect=False)
    assert len(violations(judge(pack, [unknown], "prod"), "data-prod-protect")) == 1


# data-prod-multi-az


@pytest.mark.parametrize(
    ("azs", "fails"),
    [(["ap-northeast-1a", "ap-northeast-1c"], False), (["ap-northeast-1a"], True), (["ap-northeast-1a", "ap-northeast-1a"], True)],
    ids=["two-azs", "one-instance", "same-az"],
)
def test_prod_cluster_instances_across_azs(pack: PolicyPack, azs: list, fails: bool) -> None:
    db = cluster()
    others = cluster("other")  # instances of another cluster don't count for this one
    stack = [db, *instances(db, azs), others, *instances(others, ["ap-northeast-1a", "ap-northeast-1c"])]
    found = violations(judge(pack, stack, "prod"), "data-prod-multi-az")
    assert [d.message.split("'")[1] for d in found] == (["db"] if fails else [])
    assert violations(judge(pack, stack, "dev"), "data-prod-multi-az") == []


def test_multi_az_with_unknown_az_is_deferred(pack: PolicyPack) -> None:
    db = cluster()
    diagnostics = judge(pack, [db, *instances(db, ["ap-northeast-1a", UNKNOWN])], "prod")
    assert violations(diagnostics, "data-prod-multi-az") == [] and len(deferred(diagnostics, "data-prod-multi-az")) == 1


def test_single_node_cache_fails_multi_az_in_prod(pack: PolicyPack) -> None:
    (found,) = violations(judge(pack, [cache(numCacheClusters=1, automaticFailoverEnabled=False)], "prod"), "data-prod-multi-az")
    assert "ReplicationGroup 'redis'" in found.message and "1 node(s)" in found.message


# data-port-no-public-ingress


def guarded_store(port: int) -> tuple[object, list]:
    """A data security group and the store it guards (Aurora for 3306/5432, Redis for 6379)."""
    group = res(SG, "db-sg", {"vpcId": "vpc-1"})
    if port == 6379:
        store = res(CACHE, "redis", {**GOOD_CACHE, "securityGroupIds": [UNKNOWN]}, {"securityGroupIds": [group]}, protect=True)
    else:
        store = res(CLUSTER, "db", {**GOOD_CLUSTER, "vpcSecurityGroupIds": [UNKNOWN]}, {"vpcSecurityGroupIds": [group]}, protect=True)
    return group, [group, store]


def ingress(group: object, port: int, known: bool = True, **source: object) -> object:
    props = {"securityGroupId": "sg-1" if known else UNKNOWN, "ipProtocol": "tcp", "fromPort": port, "toPort": port, **source}
    deps = {"securityGroupId": [group]}
    if "referencedSecurityGroupId" in source:
        deps["referencedSecurityGroupId"] = [source.pop("referenced")] if "referenced" in source else []
    return res(RULE, "rule", props, deps)


def task_group(name: str = "core-api-tasks") -> list:
    """A task security group and the ECS service whose tasks carry it."""
    group = res(SG, name, {"vpcId": "vpc-1"})
    service = res(
        "aws:ecs/service:Service",
        f"{name}-service",
        {"networkConfiguration": {"securityGroups": [UNKNOWN], "subnets": [UNKNOWN], "assignPublicIp": False}},
        {"networkConfiguration": [group]},
    )
    return [group, service]


def from_group(group: object, source: object, known: bool = True, port: int = 3306, name: str = "db-from-core-api") -> object:
    props = {"securityGroupId": UNKNOWN, "referencedSecurityGroupId": "sg-2" if known else UNKNOWN, "ipProtocol": "tcp"}
    return res(RULE, name, {**props, "fromPort": port, "toPort": port}, {"securityGroupId": [group], "referencedSecurityGroupId": [source]})


@pytest.mark.parametrize("port", [3306, 5432, 6379])
@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "10.0.16.0/20", "::/0"])
def test_data_port_open_to_any_cidr_fails(pack: PolicyPack, port: int, cidr: str) -> None:
    group, stack = guarded_store(port)
    source = {"cidrIpv6": cidr} if ":" in cidr else {"cidrIpv4": cidr}
    (found,) = violations(judge(pack, [*stack, ingress(group, port, **source)]), "data-port-no-public-ingress")
    assert f"SecurityGroupIngressRule 'rule': opens data port {port} of 'db-sg' to the CIDR range {cidr}" in found.message


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_a_services_task_group_may_reach_the_data_port(pack: PolicyPack, known: bool) -> None:
    group, stack = guarded_store(3306)
    client, service = task_group()
    assert ours(judge(pack, [*stack, client, service, from_group(group, client, known)], "dev")) == []


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_a_group_no_service_carries_may_not(pack: PolicyPack, known: bool) -> None:
    group, stack = guarded_store(3306)
    alb_sg = res(SG, "alb-sg", {"vpcId": "vpc-1"})
    (found,) = violations(judge(pack, [*stack, alb_sg, from_group(group, alb_sg, known)]), "data-port-no-public-ingress")
    assert "opens data port 3306 of 'db-sg' to 'alb-sg', which is no ECS service's task group" in found.message


ROTATION_APP = "arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSMySQLRotationMultiUser"


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
@pytest.mark.parametrize(
    ("application", "allowed"),
    [(ROTATION_APP, True), ("arn:aws:serverlessrepo:us-east-1:123456789012:applications/SecretsManagerRDSMySQLRotationMultiUser", False)],
    ids=["aws-rotation-app", "someone-elses-app"],
)
def test_a_rotation_functions_group_may_reach_the_data_port(pack: PolicyPack, known: bool, application: str, allowed: bool) -> None:
    # Rotating a database user's password means connecting to the database: AWS's rotation application runs
    # in the group passed as its vpcSecurityGroupIds parameter. A look-alike from another publisher is just a group.
    group, stack = guarded_store(3306)
    rotation_sg = res(SG, "mysql-rotation-sg", {"vpcId": "vpc-1"})
    app = res(
        "aws:serverlessrepository/cloudFormationStack:CloudFormationStack",
        "mysql-rotation",
        {"applicationId": application, "parameters": {"vpcSecurityGroupIds": "sg-3" if known else UNKNOWN}},
        {"parameters": [rotation_sg]},
    )
    found = violations(judge(pack, [*stack, rotation_sg, app, from_group(group, rotation_sg, known)]), "data-port-no-public-ingress")
    assert found == [] if allowed else "to 'mysql-rotation-sg', which is no ECS service's task group" in found[0].message


def test_a_lambda_rotation_functions_group_may_reach_the_data_port(pack: PolicyPack) -> None:
    group, stack = guarded_store(5432)
    rotation_sg = res(SG, "pg-rotation-sg", {"vpcId": "vpc-1"})
    function = res("aws:lambda/function:Function", "rotator", {"vpcConfig": {"securityGroupIds": [UNKNOWN]}}, {"vpcConfig": [rotation_sg]})
    rule = from_group(group, rotation_sg, port=5432)
    rotation = res(
        "aws:secretsmanager/secretRotation:SecretRotation", "rot", {"rotationLambdaArn": UNKNOWN}, {"rotationLambdaArn": [function]}
    )
    assert violations(judge(pack, [*stack, rotation_sg, function, rule, rotation]), "data-port-no-public-ingress") == []
    # The same function, invoked by no rotation: its group is no client of the database.
    assert len(violations(judge(pack, [*stack, rotation_sg, function, rule]), "data-port-no-public-ingress")) == 1


def test_world_rule_on_a_group_that_guards_no_data_store_is_not_this_policys_business(pack: PolicyPack) -> None:
    other = res(SG, "alb-sg", {"vpcId": "vpc-1"})
    assert violations(judge(pack, [other, ingress(other, 3306, cidrIpv4="10.0.0.0/16")]), "data-port-no-public-ingress") == []


def test_legacy_rule_and_inline_ingress_are_checked(pack: PolicyPack) -> None:
    group, stack = guarded_store(3306)
    legacy = res(
        OLD_RULE,
        "legacy",
        {"type": "ingress", "protocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrBlocks": ["10.0.0.0/8"]},
        {"securityGroupId": [group]},
    )
    (found,) = violations(judge(pack, [*stack, legacy]), "data-port-no-public-ingress")
    assert "SecurityGroupRule 'legacy': opens data port 3306, 5432, 6379 of 'db-sg'" in found.message
    group.inputs["ingress"] = [{"protocol": "-1", "fromPort": 0, "toPort": 0, "prefixListIds": ["pl-1"]}]
    (found,) = violations(judge(pack, stack), "data-port-no-public-ingress")
    assert "SecurityGroup 'db-sg': opens data port 3306, 5432, 6379 of 'db-sg' to the prefix list pl-1" in found.message


def test_unknown_cidr_is_deferred(pack: PolicyPack) -> None:
    group, stack = guarded_store(3306)
    diagnostics = judge(pack, [*stack, ingress(group, 3306, cidrIpv4=UNKNOWN)])
    assert violations(diagnostics, "data-port-no-public-ingress") == []
    assert len(deferred(diagnostics, "data-port-no-public-ingress")) == 1


KEY = "aws:kms/key:Key"


def with_insights(key: str | None, known: bool = True) -> list:
    data_key, other_key = (
        res(KEY, "data-key", {"enableKeyRotation": True}, protect=True),
        res(KEY, "other-key", {"enableKeyRotation": True}, protect=True),
    )
    db = res(CLUSTER, "db", {**GOOD_CLUSTER, "kmsKeyId": UNKNOWN}, {"kmsKeyId": [data_key]}, protect=True)
    keys = {"data": [data_key], "other": [other_key], None: []}[key]
    props = {
        "clusterIdentifier": UNKNOWN,
        "performanceInsightsEnabled": True if known else UNKNOWN,
        "performanceInsightsKmsKeyId": UNKNOWN if keys else None,
    }
    reader = res(
        INSTANCE,
        "db-reader-1",
        {k: v for k, v in props.items() if v is not None},
        {"clusterIdentifier": [db], "performanceInsightsKmsKeyId": keys},
        protect=True,
    )
    return [data_key, other_key, db, reader]


def test_readers_and_writers_encrypt_performance_insights_with_the_data_key(pack: PolicyPack) -> None:
    policy = "performance-insights-encrypted"
    assert violations(judge(pack, with_insights("data")), policy) == []
    (found,) = violations(judge(pack, with_insights(None)), policy)
    assert "ClusterInstance 'db-reader-1': encrypts Performance Insights with the AWS-managed key" in found.message
    (found,) = violations(judge(pack, with_insights("other")), policy)
    assert "with 'other-key', not its cluster's data key" in found.message
    diagnostics = judge(pack, with_insights(None, known=False))
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)
