"""The estimate of a stack as tables and JSON, the seed's cost choices as measured ratios, and the diff of two estimates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .estimate import SHARED, Estimate, Resource, what_if
from .prices import rate


@dataclass(frozen=True)
class Ratio:
    """One cost choice: the stack as it is against the alternative, in USD per month."""

    choice: str
    chosen: float
    alternative: float
    note: str

    @property
    def ratio(self) -> float:
        return self.chosen / self.alternative if self.alternative else 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "choice": self.choice,
            "chosenUsd": round(self.chosen, 2),
            "alternativeUsd": round(self.alternative, 2),
            "ratio": round(self.ratio, 3),
            "note": self.note,
        }


def _sum(estimate: Estimate, service: str) -> float:
    return sum(line.usd for line in estimate.lines if line.service == service)


def ratios(resources: list[Resource], estimate: Estimate) -> list[Ratio]:
    """The seed's five cost choices, each computed on this stack's own resources and usage."""
    usage = estimate.usage
    # Without the Savings Plan on either side, so that the ratio is the architecture and pricing model alone.
    as_is = _sum(what_if(resources, usage, savings_plan_coverage=0), "Fargate")
    x86 = _sum(what_if(resources, usage, savings_plan_coverage=0, x86_on_demand=True), "Fargate")
    endpoints = _sum(estimate, "VPC endpoints")
    through_nat = usage.endpoint_gb * rate("nat.gb")
    hourly = sum(line.usd for line in estimate.lines if line.service == "VPC endpoints" and line.price.endswith("az-hour"))
    break_even = hourly / (rate("nat.gb") - rate("endpoint.interface.gb"))
    environments = [e for e in estimate.by("environment") if e != SHARED]
    shared = estimate.total - sum(estimate.environment_total(e) for e in environments)
    separate = len(environments) * shared + sum(estimate.environment_total(e) for e in environments)
    always_on = what_if(resources, usage, schedule_share=1.0).total
    no_plan = what_if(resources, usage, savings_plan_coverage=0).total
    no_reserved = what_if(resources, usage, reserved_coverage=0).total
    return [
        Ratio("Fargate ARM64 + Spot vs x86_64 on-demand", as_is, x86, "Fargate compute alone, no Savings Plan on either side"),
        Ratio(
            "interface endpoints vs the same AWS API traffic through NAT",
            endpoints,
            through_nat,
            f"{usage.endpoint_gb:g} GB/month; the endpoints pay for themselves above {break_even:,.0f} GB/month",
        ),
        Ratio(
            f"{len(environments)} environment(s) on one platform vs {len(environments)} separate stacks",
            estimate.total,
            separate,
            f"shared platform ${shared:,.0f}, an environment's own resources ${(estimate.total - shared) / max(len(environments), 1):,.0f} on average",
        ),
        Ratio("the schedule vs always on", estimate.total, always_on, f"up {usage.schedule_share:.0%} of the hours"),
        Ratio(
            "Savings Plan coverage vs none",
            estimate.total,
            no_plan,
            f"{usage.savings_plan_coverage:.0%} of on-demand Fargate hours covered",
        ),
        Ratio("reserved coverage vs none", estimate.total, no_reserved, f"{usage.reserved_coverage:.0%} of Aurora and cache node hours"),
    ]


def document(stack: str, estimate: Estimate, found: Sequence[Ratio]) -> dict[str, Any]:
    """The estimate as JSON: what `--json` prints and `--save` writes, and what `cost diff` reads."""
    usage = estimate.usage
    return {
        "stack": stack,
        "totalUsd": round(estimate.total, 2),
        "budgetUsd": usage.monthly_budget_usd,
        "environmentBudgetUsd": usage.environment_budget_usd,
        "usage": usage.usage(),
        "byComponent": _rounded(estimate.by("component")),
        "byService": _rounded(estimate.by("service")),
        "byEnvironment": _rounded(estimate.by("environment")),
        "ratios": [r.to_json() for r in found],
        "notPriced": [g.to_json() for g in estimate.not_priced],
        "unknown": [g.to_json() for g in estimate.unknown],
        "lines": [line.to_json() for line in estimate.lines],
    }


def _rounded(sums: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 2) for key, value in sums.items()}


def _table(title: str, sums: dict[str, float], total: float) -> list[str]:
    width = max([len(k) for k in sums] + [len(title)])
    lines = [f"  {title:<{width}}  {'USD/month':>11}  share"]
    lines += [f"  {key:<{width}}  {usd:>11,.2f}  {usd / total:>5.1%}" for key, usd in sums.items() if round(usd, 2)]
    return lines


def render(doc: dict[str, Any]) -> str:
    total = doc["totalUsd"] or 1.0
    lines = [f"== cost of {doc['stack']}: ${doc['totalUsd']:,.2f} per month (ap-northeast-1 list prices, USD) =="]
    if doc["budgetUsd"] is not None:
        lines.append(f"budget ${doc['budgetUsd']:,.0f}; per environment {_usd(doc['environmentBudgetUsd'])}")
    for title, key in (("component", "byComponent"), ("service", "byService"), ("environment", "byEnvironment")):
        lines += ["", *_table(title, doc[key], total)]
    lines += ["", "savings, measured on this stack (ratio = as built / alternative):"]
    for r in doc["ratios"]:
        lines.append(f"  {r['choice']}: ${r['chosenUsd']:,.2f} vs ${r['alternativeUsd']:,.2f} = {r['ratio']:.2f} ({r['note']})")
    if doc["notPriced"]:
        lines += ["", "not priced (may cost money; no price or usage assumption yet):"]
        by_type: dict[str, list[str]] = {}
        for gap in doc["notPriced"]:
            by_type.setdefault(f"{gap['type']}: {gap['reason']}", []).append(gap["name"])
        lines += [f"  {what} ({len(names)}: {', '.join(names[:4])}{', ...' if len(names) > 4 else ''})" for what, names in by_type.items()]
    if doc["unknown"]:
        lines += ["", "unknown in this preview (not in the total):"]
        lines += [f"  {g['type'].rsplit(':', 1)[-1]} {g['name']}: {g['reason']}" for g in doc["unknown"]]
    lines += ["", "usage assumed (settings: kanna-infra:cost):"]
    lines += ["  " + ", ".join(f"{k} {v:g}" for k, v in doc["usage"].items())]
    return "\n".join(lines)


def _usd(value: float | None) -> str:
    return "none" if value is None else f"${value:,.0f}"


def _per_resource(doc: dict[str, Any]) -> dict[str, tuple[str, str, float]]:
    found: dict[str, tuple[str, str, float]] = {}
    for line in doc["lines"]:
        name, environment, usd = found.get(line["urn"], (line["name"], line["environment"], 0.0))
        found[line["urn"]] = (name, environment, usd + line["usd"])
    return found


def diff(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per stack: the resources whose monthly estimate changed, and the totals, base against head."""
    bases = {d["stack"]: d for d in base}
    out = []
    for doc in head:
        before = bases.get(doc["stack"], {"lines": [], "totalUsd": 0.0})
        old, new = _per_resource(before), _per_resource(doc)
        changes = []
        for urn in sorted(set(old) | set(new)):
            was, now = old.get(urn, (None, None, 0.0))[2], new.get(urn, (None, None, 0.0))[2]
            if abs(now - was) > 1e-6:  # every change, however small, so that the changes add up to the total's
                name, environment, _ = new.get(urn) or old[urn]
                change = "added" if urn not in old else "removed" if urn not in new else "changed"
                changes.append(
                    {
                        "urn": urn,
                        "name": name,
                        "environment": environment,
                        "change": change,
                        "baseUsd": round(was, 4),
                        "headUsd": round(now, 4),
                    }
                )
        changes.sort(key=lambda c: -abs(float(c["headUsd"]) - float(c["baseUsd"])))
        out.append({"stack": doc["stack"], "baseUsd": before["totalUsd"], "headUsd": doc["totalUsd"], "changes": changes})
    return out


