"""ARM and Spot: Fargate tasks run on Graviton, and services are placed by capacity provider strategies with Spot.

The minimum Spot share and whether web services need an on-demand base are per-stack settings
(policies/config/<stack>.json): dev runs everything on Spot, prod keeps an on-demand floor for web.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs

from ._lib import UNKNOWN, defer, get, items, resource_policy

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
SPOT, ON_DEMAND = "FARGATE_SPOT", "FARGATE"


def _arm64(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    compatibilities = items(args.props, "requiresCompatibilities")
    if UNKNOWN in compatibilities:
        defer("requiresCompatibilities")
    if "FARGATE" not in compatibilities:
        return []
    arch = get(args.props, "runtimePlatform", "cpuArchitecture")
    if arch is UNKNOWN:
        defer("runtimePlatform.cpuArchitecture")
    if arch != "ARM64":
        return [f"runs on {arch or 'X86_64 (no runtimePlatform, the default)'} instead of ARM64"]
    return []


def _strategies(args: ResourceValidationArgs) -> list[Any]:
    """The service's capacity provider strategy items; defers when any part is unknown."""
    strategies = items(args.props, "capacityProviderStrategies")
    for strategy in strategies:
        if strategy is UNKNOWN or UNKNOWN in (get(strategy, "capacityProvider"), get(strategy, "weight"), get(strategy, "base")):
            defer("capacityProviderStrategies")
    return strategies


def _weights(strategies: list[Any]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for strategy in strategies:
        provider = get(strategy, "capacityProvider")
        weights[provider] = weights.get(provider, 0.0) + float(get(strategy, "weight", default=0))
    return weights


def _capacity_providers(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    problems = []
    launch_type = get(args.props, "launchType")
    if launch_type is UNKNOWN:
        defer("launchType")
    if launch_type:
        problems.append(f"is placed by launchType {launch_type}, which can't use Spot")
    strategies = _strategies(args)
    if not strategies:
        problems.append("has no capacityProviderStrategies")
    elif _weights(strategies).get(SPOT, 0.0) <= 0:
        problems.append("gives FARGATE_SPOT no weight in its capacity provider strategy")
    return problems


def _spot_share(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    minimum = float(config.get("minSpotShare", 0.5))
    weights = _weights(_strategies(args))
    total = sum(weights.values())
    if total <= 0:
        return []  # ecs-service-capacity-providers reports a service with no strategy
    share = weights.get(SPOT, 0.0) / total
    if share + 1e-9 < minimum:
        return [f"puts {share:.0%} of its tasks above the base on Spot; this stack requires at least {minimum:.0%}"]
    return []


def _on_demand_base(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    if not config.get("requireOnDemandBase", True):
        return []
    balancers = items(args.props, "loadBalancers")
    if UNKNOWN in balancers:
        defer("loadBalancers")
    if not balancers:
        return []  # workers can live on Spot alone: a reclaimed task's jobs are retried
    base = sum(float(get(s, "base", default=0)) for s in _strategies(args) if get(s, "capacityProvider") == ON_DEMAND)
    if base < 1:
        return ["is a web service (behind a load balancer) with no on-demand base, so a Spot reclaim wave could take it down"]
    return []


POLICIES = [
    resource_policy(
        "ecs-task-definition-arm64",
        "Fargate task definitions run on ARM64 (Graviton).",
        [TASK_DEFINITION],
        _arm64,
        "set runtime_platform cpu_architecture='ARM64' and operating_system_family='LINUX', and build the image for linux/arm64",
        id="KANNA-COMP-001",
    ),
    resource_policy(
        "ecs-service-capacity-providers",
        "ECS services are placed by a capacity provider strategy (never launchType) that gives FARGATE_SPOT a positive weight.",
        [SERVICE],
        _capacity_providers,
        "remove launch_type and set capacity_provider_strategies with FARGATE_SPOT weight >= 1 (and FARGATE for an on-demand base)",
        id="KANNA-COMP-002",
    ),
    resource_policy(
        "ecs-service-spot-share",
        "Above the on-demand base, at least the stack's minimum share of an ECS service's tasks run on Spot.",
        [SERVICE],
        _spot_share,
        "raise the FARGATE_SPOT weight (or lower FARGATE's) in the service's size settings",
        PolicyConfigSchema(
            properties={"minSpotShare": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5}},
        ),
        id="KANNA-COMP-003",
    ),
    resource_policy(
        "ecs-web-service-on-demand-base",
        "Web services (behind a load balancer) keep an on-demand base of at least one task where the stack requires it.",
        [SERVICE],
        _on_demand_base,
        "give the service a FARGATE strategy item with base >= 1 (settings: onDemandBase)",
        PolicyConfigSchema(properties={"requireOnDemandBase": {"type": "boolean", "default": True}}),
        id="KANNA-COMP-004",
    ),
]
