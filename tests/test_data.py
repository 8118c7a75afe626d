"""The data component on the real dev and prod stacks, and the "Done when" mutations through the pack."""

from __future__ import annotations

import json

import pytest

from preflight.analyzer import PolicyPack
from preflight.program import Registration
from settings import SettingsError, load, of_stack
from settings.services import CATALOG
from tests.conftest import recording
from tests.kit import UNKNOWN, RecordedStack, judge, mutate, res, violations

CLUSTER, INSTANCE = "aws:rds/cluster:Cluster", "aws:rds/clusterInstance:ClusterInstance"
ENDPOINT = "aws:rds/clusterEndpoint:ClusterEndpoint"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
SG, RULE = "aws:ec2/securityGroup:SecurityGroup", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SECRET, VERSION = "aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretVersion:SecretVersion"
KEY, PASSWORD = "aws:kms/key:Key", "random:index/randomPassword:RandomPassword"
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def db_clients(engine: str) -> list[str]:
    """The catalog's clients of `engine`: each has its own user (and PostgreSQL's, its own database)."""
    return [name for name, entry in CATALOG.items() if engine in entry.get("stores", [])]


def env(stack: RecordedStack) -> str:
    return stack.recording.stack


def global_primary(stack: RecordedStack) -> bool:
    """prod: its clusters are the primaries of global databases, so their master secret is ours, not RDS's."""
    return of_stack(env(stack)).dr.standby_stack is not None


def instances(stack: RecordedStack, engine: str) -> dict[str, Registration]:
    cluster = stack.one(CLUSTER, f"{env(stack)}-{engine}-cluster")
    found = [i for i in stack.of_type(INSTANCE) if stack.deps(i, "clusterIdentifier") == [cluster]]
    return {i.name.removeprefix(f"{env(stack)}-{engine}-"): i for i in found}


def test_prod_mysql_topology_writer_reader_analytics_in_three_azs(prod: RecordedStack) -> None:
    found = instances(prod, "mysql")
    assert {role: (i.inputs["availabilityZone"], i.inputs["promotionTier"]) for role, i in found.items()} == {
        "writer": ("ap-northeast-1a", 0),
        "reader-1": ("ap-northeast-1c", 1),
        "analytics": ("ap-northeast-1d", 15),  # never promoted while another instance lives
    }
    for role, instance in found.items():
        assert instance.inputs["instanceClass"] == "db.r7g.large"
        assert instance.inputs["publiclyAccessible"] is False
        assert instance.inputs["performanceInsightsEnabled"] is True and instance.inputs["monitoringInterval"] == 15
        assert prod.deps(instance, "performanceInsightsKmsKeyId") == [prod.one(KEY, "prod-data-key")]
        # The writer is created first, so Aurora makes it the writer.
        assert (found["writer"].urn in instance.dependencies) is (role != "writer")


def test_prod_postgres_has_a_writer_and_a_reader_in_another_az(prod: RecordedStack) -> None:
    found = instances(prod, "postgres")
    assert {role: (i.inputs["availabilityZone"], i.inputs["promotionTier"]) for role, i in found.items()} == {
        "writer": ("ap-northeast-1a", 0),
        "reader-1": ("ap-northeast-1c", 1),
    }


def test_endpoints_split_application_readers_from_analytics(each_stack: RecordedStack) -> None:
    e = env(each_stack)
    found = instances(each_stack, "mysql")
    cluster = each_stack.one(CLUSTER, f"{e}-mysql-cluster")
    analytics = each_stack.one(ENDPOINT, f"{e}-mysql-analytics")
    assert analytics.inputs["customEndpointType"] == "READER"
    assert each_stack.deps(analytics, "clusterIdentifier") == [cluster]
    assert each_stack.deps(analytics, "staticMembers") == [found["analytics"]]
    data = each_stack.of_type("kanna:data:Data")[0].outputs
    if e == "prod":
        app = each_stack.one(ENDPOINT, "prod-mysql-app-readers")
        assert app.inputs["customEndpointType"] == "READER" and "staticMembers" not in app.inputs
        assert each_stack.deps(app, "excludedMembers") == [found["analytics"]]
        if each_stack.recording.mode == "update":
            assert ".cluster-custom-" in data["mysqlReaderEndpoint"] and "app-readers" in data["mysqlReaderEndpoint"]
    else:
        # No application reader in dev: application reads go to the writer, never to the analytics reader.
        assert [x.name for x in each_stack.of_type(ENDPOINT)] == ["dev-mysql-analytics"]
        if each_stack.recording.mode == "update":
            assert data["mysqlReaderEndpoint"] == data["mysqlWriterEndpoint"]
    if each_stack.recording.mode == "update":
        assert data["mysqlAnalyticsEndpoint"].startswith(f"{e}-mysql-analytics.cluster-custom-")
    assert sorted(data["postgresSecretArns"]) == sorted(db_clients("postgres")) != []


