"""`secure_bucket()`: the one way kanna-infra creates an S3 bucket, so every bucket is locked down the same way.

Every bucket gets: versioning, default encryption (SSE-KMS with a customer-managed key and an S3 bucket key,
or SSE-S3 for the few destinations AWS can only write with SSE-S3: S3 server access logs and ALB access
logs), the public access block, ACLs disabled (bucket owner enforced), and a bucket policy that denies
any request not made over TLS, merged with the caller's own statements. Optional: server access logging
to the stack's access-log bucket, and Object Lock with a default retention (audit trails).

Used by the security baseline (CloudTrail, Config, session logs) and meant for everyone else who needs a
bucket (ALB / CloudFront logs, data, exports): pass `parent=self` and your component's `protect`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

Statements = Callable[[str], list[dict]]
"""Given the bucket's ARN, the extra bucket-policy statements (e.g. a service's write access)."""


@dataclass(frozen=True)
class ObjectLock:
    mode: str  # COMPLIANCE or GOVERNANCE
    days: int


@dataclass(frozen=True)
class SecureBucket:
    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy
    public_access_block: aws.s3.BucketPublicAccessBlock
    versioning: aws.s3.BucketVersioning  # what waits for versioning (a replication destination) depends on this

    @property
    def id(self) -> pulumi.Output[str]:
        return self.bucket.id

    @property
    def arn(self) -> pulumi.Output[str]:
        return self.bucket.arn


def tls_only_statement(bucket_arn: str) -> dict:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def server_access_log_writes(account_id: str) -> Statements:
    """The statements of a bucket that receives S3 server access logs of this account's buckets. Such a bucket is
    SSE-S3 (S3 can't deliver access logs to an SSE-KMS one): create it with `kms_key_arn=None`."""

    def statements(bucket_arn: str) -> list[dict]:
        return [
            {
                "Sid": "S3ServerAccessLogsOfThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ]

    return statements


def bucket_prefix(name: str) -> str:
    """The physical name prefix of `secure_bucket(name)`: S3 names are global, so AWS appends a unique suffix.
    `bucket_prefix(env)` is therefore the prefix of every bucket of that stack (names start with the env)."""
    return f"kanna-{name}-"[:37]


def secure_bucket(
    name: str,
    *,
    parent: pulumi.Resource,
    kms_key_arn: pulumi.Input[str] | None,
    protect: bool,
    statements: Statements | None = None,
    access_log_bucket: pulumi.Input[str] | None = None,
    object_lock: ObjectLock | None = None,
    depends_on: list[pulumi.Resource] | None = None,
    object_ownership: str = "BucketOwnerEnforced",
    expire_days: int | None = None,
    physical_name: str | None = None,
    aliases: list[pulumi.Alias] | None = None,
) -> SecureBucket:
    """A locked-down bucket named `name` (the physical name is auto-suffixed: bucket names are global).

    `kms_key_arn=None` means SSE-S3, only for targets AWS can't write with SSE-KMS (server access logs, ALB logs).
    `object_ownership="BucketOwnerPreferred"` only where AWS still writes through ACLs (CloudFront standard logs).
    `expire_days` deletes objects (and old versions) after that many days: for logs with a retention period.
    `physical_name` only for a bucket another service or cloud finds by name (derive it from one function).
    `aliases` go on every resource made here: a bucket that moves to another parent moves with its parts.
    """

    def opts(**more: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=parent, aliases=aliases, **more)

    child = opts()
    bucket = aws.s3.Bucket(
        name,
        bucket=physical_name,
        bucket_prefix=None if physical_name else bucket_prefix(name),
        # Object Lock can only be turned on when the bucket is created.
        object_lock_enabled=True if object_lock else None,
        force_destroy=False,
        opts=opts(protect=protect),
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership=object_ownership),
        opts=child,
    )
    public_access_block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=child,
    )
    by_default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
        sse_algorithm="aws:kms" if kms_key_arn is not None else "AES256",
        kms_master_key_id=kms_key_arn,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=by_default,
                # One KMS call per bucket and hour instead of per object: cost, and KMS request quotas.
                bucket_key_enabled=kms_key_arn is not None,
            )
        ],
        opts=child,
    )
    if object_lock:
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-object-lock",
            bucket=bucket.id,
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(mode=object_lock.mode, days=object_lock.days)
            ),
            opts=opts(depends_on=[versioning]),
        )
    if expire_days is not None:
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-expiry",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expire_days),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=expire_days
                    ),
                )
            ],
            opts=opts(depends_on=[versioning]),
        )
    if access_log_bucket is not None:
        aws.s3.BucketLogging(
            f"{name}-access-logging",
            bucket=bucket.id,
            target_bucket=access_log_bucket,
            target_prefix=f"{name}/",
            opts=child,
        )
    policy = aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=bucket.arn.apply(
            lambda arn: json.dumps(
                {"Version": "2012-10-17", "Statement": [tls_only_statement(arn), *(statements(arn) if statements else [])]}
            )
        ),
        # The public access block first: with it, a mistaken public statement is refused instead of applied.
        opts=opts(depends_on=[public_access_block, *(depends_on or [])]),
    )
    return SecureBucket(bucket, policy, public_access_block, versioning)


def replication_rule(
    rule_id: str, replica_arn: pulumi.Input[str], replica_key_arn: pulumi.Input[str] | None, delete_markers: bool
) -> aws.s3.BucketReplicationConfigRuleArgs:
    """Every object of a bucket to one replica, with Replication Time Control: 99.99% of objects within 15 minutes,
    and the metrics RTC requires, with the same threshold, to alarm on
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html). With a replica key,
    SSE-KMS objects opt in and are re-encrypted under it: they replicate only when the rule names the destination's
    key, by ARN (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html)."""
    minutes = 15
    encrypted = replica_key_arn is not None
    return aws.s3.BucketReplicationConfigRuleArgs(
        id=rule_id,
        status="Enabled",
        filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=""),
        delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
            status="Enabled" if delete_markers else "Disabled"
        ),
        source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
            sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(status="Enabled")
        )
        if encrypted
        else None,
        destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
            bucket=replica_arn,
            encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                replica_kms_key_id=replica_key_arn
            )
            if encrypted
            else None,
            replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                status="Enabled", time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(minutes=minutes)
            ),
            metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                status="Enabled", event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(minutes=minutes)
            ),
        ),
    )
