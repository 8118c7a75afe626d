"""The Datadog AWS integration of one AWS account: its IAM role, the external id, and what it collects.

Datadog keeps one integration per AWS account (an integration config is found by its AWS account id:
https://www.pulumi.com/registry/packages/datadog/api-docs/aws/getintegrationaccount/), so it lives in the
account baseline (account/) and collects every region the account's stacks run in, plus us-east-1 (CloudFront,
the global WAF).
- The role trusts only the Datadog site's AWS account (settings/observability.py DATADOG_AWS_ACCOUNTS) with this
  integration's external id, and holds a read-only policy plus the few writes log autosubscription needs, on the
  account's `kanna-<env>-` buckets and log groups only.
- Logs: ALB, CloudFront and WAF write their logs to S3; Datadog subscribes each region's Forwarder Lambda to
  those buckets (`logs_config.lambda_forwarder`).
These resources were children of a workload stack's observability component until issue 17; `pulumi state move`
(preflight/moves.py) put them under the account stack's root, so each carries an alias to that URN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_datadog as datadog

from components.lib.buckets import bucket_prefix
from components.lib.context import Scope
from settings.observability import ObservabilitySettings

# The CloudWatch namespaces of what the platform runs; everything else stays uncollected (GetMetricData costs).
METRIC_NAMESPACES = [
    "AWS/ApplicationELB",
    "AWS/ECS",
    "AWS/RDS",
    "AWS/ElastiCache",
    "AWS/CloudFront",
    "AWS/WAFV2",
    "AWS/NATGateway",
    "AWS/Lambda",
    "AWS/S3",
]

# Read-only, plus what log autosubscription writes: bucket notifications and the forwarder's invoke permission.
INTEGRATION_READ_ACTIONS = [
    "apigateway:GET",
    "autoscaling:Describe*",
    "cloudfront:GetDistributionConfig",
    "cloudfront:ListDistributions",
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:LookupEvents",
    "cloudwatch:Describe*",
    "cloudwatch:Get*",
    "cloudwatch:List*",
    "codedeploy:BatchGet*",
    "codedeploy:List*",
    "ec2:Describe*",
    "ecs:Describe*",
    "ecs:List*",
    "elasticache:Describe*",
    "elasticache:List*",
    "elasticloadbalancing:Describe*",
    "guardduty:Get*",
    "guardduty:List*",
    "lambda:GetPolicy",
    "lambda:List*",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:DescribeSubscriptionFilters",
    "logs:FilterLogEvents",
    "logs:TestMetricFilter",
    "rds:Describe*",
    "rds:List*",
    "s3:GetBucketLocation",
    "s3:GetBucketLogging",
    "s3:GetBucketNotification",
    "s3:GetBucketTagging",
    "s3:ListAllMyBuckets",
    "tag:GetResources",
    "tag:GetTagKeys",
    "tag:GetTagValues",
    "wafv2:GetLoggingConfiguration",
    "wafv2:ListLoggingConfigurations",
    "xray:BatchGetTraces",
    "xray:GetTraceSummaries",
]
# The writes of log autosubscription ("Automatically set up triggers", docs.datadoghq.com/logs/guide/
# send-aws-services-logs-with-the-datadog-lambda-function/): Datadog points S3 event notifications and CloudWatch
# Logs subscription filters at the forwarder. They are scoped to this stack's resources (log_subscription_statements).
BUCKET_NOTIFICATION_ACTIONS = ["s3:PutBucketNotification"]
SUBSCRIPTION_FILTER_ACTIONS = ["logs:PutSubscriptionFilter", "logs:DeleteSubscriptionFilter"]


def log_subscription_statements(env: str, account_id: str, regions: list[str]) -> list[dict]:
    """Autosubscription's writes, on the stack's own buckets (every `secure_bucket` of the stack shares the
    `kanna-<env>-` prefix; the log buckets are among them) and the account's log groups in the collected regions,
    never on `*`: the role can't redirect another stack's or account's logs."""
    return [
        {
            "Sid": "LogAutosubscriptionBuckets",
            "Effect": "Allow",
            "Action": BUCKET_NOTIFICATION_ACTIONS,
            "Resource": f"arn:aws:s3:::{bucket_prefix(env)}*",
        },
        {
            "Sid": "LogAutosubscriptionLogGroups",
            "Effect": "Allow",
            "Action": SUBSCRIPTION_FILTER_ACTIONS,
            "Resource": [f"arn:aws:logs:{region}:{account_id}:log-group:*" for region in regions],
        },
    ]


