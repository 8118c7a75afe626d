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

# Where the DIY backend keeps one stack's files, under `.pulumi/` (checkpoint, lock, history, backups).
STATE_PREFIXES = (
    "stacks/{project}/{stack}.json*",
    "locks/{project}/{stack}/*",
    "history/{project}/{stack}/*",
    "backups/{project}/{stack}/*",
)
MAIN_PROJECT = "kanna-infra"


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


def secrets_key(name: str, stack: str, account_id: str, parent: pulumi.Resource) -> aws.kms.Key:
    """The key a stack's `secretsprovider: awskms://alias/kanna/<stack>/pulumi-state` encrypts its secrets with."""
    key = aws.kms.Key(
        name,
        description=f"Pulumi secrets of the {stack} stack (awskms secrets provider)",
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=30,
        policy=key_policy(account_id),
        opts=pulumi.ResourceOptions(parent=parent, protect=True),
    )
    aws.kms.Alias(
        f"{name}-alias", name=f"alias/kanna/{stack}/pulumi-state", target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=parent)
    )
    return key


@dataclass(frozen=True)
class StateBackendArgs:
    account_id: str  # the management account, which holds the bucket
    region: str
    workload_account_ids: list[str]  # whose CI roles may use the bucket key through S3
    version_retention_days: int


class StateBackend(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    bucket_key: aws.kms.Key
    secrets_key: aws.kms.Key  # the bootstrap stack's own secrets key (alias/kanna/management/pulumi-state)
    url: str
    bucket_arn: str

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:bootstrap:StateBackend", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        bucket_name = f"kanna-pulumi-state-{args.account_id}"
        self.bucket_arn = f"arn:aws:s3:::{bucket_name}"
        self.url = f"s3://{bucket_name}?region={args.region}&awssdk=v2"
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
        aws.kms.Alias("state-bucket-key-alias", name="alias/kanna/pulumi-state-bucket", target_key_id=self.bucket_key.key_id, opts=child)
        self.secrets_key = secrets_key("management-pulumi-state-key", "management", args.account_id, self)

        logs = self._bucket("state-access-logs", f"kanna-pulumi-state-logs-{args.account_id}", kms_key=None)
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

        self.bucket = self._bucket("state", bucket_name, kms_key=self.bucket_key)
        aws.s3.BucketLogging("state-logging", bucket=self.bucket.id, target_bucket=logs.id, target_prefix="state/", opts=child)
        # Old checkpoints are the recovery path (docs/state.md): keep them for the retention window, then expire.
        aws.s3.BucketLifecycleConfiguration(
            "state-lifecycle",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-state-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.version_retention_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=child,
        )
        self.register_outputs({"bucket": self.bucket.bucket, "url": self.url, "bucketKey": self.bucket_key.arn})

    def _bucket(self, name: str, bucket_name: str, kms_key: aws.kms.Key | None) -> aws.s3.Bucket:
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(name, bucket=bucket_name, opts=pulumi.ResourceOptions(parent=self, protect=True))
        aws.s3.BucketVersioning(
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
            sid = f"{grant.stack.title()}{grant.kind.title()}"
            objects = state_objects(arn, grant.stack)
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


@dataclass(frozen=True)
class StateGrant:
    """One CI role's access to one stack's state: `writes` for refresh and up, else read and lock only."""

    stack: str
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