@pytest.mark.parametrize("engine", ["mysql", "postgres"])
def test_cluster_guarantees(each_stack: RecordedStack, engine: str) -> None:
    e = env(each_stack)
    cluster = each_stack.one(CLUSTER, f"{e}-{engine}-cluster")
    i = cluster.inputs
    assert i["engine"] == f"aurora-{'mysql' if engine == 'mysql' else 'postgresql'}"
    assert i["storageEncrypted"] is True and each_stack.deps(cluster, "kmsKeyId") == [each_stack.one(KEY, f"{e}-data-key")]
    if global_primary(each_stack):
        # RDS can't manage the master password of a global database's cluster: ours, generated, in our secret.
        assert i["manageMasterUserPassword"] is False and SECRET_SIG in i["masterPassword"]
        assert each_stack.deps(cluster, "masterPassword") == [each_stack.one(PASSWORD, f"{e}-{engine}-master-password")]
        master = each_stack.one(SECRET, f"{e}-{engine}-master")
        assert master.inputs["name"] == f"kanna/{e}/{engine}/master"
        assert each_stack.deps(master, "kmsKeyId") == [each_stack.one(KEY, f"{e}-secrets-key")]
    else:
        assert i["manageMasterUserPassword"] is True and "masterPassword" not in i
        assert each_stack.deps(cluster, "masterUserSecretKmsKeyId") == [each_stack.one(KEY, f"{e}-secrets-key")]
    assert i["iamDatabaseAuthenticationEnabled"] is True
    assert i["backupRetentionPeriod"] == (14 if e == "prod" else 7)
    assert i["enabledCloudwatchLogsExports"] == (["audit", "error", "slowquery"] if engine == "mysql" else ["postgresql"])
    (group,) = each_stack.deps(cluster, "dbSubnetGroupName")
    assert {s.inputs["tags"]["Tier"] for s in each_stack.deps(group, "subnetIds")} == {"isolated"}
    assert len(each_stack.deps(group, "subnetIds")) == 3
    (params,) = each_stack.deps(cluster, "dbClusterParameterGroupName")
    values = {p["name"]: p["value"] for p in params.inputs["parameters"]}
    if engine == "mysql":
        assert params.inputs["family"] == "aurora-mysql8.0"
        assert values["character_set_server"] == "utf8mb4" and values["collation_server"].startswith("utf8mb4_")
        assert values["slow_query_log"] == "1" and values["server_audit_logging"] == "1"
    else:
        assert params.inputs["family"] == "aurora-postgresql16"
        assert "pgaudit" in values["shared_preload_libraries"] and values["log_min_duration_statement"] == "1000"
    for instance in instances(each_stack, engine).values():
        (role,) = each_stack.deps(instance, "monitoringRoleArn")
        assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}


def test_dev_is_serverless_and_shared_one_cluster_set_per_stack(dev: RecordedStack) -> None:
    # Verification environments share these; their databases are made by migrations, never by clusters.
    assert sorted(c.name for c in dev.of_type(CLUSTER)) == ["dev-mysql-cluster", "dev-postgres-cluster"]
    assert [c.name for c in dev.of_type(CACHE)] == ["dev-redis"]
    for cluster in dev.of_type(CLUSTER):
        assert cluster.inputs["serverlessv2ScalingConfiguration"] == {"minCapacity": 0, "maxCapacity": 4}
    assert {i.name: i.inputs["instanceClass"] for i in dev.of_type(INSTANCE)} == dict.fromkeys(
        ["dev-mysql-writer", "dev-mysql-analytics", "dev-postgres-writer"], "db.serverless"
    )