def render_diff(stacks: list[dict[str, Any]], markdown: bool = False, limit: int = 25) -> str:
    lines = ["### Monthly cost estimate (offline, list prices)", ""] if markdown else []
    for s in stacks:
        delta = s["headUsd"] - s["baseUsd"]
        headline = f"{s['stack']}: ${s['baseUsd']:,.2f} -> ${s['headUsd']:,.2f} per month ({delta:+,.2f})"
        if not markdown:
            lines.append(headline)
            lines += [
                f"  {c['change']:<7} {c['name']} [{c['environment']}]: ${c['baseUsd']:,.2f} -> ${c['headUsd']:,.2f}"
                for c in s["changes"][:limit]
            ]
            continue
        lines += [f"**{headline}**", ""]
        if s["changes"]:
            lines += ["| resource | environment | change | base | head | delta |", "|---|---|---|---:|---:|---:|"]
            lines += [
                f"| `{c['name']}` | {c['environment']} | {c['change']} | {c['baseUsd']:,.2f} | {c['headUsd']:,.2f} | "
                f"{c['headUsd'] - c['baseUsd']:+,.2f} |"
                for c in s["changes"][:limit]
            ]
            if len(s["changes"]) > limit:
                lines.append(f"| ... {len(s['changes']) - limit} more | | | | | |")
        lines.append("")
    return "\n".join(lines)
