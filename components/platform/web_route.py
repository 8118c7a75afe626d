"""How the ALB reaches one web service of one environment: a target group and a listener rule.

The rule matches the environment's host (and the service's paths). A service that others call also has an
internal host (`PlatformSettings.service_host`) among the rule's host values, so users through CloudFront and
calls between services take the one rule, the one target group pair and the one production listener that
CodeDeploy shifts (a CODE_DEPLOY service has exactly one pair and one production listener, and a target group
belongs to one load balancer: docs/service-to-service.md). Internal services authenticate the user with Cognito
first. This is the piece a blue/green deployment takes over: it exposes the target group and the rule, and the
service only consumes `target_group`.

Blue/green (`test_listener_arn` set): a second, green target group with the same health check, and a
rule on the VPC-only test listener with the production rule's host, paths and actions, where CodeDeploy
sends test traffic to the replacement tasks before any user reaches them. CodeDeploy owns the forward
action of both rules from then on (it points them at whichever colour is live), so Pulumi ignores
`actions` on them: re-applying ours after a deploy would send production traffic back to the idle,
empty target group. Changing a rule's actions (say, the Cognito session) is a `pulumi up
--target <rule>` after removing the ignore for that run, and is rare.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.contracts import InternalAuth


@dataclass(frozen=True, kw_only=True)
class WebRouteArgs:
    name: str  # <env>-<service>
    vpc_id: pulumi.Input[str]
    port: int
    health_path: str
    host: str
    paths: list[str]
    priority: int
    listener_arn: pulumi.Input[str]
    internal_auth: InternalAuth | None  # set: the rule authenticates with Cognito before forwarding
    test_listener_arn: pulumi.Input[str] | None = None  # set: blue/green, with a green target group and a test rule
    service_host: str | None = None  # set: other services call this one at this host, through this same rule


class WebRoute(pulumi.ComponentResource):
    target_group: aws.lb.TargetGroup  # blue: the one the ECS service is created with
    green_target_group: aws.lb.TargetGroup | None
    rule: aws.lb.ListenerRule
    test_rule: aws.lb.ListenerRule | None

    def __init__(self, name: str, args: WebRouteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:platform:WebRoute", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        blue_green = args.test_listener_arn is not None

        def target_group(name: str) -> aws.lb.TargetGroup:
            return aws.lb.TargetGroup(
                name,
                vpc_id=args.vpc_id,
                port=args.port,
                protocol="HTTP",
                target_type="ip",
                deregistration_delay=30,  # requests are short; a long drain only slows deploys
                health_check=aws.lb.TargetGroupHealthCheckArgs(
                    path=args.health_path, matcher="200-399", interval=15, healthy_threshold=2, unhealthy_threshold=3, timeout=5
                ),
                opts=child,
            )

        # The first target group keeps its name: a rolling service switched to blue/green keeps its traffic.
        self.target_group = target_group(f"{args.name}-tg")
        self.green_target_group = target_group(f"{args.name}-green-tg") if blue_green else None
        # At most 5 condition values per rule (ELB quota): two hosts and the catalog's at most three paths.
        hosts = [args.host, *([args.service_host] if args.service_host else [])]
        routing = [aws.lb.ListenerRuleConditionArgs(host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(values=hosts))]
        if args.paths:
            routing.append(aws.lb.ListenerRuleConditionArgs(path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=args.paths)))
        actions = []
        if args.internal_auth is not None:
            auth = args.internal_auth
            actions.append(
                aws.lb.ListenerRuleActionArgs(
                    type="authenticate-cognito",
                    order=1,
                    authenticate_cognito=aws.lb.ListenerRuleActionAuthenticateCognitoArgs(
                        user_pool_arn=auth.user_pool_arn,
                        user_pool_client_id=auth.user_pool_client_id,
                        user_pool_domain=auth.user_pool_domain,
                        on_unauthenticated_request="authenticate",
                        session_timeout=28800,  # a working day
                    ),
                )
            )
        actions.append(aws.lb.ListenerRuleActionArgs(type="forward", order=len(actions) + 1, target_group_arn=self.target_group.arn))
        # CodeDeploy rewrites the forward action on every deploy (see the module docstring).
        flipped = pulumi.ResourceOptions(parent=self, ignore_changes=["actions"] if blue_green else None)
        # Marks the route internal for the policy pack, whatever its hostname looks like in each environment.
        tags = {"Internal": "true"} if args.internal_auth is not None else None
        self.rule = aws.lb.ListenerRule(
            f"{args.name}-rule",
            listener_arn=args.listener_arn,
            priority=args.priority,
            conditions=routing,
            actions=actions,
            tags=tags,
            opts=flipped,
        )
        self.test_rule = None
        if args.test_listener_arn is not None:
            # The same conditions: a validation hook tries the green tasks at the public and the internal host.
            self.test_rule = aws.lb.ListenerRule(
                f"{args.name}-test-rule",
                listener_arn=args.test_listener_arn,
                priority=args.priority,
                conditions=routing,
                actions=actions,
                tags=tags,
                opts=flipped,
            )
        self.register_outputs(
            {
                "targetGroupArn": self.target_group.arn,
                "greenTargetGroupArn": self.green_target_group.arn if self.green_target_group else None,
                "ruleArn": self.rule.arn,
                "testRuleArn": self.test_rule.arn if self.test_rule else None,
            }
        )