def test_security_groups_admit_only_listed_clients_and_no_cidr(each_stack: RecordedStack) -> None:
    e = env(each_stack)
    groups = {g.name: g for g in each_stack.of_type(SG) if g.name in {f"{e}-mysql-sg", f"{e}-postgres-sg", f"{e}-redis-sg"}}
    assert len(groups) == 3
    for engine in ("mysql", "postgres"):
        assert each_stack.deps(each_stack.one(CLUSTER, f"{e}-{engine}-cluster"), "vpcSecurityGroupIds") == [groups[f"{e}-{engine}-sg"]]
    assert each_stack.deps(each_stack.one(CACHE, f"{e}-redis"), "securityGroupIds") == [groups[f"{e}-redis-sg"]]
    for group in groups.values():
        assert "ingress" not in group.inputs and "egress" not in group.inputs
    # Exactly the services whose catalog entry uses a store are admitted to it, in every environment,
    # each by its own task security group, on the store's port only, and never from a CIDR.
    environments = [c.name.removeprefix(f"{e}-") for c in each_stack.of_type("kanna:platform:Environment")]
    for store, port in (("mysql", 3306), ("postgres", 5432), ("redis", 6379)):
        group = groups[f"{e}-{store}-sg"]
        rules = [r for r in each_stack.of_type(RULE) if each_stack.deps(r, "securityGroupId") == [group]]
        assert all("cidrIpv4" not in r.inputs and "cidrIpv6" not in r.inputs for r in rules)
        assert all((r.inputs["fromPort"], r.inputs["toPort"], r.inputs["ipProtocol"]) == (port, port, "tcp") for r in rules)
        admitted = {source.name for r in rules for source in each_stack.deps(r, "referencedSecurityGroupId")}
        users = db_clients(store)
        # The databases also admit their rotation function (test_every_application_user_secret_rotates_...).
        rotation = {f"{e}-{store}-rotation-sg"} if store != "redis" else set()
        assert admitted == {f"{env_}-{name}-sg" for env_ in environments for name in users} | rotation, store


def test_services_receive_their_stores_connection_details(prod: RecordedStack) -> None:
    tasks = {t.name.removeprefix("prod-").removesuffix("-task"): t for t in prod.of_type("aws:ecs/taskDefinition:TaskDefinition")}
    mysql_secret = prod.one(CLUSTER, "prod-mysql-cluster")
    for service, task in tasks.items():
        (app,) = [c for c in json.loads(task.inputs["containerDefinitions"]) if c["name"] == service]
        env_names = {v["name"] for v in app["environment"]}
        secrets = {v["name"]: v["valueFrom"] for v in app["secrets"]}
        stores = CATALOG[service].get("stores", [])
        assert ("DATABASE_HOST" in env_names) is ("mysql" in stores)
        assert ("SPRING_DATASOURCE_URL" in env_names) is ("postgres" in stores)
        assert ("REDIS_URL" in env_names) is ("redis" in stores)
        if "mysql" in stores:
            # The application readers' endpoint, never the analytics reader, which is for BI only.
            host = {v["name"]: v["value"] for v in app["environment"]}["DATABASE_READER_HOST"]
            assert "app-readers" in host and "analytics" not in json.dumps(app)
            assert secrets["DATABASE_PASSWORD"].endswith(":password::") and ":secretsmanager:" in secrets["DATABASE_PASSWORD"]
        if "postgres" in stores:
            # The service's own user: its secret, not the master's.
            assert f"secret/kanna/prod/postgres/{service}:" in secrets["SPRING_DATASOURCE_PASSWORD"]
        # The execution role may read exactly the secrets its task injects.
        (role,) = prod.deps(task, "executionRoleArn")
        (policy,) = [p for p in prod.of_type("aws:iam/rolePolicy:RolePolicy") if prod.deps(p, "role") == [role]]
        statements = json.loads(policy.inputs["policy"])["Statement"]
        allowed = [arn for st in statements if st["Sid"] in ("OwnSecrets", "OwnParameters") for arn in st["Resource"]]
        for value_from in secrets.values():
            arn = value_from.split(":password::")[0].split(":username::")[0]
            assert any(arn == a or (a.endswith("-??????") and arn.startswith(a[:-7])) for a in allowed), (service, arn)
    assert mysql_secret is not None


