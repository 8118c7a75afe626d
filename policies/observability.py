"""Observability: every web service is watched and has an SLO, logs expire, and every task carries telemetry.

Monitors and SLOs are related to ECS services by their `service:<name>` tag. Tags are literal strings from
the settings, so they are known in a first preview, unlike the ids and names other resources give the
queries. A service's Datadog name is its `kanna:service` tag, or else its `name`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, StackIndex, defer, get, items, json_value, resource_policy, stack_policy

SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
MONITOR = "datadog:index/monitor:Monitor"
SLO = "datadog:index/serviceLevelObjective:ServiceLevelObjective"
DASHBOARD_JSON = "datadog:index/dashboardJson:DashboardJson"

# Widgets Datadog accepts only on `free` dashboards: their definitions in the Dashboards API spec say "Only available
# on FREE layout dashboards" (docs.datadoghq.com/api/latest/dashboards/; the API refuses the dashboard otherwise).
FREE_ONLY_WIDGETS = frozenset(
    {"event_stream", "event_timeline", "free_text", "iframe", "image", "log_stream", "manage_status", "trace_service"}
)

# What components/observability/observability.py gives each web service: error rate, p95 latency, running tasks, CPU and memory
# monitors, and availability and latency SLOs. Fewer means one was dropped.
MONITORS, SLOS = 5, 2
AGENT_CONTAINER = "datadog-agent"
SIDECARS = {AGENT_CONTAINER, "log-router"}
UNIFIED_ENV = ("DD_ENV", "DD_SERVICE", "DD_VERSION")
UNIFIED_LABELS = ("com.datadoghq.tags.env", "com.datadoghq.tags.service", "com.datadoghq.tags.version")


def _is_web(service: PolicyResource) -> bool:
    if get(service.props, "tags", "kanna:kind") == "web":
        return True
    # An unknown loadBalancers list counts as web: better a false alarm than an unwatched service.
    return bool(items(service.props, "loadBalancers"))


def _service_name(service: PolicyResource) -> Any:
    tagged = get(service.props, "tags", "kanna:service")
    return tagged if tagged is not None else get(service.props, "name")


def _tagged_services(index: StackIndex, type_: str) -> Counter[str]:
    """How many resources of `type_` carry each `service:<name>` tag."""
    names: Counter[str] = Counter()
    for resource in index.of_type(type_):
        for tag in items(resource.props, "tags"):
            if isinstance(tag, str) and tag.startswith("service:"):
                names[tag.removeprefix("service:")] += 1
    return names


def _web_services_observed(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    monitored, with_slo = _tagged_services(index, MONITOR), _tagged_services(index, SLO)
    minimum_monitors, minimum_slos = int(config.get("minimumMonitors", MONITORS)), int(config.get("minimumSlos", SLOS))
    found: list[Finding] = []
    for service in index.of_type(SERVICE):
        if not _is_web(service):
            continue
        name = _service_name(service)
        if name is UNKNOWN or name is None:
            found.append((service, "has no known name (tag kanna:service), so its monitors and SLOs can't be found"))
            continue
        if not monitored[name]:
            found.append((service, f"has no Datadog monitor tagged service:{name}"))
        elif monitored[name] < minimum_monitors:
            found.append((service, f"keeps {monitored[name]} Datadog monitors tagged service:{name}, fewer than its {minimum_monitors}"))
        if not with_slo[name]:
            found.append((service, f"has no Datadog SLO tagged service:{name}"))
        elif with_slo[name] < minimum_slos:
            found.append((service, f"keeps {with_slo[name]} Datadog SLOs tagged service:{name}, fewer than its {minimum_slos}"))
    return found


def _log_retention(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    days = get(args.props, "retentionInDays")
    if days is UNKNOWN:
        defer("retentionInDays")
    return [] if days else ["keeps its logs forever (no retentionInDays)"]


def _env_names(container: Mapping[str, Any]) -> set[str]:
    return {str(e.get("name")) for e in container.get("environment") or [] if isinstance(e, Mapping)}


def _task_telemetry(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    containers = json_value(args.props, "containerDefinitions")
    if containers is UNKNOWN:
        defer("containerDefinitions")
    if not isinstance(containers, list):
        return ["has no readable containerDefinitions"]
    problems: list[str] = []
    agents = [c for c in containers if isinstance(c, Mapping) and c.get("name") == AGENT_CONTAINER]
    if not agents or "datadog/agent" not in str(agents[0].get("image", "")):
        problems.append(f"has no '{AGENT_CONTAINER}' container running the Datadog agent image")
    for container in containers:
        if not isinstance(container, Mapping) or container.get("name") in SIDECARS:
            continue
        missing = [n for n in UNIFIED_ENV if n not in _env_names(container)]
        labels = container.get("dockerLabels") or {}
        missing += [label for label in UNIFIED_LABELS if label not in labels]
        if missing:
            problems.append(f"container '{container.get('name')}' lacks unified service tags {', '.join(missing)}")
    return problems


def dashboard_layout_problems(document: Mapping[str, Any]) -> list[str]:
    """What Datadog would refuse in a dashboard document, by the rules of its `layout_type`:
    - `free` dashboards place every widget (`layout` x/y/width/height) and hold no group widgets;
    - `ordered` dashboards hold no free-only widget, at any depth; a group is `ordered` and holds no group.
    """
    layout = document.get("layout_type")
    if layout not in ("ordered", "free"):
        return [f"layout_type {layout!r} is not a dashboard layout; allowed: ordered or free"]
    problems: list[str] = []

    def visit(widgets: Any, where: str, in_group: bool) -> None:
        for index, widget in enumerate(widgets or []):
            definition = widget.get("definition") or {}
            kind, here = definition.get("type"), f"{where}[{index}] ({definition.get('title') or definition.get('type')})"
            if layout == "free" and not in_group and not {"x", "y", "width", "height"} <= set(widget.get("layout") or {}):
                problems.append(f"widget {here} has no layout (x, y, width, height), which a free dashboard needs")
            if kind in FREE_ONLY_WIDGETS and layout != "free":
                problems.append(f"widget {here} is of type {kind}, which Datadog accepts only on free dashboards")
            if kind == "group":
                if layout == "free" or in_group:
                    problems.append(f"widget {here} is a group, which only an ordered dashboard holds, at its top level")
                if definition.get("layout_type") != "ordered":
                    problems.append(f"group {here} has layout_type {definition.get('layout_type')!r}; allowed: ordered")
                visit(definition.get("widgets"), f"{here}.widgets", True)

    visit(document.get("widgets"), "widgets", False)
    return problems


def _dashboard_layout(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    document = json_value(args.props, "dashboard")
    if document is UNKNOWN:
        defer("dashboard")  # it embeds SLO ids, unknown before the first up
    if not isinstance(document, Mapping):
        return ["the dashboard is not a JSON object"]
    return dashboard_layout_problems(document)


POLICIES = [
    stack_policy(
        "web-service-monitored",
        "Every web service (ECS service behind a load balancer or tagged kanna:kind=web) keeps its Datadog monitors and SLOs (5 and 2 by default).",
        _web_services_observed,
        "add the service to the observability component's web services, which creates its monitors and SLOs tagged service:<name>",
        PolicyConfigSchema(
            properties={
                "minimumMonitors": {"type": "integer", "minimum": 1, "default": MONITORS},
                "minimumSlos": {"type": "integer", "minimum": 1, "default": SLOS},
            }
        ),
        id="KANNA-OBS-001",
    ),
    resource_policy(
        "log-group-retention",
        "Every CloudWatch log group has a retention period.",
        [LOG_GROUP],
        _log_retention,
        "set retention_in_days (for example 30 in dev, 365 in prod)",
        id="KANNA-OBS-002",
        controls=("AWS FSBP CloudWatch.16",),
    ),
    resource_policy(
        "task-definition-telemetry",
        "Every ECS task definition carries the Datadog agent and unified service tags (DD_ENV/DD_SERVICE/DD_VERSION and labels).",
        [TASK_DEFINITION],
        _task_telemetry,
        "build container_definitions with components.platform.service.telemetry.container_definitions()",
        id="KANNA-OBS-003",
    ),
    resource_policy(
        "datadog-dashboard-layout",
        "Every Datadog dashboard follows the rules of its layout_type (free-only widgets only on free dashboards, etc.).",
        [DASHBOARD_JSON],
        _dashboard_layout,
        "use a widget the layout accepts (list_stream of events instead of event_stream on an ordered dashboard), or a free layout",
        id="KANNA-OBS-004",
    ),
]
