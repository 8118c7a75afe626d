"""prod-dr, prod's pilot light in Osaka: the global databases, the replication, zero tasks and the failover routing.

prod and prod-dr are recorded once per session (shared with the other tests). prod's committed stack file has no
`standbyUp` (prod-dr doesn't exist before its first up), so the failover wiring is read on a variant of prod with
`standbyUp` set (recorded in a forked child), and one more (`dr.active: standby`) for the switch. What the first deploys need (prod before prod-dr exists) is checked on the
functions that decide it, without a recording.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.dr.recovery import ENGINES, data_recovery, global_cluster_id, replica_secret_arn
from components.edge.edge import origin_host
from components.platform.platform import Platform
from components.security.keys import key_alias
from preflight import ACCOUNT as ACCOUNT_PROJECT
from preflight import STACKS
from preflight.mocks import STACK_OUTPUTS, _stack_secrets, stack_outputs
from preflight.program import Registration, stack_config
from settings import SettingsError, load, of_stack, regions_in_use
from settings.services import CATALOG
from tests.conftest import recorded, recording, variant
from tests.kit import RecordedStack

CLUSTER, GLOBAL = "aws:rds/cluster:Cluster", "aws:rds/globalCluster:GlobalCluster"
KEY, SECRET = "aws:kms/key:Key", "aws:secretsmanager/secret:Secret"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
ACCOUNT = "111111111111"


def _prod_with(**dr: object) -> Any:
    config, secret_keys = stack_config("prod")
    return variant("prod", "update", {**config, "kanna-infra:dr": json.dumps({"standbyStack": "prod-dr", **dr})}, secret_keys)


PROD_STANDBY_UP = _prod_with(standbyUp=True)  # runbook step 3: after prod-dr's first up
PROD_FAILED_OVER = _prod_with(standbyUp=True, active="standby")
standby_up = pytest.mark.records(PROD_STANDBY_UP)


@pytest.fixture(scope="module")
def dr() -> RecordedStack:
    return RecordedStack(recording("prod-dr"))


@pytest.fixture(scope="module")
def prod_up() -> RecordedStack:
    return RecordedStack(recorded(PROD_STANDBY_UP))


@pytest.fixture(scope="module")
def dr_first() -> RecordedStack:
    return RecordedStack(recording("prod-dr", "first"))


def region_of(stack: RecordedStack, registration: Registration) -> str:
    """The region a resource is made in: its own `region` input, or its provider's."""
    if "region" in registration.inputs:
        return registration.inputs["region"]
    provider = stack.by_urn[registration.provider.rsplit("::", 1)[0]] if registration.provider else None
    assert provider is not None, registration.name
    return provider.inputs["region"]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_standby_clusters_are_secondaries_of_prods_global_databases(prod: RecordedStack, dr: RecordedStack, engine: str) -> None:
    primary, secondary = prod.one(CLUSTER, f"prod-{engine}-cluster"), dr.one(CLUSTER, f"prod-dr-{engine}-cluster")
    (glob,) = [g for g in prod.of_type(GLOBAL) if prod.deps(g, "sourceDbClusterIdentifier") == [primary]]
    # One function names the global database, and both sides call it.
    assert glob.inputs["globalClusterIdentifier"] == global_cluster_id("prod", engine) == secondary.inputs["globalClusterIdentifier"]
    assert glob.protect and glob.inputs["forceDestroy"] is True and glob.inputs["deletionProtection"] is True
    assert "globalClusterIdentifier" not in primary.inputs  # the GlobalCluster adopts the existing cluster
    # The provider's read drops globalClusterIdentifier; RDS reports the primary's ARN as a secondary's
    # replicationSourceIdentifier, which the program never sets (pulumi_aws GlobalCluster examples).
    assert primary.ignore_changes == ["globalClusterIdentifier"]
    assert secondary.ignore_changes == ["globalClusterIdentifier", "replicationSourceIdentifier"]
    assert primary.protect and secondary.protect
    # The same engine and version (a global database's members must match).
    assert {k: secondary.inputs[k] for k in ("engine", "engineVersion")} == {k: primary.inputs[k] for k in ("engine", "engineVersion")}
    # No master user of its own, and RDS manages no password on either side (it can't, for a global database).
    assert not {"masterUsername", "masterPassword", "masterUserSecretKmsKeyId"} & set(secondary.inputs)
    assert secondary.inputs["manageMasterUserPassword"] is False and primary.inputs["manageMasterUserPassword"] is False
    # Encrypted with Osaka's data key: a KMS key never leaves its region.
    (key,) = dr.deps(secondary, "kmsKeyId")
    assert key.name == "prod-dr-data-key" and region_of(dr, key) == region_of(dr, secondary) == "ap-northeast-3"
    assert region_of(prod, primary) == "ap-northeast-1"


