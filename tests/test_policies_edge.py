"""Edge policies over gRPC: web ACLs and what they block, WAF logging, listeners and world ingress."""

from __future__ import annotations

import json

import pytest

from preflight.analyzer import PolicyPack
from tests.conftest import recording
from tests.kit import CONFIG_DIR, UNKNOWN, deferred, judge, mutate, res, violations

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
MANAGED = ("AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
GOOD_RULES = [RATE, *(group_rule(name) for name in MANAGED), group_rule("AWSManagedRulesSQLiRuleSet")]
CDN = {
    "defaultCacheBehavior": {"viewerProtocolPolicy": "redirect-to-https"},
    "viewerCertificate": {"acmCertificateArn": "arn:cert", "minimumProtocolVersion": "TLSv1.2_2021", "sslSupportMethod": "sni-only"},
    "origins": [{"originId": "alb", "customOriginConfig": {"originProtocolPolicy": "https-only", "originSslProtocols": ["TLSv1.2"]}}],
}


def acl(rules: object, scope: str = "REGIONAL", name: str = "acl") -> object:
    return res(ACL, name, {"scope": scope, "rules": rules})


def edge(known: bool = True, associate: bool = True, log: bool = True, cdn_acl: bool = True) -> list:
    ident = (lambda value: value) if known else (lambda _: UNKNOWN)
    regional, global_ = acl(GOOD_RULES), acl(GOOD_RULES, "CLOUDFRONT", "cf-acl")
    alb_sg = res(SG, "alb-sg", {"vpcId": ident("vpc-1")})  # no rule: alb-ingress-only-from-cloudfront's concern
    alb = res(
        ALB, "alb", {"internal": False, "loadBalancerType": "application", "securityGroups": [ident("sg-1")]}, {"securityGroups": [alb_sg]}
    )
    found = [regional, global_, alb_sg, alb]
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
    props = {**CDN, **({"webAclId": ident("arn:cf-acl")} if cdn_acl else {})}
    found.append(res(DISTRIBUTION, "cdn", props, {"webAclId": [global_]} if cdn_acl else {}))
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
        (GOOD_RULES, "waf-blocks-known-bad-inputs", False),
        ([r for r in GOOD_RULES if r["name"] != "AWSManagedRulesKnownBadInputsRuleSet"], "waf-blocks-known-bad-inputs", True),
        ([RATE, group_rule("AWSManagedRulesKnownBadInputsRuleSet", "count")], "waf-blocks-known-bad-inputs", True),
        ([RATE, group_rule("AWSManagedRulesKnownBadInputsRuleSet", sub_overrides=["Log4JRCE_BODY"])], "waf-blocks-known-bad-inputs", True),
        (GOOD_RULES, "waf-blocks-ip-reputation", False),
        ([RATE, group_rule("AWSManagedRulesCommonRuleSet")], "waf-blocks-ip-reputation", True),
        ([RATE, group_rule("AWSManagedRulesAmazonIpReputationList", "count")], "waf-blocks-ip-reputation", True),
    ],
)
def test_acl_rules(pack: PolicyPack, rules: list, policy: str, fails: bool) -> None:
    found = violations(judge(pack, [acl(rules)]), policy)
    assert len(found) == (1 if fails else 0)
    assert all("WebAcl 'acl'" in d.message and "Fix:" in d.message for d in found)


def test_unknown_acl_rules_are_deferred(pack: PolicyPack) -> None:
    diagnostics = judge(pack, [acl(UNKNOWN)])
    for policy in ("waf-blocks-sqli", "waf-blocks-xss", "waf-rate-limit", "waf-blocks-known-bad-inputs", "waf-blocks-ip-reputation"):
        assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)
    unknown_override = group_rule("AWSManagedRulesSQLiRuleSet") | {"overrideAction": UNKNOWN}
    diagnostics = judge(pack, [acl([RATE, unknown_override])])
    assert violations(diagnostics, "waf-blocks-sqli") == [] and deferred(diagnostics, "waf-blocks-sqli")


NOT_ADMIN = {"notStatement": {"statement": {"byteMatchStatement": {"searchString": "/admin", "positionalConstraint": "STARTS_WITH"}}}}


def scoped(name: str) -> list:
    """GOOD_RULES with rule `name` scoped down to everything but /admin."""
    rules = [dict(r) for r in GOOD_RULES]
    for rule in rules:
        if rule["name"] == name:
            kind = next(iter(rule["statement"]))
            rule["statement"] = {kind: {**rule["statement"][kind], "scopeDownStatement": NOT_ADMIN}}
    return rules


