"""Deploy policies over gRPC: compliant, violating and unknown cases, and the recorded stacks mutated (the issue's done-when)."""

from __future__ import annotations

import pytest

from preflight.analyzer import PolicyPack
from tests.conftest import recording
from tests.kit import UNKNOWN, deferred, judge, mutate, res, violations

SERVICE = "aws:ecs/service:Service"
GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
TG = "aws:lb/targetGroup:TargetGroup"
RULE = "aws:lb/listenerRule:ListenerRule"
LISTENER = "aws:lb/listener:Listener"
LB = "aws:lb/loadBalancer:LoadBalancer"
DEPLOY = ("ecs-web-service-blue-green", "codedeploy-rollback-on-alarms", "ecs-code-deploy-ignore-changes", "ecs-rolling-circuit-breaker")
SPOT = [{"capacityProvider": "FARGATE", "weight": 1.0, "base": 1.0}, {"capacityProvider": "FARGATE_SPOT", "weight": 3.0, "base": 0.0}]


def ours(diagnostics: list) -> list:
    return [d for d in violations(diagnostics) if d.policy in DEPLOY]


def web(internal: bool = False, controller: object = "CODE_DEPLOY", ignore: list[str] | None = None, breaker: object = None) -> list:
    """A load balancer, listener, rule, target group and the service behind them (ids unknown: deps relate them)."""
    lb = res(LB, "alb", {"internal": internal, "loadBalancerType": "application"})
    listener = res(LISTENER, "https", {"port": 443.0, "protocol": "HTTPS"}, {"loadBalancerArn": [lb]})
    tg = res(TG, "blue", {"port": 3000.0})
    rule = res(RULE, "rule", {"priority": 1.0}, {"listenerArn": [listener], "actions": [tg]})
    props: dict = {
        "loadBalancers": [{"containerName": "web", "containerPort": 3000.0, "targetGroupArn": UNKNOWN}],
        "capacityProviderStrategies": SPOT,
    }
    if controller is not None:
        props["deploymentController"] = {"type": controller}
    if breaker is not None:
        props["deploymentCircuitBreaker"] = breaker
    service = res(SERVICE, "svc", props, {"loadBalancers": [tg]}, ignore_changes=ignore)
    return [lb, listener, tg, rule, service]


def group(
    service,
    rollback: object = True,
    events: object = ("DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"),
    alarms: object = ("a",),
    watching: bool = True,
):
    props = {
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "ecsService": {"clusterName": UNKNOWN, "serviceName": UNKNOWN},
        "autoRollbackConfiguration": UNKNOWN if rollback is UNKNOWN else {"enabled": rollback, "events": list(events)},  # type: ignore[arg-type]
        "alarmConfiguration": {"enabled": watching, "alarms": list(alarms)},  # type: ignore[arg-type]
    }
    return res(GROUP, "dg", props, {"ecsService": [service]})


OWNED = ["desiredCount", "taskDefinition", "loadBalancers"]


def test_public_web_service_deploys_blue_green_with_alarm_rollback(pack: PolicyPack) -> None:
    stack = web(ignore=OWNED)
    assert ours(judge(pack, [*stack, group(stack[-1])])) == []
    (missing,) = ours(judge(pack, stack))
    assert missing.policy == "ecs-web-service-blue-green" and "no deployment group of this stack references it" in missing.message
    rolling = web(controller="ECS", breaker={"enable": True, "rollback": True})
    (found,) = ours(judge(pack, rolling))
    assert (
        found.policy == "ecs-web-service-blue-green"
        and "ECS controller, not CODE_DEPLOY" in found.message
        and "Service 'svc'" in found.message
    )
    # Behind an internal load balancer only: rolling is fine.
    assert ours(judge(pack, web(internal=True, controller="ECS", breaker={"enable": True, "rollback": True}))) == []
    # Unless that internal load balancer is a CloudFront VPC origin's endpoint: viewers reach it (first preview: ids unknown).
    behind_cdn = web(internal=True, controller="ECS", breaker={"enable": True, "rollback": True})
    origin = res(
        "aws:cloudfront/vpcOrigin:VpcOrigin",
        "origin",
        {"vpcOriginEndpointConfig": {"arn": UNKNOWN}},
        {"vpcOriginEndpointConfig": [behind_cdn[0]]},
    )
    (found,) = ours(judge(pack, [*behind_cdn, origin]))
    assert found.policy == "ecs-web-service-blue-green" and "a load balancer that viewers reach" in found.message
    # Dev advises instead (large verification fleets may deploy rolling: settings/deploy.py).
    diagnostics = judge(pack, rolling, "dev")
    assert ours(diagnostics) == [] and violations(diagnostics, "ecs-web-service-blue-green", "advisory")


