"""The security baseline of one workload account: threat detection, the audit trail, the internal tools' user pool,
operator access through SSM, and the account's secure defaults.

- GuardDuty with S3 data events, RDS login events, runtime monitoring (agent managed on Fargate) and EBS malware
  protection; findings at or above `security.findingSeverity` go through EventBridge to a KMS-encrypted SNS topic.
- Inspector scans ECR images (enhanced, continuous); Security Hub runs AWS Foundational Security Best Practices and
  CIS on top of the AWS Config recorder, which delivers to an encrypted bucket.
- Account defaults: S3 public access blocked account-wide, EBS encrypted by default with the data key, and a
  strict IAM password policy (humans sign in through the IdP; IAM users are for nothing).
- Children: `Audit` (CloudTrail), `Identity` (Cognito), `OperatorAccess` (Session Manager, ECS Exec logging).
One access-log bucket per stack receives the S3 server access logs of every secure bucket (`access_log_bucket`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.buckets import SecureBucket, secure_bucket
from components.lib.context import InContext
from components.lib.contracts import ExecLogging, InternalAuth
from components.lib.iam import trust_policy
from components.security.audit import Audit, AuditArgs
from components.security.identity import Identity, IdentityArgs
from components.security.operator_access import OperatorAccess, OperatorAccessArgs
from settings import SecuritySettings

GUARDDUTY_FEATURES = ("S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "RUNTIME_MONITORING", "EBS_MALWARE_PROTECTION")


def standards(region: str) -> dict[str, str]:
    return {
        "fsbp": f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0",
        "cis": f"arn:aws:securityhub:{region}::standards/cis-aws-foundations-benchmark/v/3.0.0",
    }


@dataclass(frozen=True, kw_only=True)
class SecurityArgs(InContext):
    settings: SecuritySettings
    callback_urls: list[str]  # the internal user pool's ALB client: one per internal host (PlatformSettings.callback_urls)


class Security(pulumi.ComponentResource):
    detector: aws.guardduty.Detector
    findings_topic: aws.sns.Topic
    access_log_bucket: SecureBucket
    audit: Audit
    identity: Identity
    operator_access: OperatorAccess
    internal_auth: InternalAuth
    exec_logging: ExecLogging

    def __init__(self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:security:Security", name, None, opts)
        self._args = args
        env, account = args.env, args.account_id

        def s3_logging_writes(bucket_arn: str) -> list[dict]:
            return [
                {
                    "Sid": "S3ServerAccessLogsOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket_arn}/*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
            ]

        # S3 server access logs can only be delivered to an SSE-S3 bucket, hence no KMS key here.
        self.access_log_bucket = secure_bucket(
            f"{env}-access-logs", parent=self, kms_key_arn=None, protect=args.protect, statements=s3_logging_writes
        )
        access_logs = self.access_log_bucket.id

        self._threat_detection()
        recorder_status = self._config(access_logs)
        self._security_hub(recorder_status)
        self._account_defaults()

        s = args.settings
        self.audit = Audit(
            f"{env}-audit",
            AuditArgs(context=args.context, settings=s, access_log_bucket=access_logs),
            pulumi.ResourceOptions(parent=self),
        )
        self.identity = Identity(
            f"{env}-identity",
            IdentityArgs(context=args.context, settings=s, callback_urls=args.callback_urls),
            pulumi.ResourceOptions(parent=self),
        )
        self.operator_access = OperatorAccess(
            f"{env}-operator-access",
            OperatorAccessArgs(context=args.context, access_log_bucket=access_logs, retention_days=s.session_log_retention_days),
            pulumi.ResourceOptions(parent=self),
        )
        self.internal_auth = self.identity.internal_auth
        self.exec_logging = self.operator_access.exec_logging
        self.register_outputs(
            {
                "detectorId": self.detector.id,
                "findingsTopicArn": self.findings_topic.arn,
                "accessLogBucket": access_logs,
                "userPoolArn": self.identity.user_pool.arn,
            }
        )

    def outputs(self) -> dict[str, object]:
        """The stack outputs of the security baseline."""
        return {"securityFindingsTopicArn": self.findings_topic.arn, "operatorPolicyArn": self.operator_access.operator_policy.arn}

    def _threat_detection(self) -> None:
        a = self._args
        env = a.env
        child = pulumi.ResourceOptions(parent=self)
        self.detector = aws.guardduty.Detector(f"{env}-guardduty", enable=True, finding_publishing_frequency="FIFTEEN_MINUTES", opts=child)
        for feature in GUARDDUTY_FEATURES:
            extra = (
                # GuardDuty manages the runtime agent as a sidecar of every Fargate task: no task definition changes.
                [aws.guardduty.DetectorFeatureAdditionalConfigurationArgs(name="ECS_FARGATE_AGENT_MANAGEMENT", status="ENABLED")]
                if feature == "RUNTIME_MONITORING"
                else None
            )
            aws.guardduty.DetectorFeature(
                f"{env}-guardduty-{feature.lower().replace('_', '-')}",
                detector_id=self.detector.id,
                name=feature,
                status="ENABLED",
                additional_configurations=extra,
                opts=child,
            )
        self.findings_topic = aws.sns.Topic(f"{env}-security-findings", kms_master_key_id=a.logs_key_arn, opts=child)
        rule = aws.cloudwatch.EventRule(
            f"{env}-guardduty-findings",
            description=f"GuardDuty findings of severity {a.settings.finding_severity:g} and above",
            event_pattern=json.dumps(
                {
                    "source": ["aws.guardduty"],
                    "detail-type": ["GuardDuty Finding"],
                    "detail": {"severity": [{"numeric": [">=", a.settings.finding_severity]}]},
                }
            ),
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{env}-security-findings-policy",
            arn=self.findings_topic.arn,
            policy=pulumi.Output.all(self.findings_topic.arn, rule.arn).apply(
                lambda values: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "FindingsRulePublishes",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Resource": values[0],
                                "Condition": {"ArnEquals": {"aws:SourceArn": values[1]}},
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(f"{env}-guardduty-findings-to-sns", rule=rule.name, arn=self.findings_topic.arn, opts=child)

        aws.inspector2.Enabler(f"{env}-inspector", account_ids=[a.account_id], resource_types=["ECR"], opts=child)
        aws.ecr.RegistryScanningConfiguration(
            f"{env}-ecr-enhanced-scanning",
            scan_type="ENHANCED",
            rules=[
                aws.ecr.RegistryScanningConfigurationRuleArgs(
                    scan_frequency="CONTINUOUS_SCAN",
                    repository_filters=[aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(filter="*", filter_type="WILDCARD")],
                )
            ],
            opts=child,
        )

    def _config(self, access_logs: pulumi.Input[str]) -> aws.cfg.RecorderStatus:
        a = self._args
        env, account = a.env, a.account_id
        child = pulumi.ResourceOptions(parent=self)
        bucket = secure_bucket(f"{env}-config", parent=self, kms_key_arn=a.logs_key_arn, protect=a.protect, access_log_bucket=access_logs)
        role = aws.iam.Role(
            f"{env}-config-role",
            assume_role_policy=trust_policy("config.amazonaws.com", {"StringEquals": {"aws:SourceAccount": account}}),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{env}-config-role-read", role=role.name, policy_arn="arn:aws:iam::aws:policy/service-role/AWS_ConfigRole", opts=child
        )
        delivery = aws.iam.RolePolicy(
            f"{env}-config-role-deliver",
            role=role.id,
            policy=pulumi.Output.all(bucket.arn, a.logs_key_arn).apply(
                lambda values: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "s3:GetBucketAcl", "Resource": values[0]},
                            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{values[0]}/AWSLogs/{account}/Config/*"},
                            {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": values[1]},
                        ],
                    }
                )
            ),
            opts=child,
        )
        recorder = aws.cfg.Recorder(
            f"{env}-config-recorder",
            name=f"kanna-{env}",
            role_arn=role.arn,
            recording_group=aws.cfg.RecorderRecordingGroupArgs(all_supported=True, include_global_resource_types=True),
            opts=child,
        )
        channel = aws.cfg.DeliveryChannel(
            f"{env}-config-delivery",
            name=f"kanna-{env}",
            s3_bucket_name=bucket.id,
            s3_kms_key_arn=a.logs_key_arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[recorder, delivery, bucket.policy]),
        )
        return aws.cfg.RecorderStatus(
            f"{env}-config-recording",
            name=recorder.name,
            is_enabled=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[channel]),
        )

    def _security_hub(self, recorder_status: aws.cfg.RecorderStatus) -> None:
        env = self._args.env
        account = aws.securityhub.Account(
            f"{env}-security-hub",
            enable_default_standards=False,  # exactly the standards below, no surprises
            auto_enable_controls=True,
            control_finding_generator="SECURITY_CONTROL",
            # Security Hub's controls read the Config recorder: record first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[recorder_status]),
        )
        for short, arn in standards(self._args.region).items():
            aws.securityhub.StandardsSubscription(
                f"{env}-security-hub-{short}", standards_arn=arn, opts=pulumi.ResourceOptions(parent=self, depends_on=[account])
            )

    def _account_defaults(self) -> None:
        a = self._args
        child = pulumi.ResourceOptions(parent=self)
        aws.s3.AccountPublicAccessBlock(
            f"{a.env}-s3-account-public-access-block",
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.ebs.EncryptionByDefault(f"{a.env}-ebs-encryption-by-default", enabled=True, opts=child)
        aws.ebs.DefaultKmsKey(f"{a.env}-ebs-default-key", key_arn=a.data_key_arn, opts=child)
        aws.iam.AccountPasswordPolicy(
            f"{a.env}-password-policy",
            minimum_password_length=14,
            require_lowercase_characters=True,
            require_uppercase_characters=True,
            require_numbers=True,
            require_symbols=True,
            password_reuse_prevention=24,
            max_password_age=90,
            allow_users_to_change_password=True,
            opts=child,
        )
