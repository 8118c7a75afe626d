"""The edge: web ACLs on every public entry point, what those ACLs must block, and listener and ingress hygiene.

Load balancers, distributions, ACLs, associations and logging configurations are related through
property dependencies (association.resourceArn -> load balancer, distribution.webAclId -> ACL), so the
stack checks hold in a first preview, when no ARN is known yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, StackIndex, defer, get, items, resource_policy, stack_policy

LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
ALB_ALIAS = "aws:alb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
ALB_LISTENER = "aws:alb/listener:Listener"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"

SQLI_GROUP = "AWSManagedRulesSQLiRuleSet"
XSS_GROUP = "AWSManagedRulesCommonRuleSet"  # its CrossSiteScripting_* rules are the XSS protection
XSS_RULE_PREFIX = "CrossSiteScripting_"
WORLD = ("0.0.0.0/0", "::/0")
PUBLIC_PORTS = (80, 443)
ALLOWED_TLS_POLICIES = [
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
]


# --- web ACLs on the entry points -------------------------------------------------------------------


def _internet_facing(balancer: PolicyResource) -> bool:
    kind = get(balancer.props, "loadBalancerType", default="application")
    return get(balancer.props, "internal", default=False) is not True and kind in ("application", UNKNOWN)


def _albs_have_acls(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    for balancer in index.of_type(LOAD_BALANCER, ALB_ALIAS):
        if not _internet_facing(balancer):
            continue
        associations = index.dependents(balancer, ASSOCIATION, "resourceArn")
        if not any(index.deps(a, "webAclArn", WEB_ACL) for a in associations):
            found.append((balancer, "is internet-facing and has no web ACL association (of an ACL in this stack)"))
    return found


def _distributions_have_acls(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    for distribution in index.of_type(DISTRIBUTION):
        acls = index.deps(distribution, "webAclId", WEB_ACL)
        if not acls:
            found.append((distribution, "has no web ACL of this stack (webAclId)"))
        for acl in acls:
            if get(acl.props, "scope") not in ("CLOUDFRONT", UNKNOWN):
                found.append((distribution, f"uses web ACL '{acl.name}', whose scope is not CLOUDFRONT"))
    return found


def _acls_are_logged(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    return [(acl, "has no logging configuration") for acl in index.of_type(WEB_ACL) if not index.dependents(acl, LOGGING, "resourceArn")]


# --- what an ACL blocks -------------------------------------------------------------------------------


def _rules(args: ResourceValidationArgs) -> list[Any]:
    rules = items(args.props, "rules")
    if UNKNOWN in rules:
        defer("rules")
    return rules


def _counts(action: Any) -> bool:
    """True when an action or override is `count` (or `allow`): the rule only observes, it doesn't block."""
    if action is UNKNOWN:
        defer("rule action")
    return get(action, "count") is not None or get(action, "allow") is not None


def _managed_group_blocks(rule: Any, group: str, overridden: str | None) -> bool:
    """The rule runs the AWS managed `group`, not overridden to count, with none of its `overridden*` rules counting."""
    statement = get(rule, "statement", "managedRuleGroupStatement")
    if statement is UNKNOWN or get(statement, "name") is UNKNOWN:
        defer("statement.managedRuleGroupStatement")
    if statement is None or get(statement, "name") != group or get(statement, "vendorName") != "AWS":
        return False
    if _counts(get(rule, "overrideAction", default={})):
        return False
    for override in items(statement, "ruleActionOverrides"):
        name = get(override, "name")
        if (overridden is None or str(name).startswith(overridden)) and _counts(get(override, "actionToUse", default={})):
            return False
    return True


def _custom_rule_blocks(rule: Any, statement_kind: str) -> bool:
    return get(rule, "statement", statement_kind) is not None and get(rule, "action", "block") is not None


