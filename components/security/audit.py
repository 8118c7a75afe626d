"""The audit trail: a multi-region CloudTrail with log file validation, encrypted with the logs key, written to a
locked-down bucket (versioning, Object Lock, access logging, TLS-only) and streamed to CloudWatch Logs.

The bucket policy lets CloudTrail write only for this account's trail (aws:SourceArn), and Object Lock keeps
even an administrator from deleting audit logs before their retention ends (COMPLIANCE mode in prod).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.buckets import ObjectLock, SecureBucket, secure_bucket
from components.lib.context import InContext
from components.lib.iam import trust_policy
from settings import SecuritySettings


@dataclass(frozen=True, kw_only=True)
class AuditArgs(InContext):
    settings: SecuritySettings
    access_log_bucket: pulumi.Input[str]


class Audit(pulumi.ComponentResource):
    trail: aws.cloudtrail.Trail
    bucket: SecureBucket
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: AuditArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:security:Audit", name, None, opts)
        env, account, s = args.env, args.account_id, args.settings
        child = pulumi.ResourceOptions(parent=self)
        trail_name = f"kanna-{env}"
        trail_arn = f"arn:aws:cloudtrail:{args.region}:{account}:trail/{trail_name}"

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

        self.bucket = secure_bucket(
            f"{env}-cloudtrail",
            parent=self,
            kms_key_arn=args.logs_key_arn,
            protect=args.protect,
            statements=cloudtrail_writes,
            access_log_bucket=args.access_log_bucket,
            object_lock=ObjectLock(s.audit_lock_mode, s.audit_lock_days),
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{env}-cloudtrail",
            name=f"/kanna/{env}/cloudtrail",
            retention_in_days=s.audit_log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
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
            kms_key_id=args.logs_key_arn,
            cloud_watch_logs_group_arn=self.log_group.arn.apply(lambda arn: f"{arn}:*"),
            cloud_watch_logs_role_arn=role.arn,
            # The bucket policy and the role must exist first: CloudTrail checks both when the trail is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.bucket.policy, role_policy]),
        )
        self.register_outputs({"trailArn": self.trail.arn, "bucket": self.bucket.id, "logGroup": self.log_group.name})
