"""Disaster recovery between a primary (prod, Tokyo) and its pilot-light standby (prod-dr, Osaka).

The names both sides use are made here, once: the global database ids, the stack references and the KMS
alias ARNs a primary encrypts its replicas with. `Replication` is the standby's part: the primary's container
images and its audit and log buckets, copied into the standby's region (docs/disaster-recovery.md).

The standby owns the replication (the ECR registry rule, the buckets' replication configurations and the
role S3 replicates as), not the primary: it needs the primary's bucket names (auto-suffixed, so outputs), and a
standby is deployed after its primary, so it reads them from the primary's outputs (a StackReference) and the
first deploy needs no switch. Removing the standby stack removes the replication with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from account.settings import PROJECT as ACCOUNT_PROJECT
from account.settings import SUFFIX as ACCOUNT_SUFFIX
from account.settings import load as load_account
from components.data.data import Data, DataRecovery
from components.edge.edge import PROD_LOG_DAYS
from components.lib.buckets import ObjectLock, replication_rule, secure_bucket
from components.lib.context import Context, InContext
from components.lib.iam import trust_policy
from components.security.keys import key_alias
from settings import PROJECT, PROJECT_DIR, Settings, of_stack, stack_file_config

if TYPE_CHECKING:
    from components.platform.platform import Platform

ENGINES = ("mysql", "postgres")
# The repositories of the catalog all live under this prefix (settings/services.py images).
REPOSITORY_PREFIX = "kanna/"


def global_cluster_id(primary_stack: str, engine: str) -> str:
    """The Aurora global database of the primary's `engine` cluster: the primary creates it, its standby's
    secondary cluster joins it by this id (GlobalClusterIdentifier: a letter first, then letters, digits, -)."""
    return f"kanna-{primary_stack}-{engine}-global"


def key_alias_arn(env: str, purpose: str, account_id: str, region: str) -> str:
    """Another stack's key by its alias ARN: a key id is random, its alias is not, and Secrets Manager replicas
    and S3 replication both accept an alias ARN for the key of the destination region."""
    return f"arn:aws:kms:{region}:{account_id}:{key_alias(env, purpose)}"


def replica_secret_arn(arn: str, region: str) -> str:
    """A Secrets Manager replica keeps the primary secret's name and suffix; only the region of its ARN differs
    (https://docs.aws.amazon.com/secretsmanager/latest/userguide/create-manage-multi-region-secrets.html)."""
    parts = arn.split(":")
    return ":".join([*parts[:3], region, *parts[4:]])


def stack_reference(stack: str, opts: pulumi.ResourceOptions | None = None, project: str = PROJECT) -> pulumi.StackReference:
    """The outputs of another stack, of this project or `project` (the state backend is self-managed: docs/state.md)."""
    return pulumi.StackReference(f"{stack}-stack", stack_name=f"organization/{project}/{stack}", opts=opts)


class CapturedOutputs:
    """Another stack's outputs as a drill captured them (`kanna-infra:drOutputs`), read as a StackReference's are.

    A StackReference decrypts the other stack's state with that stack's secrets key, which for the primary is in its
    region; when that region is lost, the standby reads what the last drill captured instead (docs/disaster-recovery.md)."""

    def __init__(self, outputs: Mapping[str, Any]) -> None:
        self._outputs = outputs

    def require_output(self, name: str) -> pulumi.Output[Any]:
        if name not in self._outputs:
            raise pulumi.RunError(f"kanna-infra:drOutputs has no output {name!r}; capture the outputs again (docs/disaster-recovery.md)")
        return pulumi.Output.from_input(self._outputs[name])


Outputs = pulumi.StackReference | CapturedOutputs


def outputs_of(stack: str, settings: Settings, project: str = PROJECT) -> Outputs:
    """A standby's view of another stack's outputs: the StackReference, or what the last drill captured, when set."""
    if settings.dr_outputs is not None:
        return CapturedOutputs(settings.dr_outputs[stack])  # settings have checked both stacks are there
    return stack_reference(stack, project=project)


def account_stack(stack: str) -> str:
    """The account baseline stack (account/) of a workload stack: it holds the account's trail and its bucket."""
    return f"{stack}{ACCOUNT_SUFFIX}"


def trail_lock(stack: str) -> ObjectLock:
    """The Object Lock of the trail's bucket, from the account baseline's stack file: its replica is locked the same way."""
    account = account_stack(stack)
    audit = load_account(account, stack_file_config(PROJECT_DIR / "account" / f"Pulumi.{account}.yaml")).security
    return ObjectLock(audit.audit_lock_mode, audit.audit_lock_days)


@dataclass(frozen=True, kw_only=True)
class ReplicatedBucket:
    """A bucket of the primary copied to the standby: its key in the primary's `replicatedBuckets` output."""

    key: str
    encrypted: bool  # SSE-KMS under the primary's logs key; False: SSE-S3 (ALB access logs can only be that)
    object_lock: ObjectLock | None = None  # the replica of an Object Lock bucket must have Object Lock too
    expire_days: int | None = None  # as the source's lifecycle: a replica keeps no more than its source


def replicated_buckets(audit_lock: ObjectLock) -> tuple[ReplicatedBucket, ...]:
    """The primary's buckets its standby keeps copies of: the audit trail (the evidence of what happened before
    the region was lost) and the ALB access logs. The replica of the Object Lock trail bucket is locked the same way
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-replication)."""
    return (
        ReplicatedBucket(key="cloudtrail", encrypted=True, object_lock=audit_lock),
        ReplicatedBucket(key="edge-logs", encrypted=False, expire_days=PROD_LOG_DAYS),
    )


@dataclass(frozen=True, kw_only=True)
class ReplicationArgs(InContext):  # the standby's: its logs key encrypts the replicas of encrypted buckets
    primary_region: str
    sources: pulumi.Output[dict]  # by bucket key: its name, ARN and KMS key ARN (the primary's and its account's outputs)
    buckets: tuple[ReplicatedBucket, ...]


class Replication(pulumi.ComponentResource):
    """The standby's copies of the primary's images and buckets, replicated continuously by ECR and S3."""

    replicas: dict[str, aws.s3.Bucket]
    configurations: dict[str, aws.s3.BucketReplicationConfig]
    role: aws.iam.Role
    registry: aws.ecr.ReplicationConfiguration

    def __init__(self, name: str, args: ReplicationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:dr:Replication", name, None, opts)
        env, child = args.env, pulumi.ResourceOptions(parent=self)

        # ECR replication is a setting of the registry, one per account and region, so the primary region's
        # registry holds exactly this one rule: every catalog repository, copied to the standby's registry
        # (https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html). Tags pushed before the rule
        # existed are not copied: the first deploy after it pushes them again (docs/disaster-recovery.md).
        self.registry = aws.ecr.ReplicationConfiguration(
            f"{env}-image-replication",
            region=args.primary_region,
            replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                rules=[
                    aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
                        destinations=[
                            aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                                region=args.region, registry_id=args.account_id
                            )
                        ],
                        repository_filters=[
                            aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                                filter=REPOSITORY_PREFIX, filter_type="PREFIX_MATCH"
                            )
                        ],
                    )
                ]
            ),
            opts=child,
        )

        sources = args.sources
        replicas = {
            b.key: secure_bucket(
                f"{env}-{b.key}-replica",
                parent=self,
                kms_key_arn=args.logs_key_arn if b.encrypted else None,
                protect=args.protect,
                object_lock=b.object_lock,
                expire_days=b.expire_days,
            )
            for b in args.buckets
        }
        self.role = aws.iam.Role(
            f"{env}-replication",
            description=f"S3 replicates the primary's audit and log buckets into {env}'s replicas as this role",
            assume_role_policy=trust_policy("s3.amazonaws.com", {"StringEquals": {"aws:SourceAccount": args.account_id}}),
            opts=child,
        )
        replica_arns = [replicas[b.key].arn for b in args.buckets]
        aws.iam.RolePolicy(
            f"{env}-replication",
            role=self.role.id,
            policy=pulumi.Output.all(sources, args.logs_key_arn, *replica_arns).apply(
                lambda values: json.dumps(_replication_policy(values[0], args, values[1], values[2:]))
            ),
            opts=child,
        )
        self.configurations = {
            b.key: aws.s3.BucketReplicationConfig(
                f"{env}-{b.key}-replication",
                region=args.primary_region,
                bucket=sources.apply(lambda s, key=b.key: s[key]["name"]),
                role=self.role.arn,
                rules=[_rule(b, replicas[b.key].arn, args.logs_key_arn)],
                # PutBucketReplication rejects a destination that isn't versioned yet (S3's DstBucketUnversioned), and the
                # replica's versioning is a resource of its own: the provider's examples depend on it
                # (pulumi_aws/s3/bucket_replication_config.py). The sources are the primary's buckets, versioned by
                # secure_bucket in their own stacks, which exist before the standby (docs/disaster-recovery.md).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[replicas[b.key].versioning]),
            )
            for b in args.buckets
        }
        self.replicas = {key: replica.bucket for key, replica in replicas.items()}
        self.register_outputs({"replicas": {key: bucket.bucket for key, bucket in self.replicas.items()}, "role": self.role.arn})