@standby_up
def test_the_standby_makes_no_users_and_reads_the_replicas_of_prods_secrets(prod_up: RecordedStack, dr: RecordedStack) -> None:
    prod = prod_up
    assert not dr.of_type("aws:secretsmanager/secretRotation:SecretRotation")
    assert [s.inputs["name"] for s in dr.of_type(SECRET) if "/mysql/" in s.inputs["name"] or "/postgres/" in s.inputs["name"]] == []
    # prod replicates its master and user secrets to Osaka, under the standby's secrets key, by that key's alias.
    alias = f"arn:aws:kms:ap-northeast-3:{ACCOUNT}:{key_alias('prod-dr', 'secrets')}"
    assert [k.name for k in dr.of_type("aws:kms/alias:Alias") if k.inputs["name"] == key_alias("prod-dr", "secrets")]
    database = [s for s in prod.of_type(SECRET) if s.inputs["name"].split("/")[2] in ENGINES]
    assert len(database) == 2 + 3 + 3
    assert all(s.inputs["replicas"] == [{"region": "ap-northeast-3", "kmsKeyId": alias}] for s in database)
    # Its tasks read the replicas: prod's secret, in Osaka.
    tasks = {t.name: json.loads(t.inputs["containerDefinitions"]) for t in dr.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    app = next(c for c in tasks["dr-core-api-task"] if c["name"] == "core-api")
    password = next(s["valueFrom"] for s in app["secrets"] if s["name"] == "DATABASE_PASSWORD")
    assert password == replica_secret_arn(_stack_secrets("prod", ACCOUNT)["mysql"]["core-api"], "ap-northeast-3") + ":password::"


def test_images_replicate_from_prods_registry_to_osaka(dr: RecordedStack) -> None:
    (registry,) = dr.of_type("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    assert region_of(dr, registry) == "ap-northeast-1"  # the rule belongs to the source registry
    (rule,) = registry.inputs["replicationConfiguration"]["rules"]
    assert rule["destinations"] == [{"region": "ap-northeast-3", "registryId": ACCOUNT}]
    (only,) = rule["repositoryFilters"]
    assert only == {"filter": "kanna/", "filterType": "PREFIX_MATCH"}
    assert all(entry["image"].startswith(only["filter"]) for entry in CATALOG.values())


def test_audit_and_alb_logs_replicate_to_osaka_replicas(dr: RecordedStack) -> None:
    configs = {c.name: c for c in dr.of_type(REPLICATION)}
    assert sorted(configs) == ["prod-dr-cloudtrail-replication", "prod-dr-edge-logs-replication"]
    # The ALB logs are prod's; the trail is the account's (account/), read from its baseline stack's outputs.
    account = STACK_OUTPUTS["prod-account"]
    trail = {"name": account["auditBucket"], "arn": account["auditBucketArn"], "kmsKeyArn": account["auditKeyArn"]}
    sources = {**STACK_OUTPUTS["prod"]["replicatedBuckets"], "cloudtrail": trail}
    (role,) = {r.urn: r for c in configs.values() for r in dr.deps(c, "role")}.values()
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    logs_key = dr.one(KEY, "prod-dr-logs-key")
    for key, config in ((k, configs[f"prod-dr-{k}-replication"]) for k in ("cloudtrail", "edge-logs")):
        assert region_of(dr, config) == "ap-northeast-1" and config.inputs["bucket"] == sources[key]["name"]
        (rule,) = config.inputs["rules"]
        destination = rule["destination"]
        (replica,) = dr.deps(config, "rules", "aws:s3/bucket:Bucket")
        assert replica.name == f"prod-dr-{key}-replica" and replica.protect and region_of(dr, replica) == "ap-northeast-3"
        # Created only once the replica is versioned (PutBucketReplication rejects an unversioned destination).
        versioning = dr.one("aws:s3/bucketVersioning:BucketVersioning", f"{replica.name}-versioning")
        assert versioning.urn in config.dependencies and dr.deps(versioning, "bucket") == [replica]
        assert destination["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
        assert destination["metrics"]["status"] == "Enabled" and rule["deleteMarkerReplication"] == {"status": "Disabled"}
        encrypted = key == "cloudtrail"
        # SSE-KMS objects replicate only when the rule says so, re-encrypted with Osaka's key.
        assert ("sourceSelectionCriteria" in rule) is encrypted and ("encryptionConfiguration" in destination) is encrypted
        assert (logs_key in dr.deps(config, "rules", KEY)) is encrypted
    # The trail's replica is locked like the trail (an Object Lock bucket replicates only to one).
    locks = [r for r in dr.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration") if "replica" in r.name]
    assert [lock.name for lock in locks] == ["prod-dr-cloudtrail-replica-object-lock"]
    assert locks[0].inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 365}
    # The role reads the sources' versions and decrypts with prod's logs key only through S3 in Tokyo.
    (policy,) = [p for p in dr.of_type("aws:iam/rolePolicy:RolePolicy") if dr.deps(p, "role") == [role]]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    decrypt = next(s for s in statements if s["Action"] == "kms:Decrypt")
    assert decrypt["Resource"] == [sources["cloudtrail"]["kmsKeyArn"].format(account=ACCOUNT)]
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.ap-northeast-1.amazonaws.com"}
    reads = next(s for s in statements if "s3:GetObjectVersionForReplication" in s["Action"])
    assert "s3:GetObjectRetention" in reads["Action"] and sorted(reads["Resource"]) == sorted(f"{b['arn']}/*" for b in sources.values())


def test_the_mock_of_prods_outputs_is_what_prod_exports(prod: RecordedStack) -> None:
    account = RecordedStack(recording("prod-account", "update", ACCOUNT_PROJECT))
    assert set(STACK_OUTPUTS["prod-account"]) <= set(account.outputs)
    outputs = prod.outputs
    assert {k: sorted(v) for k, v in outputs["replicatedBuckets"].items()} == {
        k: sorted(v) for k, v in STACK_OUTPUTS["prod"]["replicatedBuckets"].items()
    }
    assert {e: sorted(v) for e, v in outputs["replicatedSecrets"].items()} == {
        e: sorted(v) for e, v in _stack_secrets("prod", ACCOUNT).items()
    }


def test_every_service_waits_at_zero_tasks(dr: RecordedStack) -> None:
    services = dr.of_type("aws:ecs/service:Service")
    assert sorted(s.name.removeprefix("dr-").removesuffix("-service") for s in services) == sorted(CATALOG)
    for service in services:
        assert service.inputs["desiredCount"] == 0, service.name
        assert all(item.get("base", 0) == 0 for item in service.inputs["capacityProviderStrategies"]), service.name
    targets = dr.of_type("aws:appautoscaling/target:Target")
    assert len(targets) == len(CATALOG) and all(t.inputs["minCapacity"] == 0 for t in targets)
    # Settings, not code: without its sizes, the standby would run prod's catalog sizes. `*` is every service of the
    # catalog, so a ninth one waits at zero too (its own entry would go on top).
    platform = of_stack("prod-dr").platform
    assert set(platform.sizes) == {"*"} and all(platform.size(name).min_tasks == 0 for name in CATALOG)


@standby_up
def test_prods_distribution_fails_over_to_the_osaka_alb(prod_up: RecordedStack, dr: RecordedStack) -> None:
    prod = prod_up
    (distribution,) = prod.of_type(DISTRIBUTION)
    origins = {o["originId"]: o for o in distribution.inputs["origins"]}
    standby = origins["standby"]
    assert standby["vpcOriginConfig"]["vpcOriginId"] == STACK_OUTPUTS["prod-dr"]["vpcOriginId"]
    assert standby["domainName"] == origin_host("example.com", "prod-dr") and origins["alb"]["domainName"] == "origin.example.com"
    assert distribution.inputs["defaultCacheBehavior"]["targetOriginId"] == "alb"
    # The standby's side: no distribution (the hosts are prod's), its VPC origin exported, its origin host aliasing its ALB.
    assert dr.of_type(DISTRIBUTION) == []
    (vpc_origin,) = dr.of_type("aws:cloudfront/vpcOrigin:VpcOrigin")
    (alb,) = dr.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert dr.deps(vpc_origin, "vpcOriginEndpointConfig") == [alb]
    assert dr.outputs["vpcOriginId"].startswith(f"{vpc_origin.name}-")  # the mock's id of that VPC origin
    records = {r.inputs["name"]: r for r in dr.of_type("aws:route53/record:Record")}
    assert dr.deps(records[standby["domainName"]], "aliases") == [alb]
    assert not set(records) & {"example.com", "origin.example.com"}
    assert not any("cert-validation" in name for name in (r.name for r in dr.of_type("aws:route53/record:Record")))
    # Its own regional web ACL on its ALB.
    (association,) = dr.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    (acl,) = dr.deps(association, "webAclArn")
    assert acl.inputs["scope"] == "REGIONAL" and region_of(dr, acl) == "ap-northeast-3"


@pytest.mark.records(PROD_FAILED_OVER)
def test_failing_over_is_a_setting_of_prod() -> None:
    failed_over = RecordedStack(recorded(PROD_FAILED_OVER))
    (distribution,) = failed_over.of_type(DISTRIBUTION)
    assert distribution.inputs["defaultCacheBehavior"]["targetOriginId"] == "standby"


def test_the_committed_prod_waits_for_the_standby(prod: RecordedStack) -> None:
    """Runbook order: prod's committed file has no standbyUp until prod-dr's first up (docs/disaster-recovery.md)."""
    assert of_stack("prod").dr.standby_stack == "prod-dr" and not of_stack("prod").dr.standby_up
    (distribution,) = prod.of_type(DISTRIBUTION)
    assert [o["originId"] for o in distribution.inputs["origins"]] == ["alb"]
    assert all(not s.inputs.get("replicas") for s in prod.of_type(SECRET))


def test_prods_first_deploy_needs_nothing_of_the_standby() -> None:
    """Before prod-dr exists: no reference to it, no secret replicas (its key doesn't exist yet), one origin."""
    before = of_stack("prod").model_copy(update={"dr": of_stack("prod").dr.model_copy(update={"standby_up": False})})
    recovery = data_recovery("prod", before, None)
    assert recovery is not None and recovery.primary and list(recovery.secret_replicas) == []
    assert Platform._standby_origin(before, None) is None  # type: ignore[arg-type]  # returns before it makes anything


@standby_up
def test_service_hosts_resolve_to_the_standbys_alb_only_inside_its_vpc(prod_up: RecordedStack, dr: RecordedStack) -> None:
    """prod owns the public records of its service hosts; inside Osaka's VPC a private zone of each host answers
    (Resolver takes the most specific zone), with the Osaka ALB."""
    hosts = of_stack("prod").platform.service_hosts()
    assert hosts and hosts == of_stack("prod-dr").platform.service_hosts()  # a standby takes its primary's hosts
    (prod_alb,), (dr_alb,) = prod_up.of_type("aws:lb/loadBalancer:LoadBalancer"), dr.of_type("aws:lb/loadBalancer:LoadBalancer")
    (vpc,) = dr.of_type("aws:ec2/vpc:Vpc")
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True  # private zones need both
    zones = {z.inputs["name"]: z for z in dr.of_type("aws:route53/zone:Zone")}
    assert sorted(zones) == sorted(hosts)
    for stack, alb in ((prod_up, prod_alb), (dr, dr_alb)):
        for host in hosts:
            (record_,) = [r for r in stack.of_type("aws:route53/record:Record") if r.inputs["name"] == host]
            assert stack.deps(record_, "aliases") == [alb], host
            if stack is prod_up:
                assert "zoneId" in record_.inputs and not stack.deps(record_, "zoneId")  # the public zone, looked up
            else:
                zone = zones[host]
                assert stack.deps(record_, "zoneId") == [zone] and len(zone.inputs["vpcs"]) == 1
                assert stack.deps(zone, "vpcs") == [vpc] and zone.inputs["vpcs"][0]["vpcRegion"] == "ap-northeast-3"
    # No record of prod-dr's in the public zone but its own origin host.
    public = [r.inputs["name"] for r in dr.of_type("aws:route53/record:Record") if not dr.deps(r, "zoneId")]
    assert public == [origin_host("example.com", "prod-dr")]


def test_the_standby_previews_first_with_its_primarys_outputs_known(dr_first: RecordedStack) -> None:
    # The primary exists when the standby is first deployed: the buckets to replicate are known, not unknown.
    configs = dr_first.of_type(REPLICATION)
    names = [b["name"] for b in STACK_OUTPUTS["prod"]["replicatedBuckets"].values()] + [STACK_OUTPUTS["prod-account"]["auditBucket"]]
    assert sorted(c.inputs["bucket"] for c in configs) == sorted(names)


def test_the_scp_allows_exactly_the_regions_the_stacks_use() -> None:
    from tests.test_bootstrap import scp

    assert regions_in_use() == sorted({of_stack(s).region for s in STACKS}) == ["ap-northeast-1", "ap-northeast-3"]
    condition: dict[str, Any] = scp("regions")["Statement"][0]["Condition"]
    assert condition == {"StringNotEquals": {"aws:RequestedRegion": [*regions_in_use(), "us-east-1"]}}


@pytest.mark.parametrize("engine", ENGINES)
def test_new_user_secrets_log_rotation_in_through_our_master_secret(prod: RecordedStack, engine: str) -> None:
    """A global database's master password is ours, not RDS's: a user secret's `masterarn` (what the multi-user
    rotation function logs in with) names our master secret, the one the rotation is granted. Existing secrets
    keep the RDS-managed one until the runbook re-points them (docs/disaster-recovery.md, first deploys, step 1)."""
    master = prod.one(SECRET, f"prod-{engine}-master")
    assert master.inputs["name"] == f"kanna/prod/{engine}/master"
    (rotation,) = [r for r in prod.of_type("aws:serverlessrepository/cloudFormationStack:CloudFormationStack") if engine in r.name]
    granted = rotation.inputs["parameters"]["masterSecretArn"]
    assert granted.startswith("arn:aws:secretsmanager:ap-northeast-1:") and "rds!" not in granted
    users = [v for v in prod.of_type("aws:secretsmanager/secretVersion:SecretVersion") if v.name.startswith(f"prod-{engine}-")]
    users = [v for v in users if v.name != f"prod-{engine}-master"]
    assert len(users) == 3
    for version in users:
        assert master in prod.deps(version, "secretString"), version.name
        assert json.loads(version.inputs["secretString"]["value"])["masterarn"] == granted, version.name


# Tokyo lost: prod's state and its secrets key with it, so no StackReference to prod or prod-account can be read.
# The outputs the last drill captured stand in for them (runbook: "State and secrets when Tokyo is lost").
CAPTURED = {stack: stack_outputs(stack, ACCOUNT) for stack in ("prod", "prod-account")}
_DR_CONFIG, _DR_SECRETS = stack_config("prod-dr")
DR_DETACHED = variant("prod-dr", "update", {**_DR_CONFIG, "kanna-infra:drOutputs": json.dumps(CAPTURED)}, _DR_SECRETS)


@pytest.mark.records(DR_DETACHED)
def test_with_captured_outputs_the_standby_reads_no_stack_and_builds_the_same_resources(dr: RecordedStack) -> None:
    detached = recorded(DR_DETACHED)
    assert [read for read in detached.reads if read[0] == "pulumi:pulumi:StackReference"] == []
    assert [(t, id_) for t, _, id_ in dr.recording.reads if t == "pulumi:pulumi:StackReference"] == [
        ("pulumi:pulumi:StackReference", "organization/kanna-account/prod-account"),
        ("pulumi:pulumi:StackReference", "organization/kanna-infra/prod"),
    ]
    # The same stack either way: the captured outputs are what the references give.
    assert {(r.type, r.name): r.inputs for r in detached.registrations} == {(r.type, r.name): r.inputs for r in dr.registrations}


@pytest.mark.parametrize(
    ("stack", "captured", "expected"),
    [
        ("prod", {"prod-dr": {}}, 'kanna-infra:drOutputs = ["prod-dr"]: only a standby reads captured outputs'),
        (
            "prod-dr",
            {"prod": {}},
            'kanna-infra:drOutputs = ["prod"]: no outputs of prod-account; allowed: the outputs of prod and prod-account',
        ),
    ],
)
def test_captured_outputs_are_a_standbys_and_complete(stack: str, captured: dict, expected: str) -> None:
    config = {**stack_config(stack)[0], "kanna-infra:drOutputs": json.dumps(captured)}
    with pytest.raises(SettingsError) as error:
        load(stack, config)
    assert expected in str(error.value) and "\n" not in str(error.value).strip()
