"""The self-managed Pulumi backend: an S3 state bucket and its KMS key, in the management account.

The bucket is versioned (every checkpoint Pulumi writes is a new object version, so any earlier state is
recoverable), encrypted with a customer-managed KMS key, access-logged to a second bucket, TLS-only, and
its policy denies everyone but the CI roles of the workload accounts and the management administrators.
Everything here is `protect`ed: losing the bucket loses the record of every resource in every stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.buckets import replication_rule as shared_rule

# Where the DIY backend keeps one stack's files, under `.pulumi/` (checkpoint, lock, history, backups).
STATE_PREFIXES = (
    "stacks/{project}/{stack}.json*",
    "locks/{project}/{stack}/*",
    "history/{project}/{stack}/*",
    "backups/{project}/{stack}/*",
)
MAIN_PROJECT = "kanna-infra"
STATE_BUCKET_KEY_ALIAS = "alias/kanna/pulumi-state-bucket"  # the same name in each region (aliases are regional)


def state_bucket_name(account_id: str, region: str | None = None) -> str:
    """The state bucket (`region` None: the home region's) or its replica in `region`: the one place both are named."""
    return f"kanna-pulumi-state-{account_id}" if region is None else f"kanna-pulumi-state-{account_id}-{region}"


def backend_url(bucket_name: str, region: str) -> str:
    """What `pulumi login` takes; `awssdk=v2` reads the workflows' web-identity credentials (docs/state.md)."""
    return f"s3://{bucket_name}?region={region}&awssdk=v2"


def state_key_alias(stack: str) -> str:
    """The alias of a stack's secrets key: its stack file's `secretsprovider` is `awskms://<this>?region=<key's region>`."""
    return f"alias/kanna/{stack}/pulumi-state"


def secrets_provider(stack: str, region: str) -> str:
    return f"awskms://{state_key_alias(stack)}?region={region}"


def admin_arns(account_id: str) -> list[str]:
    """The management account's Identity Center administrators: they run this stack and recover state."""
    return [f"arn:aws:iam::{account_id}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_administrator_*"]


def state_objects(bucket_arn: str, stack: str, project: str = MAIN_PROJECT) -> list[str]:
    """The object ARNs that hold one stack's state: what that stack's deploy role may write, and nothing else."""
    return [f"{bucket_arn}/.pulumi/{prefix.format(project=project, stack=stack)}" for prefix in STATE_PREFIXES]


def key_policy(account_id: str, extra: list[dict] | None = None) -> str:
    """The account's IAM decides who uses the key (plus `extra` grants to principals outside the account)."""
    statements = [
        {
            "Sid": "AccountIamDecides",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements + (extra or [])})


def secrets_key(
    name: str, stack: str, account_id: str, parent: pulumi.Resource, provider: pulumi.ProviderResource | None = None
) -> aws.kms.Key:
    """The key a stack's `secretsprovider: awskms://alias/kanna/<stack>/pulumi-state` encrypts its secrets with
    (`provider`: another region's, for a standby stack; else the parent's)."""
    key = aws.kms.Key(
        name,
        description=f"Pulumi secrets of the {stack} stack (awskms secrets provider)",
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=30,
        policy=key_policy(account_id),
        opts=pulumi.ResourceOptions(parent=parent, protect=True, provider=provider),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name=state_key_alias(stack),
        target_key_id=key.key_id,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    return key


@dataclass(frozen=True)
class StateBackendArgs:
    account_id: str  # the management account, which holds the bucket
    region: str
    workload_account_ids: list[str]  # whose CI roles may use the bucket key through S3
    version_retention_days: int
    # Where the state is replicated (a standby stack's region, so the standby runs when the home region is lost),
    # and the management account's provider there; None: no replica.
    replica_region: str | None = None
    replica_provider: pulumi.ProviderResource | None = None


class StateBackend(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    bucket_key: aws.kms.Key
    secrets_key: aws.kms.Key  # the bootstrap stack's own secrets key (alias/kanna/management/pulumi-state)
    url: str
    bucket_arn: str
    replica: aws.s3.Bucket | None
    replica_key: aws.kms.Key | None
    replica_url: str | None
    replication_role: aws.iam.Role | None

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:bootstrap:StateBackend", name, None, opts)
        self._args = args
        self._versioning: dict[str, aws.s3.BucketVersioning] = {}
        child = pulumi.ResourceOptions(parent=self)
        bucket_name = state_bucket_name(args.account_id)
        self.bucket_arn = f"arn:aws:s3:::{bucket_name}"
        self.url = backend_url(bucket_name, args.region)
        # CI roles live in other accounts: S3 may use the key on their behalf, only through S3 in this region.
        via_s3 = {
            "Sid": "WorkloadCiRolesThroughS3",
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{account}:root" for account in args.workload_account_ids]},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{args.region}.amazonaws.com"},
                "ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{account}:role/kanna-*" for account in args.workload_account_ids]},
            },
        }
        self.bucket_key = aws.kms.Key(
            "state-bucket-key",
            description="Server-side encryption of the Pulumi state bucket",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=key_policy(args.account_id, [via_s3]),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.kms.Alias("state-bucket-key-alias", name=STATE_BUCKET_KEY_ALIAS, target_key_id=self.bucket_key.key_id, opts=child)
        self.secrets_key = secrets_key("management-pulumi-state-key", "management", args.account_id, self)

        logs = self._bucket("state-access-logs", f"kanna-pulumi-state-logs-{args.account_id}", kms_key=None, opts=child)
        aws.s3.BucketLifecycleConfiguration(
            "state-access-logs-lifecycle",
            bucket=logs.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=365),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=30
                    ),
                )
            ],
            opts=child,
        )
        aws.s3.BucketPolicy(
            "state-access-logs-policy",
            bucket=logs.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        _tls_only(logs.arn),
                        {
                            "Sid": "S3ServerAccessLogsOfTheStateBucket",
                            "Effect": "Allow",
                            "Principal": {"Service": "logging.s3.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": pulumi.Output.concat(logs.arn, "/state/*"),
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": args.account_id},
                                "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket_name}"},
                            },
                        },
                    ],
                }
            ),
            opts=child,
        )

        self.bucket = self._bucket("state", bucket_name, kms_key=self.bucket_key, opts=child)
        aws.s3.BucketLogging("state-logging", bucket=self.bucket.id, target_bucket=logs.id, target_prefix="state/", opts=child)
        self._expire_old_versions("state-lifecycle", self.bucket, child)
        self.replica = self.replica_key = self.replica_url = self.replication_role = None
        if args.replica_region is not None:
            assert args.replica_provider is not None and args.replica_region != args.region
            self._replicate(args.replica_region, pulumi.ResourceOptions(parent=self, provider=args.replica_provider))
        self.register_outputs(
            {"bucket": self.bucket.bucket, "url": self.url, "bucketKey": self.bucket_key.arn, "replicaUrl": self.replica_url}
        )

    def _replicate(self, region: str, opts: pulumi.ResourceOptions) -> None:
        """A copy of the state in `region`, kept by S3 replication, so a standby stack can be operated when the home
        region is lost (docs/disaster-recovery.md, "State and secrets when Tokyo is lost")."""
        args = self._args
        replica_name = state_bucket_name(args.account_id, region)
        self.replica_url = backend_url(replica_name, region)
        self.replica_key = aws.kms.Key(
            "state-replica-key",
            description=f"Server-side encryption of the Pulumi state bucket's replica in {region}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=key_policy(args.account_id),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True)),
        )
        aws.kms.Alias("state-replica-key-alias", name=STATE_BUCKET_KEY_ALIAS, target_key_id=self.replica_key.key_id, opts=opts)
        self.replica = self._bucket("state-replica", replica_name, kms_key=self.replica_key, opts=opts)
        self._expire_old_versions("state-replica-lifecycle", self.replica, opts)
        replica_arn = f"arn:aws:s3:::{replica_name}"
        # The role S3 assumes to replicate; only S3 of this account may assume it (the confused-deputy guard).
        self.replication_role = aws.iam.Role(
            "state-replication",
            description=f"S3 replicates the Pulumi state bucket into {replica_name} as this role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                        }
                    ],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            "state-replication",
            role=self.replication_role.id,
            policy=pulumi.Output.json_dumps(
                replication_policy(self.bucket_arn, args.region, self.bucket_key.arn, replica_arn, region, self.replica_key.arn)
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.s3.BucketPolicy(
            "state-replica-policy",
            bucket=self.replica.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        _tls_only(replica_arn),
                        # Only the administrators (who operate the standby from here when the home region is lost) and
                        # the replication role; the CI roles work on the home bucket.
                        {
                            "Sid": "OnlyReplicationAndAdministrators",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [replica_arn, f"{replica_arn}/*"],
                            "Condition": {"ArnNotLike": {"aws:PrincipalArn": [self.replication_role.arn, *admin_arns(args.account_id)]}},
                        },
                    ],
                }
            ),
            opts=opts,
        )
        aws.s3.BucketReplicationConfig(
            "state-replication",
            bucket=self.bucket.id,
            role=self.replication_role.arn,
            rules=[replication_rule(self.replica.arn, self.replica_key.arn)],
            # S3 refuses a replication configuration until versioning is on at both ends
            # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-requirements.html).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._versioning["state"], self._versioning["state-replica"]]),
        )

    def _expire_old_versions(self, name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions) -> None:
        # Old checkpoints are the recovery path (docs/state.md): keep them for the retention window, then expire.
        # Lifecycle actions are not replicated, so the replica carries the same rule of its own.
        aws.s3.BucketLifecycleConfiguration(
            name,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-state-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=self._args.version_retention_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=opts,
        )

    def _bucket(self, name: str, bucket_name: str, kms_key: aws.kms.Key | None, opts: pulumi.ResourceOptions) -> aws.s3.Bucket:
        """A versioned, encrypted, private bucket; `opts`: its parent and provider (the replica's is another region's)."""
        child = opts
        bucket = aws.s3.Bucket(name, bucket=bucket_name, opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=True)))
        self._versioning[name] = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        # S3 server access logs can only be delivered to an SSE-S3 bucket, so the log bucket uses AES256.
        default = (
            aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="aws:kms", kms_master_key_id=kms_key.arn
            )
            if kms_key is not None
            else aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(sse_algorithm="AES256")
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=default, bucket_key_enabled=kms_key is not None
                )
            ],
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        return bucket

    def restrict_to(self, grants: list[StateGrant], admins: list[str]) -> aws.s3.BucketPolicy:
        """The bucket policy: TLS only; each CI role reads, or writes, only its own stack's objects; no one else.

        Role ARNs are outputs, so the policy waits until the roles exist (S3 rejects a policy that names a
        principal that does not). `admins` are ARN patterns of the management administrators, who keep
        access to run the bootstrap stack and to recover state.
        """
        arn = self.bucket_arn
        statements: list[dict] = [_tls_only(arn)]
        statements.append(
            {
                "Sid": "OnlyCiRolesAndAdministrators",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": [*(g.role_arn for g in grants), *admins]}},
            }
        )
        for grant in grants:
            # A Sid is alphanumeric: prod-dr's part of a name is "ProdDr".
            sid = "".join(part.title() for part in grant.stacks[0].split("-")) + grant.kind.title()
            objects = [o for stack in grant.stacks for o in state_objects(arn, stack)]
            statements.append(_allow(f"{sid}List", grant.role_arn, ["s3:ListBucket"], [arn]))
            statements.append(_allow(f"{sid}Read", grant.role_arn, ["s3:GetObject"], [*objects, f"{arn}/.pulumi/meta.yaml"]))
            # A preview takes no lock in the DIY backend today; writing its own lock files keeps it working if it ever does.
            writable = objects if grant.writes else [o for o in objects if "/.pulumi/locks/" in o]
            statements.append(_allow(f"{sid}Write", grant.role_arn, ["s3:PutObject", "s3:DeleteObject"], writable))
        return aws.s3.BucketPolicy(
            "state-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements}),
            opts=pulumi.ResourceOptions(parent=self),
        )


