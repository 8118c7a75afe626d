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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.lib.context import InContext
from components.lib.firewall import admit, store_security_group
from settings.data import ClusterSettings

PORTS = {"mysql": 3306, "postgres": 5432}


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


class AuroraCluster(pulumi.ComponentResource):
    cluster: aws.rds.Cluster
    instances: list[aws.rds.ClusterInstance]
    security_group: aws.ec2.SecurityGroup
    writer_endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]  # application readers only (never the analytics reader)
    analytics_endpoint: pulumi.Output[str] | None
    master_secret_arn: pulumi.Output[str]
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

        self.cluster = aws.rds.Cluster(
            f"{base}-cluster",
            cluster_identifier=f"{base}",
            engine=engine,
            engine_version=s.engine_version,
            port=port,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[self.security_group.id],
            db_cluster_parameter_group_name=parameters.name,
            master_username="kanna_admin",
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.secrets_key_arn,
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
        self.master_secret_arn = self.cluster.master_user_secrets.apply(lambda secrets: (secrets[0].secret_arn or "") if secrets else "")

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

    def admit(self, clients: Mapping[str, pulumi.Input[str]]) -> None:
        """Lets these clients (name -> task security group id) reach the store's port; nothing else can."""
        admit(self, self._base, self.security_group, self.port, clients)
