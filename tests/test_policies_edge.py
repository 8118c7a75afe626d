"""Edge policies over gRPC: web ACLs and what they block, WAF logging, listeners and world ingress."""

from __future__ import annotations

import pytest

from preflight.analyzer import PolicyPack
from tests.conftest import recording
from tests.kit import UNKNOWN, deferred, judge, mutate, res, violations

ALB = "aws:lb/loadBalancer:LoadBalancer"
ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LISTENER = "aws:lb/listener:Listener"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"


def group_rule(name: str, override: str = "none", sub_overrides: list | None = None) -> dict:
    statement: dict = {"name": name, "vendorName": "AWS"}
    if sub_overrides:
        statement["ruleActionOverrides"] = [{"name": n, "actionToUse": {"count": {}}} for n in sub_overrides]
    return {"name": name, "priority": 1, "overrideAction": {override: {}}, "statement": {"managedRuleGroupStatement": statement}}


RATE = {
    "name": "rate",
    "priority": 0,
    "action": {"block": {}},
    "statement": {"rateBasedStatement": {"limit": 1000, "aggregateKeyType": "IP"}},
}
GOOD_RULES = [RATE, group_rule("AWSManagedRulesCommonRuleSet"), group_rule("AWSManagedRulesSQLiRuleSet")]


def acl(rules: object, scope: str = "REGIONAL", name: str = "acl") -> object:
    return res(ACL, name, {"scope": scope, "rules": rules})


def edge(known: bool = True, associate: bool = True, log: bool = True, cdn_acl: bool = True) -> list:
    ident = (lambda value: value) if known else (lambda _: UNKNOWN)
    regional, global_ = acl(GOOD_RULES), acl(GOOD_RULES, "CLOUDFRONT", "cf-acl")
    alb = res(ALB, "alb", {"internal": False, "loadBalancerType": "application"})
    found = [regional, global_, alb]
    if associate:
        found.append(
            res(
                ASSOCIATION,
                "assoc",
                {"resourceArn": ident("arn:alb"), "webAclArn": ident("arn:acl")},
                {"resourceArn": [alb], "webAclArn": [regional]},
            )
        )
    if log:
        found += [res(LOGGING, f"log-{a.name}", {"resourceArn": ident("arn")}, {"resourceArn": [a]}) for a in (regional, global_)]
    found.append(res(DISTRIBUTION, "cdn", {"webAclId": ident("arn:cf-acl")} if cdn_acl else {}, {"webAclId": [global_]} if cdn_acl else {}))
    return found


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_entry_points_have_logged_web_acls(pack: PolicyPack, known: bool) -> None:
    assert violations(judge(pack, edge(known))) == []
    (found,) = violations(judge(pack, edge(known, associate=False)), "alb-web-acl")
    assert "LoadBalancer 'alb'" in found.message and "no web ACL association" in found.message
    (found,) = violations(judge(pack, edge(known, cdn_acl=False)), "cloudfront-web-acl")
    assert "Distribution 'cdn'" in found.message
    assert len(violations(judge(pack, edge(known, log=False)), "waf-logging")) == 2


def test_internal_alb_needs_no_acl(pack: PolicyPack) -> None:
    assert violations(judge(pack, [res(ALB, "internal", {"internal": True})]), "alb-web-acl") == []


VPC_ORIGIN = "aws:cloudfront/vpcOrigin:VpcOrigin"


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_internal_alb_behind_a_cloudfront_vpc_origin_needs_an_acl(pack: PolicyPack, known: bool) -> None:
    # Viewers reach an internal ALB through a VPC origin: it is an entry point like an internet-facing one.
    stack = edge(known, associate=False)
    alb = next(r for r in stack if r.type == ALB)
    alb.inputs["internal"] = True
    origin = res(
        VPC_ORIGIN, "origin", {"vpcOriginEndpointConfig": {"arn": "arn:alb" if known else UNKNOWN}}, {"vpcOriginEndpointConfig": [alb]}
    )
    (found,) = violations(judge(pack, [*stack, origin]), "alb-web-acl")
    assert "LoadBalancer 'alb'" in found.message and "CloudFront VPC origin" in found.message
    assert violations(judge(pack, [*edge(known), origin]), "alb-web-acl") == []
    # `internal` not known yet: judged as facing the internet.
    alb.inputs["internal"] = UNKNOWN
    assert len(violations(judge(pack, stack), "alb-web-acl")) == 1


@pytest.mark.parametrize(
    ("rules", "policy", "fails"),
    [
        (GOOD_RULES, "waf-blocks-sqli", False),
        ([RATE, group_rule("AWSManagedRulesCommonRuleSet")], "waf-blocks-sqli", True),
        ([RATE, group_rule("AWSManagedRulesCommonRuleSet"), group_rule("AWSManagedRulesSQLiRuleSet", "count")], "waf-blocks-sqli", True),
        ([RATE, group_rule("AWSManagedRulesSQLiRuleSet", sub_overrides=["SQLi_BODY"])], "waf-blocks-sqli", True),
        (GOOD_RULES, "waf-blocks-xss", False),
        ([RATE, group_rule("AWSManagedRulesCommonRuleSet", "count")], "waf-blocks-xss", True),
        ([RATE, group_rule("AWSManagedRulesCommonRuleSet", sub_overrides=["CrossSiteScripting_BODY"])], "waf-blocks-xss", True),
        ([RATE, group_rule("AWSManagedRulesCommonRuleSet", sub_overrides=["SizeRestrictions_BODY"])], "waf-blocks-xss", False),
        (GOOD_RULES, "waf-rate-limit", False),
        (GOOD_RULES[1:], "waf-rate-limit", True),
        ([{**RATE, "action": {"count": {}}}], "waf-rate-limit", True),
    ],
)
def test_acl_rules(pack: PolicyPack, rules: list, policy: str, fails: bool) -> None:
    found = violations(judge(pack, [acl(rules)]), policy)
    assert len(found) == (1 if fails else 0)
    assert all("WebAcl 'acl'" in d.message and "Fix:" in d.message for d in found)