def test_redis_is_encrypted_multi_az_in_prod_with_a_token_in_secrets_manager(each_stack: RecordedStack) -> None:
    e = env(each_stack)
    group = each_stack.one(CACHE, f"{e}-redis")
    i = group.inputs
    assert i["engine"] == "valkey" and i["atRestEncryptionEnabled"] is True and i["transitEncryptionEnabled"] is True
    assert i["transitEncryptionMode"] == "required"
    assert each_stack.deps(group, "kmsKeyId") == [each_stack.one(KEY, f"{e}-data-key")]
    assert (i["numCacheClusters"], i["automaticFailoverEnabled"], i["multiAzEnabled"]) == (
        (2, True, True) if e == "prod" else (1, False, False)
    )
    token = each_stack.one(PASSWORD, f"{e}-redis-auth-token")
    assert SECRET_SIG in i["authToken"] and each_stack.deps(group, "authToken") == [token]
    (version,) = [v for v in each_stack.of_type(VERSION) if v.name == f"{e}-redis-auth"]
    assert each_stack.deps(version, "secretString") == [token]
    assert each_stack.deps(version, "secretId") == [each_stack.one(SECRET, f"{e}-redis-auth")]
    assert each_stack.deps(each_stack.one(SECRET, f"{e}-redis-auth"), "kmsKeyId") == [each_stack.one(KEY, f"{e}-secrets-key")]
    (params,) = each_stack.deps(group, "parameterGroupName")
    assert params.inputs["parameters"] == [{"name": "maxmemory-policy", "value": "noeviction"}]  # Sidekiq loses jobs otherwise
    (subnets,) = each_stack.deps(group, "subnetGroupName")
    assert {s.inputs["tags"]["Tier"] for s in each_stack.deps(subnets, "subnetIds")} == {"isolated"}


def test_a_postgres_database_and_user_per_service(each_stack: RecordedStack) -> None:
    e = env(each_stack)
    cluster = each_stack.one(CLUSTER, f"{e}-postgres-cluster")
    for service in db_clients("postgres"):
        secret = each_stack.one(SECRET, f"{e}-postgres-{service}")
        assert secret.inputs["name"] == f"kanna/{e}/postgres/{service}"
        (version,) = [v for v in each_stack.of_type(VERSION) if v.name == f"{e}-postgres-{service}"]
        assert SECRET_SIG in version.inputs["secretString"]  # the password never shows in state or plan output
        master = [f"{e}-postgres-master"] if global_primary(each_stack) else []
        assert sorted(r.name for r in each_stack.deps(version, "secretString")) == sorted(
            [f"{e}-postgres-{service}-password", cluster.name, *master]
        )


def test_prod_protects_every_stateful_data_resource(prod: RecordedStack, dev: RecordedStack) -> None:
    stateful = [
        r
        for r in prod.of_type(CLUSTER) + prod.of_type(INSTANCE) + prod.of_type(CACHE) + prod.of_type(SECRET) + prod.of_type(PASSWORD)
        if prod.component_of(r) == "prod-data"
    ]
    # Two clusters, five instances, one cache; a secret and a password each for Redis's token, for a user per
    # MySQL and PostgreSQL client, and (a global database's primary) for each cluster's master.
    assert len(stateful) == 2 + 5 + 1 + 2 * (1 + len(db_clients("mysql")) + len(db_clients("postgres")) + 2)
    assert [r.name for r in stateful if not r.protect] == []
    for cluster in prod.of_type(CLUSTER):
        assert cluster.inputs["deletionProtection"] is True and cluster.inputs["skipFinalSnapshot"] is False
        assert cluster.inputs["finalSnapshotIdentifier"] == cluster.name.removesuffix("-cluster") + "-final"
    assert prod.one(CACHE, "prod-redis").inputs["finalSnapshotIdentifier"] == "prod-redis-final"
    assert all(s.inputs["recoveryWindowInDays"] == 30 for s in prod.of_type(SECRET, under="prod-data"))
    # dev is disposable: nothing protected, no final snapshot to clean up.
    assert [r.name for r in dev.of_type(CLUSTER) + dev.of_type(INSTANCE) + dev.of_type(CACHE) if r.protect] == []
    assert all(c.inputs["skipFinalSnapshot"] is True and c.inputs["deletionProtection"] is False for c in dev.of_type(CLUSTER))


