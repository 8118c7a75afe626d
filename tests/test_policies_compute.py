"""ARM64 and Spot policies over gRPC: compliant, violating and unknown cases, and the recorded stacks mutated."""

from __future__ import annotations

import json

import pytest

from preflight.analyzer import PolicyPack
from tests.conftest import recording
from tests.kit import UNKNOWN, deferred, judge, mutate, res, violations

TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
COMPUTE = ("ecs-task-definition-arm64", "ecs-service-capacity-providers", "ecs-service-spot-share", "ecs-web-service-on-demand-base")


def placement(diagnostics: list) -> list:
    """The violations of this module's policies (synthetic services lack the network the network policies want)."""
    return [d for d in violations(diagnostics) if d.policy in COMPUTE]


def task(arch: object) -> object:
    platform = {"cpuArchitecture": arch, "operatingSystemFamily": "LINUX"} if arch is not None else None
    return res(TASK, "td", {"requiresCompatibilities": ["FARGATE"], **({"runtimePlatform": platform} if platform else {})})


def service(strategies: object, web: bool = True, launch_type: object = None) -> object:
    props: dict = {"capacityProviderStrategies": strategies}
    if web:
        props["loadBalancers"] = [{"containerName": "web", "containerPort": 3000}]
    if launch_type is not None:
        props["launchType"] = launch_type
    return res(SERVICE, "svc", props)


def spot(weight: float, base: float = 0.0) -> dict:
    return {"capacityProvider": "FARGATE_SPOT", "weight": weight, "base": base}


def on_demand(weight: float, base: float) -> dict:
    return {"capacityProvider": "FARGATE", "weight": weight, "base": base}


def test_arm64_task_definition(pack: PolicyPack) -> None:
    assert violations(judge(pack, [task("ARM64")]), "ecs-task-definition-arm64") == []
    for arch in ("X86_64", None):
        (found,) = violations(judge(pack, [task(arch)]), "ecs-task-definition-arm64")
        assert (
            "TaskDefinition 'td'" in found.message and "instead of ARM64" in found.message and "Fix: set runtime_platform" in found.message
        )
    diagnostics = judge(pack, [task(UNKNOWN)])
    assert violations(diagnostics, "ecs-task-definition-arm64") == [] and deferred(diagnostics, "ecs-task-definition-arm64")


def test_capacity_provider_strategy_with_spot(pack: PolicyPack) -> None:
    assert placement(judge(pack, [service([on_demand(1, 1), spot(3)])])) == []
    (found,) = violations(judge(pack, [service([on_demand(1, 1)])]), "ecs-service-capacity-providers")
    assert "FARGATE_SPOT no weight" in found.message
    launch = violations(judge(pack, [service(None, launch_type="FARGATE")]), "ecs-service-capacity-providers")
    assert {d.message.split(": ", 1)[1].split(".")[0] for d in launch} == {
        "is placed by launchType FARGATE, which can't use Spot",
        "has no capacityProviderStrategies",
    }
    diagnostics = judge(pack, [service([on_demand(1, UNKNOWN), spot(3)])])
    assert placement(diagnostics) == [] and deferred(diagnostics, "ecs-service-capacity-providers")


def test_spot_share_is_per_stack(pack: PolicyPack) -> None:
    half = service([on_demand(1, 1), spot(1)])
    assert violations(judge(pack, [half], "prod"), "ecs-service-spot-share") == []
    (found,) = violations(judge(pack, [half], "dev"), "ecs-service-spot-share")  # dev wants 100% Spot
    assert "50% of its tasks" in found.message and "at least 100%" in found.message
    assert deferred(judge(pack, [service(UNKNOWN)], "dev"), "ecs-service-spot-share")


def test_prod_web_services_keep_an_on_demand_base(pack: PolicyPack) -> None:
    spot_only = service([spot(1)])
    (found,) = violations(judge(pack, [spot_only], "prod"), "ecs-web-service-on-demand-base")
    assert "no on-demand base" in found.message
    assert violations(judge(pack, [spot_only], "dev"), "ecs-web-service-on-demand-base") == []
    assert violations(judge(pack, [service([spot(1)], web=False)], "prod"), "ecs-web-service-on-demand-base") == []
    assert deferred(
        judge(pack, [res(SERVICE, "svc", {"loadBalancers": UNKNOWN, "capacityProviderStrategies": [spot(1)]})], "prod"),
        "ecs-web-service-on-demand-base",
    )


def _x86(registration) -> None:
    registration.inputs["runtimePlatform"]["cpuArchitecture"] = "X86_64"


def _launch_type(registration) -> None:
    registration.inputs["launchType"] = "FARGATE"
    del registration.inputs["capacityProviderStrategies"]


def _no_spot(registration) -> None:
    registration.inputs["capacityProviderStrategies"] = [
        s for s in registration.inputs["capacityProviderStrategies"] if s["capacityProvider"] != "FARGATE_SPOT"
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize(
    ("type_", "name", "change", "policy"),
    [
        (TASK, "{env}-core-api-task", _x86, "ecs-task-definition-arm64"),
        (SERVICE, "{env}-core-api-service", _launch_type, "ecs-service-capacity-providers"),
        (SERVICE, "{env}-frontend-service", _no_spot, "ecs-service-capacity-providers"),
    ],
    ids=["x86_64", "launch-type", "no-spot"],
)
def test_done_when_mutations_fail_preflight_naming_the_policy(
    pack: PolicyPack, stack: str, type_: str, name: str, change, policy: str
) -> None:
    recorded = recording(stack, "update")
    env = "alpha" if stack == "dev" else "prod"
    found = violations(judge(pack, mutate(recorded, type_, name.format(env=env), change), stack))
    assert policy in {d.policy for d in found}
    assert all(name.format(env=env) in d.message for d in found), [d.message for d in found]
    assert json.dumps([d.policy for d in found])
