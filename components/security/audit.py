"""The audit trail: a multi-region CloudTrail with log file validation, encrypted with its own key, written to a
locked-down bucket (versioning, Object Lock, access logging, TLS-only) and streamed to CloudWatch Logs.

One trail per account, in the account baseline (account/): a multi-region trail records every region, so a
second region's stack needs none (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-concepts.html#cloudtrail-concepts-trails).
It brings what it writes with (a key, an access-log bucket), so the account stack needs no workload stack.
The bucket policy lets CloudTrail write only for this account's trail (aws:SourceArn), and Object Lock keeps
even an administrator from deleting audit logs before their retention ends (COMPLIANCE mode in prod).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.buckets import ObjectLock, SecureBucket, secure_bucket, server_access_log_writes
from components.lib.context import Scope
from components.lib.iam import trust_policy
from components.security.keys import audit_statements, kms_key
from settings.security import AuditSettings


@dataclass(frozen=True, kw_only=True)
class AuditArgs:
    # The account's scope: its stack is the account's key (dev, prod), which the trail kanna-<key> and its resources
    # keep from the workload stack they came from; its region is the account's home region, where the trail lives.
    scope: Scope
    settings: AuditSettings


class Audit(pulumi.ComponentResource):
    trail: aws.cloudtrail.Trail
    bucket: SecureBucket
    log_group: aws.cloudwatch.LogGroup
    key: aws.kms.Key
    access_log_bucket: SecureBucket

    def __init__(self, name: str, args: AuditArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:security:Audit", name, None, opts)
        env, account, region, protect, s = args.scope.stack, args.scope.account_id, args.scope.region, args.scope.protect, args.settings
        child = pulumi.ResourceOptions(parent=self)
        trail_name = f"kanna-{env}"
        trail_arn = f"arn:aws:cloudtrail:{region}:{account}:trail/{trail_name}"

        def cloudtrail_writes(bucket_arn: str) -> list[dict]:
            only_this_trail = {"StringEquals": {"aws:SourceArn": trail_arn}}
            return [
                {
                    "Sid": "CloudTrailChecksAcl",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": bucket_arn,
                    "Condition": only_this_trail,
                },
                {
                    "Sid": "CloudTrailWrites",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
                    "Condition": {"StringEquals": {"aws:SourceArn": trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}},
                },
            ]

        self.key = kms_key(
            "audit",
            "the account's trail and its log group",
            audit_statements(account, region),
            env=env,
            parent=self,
            protect=protect,
        )
        logs_key_arn = self.key.arn
        self.access_log_bucket = secure_bucket(
            f"{env}-audit-access-logs", parent=self, kms_key_arn=None, protect=protect, statements=server_access_log_writes(account)
        )
        self.bucket = secure_bucket(
            f"{env}-cloudtrail",
            parent=self,
            kms_key_arn=logs_key_arn,
            protect=protect,
            statements=cloudtrail_writes,
            access_log_bucket=self.access_log_bucket.id,
            object_lock=ObjectLock(s.audit_lock_mode, s.audit_lock_days),
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{env}-cloudtrail",
            name=f"/kanna/{env}/cloudtrail",
            retention_in_days=s.audit_log_retention_days,
            kms_key_id=logs_key_arn,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        role = aws.iam.Role(
            f"{env}-cloudtrail-logs-role",
            assume_role_policy=trust_policy("cloudtrail.amazonaws.com", {"StringEquals": {"aws:SourceArn": trail_arn}}),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{env}-cloudtrail-logs-write",
            role=role.id,
            policy=self.log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{arn}:log-stream:*"}
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.trail = aws.cloudtrail.Trail(
            f"{env}-trail",
            name=trail_name,
            s3_bucket_name=self.bucket.id,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=logs_key_arn,
            cloud_watch_logs_group_arn=self.log_group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            # The bucket policy and the role must exist first: CloudTrail checks both when the trail is created.
            # Protected in prod like what it writes: without it, nothing records the account's API calls.
            opts=pulumi.ResourceOptions(parent=self, protect=protect, depends_on=[self.bucket.policy, role_policy]),
        )
        self.register_outputs(
            {"trailArn": self.trail.arn, "bucket": self.bucket.id, "logGroup": self.log_group.name, "keyArn": self.key.arn}
        )