def test_prod_settings_refuse_short_backups_and_no_reader() -> None:
    config = {
        "kanna-infra:awsAccountId": "111111111111",
        "kanna-infra:data": json.dumps({"mysql": {"backupRetentionDays": 7, "appReaders": 0}, "redis": {"nodes": 1}}),
    }
    with pytest.raises(SettingsError) as raised:
        load("prod", config)
    assert str(raised.value).splitlines() == [
        "stack 'prod': kanna-infra:data.mysql.backupRetentionDays = 7: prod keeps backups at least 14 days; allowed: 14 to 35",
        "stack 'prod': kanna-infra:data.mysql.appReaders = 0: prod needs a reader in another AZ; allowed: 1 to 5",
        "stack 'prod': kanna-infra:data.redis.nodes = 1: prod fails over to a replica in another AZ; allowed: 2 to 6",
    ]
    assert load("dev", {**config, "kanna-infra:tier": "dev"}).data.mysql.backup_retention_days == 7


# "Done when": each mutation of the real stack fails the pack, naming the policy.


def _set(**props: object):
    def change(registration: Registration) -> None:
        registration.inputs.update(props)

    return change


def _unprotect(registration: Registration) -> None:
    registration.protect = False


@pytest.mark.parametrize("mode", ["update", "first"])
@pytest.mark.parametrize(
    ("type_", "name", "change", "policy"),
    [
        (CLUSTER, "prod-mysql-cluster", _set(storageEncrypted=False), "data-storage-encrypted"),
        (CLUSTER, "prod-postgres-cluster", _set(storageEncrypted=False), "data-storage-encrypted"),
        (INSTANCE, "prod-mysql-reader-1", _set(publiclyAccessible=True), "data-store-not-public"),
        (CLUSTER, "prod-mysql-cluster", _unprotect, "data-prod-protect"),
        (CLUSTER, "prod-postgres-cluster", _set(deletionProtection=False), "data-prod-deletion-protection"),
        (CACHE, "prod-redis", _set(transitEncryptionEnabled=False), "cache-encrypted"),
        (CLUSTER, "prod-mysql-cluster", _set(backupRetentionPeriod=7), "data-backup-retention"),
    ],
    ids=[
        "unencrypted-mysql",
        "unencrypted-postgres",
        "public-instance",
        "unprotected-cluster",
        "no-deletion-protection",
        "plain-redis",
        "short-backups",
    ],
)
def test_done_when_mutation_fails_naming_the_policy(pack: PolicyPack, mode: str, type_: str, name: str, change, policy: str) -> None:
    stack = recording("prod", mode)
    found = violations(judge(pack, mutate(stack, type_, name, change), "prod"))
    assert [(d.policy, d.urn.rsplit("::", 1)[-1]) for d in found] == [(policy, name)]


@pytest.mark.parametrize("mode", ["update", "first"])
@pytest.mark.parametrize(("engine", "port"), [("mysql", 3306), ("postgres", 5432), ("redis", 6379)])
def test_done_when_world_open_data_port_fails(pack: PolicyPack, mode: str, engine: str, port: int) -> None:
    stack = RecordedStack(recording("prod", mode))
    group = stack.one(SG, f"prod-{engine}-sg")
    rule = res(
        RULE,
        "prod-anyone",
        {
            "securityGroupId": UNKNOWN if mode == "first" else "sg-1",
            "ipProtocol": "tcp",
            "fromPort": port,
            "toPort": port,
            "cidrIpv4": "0.0.0.0/0",
        },
        {"securityGroupId": [group]},
    )
    found = violations(judge(pack, [*stack.registrations, rule], "prod"))
    # The data policy names the data port; the edge's general no-world-ingress policy catches it too.
    assert sorted((d.policy, d.urn.rsplit("::", 1)[-1]) for d in found) == [
        ("data-port-no-public-ingress", "prod-anyone"),
        ("no-world-ingress", "prod-anyone"),
    ]
    (data_finding,) = [d for d in found if d.policy == "data-port-no-public-ingress"]
    assert f"data port {port}" in data_finding.message and "0.0.0.0/0" in data_finding.message


def test_prod_cluster_with_a_single_instance_fails_multi_az(pack: PolicyPack) -> None:
    stack = recording("prod")
    kept = [r for r in stack.registrations if r.name not in ("prod-postgres-reader-1",)]
    found = violations(judge(pack, kept, "prod"))
    assert [(d.policy, d.urn.rsplit("::", 1)[-1]) for d in found] == [("data-prod-multi-az", "prod-postgres-cluster")]


# Issue 12, item 9: applications connect as their own users, whose secrets rotate with alternating users.

