"""Cost: the stack's monthly estimate stays within its budget, and each verification environment within its own.

The estimate is the preflight's own (preflight/cost/estimate.py), computed here on the resources of
AnalyzeStack with the usage assumptions the stack's settings give, so the figure the policy judges is the
figure `python -m preflight cost <stack>` prints. Budgets and usage reach the pack through its config
(`policies/config/<stack>.json`, written from the stack settings by `python -m preflight cost <stack>
--policy-config`; a test keeps the two equal). Resources are related through property dependencies, so the
check runs in a first preview too; a value the estimate needs that is still unknown defers the check,
unless the known part alone is already over the budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource

from preflight.cost.estimate import ENVIRONMENT, SHARED, Estimate, Resource, environment_of, estimate
from settings.cost import CostSettings

from ._lib import Finding, StackIndex, _plain, defer, stack_policy

TOP = 3  # contributors named in a violation


def _resource(resource: PolicyResource) -> Resource:
    parent = resource.parent.urn if resource.parent is not None else (resource.opts.parent or "")
    # AnalyzeStack doesn't say which resources are components: custom types are `<package>:<module>/<name>:<Type>`.
    custom = "/" in resource.resource_type.split(":")[1] if resource.resource_type.count(":") == 2 else False
    deps = {key: [dep.urn for dep in found] for key, found in resource.property_dependencies.items()}
    return Resource(resource.urn, resource.resource_type, resource.name, parent, _plain(resource.props) or {}, deps, custom)


def _over(found: Estimate, spent: float, budget: float, environment: str | None) -> tuple[str | None, str | None]:
    """(the violation when `spent` exceeds `budget`, else None; what is unknown and could still add to `spent`)."""
    unknown = [g for g in found.unknown if environment is None or g.environment == environment]
    pending = f"{unknown[0].reason} ({unknown[0].type.rsplit(':', 1)[-1]} '{unknown[0].name}')" if unknown else None
    if spent <= budget:
        return None, pending
    where = "the stack's monthly estimate" if environment is None else f"environment {environment}'s monthly estimate"
    known = " (known resources alone)" if unknown else ""
    contributors = ", ".join(f"{name} (${usd:,.0f})" for name, usd in found.top(TOP, environment))
    return f"{where}{known} is ${spent:,.0f}, over its ${budget:,.0f} budget; the biggest contributors: {contributors}", None


def _within_budget(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    budget, per_environment = config.get("monthlyBudgetUsd"), config.get("environmentBudgetUsd")
    if budget is None and per_environment is None:
        return []
    found = estimate([_resource(r) for r in index.resources], CostSettings.model_validate(config.get("usage") or {}))
    by_urn = {r.urn: r for r in index.resources}
    top = found.top(1)
    anchor = next(iter(index.of_type("pulumi:pulumi:Stack")), None) or next(
        (by_urn[line.urn] for line in found.lines if top and line.name == top[0][0]), None
    )
    checks: list[tuple[PolicyResource | None, float, float, str | None]] = []
    if budget is not None:
        checks.append((anchor, found.total, float(budget), None))
    if per_environment is not None:
        components = {environment_of(_resource(r)): r for r in index.resources if r.resource_type.endswith(ENVIRONMENT)}
        for environment in found.by("environment"):
            if environment != SHARED:
                checks.append(
                    (components.get(environment) or anchor, found.environment_total(environment), float(per_environment), environment)
                )
    findings: list[Finding] = []
    pending: list[str] = []
    for resource, spent, limit, environment in checks:
        problem, unknown = _over(found, spent, limit, environment)
        if problem and resource is not None:
            findings.append((resource, problem))
        if unknown:
            pending.append(unknown)
    if pending and not findings:
        defer(pending[0])  # under budget so far, but an unknown value could still add to the estimate
    return findings


_BUDGET = {"type": ["number", "null"], "exclusiveMinimum": 0, "default": None}

POLICIES = [
    stack_policy(
        "cost-within-budget",
        "The stack's monthly cost estimate (preflight/cost) stays within its budget, and each verification environment within its own.",
        _within_budget,
        "shrink or remove the contributors named, or raise kanna-infra:cost monthlyBudgetUsd / environmentBudgetUsd in "
        "Pulumi.<stack>.yaml and run `python -m preflight cost <stack> --policy-config`",
        PolicyConfigSchema(
            properties={
                "monthlyBudgetUsd": {**_BUDGET, "description": "The stack's monthly budget in USD; null: no budget."},
                "environmentBudgetUsd": {**_BUDGET, "description": "Each verification environment's monthly budget in USD; null: none."},
                "usage": {"type": "object", "default": {}, "description": "The usage assumptions of settings/cost.py, camelCase."},
            }
        ),
        id="KANNA-COST-001",
    ),
]
