"""The edge: web ACLs on every public entry point, what those ACLs must block everywhere, listener and CloudFront TLS,
and an ALB that only CloudFront reaches.

Load balancers, distributions, ACLs, associations and logging configurations are related through
property dependencies (association.resourceArn -> load balancer, distribution.webAclId -> ACL), so the
stack checks hold in a first preview, when no ARN is known yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, StackIndex, collect, defer, get, items, resource_policy, stack_policy, sure
from .network import VPC, Ingress, ingress_rules, network_of

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
BAD_INPUTS_GROUP = "AWSManagedRulesKnownBadInputsRuleSet"
IP_REPUTATION_GROUP = "AWSManagedRulesAmazonIpReputationList"
# CloudFront's origin-facing managed prefix list (com.amazonaws.global.cloudfront.origin-facing) has one id per
# region; ap-northeast-1's is pl-58a04531 (aws ec2 describe-managed-prefix-lists). Other regions: config.
CLOUDFRONT_PREFIX_LISTS = ["pl-58a04531"]
# Viewer security policies with TLS 1.2 or newer and no legacy ciphers (CloudFront developer guide, "Supported
# protocols and ciphers between viewers and CloudFront").
VIEWER_TLS_POLICIES = ["TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"]
VIEWER_HTTPS = ("redirect-to-https", "https-only")
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
        kind = get(balancer.props, "loadBalancerType", default="application")
        if kind not in ("application", UNKNOWN) or not index.serves_viewers(balancer):
            continue
        associations = index.dependents(balancer, ASSOCIATION, "resourceArn")
        if not any(index.deps(a, "webAclArn", WEB_ACL) for a in associations):
            found.append((balancer, "serves viewers (internet-facing or a CloudFront VPC origin) and has no web ACL association"))
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
# The design relies on these protections (components/edge/waf.py). Each must block for the whole request space: not
# overridden to count, no scope-down statement, and no allow rule ahead of it. A scope-down is possible only as a
# reviewed exception in policies/config/<stack>.json (`exceptions`, matching "rule '<name>'").


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


def _managed(rule: Any, group: str) -> bool:
    statement = get(rule, "statement", "managedRuleGroupStatement")
    if statement is UNKNOWN or get(statement, "name") is UNKNOWN:
        defer("statement.managedRuleGroupStatement")
    return statement is not None and get(statement, "name") == group and get(statement, "vendorName") == "AWS"


def _priority(rule: Any) -> float:
    priority = get(rule, "priority", default=0)
    if priority is UNKNOWN:
        defer("rule priority")
    return float(priority)


def _gaps(rule: Any, rules: list[Any], statement_kind: str, overridden: str | None) -> list[str]:
    """Why `rule` does not block for the whole request space (empty: it does)."""
    name = get(rule, "name")
    gaps = []
    statement = get(rule, "statement", statement_kind)
    if statement_kind == "managedRuleGroupStatement":
        if _counts(get(rule, "overrideAction", default={})):
            gaps.append(f"rule '{name}' only counts (override_action count)")
        for override in items(statement, "ruleActionOverrides"):
            rule_name = str(get(override, "name"))
            if (overridden is None or rule_name.startswith(overridden)) and _counts(get(override, "actionToUse", default={})):
                gaps.append(f"rule '{name}' overrides {rule_name} to count")
    elif get(rule, "action", "block") is None:
        gaps.append(f"rule '{name}' does not block (its action is not block)")
    if get(statement, "scopeDownStatement") is not None:
        gaps.append(f"rule '{name}' inspects only what its scope-down statement selects, so other paths or hosts pass uninspected")
    for earlier in rules:
        if _priority(earlier) < _priority(rule) and get(earlier, "action", "allow") is not None:
            gaps.append(f"rule '{get(earlier, 'name')}' allows requests before rule '{name}' inspects them")
    return gaps


def _protection(label: str, group: str | None, custom: str | None, overridden: str | None = None) -> Any:
    """A check that some rule of the ACL provides `label` (AWS managed `group`, or a custom `custom` statement) everywhere."""

    def check(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
        rules = _rules(args)
        candidates = [(r, "managedRuleGroupStatement") for r in rules if group is not None and _managed(r, group)]
        candidates += [(r, custom) for r in rules if custom is not None and get(r, "statement", custom) is not None]
        if not candidates:
            return [f"does not block {label} (no {group or custom} rule)"]
        gaps = [_gaps(rule, rules, kind, overridden) for rule, kind in candidates]
        return [] if any(not g for g in gaps) else [f"does not block {label} everywhere: {gap}" for g in gaps for gap in g]

    return check


_blocks_sqli = _protection("SQL injection", SQLI_GROUP, "sqliMatchStatement")
_blocks_xss = _protection("cross-site scripting", XSS_GROUP, "xssMatchStatement", XSS_RULE_PREFIX)
_blocks_bad_inputs = _protection("known bad inputs", BAD_INPUTS_GROUP, None)
_blocks_bad_ips = _protection("IP addresses of bad reputation", IP_REPUTATION_GROUP, None)
_rate_limited = _protection("request floods", None, "rateBasedStatement")


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


# --- who reaches the ALB, and CloudFront's TLS -----------------------------------------------------------------


def _vpc_networks(index: StackIndex, group: PolicyResource) -> list[Any]:
    return [network_of(get(vpc.props, "cidrBlock"), f"{vpc.name}.cidrBlock") for vpc in index.deps(group, "vpcId", VPC)]


def _alb_behind_cloudfront(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    allowed = set(config.get("cloudfrontPrefixListIds") or CLOUDFRONT_PREFIX_LISTS)
    rules = ingress_rules(index)
    found: list[Finding] = []
    for balancer in index.of_type(LOAD_BALANCER, ALB_ALIAS):
        if not _internet_facing(balancer):
            continue
        groups = index.deps(balancer, "securityGroups", SECURITY_GROUP)
        if not groups:
            found.append((balancer, "has no security group of this stack, so who reaches it can't be verified"))

        def check(rule: Ingress, group: PolicyResource) -> list[Finding]:
            if rule.group is None or rule.group.urn != group.urn:
                return []
            inside = [n for n in _vpc_networks(index, group) if n is not None]
            problems = []
            for cidr in rule.cidrs:
                net = network_of(cidr, f"{rule.owner.name}: source CIDR")
                if net is None or not any(net.version == v.version and net.subnet_of(v) for v in inside):  # type: ignore[arg-type]
                    problems.append(f"admits {cidr} on {rule.ports()} to the internet-facing ALB's group '{group.name}'")
            for prefix in rule.prefix_lists:
                if sure(prefix, f"{rule.owner.name}: prefixListId") not in allowed:
                    problems.append(f"admits prefix list {prefix} to the internet-facing ALB's group '{group.name}', not CloudFront's")
            return [(rule.owner, p) for p in problems]

        for group in groups:
            found += collect(rules, lambda rule, group=group: check(rule, group))
    return found


def _viewer_https(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    allowed = list(config.get("allowedViewerPolicies") or VIEWER_TLS_POLICIES)
    problems = []
    behaviors = [("default", get(args.props, "defaultCacheBehavior"))]
    behaviors += [(str(get(b, "pathPattern")), b) for b in items(args.props, "orderedCacheBehaviors")]
    for where, behavior in behaviors:
        policy = get(behavior, "viewerProtocolPolicy")
        if policy is UNKNOWN or behavior is UNKNOWN:
            defer("viewerProtocolPolicy")
        if policy not in VIEWER_HTTPS:
            problems.append(f"serves the {where} cache behavior over HTTP (viewerProtocolPolicy {policy})")
    certificate = get(args.props, "viewerCertificate")
    if certificate is UNKNOWN:
        defer("viewerCertificate")
    if get(certificate, "cloudfrontDefaultCertificate") is True:
        problems.append("uses the default *.cloudfront.net certificate, with which CloudFront accepts TLSv1")
    else:
        minimum = get(certificate, "minimumProtocolVersion", default="TLSv1")
        if minimum is UNKNOWN:
            defer("viewerCertificate.minimumProtocolVersion")
        if minimum not in allowed:
            problems.append(f"accepts viewers on {minimum}; allowed: {', '.join(allowed)}")
    return problems


def _origin_https(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    problems = []
    for origin in items(args.props, "origins"):
        custom = get(origin, "customOriginConfig")
        if origin is UNKNOWN or custom is UNKNOWN:
            defer("origins")
        if custom is None:
            continue  # an S3 origin: CloudFront reaches S3 over HTTPS
        name = get(origin, "originId")
        policy = get(custom, "originProtocolPolicy")
        protocols = items(custom, "originSslProtocols")
        if policy is UNKNOWN or UNKNOWN in protocols:
            defer("customOriginConfig")
        if policy != "https-only":
            problems.append(f"reaches origin '{name}' with originProtocolPolicy {policy}, not https-only")
        if weak := [p for p in protocols if p != "TLSv1.2"]:
            problems.append(f"lets origin '{name}' negotiate {', '.join(map(str, weak))} (originSslProtocols)")
    return problems


POLICIES = [
    stack_policy(
        "alb-web-acl",
        "Every ALB that viewers reach (internet-facing, or internal behind a CloudFront VPC origin) has a web ACL association.",
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
        "Web ACLs block SQL injection everywhere: the AWS SQLi managed group, not counting, no scope-down, no allow rule before it.",
        [WEB_ACL],
        _blocks_sqli,
        f"add {SQLI_GROUP} with override_action none and no rule_action_overrides to count",
        id="KANNA-EDGE-003",
    ),
    resource_policy(
        "waf-blocks-xss",
        "Web ACLs block cross-site scripting everywhere: the AWS common group, its XSS rules not counting, no scope-down, no allow before it.",
        [WEB_ACL],
        _blocks_xss,
        f"add {XSS_GROUP} with override_action none and no {XSS_RULE_PREFIX}* rule overridden to count",
        id="KANNA-EDGE-004",
    ),
    resource_policy(
        "waf-rate-limit",
        "Web ACLs have a blocking rate-based rule with no scope-down and no allow rule before it.",
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
    resource_policy(
        "waf-blocks-known-bad-inputs",
        "Web ACLs block known bad inputs (Log4j-style and other exploit payloads): the AWS managed group, blocking everywhere.",
        [WEB_ACL],
        _blocks_bad_inputs,
        f"add {BAD_INPUTS_GROUP} with override_action none, no scope-down, and no allow rule before it",
        id="KANNA-EDGE-010",
    ),
    resource_policy(
        "waf-blocks-ip-reputation",
        "Web ACLs block addresses on the Amazon IP reputation list: the AWS managed group, blocking everywhere.",
        [WEB_ACL],
        _blocks_bad_ips,
        f"add {IP_REPUTATION_GROUP} with override_action none, no scope-down, and no allow rule before it",
        id="KANNA-EDGE-011",
    ),
    stack_policy(
        "alb-ingress-only-from-cloudfront",
        "An internet-facing ALB's security groups admit only CloudFront's origin-facing prefix list (and the VPC itself), never the internet.",
        _alb_behind_cloudfront,
        "admit the ALB's listener port from the com.amazonaws.global.cloudfront.origin-facing prefix list only (components/edge/edge.py)",
        PolicyConfigSchema(
            properties={
                "cloudfrontPrefixListIds": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": CLOUDFRONT_PREFIX_LISTS,
                    "description": "Ids of the CloudFront origin-facing prefix list in the stack's regions.",
                }
            }
        ),
        id="KANNA-EDGE-012",
    ),
    resource_policy(
        "cloudfront-viewer-https",
        "CloudFront distributions redirect viewers to HTTPS in every cache behavior, with a custom certificate and TLSv1.2_2021 or newer.",
        [DISTRIBUTION],
        _viewer_https,
        "set viewer_protocol_policy='redirect-to-https' on every cache behavior and minimum_protocol_version='TLSv1.2_2021' (or newer)",
        PolicyConfigSchema(
            properties={"allowedViewerPolicies": {"type": "array", "items": {"type": "string"}, "default": VIEWER_TLS_POLICIES}}
        ),
        id="KANNA-EDGE-013",
        controls=("AWS FSBP CloudFront.3",),
    ),
    resource_policy(
        "cloudfront-origin-https",
        "CloudFront reaches custom origins over HTTPS only, with TLSv1.2.",
        [DISTRIBUTION],
        _origin_https,
        "set custom_origin_config origin_protocol_policy='https-only' and origin_ssl_protocols=['TLSv1.2']",
        id="KANNA-EDGE-014",
        controls=("AWS FSBP CloudFront.9", "AWS FSBP CloudFront.10"),
    ),
]
