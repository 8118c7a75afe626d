"""The Valkey (Redis-compatible) replication group for Sidekiq and caching.

- Encrypted at rest with the data key and in transit (TLS required), with an auth token: the token is
  generated here (random.RandomPassword, kept encrypted in Pulumi state, never in a file) and stored in
  Secrets Manager under the secrets key, where task definitions read it.
- Multi-AZ with automatic failover when it has a replica (prod); isolated subnets and a security group
  open only to its client services' security groups, on 6379.
- `maxmemory-policy noeviction`: Sidekiq loses jobs if Redis evicts keys, so caches sharing this group
  must set TTLs instead of relying on eviction.
- Nothing lost: in prod the group, its secret and the token are `protect`ed, daily snapshots are kept and
  a final snapshot is taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.data.rotation import rotation_exempt
from components.lib.context import InContext
from components.lib.firewall import admit, store_security_group
from settings.data import RedisSettings

PORT = 6379


@dataclass(frozen=True, kw_only=True)
class CacheArgs(InContext):
    settings: RedisSettings
    vpc_id: pulumi.Input[str]
    isolated_subnet_ids: Sequence[pulumi.Input[str]]
    availability_zones: Sequence[str]
    random_provider: pulumi.ProviderResource
    clients: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # service -> its task security group id


class Cache(pulumi.ComponentResource):
    group: aws.elasticache.ReplicationGroup
    security_group: aws.ec2.SecurityGroup
    auth_secret: aws.secretsmanager.Secret
    endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    auth_secret_arn: pulumi.Output[str]
    port: int = PORT

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:data:Cache", name, None, opts)
        env, s = args.env, args.settings
        base = f"{env}-redis"
        self.identifier = base
        child = pulumi.ResourceOptions(parent=self)
        multi_az = s.nodes >= 2

        subnets = aws.elasticache.SubnetGroup(
            f"{base}-subnets",
            description=f"{base}: isolated subnets only",
            subnet_ids=list(args.isolated_subnet_ids),
            opts=child,
        )
        self.security_group = store_security_group(self, base, args.vpc_id, PORT)
        self._base = base
        self.admit(args.clients)
        parameters = aws.elasticache.ParameterGroup(
            f"{base}-params",
            family=f"valkey{s.engine_version.split('.')[0]}",
            description=f"{base}: noeviction, as Sidekiq requires",
            parameters=[aws.elasticache.ParameterGroupParameterArgs(name="maxmemory-policy", value="noeviction")],
            opts=child,
        )

        # ElastiCache accepts 16-128 printable characters without @, " or /: letters and digits are safe.
        token = random.RandomPassword(
            f"{base}-auth-token",
            length=64,
            special=False,
            opts=pulumi.ResourceOptions(parent=self, provider=args.random_provider, protect=args.protect),
        )
        self.auth_secret = aws.secretsmanager.Secret(
            f"{base}-auth",
            name=f"kanna/{env}/redis/auth-token",
            description=f"{base}: the AUTH token clients send",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=30 if args.protect else 7,
            tags=rotation_exempt(
                "ElastiCache AUTH token: Secrets Manager rotates ElastiCache passwords of RBAC users only. Rotated by replacing "
                "the random token: ElastiCache applies it with ROTATE and keeps the old token valid for running tasks."
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.secretsmanager.SecretVersion(
            f"{base}-auth",
            secret_id=self.auth_secret.id,
            secret_string=token.result,
            opts=child,
        )

        self.group = aws.elasticache.ReplicationGroup(
            f"{base}",
            replication_group_id=base,
            description=f"{base}: Sidekiq queues and caches",
            engine="valkey",
            engine_version=s.engine_version,
            node_type=s.node_type,
            num_cache_clusters=s.nodes,
            preferred_cache_cluster_azs=[args.availability_zones[i % len(args.availability_zones)] for i in range(s.nodes)],
            automatic_failover_enabled=multi_az,
            multi_az_enabled=multi_az,
            port=PORT,
            subnet_group_name=subnets.name,
            security_group_ids=[self.security_group.id],
            parameter_group_name=parameters.name,
            at_rest_encryption_enabled=True,
            kms_key_id=args.data_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=token.result,
            auth_token_update_strategy="ROTATE",
            snapshot_retention_limit=s.snapshot_retention_days,
            snapshot_window="17:00-18:00",
            maintenance_window="sun:18:30-sun:19:30",
            final_snapshot_identifier=f"{base}-final" if args.protect else None,
            auto_minor_version_upgrade=True,
            apply_immediately=not args.protect,  # prod changes wait for the maintenance window
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.endpoint = self.group.primary_endpoint_address
        self.reader_endpoint = self.group.reader_endpoint_address
        self.auth_secret_arn = self.auth_secret.arn
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "readerEndpoint": self.reader_endpoint,
                "authSecretArn": self.auth_secret_arn,
                "securityGroupId": self.security_group.id,
                "port": PORT,
            }
        )

    def admit(self, clients: Mapping[str, pulumi.Input[str]]) -> None:
        """Lets these clients (name -> task security group id) reach the store's port; nothing else can."""
        admit(self, self._base, self.security_group, PORT, clients)