ROTATION, SAR = "aws:secretsmanager/secretRotation:SecretRotation", "aws:serverlessrepository/cloudFormationStack:CloudFormationStack"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
TEMPLATE = {"mysql": "SecretsManagerRDSMySQLRotationMultiUser", "postgres": "SecretsManagerRDSPostgreSQLRotationMultiUser"}


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_applications_connect_as_their_own_user_never_the_master(name: str, dev: RecordedStack, prod: RecordedStack) -> None:
    stack = dev if name == "dev" else prod
    data = stack.of_type("kanna:data:Data")[0].outputs
    masters = [data["mysqlMasterSecretArn"], data["postgresMasterSecretArn"]]
    # RDS's own master secrets, or (prod, a global database's primary) ours.
    owner = ("kanna/prod/mysql/master", "kanna/prod/postgres/master") if global_primary(stack) else ("rds!cluster",) * 2
    assert all(m.startswith("arn:aws:secretsmanager:") and o in m for m, o in zip(masters, owner, strict=True))
    assert sorted(data["mysqlSecretArns"]) == sorted(db_clients("mysql")) != []
    keys = {"mysql": ("DATABASE_USERNAME", "DATABASE_PASSWORD"), "postgres": ("SPRING_DATASOURCE_USERNAME", "SPRING_DATASOURCE_PASSWORD")}
    tasks = stack.of_type(TASK)
    for task in tasks:
        # No task (core-api, sidekiq and openapi included) and no execution role may even name the master secrets.
        assert not any(m in task.inputs["containerDefinitions"] for m in masters), task.name
        service = task.name.removesuffix("-task").split("-", 1)[1]
        (app,) = [c for c in json.loads(task.inputs["containerDefinitions"]) if c["name"] == service]
        secrets = {s["name"]: s["valueFrom"] for s in app["secrets"]}
        for engine, own in (("mysql", data["mysqlSecretArns"]), ("postgres", data["postgresSecretArns"])):
            if service in db_clients(engine):
                assert {secrets[k] for k in keys[engine]} == {f"{own[service]}:username::", f"{own[service]}:password::"}, task.name
    for policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        assert not any(m in policy.inputs["policy"] for m in masters), policy.name
    assert {t.name for t in tasks} >= {f"{e}-{s}-task" for e in environments_of(stack) for s in db_clients("mysql")}


def environments_of(stack: RecordedStack) -> list[str]:
    return [c.name.removeprefix(f"{env(stack)}-") for c in stack.of_type("kanna:platform:Environment")]


