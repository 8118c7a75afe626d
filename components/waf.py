"""The two web ACLs in front of the product: CLOUDFRONT scope on the distribution, REGIONAL on the ALB.

Both block with the same AWS managed rule groups (common rules including XSS, SQL injection, known bad
inputs, IP reputation) and a per-IP rate limit. The ALB's ACL is not redundant: it judges what reaches
the ALB with the headers CloudFront added, and the calls between services, which take the ALB too.
Both log to CloudWatch with the Authorization and Cookie headers redacted, so logs never hold credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

MANAGED_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
REDACTED_HEADERS = ("authorization", "cookie")


@dataclass(frozen=True)
class WafArgs:
    env: str
    rate_limit: int
    log_retention_days: int
    logs_key_arn: pulumi.Input[str]
    global_provider: aws.Provider  # us-east-1: where CLOUDFRONT-scope ACLs and their logs live
    protect: bool


class Waf(pulumi.ComponentResource):
    regional_acl: aws.wafv2.WebAcl
    cloudfront_acl: aws.wafv2.WebAcl

    def __init__(self, name: str, args: WafArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:edge:Waf", name, None, opts)
        self._args = args
        self.regional_acl = self._acl("alb", "REGIONAL", args.logs_key_arn, None)
        # The logs key lives in ap-northeast-1 and KMS keys don't cross regions: the us-east-1 group uses
        # CloudWatch's own encryption. Its content is redacted of credentials, like the regional one.
        self.cloudfront_acl = self._acl("cloudfront", "CLOUDFRONT", None, args.global_provider)
        self.register_outputs({"regionalAclArn": self.regional_acl.arn, "cloudfrontAclArn": self.cloudfront_acl.arn})

    def _rate(self, scope: str) -> aws.wafv2.WebAclRuleStatementRateBasedStatementArgs:
        """Per viewer IP. The ALB sees CloudFront's VPC-origin addresses and the calling tasks, never a viewer: its ACL
        counts the viewer address CloudFront puts in X-Forwarded-For, and lets calls between services (no such
        header) through uncounted (NO_MATCH), instead of throttling every viewer behind a handful of addresses."""
        if scope == "CLOUDFRONT":
            return aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                limit=self._args.rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
            )
        return aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
            limit=self._args.rate_limit,
            aggregate_key_type="FORWARDED_IP",
            forwarded_ip_config=aws.wafv2.WebAclRuleStatementRateBasedStatementForwardedIpConfigArgs(
                header_name="X-Forwarded-For", fallback_behavior="NO_MATCH"
            ),
            evaluation_window_sec=300,
        )

    def _acl(self, purpose: str, scope: str, key_arn: pulumi.Input[str] | None, provider: aws.Provider | None) -> aws.wafv2.WebAcl:
        env = self._args.env
        name = f"{env}-{purpose}-waf"
        opts = pulumi.ResourceOptions(parent=self, provider=provider)

        def visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
            return aws.wafv2.WebAclVisibilityConfigArgs(cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True)

        def rule_visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
            return aws.wafv2.WebAclRuleVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
            )

        rules = [
            aws.wafv2.WebAclRuleArgs(
                name="rate-limit",
                priority=0,
                action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                statement=aws.wafv2.WebAclRuleStatementArgs(rate_based_statement=self._rate(scope)),
                visibility_config=rule_visibility(f"{name}-rate-limit"),
            )
        ]
        for priority, group in enumerate(MANAGED_GROUPS, start=1):
            rules.append(
                aws.wafv2.WebAclRuleArgs(
                    name=group,
                    priority=priority,
                    # `none` keeps the group's own block actions; `count` would only observe.
                    override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                            name=group, vendor_name="AWS"
                        )
                    ),
                    visibility_config=rule_visibility(f"{name}-{group}"),
                )
            )
        acl = aws.wafv2.WebAcl(
            name,
            scope=scope,
            description=f"kanna {env} {purpose}: managed rules and a rate limit, blocking",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=rules,
            visibility_config=visibility(name),
            opts=opts,
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"aws-waf-logs-kanna-{env}-{purpose}",  # WAF only delivers to groups named aws-waf-logs-*
            retention_in_days=self._args.log_retention_days,
            kms_key_id=key_arn,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=self._args.protect)),
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=acl.arn,
            log_destination_configs=[group.arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header)
                )
                for header in REDACTED_HEADERS
            ],
            opts=opts,
        )
        return acl
