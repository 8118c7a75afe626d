"""The two web ACLs in front of the product: CLOUDFRONT scope on the distribution, REGIONAL on the ALB.

Both block with the same AWS managed rule groups (common rules including XSS, SQL injection, known bad
inputs, IP reputation) and a per-IP rate limit. The ALB's ACL is not redundant: it judges what reaches
the ALB with the headers CloudFront added, and the calls between services, which take the ALB too.
Both log to CloudWatch with the Authorization and Cookie headers redacted, so logs never hold credentials.

Request bodies over 8 KB: the common rule set's SizeRestrictions_BODY blocks them, and this product uploads
photos. That one rule counts instead, which still labels the request, and our own rule after the group
blocks a labelled request unless its path is an upload path of the catalog (`uploadPaths`)
(https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html,
https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-label-match-examples.html). Everything else in
the groups keeps blocking, SQL injection and XSS in bodies included, also on upload paths. WAF inspects only
the first part of a body (8 KB behind an ALB; 16 KB by default on CloudFront, up to 64 KB with
`association_config`, https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-setting-body-inspection-limit.html):
the SQLi/XSS body rules judge that part of an upload, and the label rule reads no body, so it needs no
`oversize_handling`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.context import InContext

SIZE_GROUP = "AWSManagedRulesCommonRuleSet"
MANAGED_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
REDACTED_HEADERS = ("authorization", "cookie")
SIZE_RULE = "SizeRestrictions_BODY"  # in AWSManagedRulesCommonRuleSet: bodies over 8 KB
SIZE_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"  # the label it adds, also when it only counts


@dataclass(frozen=True, kw_only=True)
class WafArgs(InContext):
    rate_limit: int
    log_retention_days: int
    global_provider: aws.Provider  # us-east-1: where CLOUDFRONT-scope ACLs and their logs live
    upload_paths: list[str]  # path prefixes where bodies over 8 KB are expected (PlatformSettings.upload_paths)
    cloudfront: bool = True  # False on a standby, which has no distribution of its own (docs/disaster-recovery.md)


class Waf(pulumi.ComponentResource):
    regional_acl: aws.wafv2.WebAcl
    cloudfront_acl: aws.wafv2.WebAcl | None

    def __init__(self, name: str, args: WafArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:edge:Waf", name, None, opts)
        self._args = args
        self.regional_acl = self._acl("alb", "REGIONAL", args.logs_key_arn, None)
        # The logs key lives in ap-northeast-1 and KMS keys don't cross regions: the us-east-1 group uses
        # CloudWatch's own encryption. Its content is redacted of credentials, like the regional one.
        self.cloudfront_acl = self._acl("cloudfront", "CLOUDFRONT", None, args.global_provider) if args.cloudfront else None
        cloudfront_arn = self.cloudfront_acl.arn if self.cloudfront_acl else None
        self.register_outputs({"regionalAclArn": self.regional_acl.arn, "cloudfrontAclArn": cloudfront_arn})

    def _rate(self, scope: str) -> aws.wafv2.WebAclRuleStatementRateBasedStatementArgs:
        """Per viewer IP. The ALB sees CloudFront's VPC-origin addresses and the calling tasks, never a viewer: its ACL
        counts the viewer address CloudFront puts in X-Forwarded-For, and lets calls between services (no such
        header) through uncounted (NO_MATCH), instead of throttling every viewer behind a handful of addresses.
        Best effort only: WAF reads the header's first address, and CloudFront appends the viewer's after whatever
        the client sent, so a client that forges the header evades this rule. The CloudFront ACL's rule, on the
        real connection address, is the limit that holds."""
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
                            name=group, vendor_name="AWS", rule_action_overrides=_size_rule_counts() if group == SIZE_GROUP else None
                        )
                    ),
                    visibility_config=rule_visibility(f"{name}-{group}"),
                )
            )
        # After the common group, whose label it reads: labels are visible only to rules evaluated later.
        rules.append(
            aws.wafv2.WebAclRuleArgs(
                name="oversized-body-outside-uploads",
                priority=len(MANAGED_GROUPS) + 1,
                action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                statement=_oversized_outside(self._args.upload_paths),
                visibility_config=rule_visibility(f"{name}-oversized-body"),
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


def _size_rule_counts() -> list[aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs]:
    override = aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs
    action = aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs
    counts = aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs
    return [override(name=SIZE_RULE, action_to_use=action(count=counts()))]


def _oversized_outside(upload_paths: list[str]) -> aws.wafv2.WebAclRuleStatementArgs:
    """Labelled oversized by the common group, and (when the catalog has upload paths) not on one of them."""
    statement = aws.wafv2.WebAclRuleStatementArgs
    labelled = statement(label_match_statement=aws.wafv2.WebAclRuleStatementLabelMatchStatementArgs(scope="LABEL", key=SIZE_LABEL))
    if not upload_paths:
        return labelled
    regex = aws.wafv2.WebAclRuleStatementRegexMatchStatementArgs(
        # One regex for every prefix: one statement, whatever the catalog's count (settings keep the paths plain).
        regex_string="^(" + "|".join(re.escape(path) for path in upload_paths) + ")",
        field_to_match=aws.wafv2.WebAclRuleStatementRegexMatchStatementFieldToMatchArgs(
            uri_path=aws.wafv2.WebAclRuleStatementRegexMatchStatementFieldToMatchUriPathArgs()
        ),
        text_transformations=[aws.wafv2.WebAclRuleStatementRegexMatchStatementTextTransformationArgs(priority=0, type="NONE")],
    )
    uploads = statement(not_statement=aws.wafv2.WebAclRuleStatementNotStatementArgs(statement=statement(regex_match_statement=regex)))
    return statement(and_statement=aws.wafv2.WebAclRuleStatementAndStatementArgs(statements=[labelled, uploads]))