def _rule(bucket: ReplicatedBucket, replica_arn: pulumi.Input[str], key_arn: pulumi.Input[str]) -> aws.s3.BucketReplicationConfigRuleArgs:
    """Every object, with Replication Time Control. Deletions are not replicated: the replica keeps the evidence a
    compromised primary account might delete."""
    return replication_rule("to-standby", replica_arn, key_arn if bucket.encrypted else None, delete_markers=False)


def _replication_policy(sources: dict, args: ReplicationArgs, replica_key_arn: str, replica_arns: list[str]) -> dict:
    """What S3 needs as the replication role: read each source's versions (with their retention and legal
    hold, for Object Lock buckets), write the replicas, decrypt with the source's key and encrypt with the
    replica's, each key only through S3 in its own region
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html)."""
    source_arns = [sources[b.key]["arn"] for b in args.buckets]
    statements: list[dict] = [
        {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": source_arns},
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
                "s3:GetObjectRetention",
                "s3:GetObjectLegalHold",
            ],
            "Resource": [f"{arn}/*" for arn in source_arns],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            "Resource": [f"{arn}/*" for arn in replica_arns],
        },
    ]
    encrypted = [b for b in args.buckets if b.encrypted]
    if encrypted:
        statements += [
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": sorted({sources[b.key]["kmsKeyArn"] for b in encrypted}),
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{args.primary_region}.amazonaws.com"},
                    # With an S3 Bucket Key the context is the bucket's ARN, without one the object's.
                    "StringLike": {
                        "kms:EncryptionContext:aws:s3:arn": [
                            a for b in encrypted for a in (sources[b.key]["arn"], f"{sources[b.key]['arn']}/*")
                        ]
                    },
                },
            },
            {
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": replica_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"s3.{args.region}.amazonaws.com"}},
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def bucket_output(bucket: aws.s3.Bucket, kms_key_arn: pulumi.Input[str] | None) -> dict[str, pulumi.Input[str] | None]:
    """One entry of a primary's `replicatedBuckets` output, as its standby's Replication reads it."""
    return {"name": bucket.bucket, "arn": bucket.arn, "kmsKeyArn": kms_key_arn}


def data_recovery(stack: str, settings: Settings, primary: Outputs | None) -> DataRecovery | None:
    """The data stores' part in disaster recovery: a primary's global databases and secret replicas, or a
    standby's secondaries and the replicas of the primary's secrets it reads (`primary`: its reference)."""
    dr = settings.dr
    if dr.standby_stack is not None:
        standby = of_stack(dr.standby_stack)
        # The replicas need the standby's secrets key, which exists once the standby is up.
        key = key_alias_arn(dr.standby_stack, "secrets", settings.aws_account_id, standby.region)
        replicas = [aws.secretsmanager.SecretReplicaArgs(region=standby.region, kms_key_id=key)] if dr.standby_up else []
        return DataRecovery(global_ids={e: global_cluster_id(stack, e) for e in ENGINES}, primary=True, secret_replicas=replicas)
    if dr.primary_stack is not None:
        assert primary is not None
        region = settings.region
        secrets = primary.require_output("replicatedSecrets").apply(
            lambda arns: {engine: {k: replica_secret_arn(arn, region) for k, arn in by.items()} for engine, by in arns.items()}
        )
        return DataRecovery(global_ids={e: global_cluster_id(dr.primary_stack, e) for e in ENGINES}, primary=False, secrets=secrets)
    return None


def replicated_secrets(master: dict[str, pulumi.Output[str]], users: dict[str, dict[str, pulumi.Output[str]]]) -> dict:
    """A primary's `replicatedSecrets` output: per engine, its master secret and each service's, by name."""
    return {engine: {"master": master[engine], **users[engine]} for engine in ENGINES}


@dataclass(frozen=True)
class Recovery:
    """A stack's part in disaster recovery, from its `dr` settings: nothing (dev), a primary's (prod) or a standby's
    (prod-dr, which reads its primary's outputs through `primary`)."""

    context: Context
    settings: Settings
    primary: Outputs | None

    @staticmethod
    def of(context: Context, settings: Settings) -> Recovery:
        primary = settings.dr.primary_stack
        return Recovery(context, settings, outputs_of(primary, settings) if primary is not None else None)

    @property
    def data(self) -> DataRecovery | None:
        return data_recovery(self.context.stack, self.settings, self.primary)

    def side(self, platform: Platform, data: Data, opts: pulumi.ResourceOptions) -> dict[str, object]:
        """The outputs a primary's standby reads (its buckets and secrets to replicate); on a standby, the replication
        of its primary's images and buckets (and its account's trail), and the VPC origin its primary's distribution
        reaches it through."""
        dr, context = self.settings.dr, self.context
        if dr.standby_stack is not None:
            masters = {"mysql": data.mysql_master_secret_arn, "postgres": data.postgres_master_secret_arn}
            users = {"mysql": data.mysql_secret_arns, "postgres": data.postgres_secret_arns}
            buckets = {"edge-logs": bucket_output(platform.edge.log_bucket, None)}  # the trail's is the account's (account/)
            return {"replicatedBuckets": buckets, "replicatedSecrets": replicated_secrets(masters, users)}
        if self.primary is None or dr.primary_stack is None:
            return {}
        lock = trail_lock(dr.primary_stack)
        # The trail is the account's (account/, issue 17's scope split): its bucket comes from the account's baseline stack.
        account = outputs_of(account_stack(dr.primary_stack), self.settings, ACCOUNT_PROJECT)
        trail = {"name": "auditBucket", "arn": "auditBucketArn", "kmsKeyArn": "auditKeyArn"}
        sources = pulumi.Output.all(
            self.primary.require_output("replicatedBuckets"), *(account.require_output(o) for o in trail.values())
        ).apply(lambda v: {**v[0], "cloudtrail": dict(zip(trail, v[1:], strict=True))})
        args = ReplicationArgs(
            context=context, primary_region=of_stack(dr.primary_stack).region, sources=sources, buckets=replicated_buckets(lock)
        )
        Replication(f"{context.stack}-replication", args, opts)
        return {"vpcOriginId": platform.edge.vpc_origin.id}