def replication_rule(replica_arn: pulumi.Input[str], replica_key_arn: pulumi.Input[str]) -> aws.s3.BucketReplicationConfigRuleArgs:
    """Every object of the state bucket to the replica (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html).

    Delete markers ARE replicated, unlike the audit buckets' rule (components/dr/recovery.py): the DIY backend
    deletes its lock file at the end of every operation, so without them each lock ever taken would stay current
    in the replica and every stack there would look locked. Deletes stay recoverable: a delete marker hides a
    version, it removes none, and deletions of a version are never replicated
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-marker-replication.html). Markers fall outside
    RTC's 15-minute SLA; a stale lock is removed by hand (docs/state.md).
    """
    return shared_rule("state-to-replica", replica_arn, replica_key_arn, delete_markers=True)


def replication_policy(
    source_arn: str,
    source_region: str,
    source_key_arn: pulumi.Input[str],
    replica_arn: str,
    replica_region: str,
    replica_key_arn: pulumi.Input[str],
) -> dict:
    """What S3 needs as the replication role, no more: read the source's configuration and versions, write replicas,
    decrypt with the source's key and encrypt with the replica's, each key only through S3 in its own region
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SourceBucket",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": source_arn,
            },
            {
                "Sid": "SourceVersions",
                "Effect": "Allow",
                "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
                "Resource": f"{source_arn}/*",
            },
            {
                "Sid": "ReplicaObjects",
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                "Resource": f"{replica_arn}/*",
            },
            {
                "Sid": "DecryptSource",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": source_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{source_region}.amazonaws.com"},
                    # With an S3 Bucket Key the encryption context is the bucket's ARN, without one the object's.
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [source_arn, f"{source_arn}/*"]},
                },
            },
            {
                "Sid": "EncryptReplica",
                "Effect": "Allow",
                # GenerateDataKey: the replica bucket uses an S3 Bucket Key, which S3 makes from a data key.
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": replica_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{replica_region}.amazonaws.com"},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [replica_arn, f"{replica_arn}/*"]},
                },
            },
        ],
    }


@dataclass(frozen=True)
class StateGrant:
    """One CI role's access to its stacks' state (its own, then its standbys'): `writes` for refresh and up, else
    read and lock only."""

    stacks: tuple[str, ...]
    kind: str  # preview | drift | deploy
    role_arn: pulumi.Output[str]
    writes: bool


def _tls_only(bucket_arn: str | pulumi.Output[str]) -> dict:
    return {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _allow(sid: str, role: object, actions: list[str], resources: list) -> dict:
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": role}, "Action": actions, "Resource": resources}