@pytest.mark.parametrize("engine", ["mysql", "postgres"])
def test_every_application_user_secret_rotates_with_alternating_users(each_stack: RecordedStack, engine: str) -> None:
    e = env(each_stack)
    cluster = each_stack.one(CLUSTER, f"{e}-{engine}-cluster")
    (application,) = [a for a in each_stack.of_type(SAR) if a.name == f"{e}-{engine}-rotation"]
    assert application.inputs["applicationId"].endswith(f":applications/{TEMPLATE[engine]}")
    assert application.inputs["capabilities"] == ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]
    parameters = application.inputs["parameters"]
    assert parameters["endpoint"] == "https://secretsmanager.ap-northeast-1.amazonaws.com"
    # The function logs in as the master user (its secret: RDS's, or a global primary's own) to clone the user and set passwords.
    master = each_stack.one(SECRET, f"{e}-{engine}-master") if global_primary(each_stack) else cluster
    assert master in each_stack.deps(application, "parameters")
    assert each_stack.one(KEY, f"{e}-secrets-key") in each_stack.deps(application, "parameters")
    function = f"arn:aws:lambda:ap-northeast-1:{ACCOUNTS[e]}:function:{parameters['functionName']}"
    # It runs in the private subnets, where the Secrets Manager endpoint is, with its own group.
    subnets = [s for s in each_stack.deps(application, "parameters", "aws:ec2/subnet:Subnet")]
    assert sorted(s.name for s in subnets) == sorted(f"{e}-private-{az}" for az in "acd")
    (group,) = each_stack.deps(application, "parameters", SG)
    assert group.name == f"{e}-{engine}-rotation-sg" and "ingress" not in group.inputs
    assert sorted((r["fromPort"], r["toPort"]) for r in group.inputs["egress"]) == sorted([(443, 443), (PORTS[engine],) * 2])
    assert all("cidrBlocks" not in r for r in group.inputs["egress"])
    assert {d.name for d in each_stack.deps(group, "egress", SG)} == {f"{e}-endpoints-sg", f"{e}-{engine}-sg"}
    # ... and the store admits it.
    store = each_stack.one(SG, f"{e}-{engine}-sg")
    rule = each_stack.one(RULE, f"{e}-{engine}-from-{engine}-rotation")
    assert each_stack.deps(rule, "securityGroupId") == [store] and each_stack.deps(rule, "referencedSecurityGroupId") == [group]
    services = db_clients(engine)
    assert len(services) >= 3
    for service in services:
        secret = each_stack.one(SECRET, f"{e}-{engine}-{service}")
        assert secret.inputs["name"] == f"kanna/{e}/{engine}/{service}"
        (rotation,) = [r for r in each_stack.of_type(ROTATION) if each_stack.deps(r, "secretId") == [secret]]
        assert rotation.inputs["rotationLambdaArn"] == function and application.urn in rotation.dependencies
        assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 30}
        assert rotation.inputs["rotateImmediately"] is False  # the migration job creates the user first
        (version,) = [v for v in each_stack.of_type(VERSION) if v.name == f"{e}-{engine}-{service}"]
        assert SECRET_SIG in version.inputs["secretString"]
        masters = [f"{e}-{engine}-master"] if global_primary(each_stack) else []
        assert sorted(r.name for r in each_stack.deps(version, "secretString")) == sorted(
            [f"{e}-{engine}-{service}-password", cluster.name, *masters]
        )
        # Rotation owns the versions after the first: Pulumi never writes its first password back.
        assert version.inputs["versionStages"] == ["AWSCURRENT", "KANNA_INITIAL"]
        assert version.ignore_changes == ["secretString", "versionStages"]


PORTS = {"mysql": 3306, "postgres": 5432}
ACCOUNTS = {"dev": "222222222222", "prod": "111111111111"}


def test_every_secret_rotates_or_its_tag_says_why_not(each_stack: RecordedStack) -> None:
    """Checkov's "six secrets never rotate": the three PostgreSQL users now rotate (and the new MySQL users);
    the origin header, the Redis AUTH token and the Datadog key can't rotate through Secrets Manager, and say why."""
    from components.data.rotation import EXEMPT_TAG
    from policies.security import ROTATION_EXEMPT

    assert EXEMPT_TAG == ROTATION_EXEMPT  # the tag the components write is the one the pack reads
    e = env(each_stack)
    secrets = {s.inputs["name"]: s for s in each_stack.of_type(SECRET)}
    rotating = {name for name, s in secrets.items() if any(each_stack.deps(r, "secretId") == [s] for r in each_stack.of_type(ROTATION))}
    assert rotating == {f"kanna/{e}/{engine}/{service}" for engine in ("mysql", "postgres") for service in db_clients(engine)}
    exempt = {name: s.inputs["tags"][EXEMPT_TAG] for name, s in secrets.items() if EXEMPT_TAG in s.inputs.get("tags", {})}
    masters = ("mysql/master", "postgres/master") if global_primary(each_stack) else ()
    assert sorted(exempt) == sorted(f"kanna/{e}/{n}" for n in ("redis/auth-token", "datadog/api-key", *masters))
    assert set(secrets) == rotating | set(exempt)
    assert "RBAC users only" in exempt[f"kanna/{e}/redis/auth-token"] and "Datadog issues" in exempt[f"kanna/{e}/datadog/api-key"]


def test_done_when_a_secret_loses_its_rotation_exception_the_pack_names_it(pack: PolicyPack) -> None:
    def untag(registration: Registration) -> None:
        registration.inputs.pop("tags")

    stack = recording("prod")
    found = violations(judge(pack, mutate(stack, SECRET, "prod-datadog-api-key", untag), "prod"))
    assert [(d.policy, d.urn.rsplit("::", 1)[-1]) for d in found] == [("secrets-rotate", "prod-datadog-api-key")]
    kept = [r for r in stack.registrations if r.type != ROTATION or r.name != "prod-postgres-report-rotation"]
    found = violations(judge(pack, kept, "prod"))
    assert [(d.policy, d.urn.rsplit("::", 1)[-1]) for d in found] == [("secrets-rotate", "prod-postgres-report")]