@pytest.mark.parametrize(
    ("name", "policy"),
    [
        ("AWSManagedRulesSQLiRuleSet", "waf-blocks-sqli"),
        ("AWSManagedRulesCommonRuleSet", "waf-blocks-xss"),
        ("AWSManagedRulesKnownBadInputsRuleSet", "waf-blocks-known-bad-inputs"),
        ("AWSManagedRulesAmazonIpReputationList", "waf-blocks-ip-reputation"),
        ("rate", "waf-rate-limit"),
    ],
)
def test_a_scope_down_on_a_relied_on_rule_fails_unless_it_is_a_reviewed_exception(
    pack: PolicyPack, name: str, policy: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    (found,) = violations(judge(pack, [acl(scoped(name))]), policy)
    assert f"rule '{name}' inspects only what its scope-down statement selects" in found.message
    config = json.loads((CONFIG_DIR / "prod.json").read_text())
    exception = {"resource": "acl", "match": f"rule '{name}' inspects", "reason": "reviewed in the change that adds it, for this test"}
    config[policy] = {"exceptions": [exception]}
    reviewed = tmp_path / "prod.json"
    reviewed.write_text(json.dumps(config))
    assert violations(judge(pack, [acl(scoped(name))], config=reviewed), policy) == []
    # The exception covers that scope-down only: counting the same rule still fails.
    counted = [r | {"overrideAction": {"count": {}}, "action": {"count": {}}} if r["name"] == name else r for r in scoped(name)]
    assert violations(judge(pack, [acl(counted)], config=reviewed), policy)


def test_an_allow_rule_ahead_of_the_managed_rules_fails(pack: PolicyPack) -> None:
    webhook = {"name": "allow-webhooks", "priority": -1, "action": {"allow": {}}, "statement": NOT_ADMIN["notStatement"]}
    found = [d for d in violations(judge(pack, [acl([webhook, *GOOD_RULES])])) if d.policy != "waf-logging"]
    assert {d.policy for d in found} == {
        "waf-blocks-sqli",
        "waf-blocks-xss",
        "waf-rate-limit",
        "waf-blocks-known-bad-inputs",
        "waf-blocks-ip-reputation",
    }
    assert all("rule 'allow-webhooks' allows requests before rule" in d.message for d in found)


@pytest.mark.parametrize("acl_name", ["prod-alb-waf", "prod-cloudfront-waf"])
def test_the_body_size_override_and_its_label_rule_keep_every_relied_on_rule(pack: PolicyPack, acl_name: str) -> None:
    """Issue 12: SizeRestrictions_BODY counts and a later label rule blocks it outside the upload paths; nothing the design relies on changes."""

    def override(registration) -> None:
        for rule in registration.inputs["rules"]:
            if rule["name"] == "AWSManagedRulesCommonRuleSet":
                statement = rule["statement"]["managedRuleGroupStatement"]
                statement["ruleActionOverrides"] = [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
        label = {"labelMatchStatement": {"scope": "LABEL", "key": "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"}}
        registration.inputs["rules"].append(
            {
                "name": "body-size",
                "priority": 10.0,
                "action": {"block": {}},
                "statement": {"andStatement": {"statements": [label, NOT_ADMIN]}},
            }
        )

    assert violations(judge(pack, mutate(recording("prod", "update"), ACL, acl_name, override))) == []


def cdn(**changes: object) -> object:
    props = json.loads(json.dumps(CDN))
    for path, value in changes.items():
        *parents, key = path.split("__")
        target = props
        for parent in parents:
            target = target[parent] if not parent.isdigit() else target[int(parent)]
        target[key] = value
    return res(DISTRIBUTION, "cdn", props)


def test_cloudfront_serves_viewers_over_modern_tls_only(pack: PolicyPack) -> None:
    policy = "cloudfront-viewer-https"
    assert violations(judge(pack, [cdn()]), policy) == []
    assert violations(judge(pack, [cdn(viewerCertificate__minimumProtocolVersion="TLSv1.3_2025")]), policy) == []
    (found,) = violations(judge(pack, [cdn(defaultCacheBehavior__viewerProtocolPolicy="allow-all")]), policy)
    assert "Distribution 'cdn': serves the default cache behavior over HTTP (viewerProtocolPolicy allow-all)" in found.message
    behaviors = [{"pathPattern": "/legacy/*", "viewerProtocolPolicy": "allow-all"}]
    (found,) = violations(judge(pack, [cdn(orderedCacheBehaviors=behaviors)]), policy)
    assert "serves the /legacy/* cache behavior over HTTP" in found.message
    (found,) = violations(judge(pack, [cdn(viewerCertificate__minimumProtocolVersion="TLSv1.2_2019")]), policy)
    assert "accepts viewers on TLSv1.2_2019" in found.message
    (found,) = violations(judge(pack, [cdn(viewerCertificate={"cloudfrontDefaultCertificate": True})]), policy)
    assert "default *.cloudfront.net certificate" in found.message
    diagnostics = judge(pack, [cdn(viewerCertificate__minimumProtocolVersion=UNKNOWN)])
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


def test_cloudfront_reaches_its_origin_over_tls_1_2_only(pack: PolicyPack) -> None:
    policy = "cloudfront-origin-https"
    assert violations(judge(pack, [cdn()]), policy) == []
    (found,) = violations(judge(pack, [cdn(origins__0__customOriginConfig__originProtocolPolicy="match-viewer")]), policy)
    assert "reaches origin 'alb' with originProtocolPolicy match-viewer, not https-only" in found.message
    (found,) = violations(judge(pack, [cdn(origins__0__customOriginConfig__originSslProtocols=["TLSv1.1", "TLSv1.2"])]), policy)
    assert "lets origin 'alb' negotiate TLSv1.1" in found.message
    diagnostics = judge(pack, [cdn(origins__0__customOriginConfig__originProtocolPolicy=UNKNOWN)])
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


def alb_ingress(source: dict, port: float = 443.0, known: bool = True) -> list:
    vpc = res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
    group = res(SG, "alb-sg", {"vpcId": "vpc-1" if known else UNKNOWN}, {"vpcId": [vpc]})
    alb = res(ALB, "alb", {"internal": False, "securityGroups": ["sg" if known else UNKNOWN]}, {"securityGroups": [group]})
    props = {"securityGroupId": "sg" if known else UNKNOWN, "ipProtocol": "tcp", "fromPort": port, "toPort": port, **source}
    return [vpc, group, alb, res(INGRESS, "rule", props, {"securityGroupId": [group]})]


@pytest.mark.parametrize("known", [True, False], ids=["known-ids", "first-preview"])
def test_the_alb_admits_only_cloudfronts_prefix_list(pack: PolicyPack, known: bool) -> None:
    policy = "alb-ingress-only-from-cloudfront"
    assert violations(judge(pack, alb_ingress({"prefixListId": "pl-58a04531"}, known=known)), policy) == []
    assert violations(judge(pack, alb_ingress({"cidrIpv4": "10.0.0.0/16"}, 8443.0, known)), policy) == []  # the VPC's test listener
    for source, what in (
        ({"cidrIpv4": "0.0.0.0/0"}, "0.0.0.0/0"),
        ({"cidrIpv6": "::/0"}, "::/0"),
        ({"prefixListId": "pl-other"}, "pl-other"),
    ):
        found = [d for d in violations(judge(pack, alb_ingress(source, known=known))) if d.policy in (policy, "no-world-ingress")]
        (alb_finding,) = [d for d in found if d.policy == policy]
        assert f"SecurityGroupIngressRule 'rule': admits {'prefix list ' if 'pl-' in what else ''}{what}" in alb_finding.message
        if "pl-" not in what:
            assert {d.policy for d in found} == {policy, "no-world-ingress"}
    # An inline rule on the group, and an old-style SecurityGroupRule, are the group's rules too.
    vpc, group, alb, _ = alb_ingress({"prefixListId": "pl-58a04531"}, known=known)
    group.inputs["ingress"] = [{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrBlocks": ["203.0.113.0/24"]}]
    old = res(
        SG_RULE,
        "old",
        {"type": "ingress", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["198.51.100.7/32"]},
        {"securityGroupId": [group]},
    )
    found = violations(judge(pack, [vpc, group, alb, old]), policy)
    assert sorted(d.message.split("\n")[1].split("'")[1] for d in found) == ["alb-sg", "old"]
    diagnostics = judge(pack, alb_ingress({"prefixListId": UNKNOWN}, known=known))
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


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
