"""One Aurora cluster (MySQL or PostgreSQL): encrypted, private, backed up, monitored, and never lost.

- Credentials: RDS manages the master password in Secrets Manager (encrypted with the secrets key), so no
  password is ever in code, config or state; applications also get IAM database authentication.
- Topology: a writer in the first AZ, application readers in the next AZs (promotion tier 1, so one of
  them takes over from the writer), and optionally an analytics reader for BI with promotion tier 15, so
  it never becomes the writer. Two custom endpoints split the readers: `app-readers` excludes the analytics
  instance (the built-in reader endpoint would send application reads to it too), `analytics` holds only it.
- Network: a subnet group over the isolated subnets and a security group with one ingress rule per client
  service's security group, on the database port only. No CIDR ever reaches it.
- Nothing lost: in prod the cluster and its instances are `protect`ed (the engine refuses to delete or
  replace them), deletion protection is on and a final snapshot is taken; backups cover point-in-time restore.
- Disaster recovery (`global_database`, docs/disaster-recovery.md): the primary's cluster becomes the primary of
  an Aurora global database (the GlobalCluster is made here, from the existing cluster, which is not replaced);
  its standby's cluster is a secondary that joins it by id: no master user of its own, its storage replicated
  from the primary, encrypted with its own region's data key. RDS can't manage the master password of a global
  database's clusters ("isn't supported for ... DB clusters that are part of an Aurora global database":
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations),
  so the primary's master password is generated here and kept in a secret of ours, replicated to the standby.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.data.rotation import initial_version, rotation_exempt
from components.lib.context import InContext
from components.lib.firewall import admit, store_security_group
from settings.data import ClusterSettings

PORTS = {"mysql": 3306, "postgres": 5432}
MASTER_USER = "kanna_admin"


@dataclass(frozen=True, kw_only=True)
class GlobalDatabase:
    """This cluster's part in an Aurora global database: its primary, or a secondary in the standby's region."""

    identifier: str  # components.dr.global_cluster_id(primary stack, engine): both sides call it
    primary: bool
    random_provider: pulumi.ProviderResource | None = None  # the primary generates the master password
    # The primary: its master secret's replicas (the standby's region). A secondary: that replica, its master secret.
    secret_replicas: Sequence[aws.secretsmanager.SecretReplicaArgs] = ()
    master_secret_arn: pulumi.Input[str] | None = None


@dataclass(frozen=True, kw_only=True)
class AuroraArgs(InContext):  # storage and Performance Insights: the data key; the master secret: the secrets key
    engine: Literal["mysql", "postgres"]
    settings: ClusterSettings
    vpc_id: pulumi.Input[str]
    isolated_subnet_ids: Sequence[pulumi.Input[str]]
    availability_zones: Sequence[str]  # the network's AZs, in the order of its subnets
    monitoring_role_arn: pulumi.Input[str]
    parameters: Mapping[str, str]  # cluster parameter group: name -> value
    log_exports: Sequence[str]
    clients: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # service -> its task security group id
    analytics_reader: bool = False
    global_database: GlobalDatabase | None = None


class AuroraCluster(pulumi.ComponentResource):
    cluster: aws.rds.Cluster
    instances: list[aws.rds.ClusterInstance]
    security_group: aws.ec2.SecurityGroup
    writer_endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]  # application readers only (never the analytics reader)
    analytics_endpoint: pulumi.Output[str] | None
    master_secret_arn: pulumi.Output[str]
    global_cluster: aws.rds.GlobalCluster | None  # made by the primary of a global database
    port: int

    def __init__(self, name: str, args: AuroraArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:data:AuroraCluster", name, None, opts)
        env, s = args.env, args.settings
        self.port = port = PORTS[args.engine]
        engine = aws.rds.EngineType.AURORA_MYSQL if args.engine == "mysql" else aws.rds.EngineType.AURORA_POSTGRESQL
        base = f"{env}-{args.engine}"
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        subnets = aws.rds.SubnetGroup(
            f"{base}-subnets",
            description=f"{base}: isolated subnets only",
            subnet_ids=list(args.isolated_subnet_ids),
            tags={"Name": f"{base}-subnets"},
            opts=child,
        )
        self.security_group = store_security_group(self, base, args.vpc_id, port)
        self._base = base
        self.admit(args.clients)

        family = f"aurora-mysql{s.engine_version[:3]}" if args.engine == "mysql" else f"aurora-postgresql{s.engine_version.split('.')[0]}"
        parameters = aws.rds.ClusterParameterGroup(
            f"{base}-params",
            family=family,
            description=f"{base}: character set, slow query and audit logging",
            parameters=[
                aws.rds.ClusterParameterGroupParameterArgs(
                    name=key,
                    value=value,
                    # Static parameters (preload libraries) wait for the next reboot instead of failing the update.
                    apply_method="pending-reboot" if key == "shared_preload_libraries" else "immediate",
                )
                for key, value in sorted(args.parameters.items())
            ],
            opts=child,
        )

        g = args.global_database
        master = self._master(base, args) if g is not None and g.primary else None
        self.cluster = aws.rds.Cluster(
            f"{base}-cluster",
            cluster_identifier=f"{base}",
            engine=engine,
            engine_version=s.engine_version,
            port=port,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[self.security_group.id],
            db_cluster_parameter_group_name=parameters.name,
            # A secondary has no master user of its own: its data, the users among it, are the primary's.
            master_username=None if g is not None and not g.primary else MASTER_USER,
            master_password=master[1] if master else None,
            manage_master_user_password=False if g is not None else True,
            master_user_secret_kms_key_id=None if g is not None else args.secrets_key_arn,
            global_cluster_identifier=None if g is None or g.primary else g.identifier,
            iam_database_authentication_enabled=True,
            storage_encrypted=True,
            kms_key_id=args.data_key_arn,
            backup_retention_period=s.backup_retention_days,  # also the point-in-time restore window
            preferred_backup_window="17:00-18:00",  # 02:00-03:00 JST, the quietest hour
            preferred_maintenance_window="sun:18:30-sun:19:30",
            copy_tags_to_snapshot=True,
            deletion_protection=args.protect,
            skip_final_snapshot=not args.protect,
            final_snapshot_identifier=f"{base}-final" if args.protect else None,
            enabled_cloudwatch_logs_exports=list(args.log_exports),
            serverlessv2_scaling_configuration=aws.rds.ClusterServerlessv2ScalingConfigurationArgs(
                min_capacity=s.serverless_min_acu, max_capacity=s.serverless_max_acu
            )
            if s.serverless
            else None,
            # The provider's read leaves globalClusterIdentifier out of the state, so every later update would
            # send it empty and detach the cluster from its global database
            # (cloudposse/terraform-aws-rds-cluster#281, terraform-aws-modules/terraform-aws-rds-aurora#162). A secondary
            # also ignores replicationSourceIdentifier: RDS reports the primary's ARN there, which the program never
            # sets (the provider's GlobalCluster examples, pulumi_aws/rds/global_cluster.py), so every preview would diff.
            opts=pulumi.ResourceOptions.merge(stateful, pulumi.ResourceOptions(ignore_changes=_global_ignores(g.primary)))
            if g is not None
            else stateful,
        )
        self.global_cluster = None
        if g is not None and g.primary:
            # From the existing cluster (source_db_cluster_identifier): engine, version and encryption are its own.
            # force_destroy detaches the members before a delete instead of failing on them.
            self.global_cluster = aws.rds.GlobalCluster(
                f"{base}-global",
                global_cluster_identifier=g.identifier,
                source_db_cluster_identifier=self.cluster.arn,
                force_destroy=True,
                deletion_protection=args.protect,
                opts=stateful,
            )

        azs = list(args.availability_zones)
        roles = [("writer", 0), *((f"reader-{i + 1}", 1) for i in range(s.app_readers))]
        if args.analytics_reader:
            roles.append(("analytics", 15))  # tier 15: the last candidate, so BI never becomes the writer
        self.identifier = base
        self.reader_identifiers = [f"{base}-{role}" for role, tier in roles if role.startswith("reader")]
        self.analytics_identifiers = [f"{base}-{role}" for role, _ in roles if role == "analytics"]
        self.instances = []
        writer: aws.rds.ClusterInstance | None = None
        for index, (role, tier) in enumerate(roles):
            instance = aws.rds.ClusterInstance(
                f"{base}-{role}",
                identifier=f"{base}-{role}",
                cluster_identifier=self.cluster.id,
                engine=engine,
                engine_version=s.engine_version,
                instance_class=s.instance_class,
                availability_zone=azs[index % len(azs)],
                promotion_tier=tier,
                publicly_accessible=False,
                db_subnet_group_name=subnets.name,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=args.data_key_arn,
                performance_insights_retention_period=7,  # the free tier
                monitoring_interval=15,
                monitoring_role_arn=args.monitoring_role_arn,
                auto_minor_version_upgrade=True,
                # Aurora makes the first instance the writer: readers wait for it.
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[writer] if writer else None),
            )
            writer = writer or instance
            self.instances.append(instance)

        self.writer_endpoint = self.cluster.endpoint
        analytics = self.instances[-1] if args.analytics_reader else None
        if analytics is not None and s.app_readers > 0:
            app_readers = aws.rds.ClusterEndpoint(
                f"{base}-app-readers",
                cluster_identifier=self.cluster.id,
                cluster_endpoint_identifier=f"{base}-app-readers",
                custom_endpoint_type="READER",
                excluded_members=[analytics.identifier],
                opts=child,
            )
            self.reader_endpoint = app_readers.endpoint
        elif analytics is not None:
            # No application reader (dev): reads go to the writer, never to the analytics reader, which
            # the built-in reader endpoint would pick.
            self.reader_endpoint = self.cluster.endpoint
        else:
            self.reader_endpoint = self.cluster.reader_endpoint
        self.analytics_endpoint = None
        if analytics is not None:
            self.analytics_endpoint = aws.rds.ClusterEndpoint(
                f"{base}-analytics",
                cluster_identifier=self.cluster.id,
                cluster_endpoint_identifier=f"{base}-analytics",
                custom_endpoint_type="READER",
                static_members=[analytics.identifier],
                opts=child,
            ).endpoint
        if master is not None:
            self.master_secret_arn = master[0].arn
            initial_version(f"{base}-master", master[0], self._master_value(args.engine, master[1]), self)
        elif g is not None:
            self.master_secret_arn = pulumi.Output.from_input(g.master_secret_arn or "")
        else:
            self.master_secret_arn = self.cluster.master_user_secrets.apply(
                lambda secrets: (secrets[0].secret_arn or "") if secrets else ""
            )

        self.register_outputs(
            {
                "writerEndpoint": self.writer_endpoint,
                "readerEndpoint": self.reader_endpoint,
                "analyticsEndpoint": self.analytics_endpoint,
                "masterSecretArn": self.master_secret_arn,
                "securityGroupId": self.security_group.id,
                "port": port,
            }
        )

    def _master(self, base: str, args: AuroraArgs) -> tuple[aws.secretsmanager.Secret, pulumi.Output[str]]:
        """The master user's password and its secret, for the primary of a global database (RDS can't manage it)."""
        g = args.global_database
        assert g is not None and g.random_provider is not None
        password = random.RandomPassword(
            f"{base}-master-password",
            length=40,
            special=False,
            opts=pulumi.ResourceOptions(parent=self, provider=g.random_provider, protect=args.protect),
        )
        secret = aws.secretsmanager.Secret(
            f"{base}-master",
            name=f"kanna/{args.env}/{args.engine}/master",
            description=f"{base}'s master user: migration jobs and rotation functions only",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=30 if args.protect else 7,
            replicas=list(g.secret_replicas),
            tags=rotation_exempt(
                "global database master: RDS cannot manage it: the multi-user template rotates users only. "
                "Rotated in each drill: docs/disaster-recovery.md"
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        return secret, password.result

    def _master_value(self, engine: str, password: pulumi.Output[str]) -> pulumi.Output[str]:
        """As RDS's own master secret holds it, plus what the rotation templates read."""
        return pulumi.Output.json_dumps(
            {"engine": engine, "username": MASTER_USER, "password": password, "host": self.cluster.endpoint, "port": self.port}
        )

    def admit(self, clients: Mapping[str, pulumi.Input[str]]) -> None:
        """Lets these clients (name -> task security group id) reach the store's port; nothing else can."""
        admit(self, self._base, self.security_group, self.port, clients)


def _global_ignores(primary: bool) -> list[str]:
    """What a member of a global database leaves to RDS (see the cluster's comment)."""
    return ["globalClusterIdentifier"] if primary else ["globalClusterIdentifier", "replicationSourceIdentifier"]