def test_the_stack_check_reports_the_groups_rollback_gaps(pack: PolicyPack) -> None:
    stack = web(ignore=OWNED)
    found = violations(judge(pack, [*stack, group(stack[-1], alarms=())]), "ecs-web-service-blue-green")
    assert [d.message.split(": ", 1)[1].split(". Fix")[0] for d in found] == ["is deployed by 'dg', which watches no CloudWatch alarm"]


def test_deployment_group_rolls_back_on_failure_and_alarms(pack: PolicyPack) -> None:
    stack = web(ignore=OWNED)
    assert violations(judge(pack, [group(stack[-1])]), "codedeploy-rollback-on-alarms") == []
    (disabled,) = violations(judge(pack, [group(stack[-1], rollback=False)]), "codedeploy-rollback-on-alarms")
    assert "DeploymentGroup 'dg': has automatic rollback disabled" in disabled.message
    (events,) = violations(judge(pack, [group(stack[-1], events=("DEPLOYMENT_FAILURE",))]), "codedeploy-rollback-on-alarms")
    assert "does not roll back on DEPLOYMENT_STOP_ON_ALARM" in events.message
    (alarms,) = violations(judge(pack, [group(stack[-1], watching=False)]), "codedeploy-rollback-on-alarms")
    assert "alarm configuration disabled" in alarms.message
    (none,) = violations(judge(pack, [group(stack[-1], alarms=())]), "codedeploy-rollback-on-alarms")
    assert "watches no CloudWatch alarm" in none.message
    diagnostics = judge(pack, [group(stack[-1], rollback=UNKNOWN)])
    assert violations(diagnostics, "codedeploy-rollback-on-alarms") == [] and deferred(diagnostics, "codedeploy-rollback-on-alarms")


def test_code_deploy_services_ignore_what_codedeploy_owns(pack: PolicyPack) -> None:
    assert violations(judge(pack, web(ignore=OWNED)), "ecs-code-deploy-ignore-changes") == []
    (found,) = violations(judge(pack, web(ignore=["desiredCount"])), "ecs-code-deploy-ignore-changes")
    assert "does not ignore changes to taskDefinition, loadBalancers" in found.message and "Fix: add ignore_changes" in found.message
    (one,) = violations(judge(pack, web(ignore=["taskDefinition"])), "ecs-code-deploy-ignore-changes")
    assert "ignore changes to loadBalancers," in one.message
    diagnostics = judge(pack, web(controller=UNKNOWN))
    assert violations(diagnostics, "ecs-code-deploy-ignore-changes") == [] and deferred(diagnostics, "ecs-code-deploy-ignore-changes")


def test_rolling_services_have_the_circuit_breaker(pack: PolicyPack) -> None:
    worker = res(SERVICE, "worker", {"capacityProviderStrategies": SPOT, "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    assert ours(judge(pack, [worker])) == []
    for breaker in ({"enable": True, "rollback": False}, None):
        props = {"capacityProviderStrategies": SPOT, **({"deploymentCircuitBreaker": breaker} if breaker else {})}
        (found,) = violations(judge(pack, [res(SERVICE, "worker", props)]), "ecs-rolling-circuit-breaker")
        assert "Service 'worker': deploys rolling without the deployment circuit breaker" in found.message
    unknown = res(SERVICE, "worker", {"capacityProviderStrategies": SPOT, "deploymentCircuitBreaker": UNKNOWN})
    assert deferred(judge(pack, [unknown]), "ecs-rolling-circuit-breaker")
    assert violations(judge(pack, web(ignore=OWNED)), "ecs-rolling-circuit-breaker") == []  # CODE_DEPLOY has none


def _rollback_off(registration) -> None:
    registration.inputs["autoRollbackConfiguration"]["enabled"] = False


def _no_ignore(registration) -> None:
    registration.ignore_changes = ["desiredCount"]


@pytest.mark.parametrize("mode", ["update", "first"])
@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize(
    ("type_", "name", "change", "policy"),
    [
        (GROUP, "{env}-core-api-deployment-group", _rollback_off, "codedeploy-rollback-on-alarms"),
        (SERVICE, "{env}-frontend-service", _no_ignore, "ecs-code-deploy-ignore-changes"),
    ],
    ids=["rollback-disabled", "no-ignore-changes"],
)
def test_done_when_mutations_fail_preflight(pack: PolicyPack, stack: str, mode: str, type_: str, name: str, change, policy: str) -> None:
    env = "alpha" if stack == "dev" else "prod"
    target = name.format(env=env)
    found = [d for d in violations(judge(pack, mutate(recording(stack, mode), type_, target, change), stack)) if d.policy in DEPLOY]
    assert {d.policy for d in found} >= {policy}
    assert all(target in d.message for d in found), [d.message for d in found]
    if type_ == GROUP and stack == "prod":
        # The stack check names the service the disabled group deploys.
        assert (
            any(d.policy == "ecs-web-service-blue-green" and "has automatic rollback disabled" in d.message for d in found)
            or mode == "first"
        )