def test_unknown_acl_rules_are_deferred(pack: PolicyPack) -> None:
    diagnostics = judge(pack, [acl(UNKNOWN)])
    for policy in ("waf-blocks-sqli", "waf-blocks-xss", "waf-rate-limit"):
        assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


def listener(protocol: object, **props: object) -> object:
    return res(LISTENER, "l", {"protocol": protocol, **props})


def test_listeners(pack: PolicyPack) -> None:
    redirect = [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]
    assert violations(judge(pack, [listener("HTTP", defaultActions=redirect)])) == []
    (found,) = violations(
        judge(pack, [listener("HTTP", defaultActions=[{"type": "forward", "targetGroupArn": "tg"}])]), "alb-http-redirects-only"
    )
    assert "forward, not a redirect" in found.message
    assert violations(judge(pack, [listener("HTTPS", sslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")])) == []
    for policy in ("ELBSecurityPolicy-2016-08", None):
        (found,) = violations(judge(pack, [listener("HTTPS", **({"sslPolicy": policy} if policy else {}))]), "alb-https-tls-policy")
        assert "ELBSecurityPolicy-2016-08" in found.message
    diagnostics = judge(pack, [listener(UNKNOWN), listener("HTTPS", sslPolicy=UNKNOWN)])
    assert violations(diagnostics) == [] and deferred(diagnostics, "alb-https-tls-policy")
    # An HTTP listener whose actions are not known yet is checked again at the update, not passed.
    diagnostics = judge(pack, [listener("HTTP", defaultActions=UNKNOWN)])
    assert violations(diagnostics) == [] and deferred(diagnostics, "alb-http-redirects-only")


def world_rules(group: object, port: int) -> list:
    return [
        res(
            INGRESS, "rule", {"ipProtocol": "tcp", "fromPort": port, "toPort": port, "cidrIpv4": "0.0.0.0/0"}, {"securityGroupId": [group]}
        ),
        res(
            SG_RULE,
            "old-rule",
            {"type": "ingress", "protocol": "tcp", "fromPort": port, "toPort": port, "ipv6CidrBlocks": ["::/0"]},
            {"securityGroupId": [group]},
        ),
    ]


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_world_ingress_only_on_the_public_albs_web_ports(pack: PolicyPack, known: bool) -> None:
    alb_group = res(SG, "alb-sg", {"vpcId": "vpc" if known else UNKNOWN})
    alb = res(ALB, "alb", {"internal": False, "securityGroups": ["sg" if known else UNKNOWN]}, {"securityGroups": [alb_group]})
    assert violations(judge(pack, [alb_group, alb, *world_rules(alb_group, 443)]), "no-world-ingress") == []
    found = violations(judge(pack, [alb_group, alb, *world_rules(alb_group, 22)]), "no-world-ingress")
    assert len(found) == 2 and all("0/0" in d.message for d in found)
    task_group = res(SG, "task-sg", {"ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]})
    (found,) = violations(judge(pack, [task_group]), "no-world-ingress")
    assert "SecurityGroup 'task-sg'" in found.message and "Fix: admit a security group" in found.message


def _sqli_removed(registration) -> None:
    registration.inputs["rules"] = [r for r in registration.inputs["rules"] if r["name"] != "AWSManagedRulesSQLiRuleSet"]


def _sqli_counted(registration) -> None:
    for rule in registration.inputs["rules"]:
        if rule["name"] == "AWSManagedRulesSQLiRuleSet":
            rule["overrideAction"] = {"count": {}}


@pytest.mark.parametrize("acl_name", ["prod-alb-waf", "prod-cloudfront-waf"])
@pytest.mark.parametrize("change", [_sqli_removed, _sqli_counted], ids=["removed", "count"])
@pytest.mark.parametrize("mode", ["update", "first"])
def test_done_when_acl_without_blocking_sqli_fails(pack: PolicyPack, acl_name: str, change, mode: str) -> None:
    found = violations(judge(pack, mutate(recording("prod", mode), ACL, acl_name, change)))
    assert [(d.policy, acl_name in d.message) for d in found] == [("waf-blocks-sqli", True)]


def test_recorded_alb_without_association_fails(pack: PolicyPack) -> None:
    registrations = [r for r in recording("dev", "first").registrations if r.type != ASSOCIATION]
    (found,) = violations(judge(pack, registrations, "dev"))
    assert found.policy == "alb-web-acl" and "dev-alb" in found.message