@dataclass(frozen=True, kw_only=True)
class DatadogIntegrationArgs:
    scope: Scope  # the account's: its stack is the account's key (dev, prod), which names and the `env:` tag keep
    regions: list[str]  # the regions of the account's workload stacks (AccountSettings.regions), home first
    settings: ObservabilitySettings


class DatadogIntegration(pulumi.ComponentResource):
    external_id: datadog.aws.IntegrationExternalId
    role: aws.iam.Role
    integration: datadog.aws.IntegrationAccount

    def __init__(self, name: str, args: DatadogIntegrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:observability:DatadogIntegration", name, None, opts)
        env, account, s = args.scope.stack, args.scope.account_id, args.settings
        # Where `pulumi state move` left them (the root stack). Protected in prod: a new external id or role means
        # re-validating the integration in Datadog, with metrics lost meanwhile.
        moved = pulumi.ResourceOptions(parent=self, protect=args.scope.protect, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])
        self.external_id = datadog.aws.IntegrationExternalId(f"{env}-datadog-external-id", opts=moved)
        trust = self.external_id.id.apply(
            lambda external_id: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{s.datadog_aws_account}:root"},
                            "Action": "sts:AssumeRole",
                            # The external id stops another Datadog customer from pointing their integration at this role.
                            "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                        }
                    ],
                }
            )
        )
        self.role = aws.iam.Role(
            f"{env}-datadog-integration-role",
            name=integration_role_name(env),
            description="Assumed by Datadog's AWS integration: reads metrics, tags and resources",
            assume_role_policy=trust,
            max_session_duration=3600,
            opts=moved,
        )
        forwarders = list(dict.fromkeys(s.forwarder_arn(account, region) for region in args.regions))
        regions = [*args.regions, "us-east-1"]  # us-east-1 for CloudFront and the global WAF
        policy = aws.iam.RolePolicy(
            f"{env}-datadog-integration-policy",
            role=self.role.name,
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Sid": "ReadOnly", "Effect": "Allow", "Action": INTEGRATION_READ_ACTIONS, "Resource": "*"},
                        *log_subscription_statements(env, account, regions),
                        {
                            "Sid": "InvokeForwarderOnly",
                            "Effect": "Allow",
                            "Action": ["lambda:AddPermission", "lambda:RemovePermission"],
                            # One forwarder per region: S3 notifies only a function of its own bucket's region.
                            "Resource": forwarders[0] if len(forwarders) == 1 else forwarders,
                        },
                    ],
                }
            ),
            opts=moved,
        )
        # Resource collection (extended_collection) reads configuration through the managed, read-only SecurityAudit.
        audit = aws.iam.RolePolicyAttachment(
            f"{env}-datadog-integration-security-audit",
            role=self.role.name,
            policy_arn="arn:aws:iam::aws:policy/SecurityAudit",
            opts=moved,
        )
        self.integration = datadog.aws.IntegrationAccount(
            f"{env}-datadog-aws",
            aws_account_id=account,
            aws_partition="aws",
            account_tags=[f"env:{env}"],
            aws_regions=datadog.aws.IntegrationAccountAwsRegionsArgs(include_onlies=regions),
            auth_config=datadog.aws.IntegrationAccountAuthConfigArgs(
                aws_auth_config_role=datadog.aws.IntegrationAccountAuthConfigAwsAuthConfigRoleArgs(
                    role_name=self.role.name, external_id=self.external_id.id
                )
            ),
            metrics_config=datadog.aws.IntegrationAccountMetricsConfigArgs(
                namespace_filters=datadog.aws.IntegrationAccountMetricsConfigNamespaceFiltersArgs(include_onlies=METRIC_NAMESPACES),
                collect_cloudwatch_alarms=True,
            ),
            logs_config=datadog.aws.IntegrationAccountLogsConfigArgs(
                lambda_forwarder=datadog.aws.IntegrationAccountLogsConfigLambdaForwarderArgs(lambdas=forwarders, sources=s.log_sources)
            ),
            resources_config=datadog.aws.IntegrationAccountResourcesConfigArgs(extended_collection=True),
            # Datadog validates the role when the integration is created: it must be able to assume it by then.
            opts=pulumi.ResourceOptions.merge(moved, pulumi.ResourceOptions(depends_on=[policy, audit])),
        )
        self.register_outputs({"roleArn": self.role.arn, "integrationId": self.integration.id})


def integration_role_name(env: str) -> str:
    """The role's name, which the integration names too (authConfig.awsAuthConfigRole.roleName)."""
    return f"{env}-datadog-integration"
