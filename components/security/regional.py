"""The regional baseline: what AWS keeps once per account *and region*, so each workload stack holds its region's.

- GuardDuty, with S3 data events, RDS login events, runtime monitoring (agent managed on Fargate) and EBS malware
  protection: "only one detector per account per Region", created in each Region
  (https://docs.aws.amazon.com/guardduty/latest/APIReference/API_CreateDetector.html).
  Findings at or above `security.findingSeverity` go through EventBridge to a KMS-encrypted SNS topic.
- Inspector scans ECR images (enhanced, continuous): the registry's scanning configuration is per region
  (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-enhanced.html).
- AWS Config records to an encrypted bucket; a recorder is per region, and global resource types (IAM) are
  recorded in the account's home region only, or every region would repeat each IAM change
  (https://docs.aws.amazon.com/config/latest/developerguide/select-resources.html).
- Security Hub runs AWS Foundational Security Best Practices and CIS on top of Config; a change of its settings
  "is applied only to that Region" (https://docs.aws.amazon.com/securityhub/1.0/APIReference/Welcome.html).
- EBS encryption by default with the data key: a setting "for your account in the current Region"
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableEbsEncryptionByDefault.html).
What AWS keeps once per account (the password policy, S3's account public access block, the multi-region trail,
the Datadog integration) is the account baseline's (account/). These resources were children of the security
component until issue 17: each carries an alias to the URN it had there (`moved_from`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.buckets import secure_bucket
from components.lib.context import Context, InContext
from components.lib.iam import trust_policy
from components.security.security import Security
from settings import SecuritySettings, Settings

GUARDDUTY_FEATURES = ("S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "RUNTIME_MONITORING", "EBS_MALWARE_PROTECTION")


def standards(region: str) -> dict[str, str]:
    return {
        "fsbp": f"arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0",
        "cis": f"arn:aws:securityhub:{region}::standards/cis-aws-foundations-benchmark/v/3.0.0",
    }


@dataclass(frozen=True, kw_only=True)
class RegionalBaselineArgs(InContext):
    settings: SecuritySettings
    home: bool  # the account's home region: its recorder records the global resource types
    access_log_bucket: pulumi.Input[str]
    # The component these resources were children of (issue 17): aliased to it until every stack has run an `up`.
    moved_from: pulumi.Resource | None = None

    @staticmethod
    def of(context: Context, settings: Settings, security: Security) -> RegionalBaselineArgs:
        """The stack's regional baseline, its resources moved out of `security` (issue 17)."""
        return RegionalBaselineArgs(
            context=context,
            settings=settings.security,
            home=settings.home,
            access_log_bucket=security.access_log_bucket.id,
            moved_from=security,
        )


class RegionalBaseline(pulumi.ComponentResource):
    detector: aws.guardduty.Detector
    findings_topic: aws.sns.Topic
    recorder: aws.cfg.Recorder
    security_hub: aws.securityhub.Account

    def __init__(self, name: str, args: RegionalBaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:security:RegionalBaseline", name, None, opts)
        self._args = args
        self._moved_aliases: list[pulumi.Alias] | None = [pulumi.Alias(parent=args.moved_from)] if args.moved_from is not None else None
        self._threat_detection()
        recorder_status = self._config()
        self._security_hub(recorder_status)
        aws.ebs.EncryptionByDefault(f"{args.env}-ebs-encryption-by-default", enabled=True, opts=self._child())
        aws.ebs.DefaultKmsKey(f"{args.env}-ebs-default-key", key_arn=args.data_key_arn, opts=self._child())
        self.register_outputs({"detectorId": self.detector.id, "findingsTopicArn": self.findings_topic.arn})

    def outputs(self) -> dict[str, object]:
        """The stack outputs of the regional baseline."""
        return {"securityFindingsTopicArn": self.findings_topic.arn}

    def _child(self, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, aliases=self._moved_aliases, depends_on=depends_on)

    def _threat_detection(self) -> None:
        a = self._args
        env = a.env
        self.detector = aws.guardduty.Detector(
            f"{env}-guardduty", enable=True, finding_publishing_frequency="FIFTEEN_MINUTES", opts=self._child()
        )
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
                opts=self._child(),
            )
        self.findings_topic = aws.sns.Topic(f"{env}-security-findings", kms_master_key_id=a.logs_key_arn, opts=self._child())
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
            opts=self._child(),
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
            opts=self._child(),
        )
        aws.cloudwatch.EventTarget(f"{env}-guardduty-findings-to-sns", rule=rule.name, arn=self.findings_topic.arn, opts=self._child())

        aws.inspector2.Enabler(f"{env}-inspector", account_ids=[a.account_id], resource_types=["ECR"], opts=self._child())
        aws.ecr.RegistryScanningConfiguration(
            f"{env}-ecr-enhanced-scanning",
            scan_type="ENHANCED",
            rules=[
                aws.ecr.RegistryScanningConfigurationRuleArgs(
                    scan_frequency="CONTINUOUS_SCAN",
                    repository_filters=[aws.ecr.RegistryScanningConfigurationRuleRepositoryFilterArgs(filter="*", filter_type="WILDCARD")],
                )
            ],
            opts=self._child(),
        )

    def _config(self) -> aws.cfg.RecorderStatus:
        a = self._args
        env, account = a.env, a.account_id
        bucket = secure_bucket(
            f"{env}-config",
            parent=self,
            kms_key_arn=a.logs_key_arn,
            protect=a.protect,
            access_log_bucket=a.access_log_bucket,
            aliases=self._moved_aliases,
        )
        role = aws.iam.Role(
            f"{env}-config-role",
            assume_role_policy=trust_policy("config.amazonaws.com", {"StringEquals": {"aws:SourceAccount": account}}),
            opts=self._child(),
        )
        aws.iam.RolePolicyAttachment(
            f"{env}-config-role-read", role=role.name, policy_arn="arn:aws:iam::aws:policy/service-role/AWS_ConfigRole", opts=self._child()
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
            opts=self._child(),
        )
        self.recorder = aws.cfg.Recorder(
            f"{env}-config-recorder",
            name=f"kanna-{env}",
            role_arn=role.arn,
            recording_group=aws.cfg.RecorderRecordingGroupArgs(all_supported=True, include_global_resource_types=a.home),
            opts=self._child(),
        )
        channel = aws.cfg.DeliveryChannel(
            f"{env}-config-delivery",
            name=f"kanna-{env}",
            s3_bucket_name=bucket.id,
            s3_kms_key_arn=a.logs_key_arn,
            opts=self._child(depends_on=[self.recorder, delivery, bucket.policy]),
        )
        return aws.cfg.RecorderStatus(
            f"{env}-config-recording", name=self.recorder.name, is_enabled=True, opts=self._child(depends_on=[channel])
        )

    def _security_hub(self, recorder_status: aws.cfg.RecorderStatus) -> None:
        env = self._args.env
        self.security_hub = aws.securityhub.Account(
            f"{env}-security-hub",
            enable_default_standards=False,  # exactly the standards below, no surprises
            auto_enable_controls=True,
            control_finding_generator="SECURITY_CONTROL",
            # Security Hub's controls read the Config recorder: record first.
            opts=self._child(depends_on=[recorder_status]),
        )
        for short, arn in standards(self._args.region).items():
            aws.securityhub.StandardsSubscription(
                f"{env}-security-hub-{short}", standards_arn=arn, opts=self._child(depends_on=[self.security_hub])
            )