def _blocks_sqli(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    rules = _rules(args)
    if any(_managed_group_blocks(r, SQLI_GROUP, None) or _custom_rule_blocks(r, "sqliMatchStatement") for r in rules):
        return []
    return [f"does not block SQL injection ({SQLI_GROUP} missing, or overridden to count)"]


def _blocks_xss(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    rules = _rules(args)
    if any(_managed_group_blocks(r, XSS_GROUP, XSS_RULE_PREFIX) or _custom_rule_blocks(r, "xssMatchStatement") for r in rules):
        return []
    return [f"does not block cross-site scripting ({XSS_GROUP} missing, or it or its {XSS_RULE_PREFIX}* rules overridden to count)"]


def _rate_limited(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    for rule in _rules(args):
        if get(rule, "statement", "rateBasedStatement") is not None and get(rule, "action", "block") is not None:
            return []
    return ["has no blocking rate-based rule"]


# --- listeners -----------------------------------------------------------------------------------------


def _http_redirects(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    protocol = get(args.props, "protocol")
    if protocol is UNKNOWN:
        defer("protocol")
    if protocol != "HTTP":
        return []
    problems = []
    for action in items(args.props, "defaultActions"):
        if action is UNKNOWN or get(action, "type") is UNKNOWN:
            defer("defaultActions")
        if get(action, "type") != "redirect" or get(action, "redirect", "protocol") != "HTTPS":
            problems.append(f"is an HTTP listener whose default action is {get(action, 'type')}, not a redirect to HTTPS")
    return problems


def _tls_policy(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    protocol = get(args.props, "protocol")
    if protocol is UNKNOWN:
        defer("protocol")
    if protocol != "HTTPS":
        return []
    policy = get(args.props, "sslPolicy")
    if policy is UNKNOWN:
        defer("sslPolicy")
    allowed = list(config.get("allowedPolicies", ALLOWED_TLS_POLICIES))
    if policy not in allowed:
        return [f"uses TLS policy {policy or 'ELBSecurityPolicy-2016-08 (the default)'}, allowed: {', '.join(allowed)}"]
    return []


# --- world ingress -------------------------------------------------------------------------------------


def _public_alb_group(index: StackIndex, group: PolicyResource) -> bool:
    return any(
        _internet_facing(b)
        for b in index.dependents(group, LOAD_BALANCER, "securityGroups") + index.dependents(group, ALB_ALIAS, "securityGroups")
    )


def _web_port(rule: Any, protocol_key: str) -> bool:
    protocol = str(get(rule, protocol_key, default=""))
    return protocol in ("tcp", "6") and get(rule, "fromPort") == get(rule, "toPort") and get(rule, "fromPort") in PUBLIC_PORTS


def _no_world_ingress(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []

    def judge(owner: PolicyResource, group: PolicyResource | None, cidrs: list[Any], rule: Any, protocol_key: str) -> None:
        world = [c for c in cidrs if c in WORLD]
        if not world:
            return
        if group is not None and _web_port(rule, protocol_key) and _public_alb_group(index, group):
            return
        ports = f"{get(rule, 'fromPort')}-{get(rule, 'toPort')}/{get(rule, protocol_key)}"
        found.append((owner, f"allows ingress from {', '.join(world)} on {ports}; only the public ALB's group may, and only on 80/443"))

    for group in index.of_type(SECURITY_GROUP):
        for rule in items(group.props, "ingress"):
            if rule is UNKNOWN:
                continue
            judge(group, group, [*items(rule, "cidrBlocks"), *items(rule, "ipv6CidrBlocks")], rule, "protocol")
    for rule in index.of_type(INGRESS_RULE):
        groups = index.deps(rule, "securityGroupId", SECURITY_GROUP)
        judge(rule, groups[0] if groups else None, [get(rule.props, "cidrIpv4"), get(rule.props, "cidrIpv6")], rule.props, "ipProtocol")
    for rule in index.of_type(SG_RULE):
        if get(rule.props, "type") != "ingress":
            continue
        groups = index.deps(rule, "securityGroupId", SECURITY_GROUP)
        judge(
            rule,
            groups[0] if groups else None,
            [*items(rule.props, "cidrBlocks"), *items(rule.props, "ipv6CidrBlocks")],
            rule.props,
            "protocol",
        )
    return found


POLICIES = [
    stack_policy(
        "alb-web-acl",
        "Every internet-facing ALB has a web ACL association.",
        _albs_have_acls,
        "associate the load balancer with the REGIONAL web ACL (wafv2.WebAclAssociation resource_arn=alb.arn)",
        id="KANNA-EDGE-001",
    ),
    stack_policy(
        "cloudfront-web-acl",
        "Every CloudFront distribution has a CLOUDFRONT-scope web ACL of this stack.",
        _distributions_have_acls,
        "set web_acl_id to the CLOUDFRONT web ACL's arn (created through the us-east-1 provider)",
        id="KANNA-EDGE-002",
        controls=("AWS FSBP CloudFront.6",),
    ),
    resource_policy(
        "waf-blocks-sqli",
        "Web ACLs block SQL injection: the AWS SQLi managed group, not overridden to count.",
        [WEB_ACL],
        _blocks_sqli,
        f"add {SQLI_GROUP} with override_action none and no rule_action_overrides to count",
        id="KANNA-EDGE-003",
    ),
    resource_policy(
        "waf-blocks-xss",
        "Web ACLs block cross-site scripting: the AWS common managed group, with its XSS rules not overridden to count.",
        [WEB_ACL],
        _blocks_xss,
        f"add {XSS_GROUP} with override_action none and no {XSS_RULE_PREFIX}* rule overridden to count",
        id="KANNA-EDGE-004",
    ),
    resource_policy(
        "waf-rate-limit",
        "Web ACLs have a blocking rate-based rule.",
        [WEB_ACL],
        _rate_limited,
        "add a rule with a rate_based_statement (aggregate by IP) and action block",
        id="KANNA-EDGE-005",
    ),
    stack_policy(
        "waf-logging",
        "Every web ACL has a logging configuration.",
        _acls_are_logged,
        "add a wafv2.WebAclLoggingConfiguration for the ACL, to an aws-waf-logs-* log group, redacting authorization and cookie",
        id="KANNA-EDGE-006",
        controls=("AWS FSBP WAF.11",),
    ),
    resource_policy(
        "alb-http-redirects-only",
        "HTTP listeners only redirect to HTTPS.",
        [LISTENER, ALB_LISTENER],
        _http_redirects,
        "make the HTTP listener's default action a redirect with protocol HTTPS, port 443, HTTP_301",
        id="KANNA-EDGE-007",
        controls=("AWS FSBP ELB.1",),
    ),
    resource_policy(
        "alb-https-tls-policy",
        "HTTPS listeners use a TLS 1.2+/1.3 security policy from the allowed list.",
        [LISTENER, ALB_LISTENER],
        _tls_policy,
        "set ssl_policy to ELBSecurityPolicy-TLS13-1-2-2021-06 (or another allowed policy)",
        PolicyConfigSchema(properties={"allowedPolicies": {"type": "array", "items": {"type": "string"}, "default": ALLOWED_TLS_POLICIES}}),
        id="KANNA-EDGE-008",
        controls=("AWS FSBP ELB.17",),
    ),
    stack_policy(
        "no-world-ingress",
        "No security group admits 0.0.0.0/0 or ::/0, except 80/443 on an internet-facing ALB's group.",
        _no_world_ingress,
        "admit a security group or a managed prefix list (CloudFront's for the ALB) instead of the whole internet",
        id="KANNA-NET-005",
        controls=("AWS FSBP EC2.18", "AWS FSBP EC2.19"),
    ),
]
