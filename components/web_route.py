"""How the public ALB reaches one web service of one environment: a target group and a listener rule.

The rule matches the environment's host (and the service's paths) and the secret origin header, so only
requests that came through our CloudFront distribution are forwarded. Internal services authenticate
the user with Cognito first. This is the piece a blue/green deployment takes over: it exposes the
target group and the rule, and the service only consumes `target_group`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.contracts import InternalAuth
from components.edge import ORIGIN_HEADER


@dataclass(frozen=True)
class WebRouteArgs:
    name: str  # <env>-<service>
    vpc_id: pulumi.Input[str]
    port: int
    health_path: str
    host: str
    paths: list[str]
    priority: int
    listener_arn: pulumi.Input[str]
    origin_secret: pulumi.Input[str]
    internal_auth: InternalAuth | None  # set: the rule authenticates with Cognito before forwarding


class WebRoute(pulumi.ComponentResource):
    target_group: aws.lb.TargetGroup
    rule: aws.lb.ListenerRule

    def __init__(self, name: str, args: WebRouteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:platform:WebRoute", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.target_group = aws.lb.TargetGroup(
            f"{args.name}-tg",
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
        conditions = [
            aws.lb.ListenerRuleConditionArgs(host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(values=[args.host])),
            aws.lb.ListenerRuleConditionArgs(
                http_header=aws.lb.ListenerRuleConditionHttpHeaderArgs(http_header_name=ORIGIN_HEADER, values=[args.origin_secret])
            ),
        ]
        if args.paths:
            conditions.append(aws.lb.ListenerRuleConditionArgs(path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=args.paths)))
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
        self.rule = aws.lb.ListenerRule(
            f"{args.name}-rule", listener_arn=args.listener_arn, priority=args.priority, conditions=conditions, actions=actions, opts=child
        )
        self.register_outputs({"targetGroupArn": self.target_group.arn, "ruleArn": self.rule.arn})
