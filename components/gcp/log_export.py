"""The AWS side of the BigQuery log pipeline: where application and audit events land for GCP to fetch.

1. Producers write one JSON object per line, in the BigQuery tables' schema (components/gcp/analytics.py SCHEMAS),
   to the stack's export log groups `/kanna/<env>/log-export/app` and `.../audit` (`writer_policy` allows exactly
   that; every service's task role holds it).
2. A subscription filter sends each group to its Firehose stream, which decompresses the CloudWatch Logs
   envelope, keeps only the messages, puts a newline after each (docs.aws.amazon.com/firehose/latest/dev/
   Message_extraction.html) and writes `app/` or `audit/` objects into the export bucket, SSE-KMS with the
   logs key.
3. Google's Storage Transfer agent assumes `<env>-bigquery-log-export` with its Google-signed identity token
   (AssumeRoleWithWebIdentity, `accounts.google.com:sub` = the agent's subject id, from the GCP side) and may list
   and read those two prefixes only (cloud.google.com/storage-transfer/docs/source-amazon-s3: s3:ListBucket and
   s3:GetObject, plus kms:Decrypt for SSE-KMS objects).

The bucket's and role's names come from components/lib/contracts.py, which the GCP side calls too. Objects expire
after EXPORT_DAYS: the hourly transfer has copied them long before, and BigQuery keeps the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.lib.buckets import secure_bucket
from components.lib.context import InContext
from components.lib.contracts import LOG_EXPORT_PREFIXES, log_export_bucket, log_export_role_name
from components.lib.iam import trust_policy

EXPORT_DAYS = 30  # a month of re-runs for a stalled transfer; the data lives in BigQuery
GOOGLE = "accounts.google.com"


@dataclass(frozen=True, kw_only=True)
class LogExportArgs(InContext):
    transfer_subject_id: pulumi.Input[str]  # Google's Storage Transfer agent of the stack's project (its subject id)
    log_retention_days: int
    access_log_bucket: pulumi.Input[str] | None = None  # the stack's S3 server access log bucket
    writer_roles: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # "<env>-<service>" -> task role name


class LogExport(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    transfer_role: aws.iam.Role
    log_groups: dict[str, aws.cloudwatch.LogGroup]
    streams: dict[str, aws.kinesis.FirehoseDeliveryStream]
    writer_policy: aws.iam.Policy

    def __init__(self, name: str, args: LogExportArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:observability:LogExport", name, None, opts)
        env, account, region = args.env, args.account_id, args.region
        child = pulumi.ResourceOptions(parent=self)
        prefixes = list(LOG_EXPORT_PREFIXES.values())
        exported = secure_bucket(
            f"{env}-log-export",
            parent=self,
            kms_key_arn=args.logs_key_arn,
            protect=args.protect,
            physical_name=log_export_bucket(env, account),
            expire_days=EXPORT_DAYS,
            access_log_bucket=args.access_log_bucket,
        )
        self.bucket = exported.bucket
        # From the name, not the bucket's output: known at the first preview, so the policies below are too.
        bucket_arn = pulumi.Output.from_input(f"arn:aws:s3:::{log_export_bucket(env, account)}")
        # SSE-KMS through S3 only, and only for this bucket. With an S3 Bucket Key the encryption context is the
        # bucket's ARN, without one the object's (docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html).
        via_s3 = bucket_arn.apply(
            lambda arn: {
                "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [arn, f"{arn}/*"]},
            }
        )

        # --- Firehose: writes the objects ----------------------------------------------------------------
        firehose_role = aws.iam.Role(
            f"{env}-log-export-firehose-role",
            description="Firehose writes the log export objects",
            # docs.aws.amazon.com/firehose/latest/dev/controlling-access.html: the account id as external id.
            assume_role_policy=trust_policy("firehose.amazonaws.com", {"StringEquals": {"sts:ExternalId": account}}),
            opts=child,
        )
        firehose_writes = aws.iam.RolePolicy(
            f"{env}-log-export-firehose-policy",
            role=firehose_role.id,
            policy=pulumi.Output.all(bucket_arn, args.logs_key_arn, via_s3).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                                "Resource": v[0],
                            },
                            {
                                "Effect": "Allow",
                                "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                                "Resource": f"{v[0]}/*",
                            },
                            {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": v[1], "Condition": v[2]},
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.log_groups, self.streams = {}, {}
        for prefix in prefixes:
            self.log_groups[prefix] = aws.cloudwatch.LogGroup(
                f"{env}-log-export-{prefix}",
                name=f"/kanna/{env}/log-export/{prefix}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.logs_key_arn,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            self.streams[prefix] = aws.kinesis.FirehoseDeliveryStream(
                f"{env}-log-export-{prefix}-stream",
                name=f"kanna-{env}-log-export-{prefix}",
                destination="extended_s3",
                server_side_encryption=aws.kinesis.FirehoseDeliveryStreamServerSideEncryptionArgs(enabled=True, key_type="AWS_OWNED_CMK"),
                extended_s3_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationArgs(
                    role_arn=firehose_role.arn,
                    bucket_arn=bucket_arn,
                    prefix=f"{prefix}/",  # Firehose adds YYYY/MM/DD/HH/ after it
                    error_output_prefix=f"errors/{prefix}/",  # outside app/ and audit/: never transferred
                    buffering_interval=300,
                    buffering_size=5,
                    # No compression_format: plain NDJSON (Firehose's default), which BigQuery loads in parallel.
                    kms_key_arn=args.logs_key_arn,
                    processing_configuration=aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationArgs(
                        enabled=True,
                        processors=[
                            _processor("Decompression", CompressionFormat="GZIP"),
                            _processor("CloudWatchLogProcessing", DataMessageExtraction="true"),
                            _processor("AppendDelimiterToRecord"),
                        ],
                    ),
                ),
                # The bucket (and its policy) must exist first: the ARN above is derived, not read from it.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[firehose_writes, self.bucket, exported.policy]),
            )

        # --- CloudWatch Logs: feeds the streams ------------------------------------------------------------
        subscription_role = aws.iam.Role(
            f"{env}-log-export-subscription-role",
            description="CloudWatch Logs sends the export log groups to Firehose",
            assume_role_policy=trust_policy(
                f"logs.{region}.amazonaws.com", {"ArnLike": {"aws:SourceArn": f"arn:aws:logs:{region}:{account}:log-group:*"}}
            ),
            opts=child,
        )
        subscription_puts = aws.iam.RolePolicy(
            f"{env}-log-export-subscription-policy",
            role=subscription_role.id,
            policy=pulumi.Output.all(*[s.arn for s in self.streams.values()]).apply(
                lambda arns: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": arns}],
                    }
                )
            ),
            opts=child,
        )
        for prefix in prefixes:
            aws.cloudwatch.LogSubscriptionFilter(
                f"{env}-log-export-{prefix}-subscription",
                name=f"{env}-log-export-{prefix}",
                log_group=self.log_groups[prefix].name,
                filter_pattern="",  # everything: the group holds only exported events
                destination_arn=self.streams[prefix].arn,
                role_arn=subscription_role.arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[subscription_puts]),
            )
        self.writer_policy = aws.iam.Policy(
            f"{env}-log-export-writer",
            description="Write application and audit events to the BigQuery log export",
            policy=pulumi.Output.all(*[g.arn for g in self.log_groups.values()]).apply(
                lambda arns: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": [f"{arn}:log-stream:*" for arn in arns],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )

        # Every service may emit app and audit events; only through these two log groups.
        for key, role in args.writer_roles.items():
            aws.iam.RolePolicyAttachment(f"{key}-writes-log-export", role=role, policy_arn=self.writer_policy.arn, opts=child)

        # --- Google's Storage Transfer agent: reads the two prefixes -------------------------------------------
        trust = pulumi.Output.from_input(args.transfer_subject_id).apply(
            lambda subject: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": GOOGLE},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            # Any Google identity can get a token from this issuer: only the stack's transfer agent may use it.
                            "Condition": {"StringEquals": {f"{GOOGLE}:sub": subject}},
                        }
                    ],
                }
            )
        )
        self.transfer_role = aws.iam.Role(
            f"{env}-bigquery-log-export-role",
            name=log_export_role_name(env),
            description="Google Storage Transfer reads the log export (app/, audit/) for BigQuery",
            assume_role_policy=trust,
            max_session_duration=3600,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{env}-bigquery-log-export-policy",
            role=self.transfer_role.id,
            policy=pulumi.Output.all(bucket_arn, args.logs_key_arn, via_s3).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "s3:ListBucket",
                                "Resource": v[0],
                                "Condition": {"StringLike": {"s3:prefix": [f"{p}/*" for p in prefixes] + [f"{p}/" for p in prefixes]}},
                            },
                            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": [f"{v[0]}/{p}/*" for p in prefixes]},
                            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": v[1], "Condition": v[2]},
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.register_outputs(
            {
                "bucket": self.bucket.bucket,
                "transferRoleArn": self.transfer_role.arn,
                "logGroups": {prefix: group.name for prefix, group in self.log_groups.items()},
                "writerPolicyArn": self.writer_policy.arn,
            }
        )


def _processor(
    kind: str, **parameters: str
) -> aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationProcessorArgs:
    return aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationProcessorArgs(
        type=kind,
        parameters=[
            aws.kinesis.FirehoseDeliveryStreamExtendedS3ConfigurationProcessingConfigurationProcessorParameterArgs(
                parameter_name=key, parameter_value=value
            )
            for key, value in parameters.items()
        ]
        or None,
    )
