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


def _contributors(found: Estimate, environment: str | None = None) -> str:
    return ", ".join(f"{name} (${usd:,.0f})" for name, usd in found.top(TOP, environment))


def _over(found: Estimate, spent: float, budget: float, environment: str | None) -> str | None:
    """The violation, when `spent` exceeds `budget`; defers when it doesn't but an unknown value could add to it."""
    unknown = [g for g in found.unknown if environment is None or g.environment == environment]
    if spent > budget:
        where = "the stack's monthly estimate" if environment is None else f"environment {environment}'s monthly estimate"
        known = " (known resources alone)" if unknown else ""
        return f"{where}{known} is ${spent:,.0f}, over its ${budget:,.0f} budget; the biggest contributors: {_contributors(found, environment)}"
    if unknown:
        defer(f"{unknown[0].reason} ({unknown[0].type.rsplit(':', 1)[-1]} '{unknown[0].name}')")
    return None


def _within_budget(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    budget, per_environment = config.get("monthlyBudgetUsd"), config.get("environmentBudgetUsd")
    if budget is None and per_environment is None:
        return []
    resources = [_resource(r) for r in index.resources]
    found = estimate(resources, CostSettings.model_validate(config.get("usage") or {}))
    by_urn = {r.urn: r for r in index.resources}
    top = found.top(1)
    anchor = next(iter(index.of_type("pulumi:pulumi:Stack")), None) or next(
        (by_urn[line.urn] for line in found.lines if top and line.name == top[0][0]), None
    )
    findings: list[Finding] = []
    if budget is not None and anchor is not None and (problem := _over(found, found.total, float(budget), None)):
        findings.append((anchor, problem))
    if per_environment is not None:
        components = {environment_of(_resource(r)): r for r in index.resources if r.resource_type.endswith(ENVIRONMENT)}
        for environment in found.by("environment"):
            if environment == SHARED:
                continue
            spent = found.environment_total(environment)
            problem = _over(found, spent, float(per_environment), environment)
            if problem and (component := components.get(environment) or anchor) is not None:
                findings.append((component, problem))
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
    ),
]
