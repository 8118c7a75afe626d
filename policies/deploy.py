"""Deploys: web services behind a public load balancer switch blue/green with automatic rollback; Pulumi and
CodeDeploy never fight over a service; rolling services roll themselves back.

Resources are related through property dependencies (deployment group.ecsService -> service,
service.loadBalancers -> target group, rule.actions -> target group, rule.listenerArn -> listener,
listener.loadBalancerArn -> load balancer), so the stack check holds in a first preview, when no name or
ARN is known yet. `ignoreChanges` comes from the resource options the engine sends with each resource.
Whether blue/green is mandatory is a per-stack level (policies/config/<stack>.json): dev may run many
verification environments on rolling deploys (settings/deploy.py explains the ALB quota behind that).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, StackIndex, defer, get, items, resource_policy, stack_policy

SERVICE = "aws:ecs/service:Service"
DEPLOYMENT_GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
TARGET_GROUPS = ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup")
RULES = ("aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
ROLLBACK_EVENTS = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM")
CODE_DEPLOY_OWNS = ("taskDefinition", "loadBalancers")


def _controller(props: Any) -> Any:
    return get(props, "deploymentController", "type", default="ECS")


def _load_balancers(index: StackIndex, service: PolicyResource) -> list[PolicyResource]:
    """The load balancers in front of `service`: through its target groups, the rules or listeners forwarding there."""
    found: dict[str, PolicyResource] = {}
    for group in index.deps(service, "loadBalancers", *TARGET_GROUPS):
        forwarders = [
            r for type_ in (*RULES, *LISTENERS) for r in index.dependents(group, type_, "actions" if type_ in RULES else "defaultActions")
        ]
        for forwarder in forwarders:
            listeners = [forwarder] if forwarder.resource_type in LISTENERS else index.deps(forwarder, "listenerArn", *LISTENERS)
            for listener in listeners:
                for balancer in index.deps(listener, "loadBalancerArn", *LOAD_BALANCERS):
                    found[balancer.urn] = balancer
    return list(found.values())


def _behind_public_balancer(index: StackIndex, service: PolicyResource) -> bool:
    """In doubt (a target group or load balancer from outside the stack), a service with load balancers is public."""
    balancers = _load_balancers(index, service)
    if not balancers:
        return True
    return any(index.serves_viewers(b) for b in balancers)


def _rollback_problems(group: PolicyResource | ResourceValidationArgs) -> list[str]:
    problems = []
    rollback = get(group.props, "autoRollbackConfiguration")
    enabled = get(rollback, "enabled", default=False)
    events = items(rollback, "events")
    if enabled is not True:
        problems.append("has automatic rollback disabled")
    missing = [e for e in ROLLBACK_EVENTS if e not in events]
    if missing and UNKNOWN not in events:
        problems.append(f"does not roll back on {', '.join(missing)}")
    alarms = get(group.props, "alarmConfiguration")
    names = items(alarms, "alarms")
    if get(alarms, "enabled", default=False) is not True:
        problems.append("has its alarm configuration disabled, so no alarm stops a bad deploy")
    elif not names:
        problems.append("watches no CloudWatch alarm")
    return problems


def _blue_green(index: StackIndex, _: Mapping[str, Any]) -> list[Finding]:
    found: list[Finding] = []
    for service in index.of_type(SERVICE):
        balancers = items(service.props, "loadBalancers")
        if not balancers or (UNKNOWN in balancers and not index.deps(service, "loadBalancers")):
            continue
        if not _behind_public_balancer(index, service):
            continue
        controller = _controller(service.props)
        if controller is UNKNOWN:
            continue  # checked again when known, at the update
        if controller != "CODE_DEPLOY":
            found.append(
                (service, f"is behind a load balancer that viewers reach and deploys with the {controller} controller, not CODE_DEPLOY")
            )
            continue
        groups = index.dependents(service, DEPLOYMENT_GROUP, "ecsService")
        if not groups:
            found.append((service, "uses CODE_DEPLOY but no deployment group of this stack references it (ecsService)"))
        for group in groups:
            if get(group.props, "deploymentStyle", "deploymentType") not in ("BLUE_GREEN", UNKNOWN):
                found.append((service, f"is deployed by '{group.name}', which is not a BLUE_GREEN deployment group"))
            found += [(service, f"is deployed by '{group.name}', which {problem}") for problem in _rollback_problems(group)]
    return found


def _group_rolls_back(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    if get(args.props, "ecsService") is None:
        return []  # EC2/Lambda deployment groups are not ours to judge here
    if get(args.props, "autoRollbackConfiguration") is UNKNOWN or get(args.props, "alarmConfiguration") is UNKNOWN:
        defer("autoRollbackConfiguration")
    return _rollback_problems(args)


def _ignores_what_codedeploy_owns(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    controller = _controller(args.props)
    if controller is UNKNOWN:
        defer("deploymentController.type")
    if controller != "CODE_DEPLOY":
        return []
    ignored = set(args.opts.ignore_changes or [])
    missing = [field for field in CODE_DEPLOY_OWNS if field not in ignored]
    if missing:
        return [f"uses CODE_DEPLOY but does not ignore changes to {', '.join(missing)}, which CodeDeploy changes on every deploy"]
    return []


def _circuit_breaker(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    controller = _controller(args.props)
    if controller is UNKNOWN:
        defer("deploymentController.type")
    if controller != "ECS":
        return []
    breaker = get(args.props, "deploymentCircuitBreaker")
    if breaker is UNKNOWN:
        defer("deploymentCircuitBreaker")
    if get(breaker, "enable") is not True or get(breaker, "rollback") is not True:
        return ["deploys rolling without the deployment circuit breaker and its rollback"]
    return []


POLICIES = [
    stack_policy(
        "ecs-web-service-blue-green",
        "ECS services behind a load balancer that viewers reach (internet-facing or a CloudFront VPC origin) deploy blue/green "
        "(CODE_DEPLOY) through a deployment group"
        " that rolls back on failure and on alarms, with at least one alarm.",
        _blue_green,
        "set deployment_controller type CODE_DEPLOY and create a BLUE_GREEN deployment group for it (components/platform/bluegreen.py),"
        " with auto-rollback on DEPLOYMENT_FAILURE and DEPLOYMENT_STOP_ON_ALARM and its rollback alarms",
        id="KANNA-DEPLOY-001",
    ),
    resource_policy(
        "codedeploy-rollback-on-alarms",
        "ECS deployment groups roll back automatically on DEPLOYMENT_FAILURE and DEPLOYMENT_STOP_ON_ALARM, and watch at least one alarm.",
        [DEPLOYMENT_GROUP],
        _group_rolls_back,
        "set auto_rollback_configuration enabled with both events, and alarm_configuration enabled with the service's rollback alarms",
        id="KANNA-DEPLOY-002",
    ),
    resource_policy(
        "ecs-code-deploy-ignore-changes",
        "ECS services with the CODE_DEPLOY controller ignore changes to taskDefinition and loadBalancers, which CodeDeploy owns.",
        [SERVICE],
        _ignores_what_codedeploy_owns,
        "add ignore_changes=['taskDefinition', 'loadBalancers'] to the service's resource options",
        id="KANNA-DEPLOY-003",
    ),
    resource_policy(
        "ecs-rolling-circuit-breaker",
        "ECS services with the rolling (ECS) controller have the deployment circuit breaker with rollback.",
        [SERVICE],
        _circuit_breaker,
        "set deployment_circuit_breaker enable=True and rollback=True",
        id="KANNA-DEPLOY-004",
    ),
]


DEPLOYMENT_CONFIG = "aws:codedeploy/deploymentConfig:DeploymentConfig"
GRADUAL_PREFIXES = ("CodeDeployDefault.ECSCanary", "CodeDeployDefault.ECSLinear")
ALARMS = ("aws:cloudwatch/metricAlarm:MetricAlarm", "aws:cloudwatch/compositeAlarm:CompositeAlarm")


def _traffic_shift(index: StackIndex, group: PolicyResource) -> str | None:
    """Why `group` shifts all traffic at once (None: it shifts gradually)."""
    custom = index.deps(group, "deploymentConfigName", DEPLOYMENT_CONFIG)
    for config in custom:
        kind = get(config.props, "trafficRoutingConfig", "type", default="AllAtOnce")
        if kind is UNKNOWN:
            defer(f"{config.name}.trafficRoutingConfig")
        if kind not in ("TimeBasedCanary", "TimeBasedLinear"):
            return f"uses deployment config '{config.name}', whose traffic routing is {kind}"
    if custom:
        return None
    name = get(group.props, "deploymentConfigName", default="CodeDeployDefault.ECSAllAtOnce")
    if name is UNKNOWN:
        defer(f"{group.name}.deploymentConfigName")
    return None if str(name).startswith(GRADUAL_PREFIXES) else f"shifts all traffic at once ({name})"


def _gradual_web_deploys(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    if not config.get("required", True):
        return []
    found: list[Finding] = []
    for service in index.of_type(SERVICE):
        if not items(service.props, "loadBalancers") or _controller(service.props) != "CODE_DEPLOY":
            continue
        for group in index.dependents(service, DEPLOYMENT_GROUP, "ecsService"):
            if problem := _traffic_shift(index, group):
                found.append((group, f"deploys web service '{service.name}' and {problem}, not canary or linear"))
            alarms = get(group.props, "alarmConfiguration")
            if get(alarms, "ignorePollAlarmFailure") is True:
                found.append((group, "ignores alarm poll failures (ignorePollAlarmFailure), so a deploy goes on when alarms can't be read"))
            names = items(alarms, "alarms")
            if names and UNKNOWN not in names and not index.deps(group, "alarmConfiguration", *ALARMS):
                found.append((group, "rolls back on alarms that are not this stack's, so none may exist"))
    return found


POLICIES += [
    stack_policy(
        "codedeploy-gradual-traffic",
        "Web services' blue/green deployment groups shift traffic canary or linear, never all at once, and roll back on this stack's alarms.",
        _gradual_web_deploys,
        "set deployment_config_name to CodeDeployDefault.ECSCanary10Percent5Minutes (settings deploy.trafficConfig) and watch the"
        " service's rollback alarms",
        PolicyConfigSchema(properties={"required": {"type": "boolean", "default": True, "description": "false: all at once is allowed."}}),
        id="KANNA-DEPLOY-005",
    ),
]
