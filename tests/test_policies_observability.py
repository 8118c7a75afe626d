"""Observability policies over gRPC: compliant, violating and unknown-values cases, and the recorded stacks."""

from __future__ import annotations

import json

import pytest

from components.platform.service.telemetry import AGENT_CONTAINER, container_definitions
from preflight.analyzer import PolicyPack
from settings.services import CATALOG
from tests.kit import UNKNOWN, RecordedStack, copied, deferred, judge, res, violations

PRODUCT_WEB_SERVICES = [name for name, entry in CATALOG.items() if entry["kind"] == "web"]
PRODUCT_WORKERS = [name for name, entry in CATALOG.items() if entry["kind"] == "worker"]

SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
MONITOR = "datadog:index/monitor:Monitor"
SLO = "datadog:index/serviceLevelObjective:ServiceLevelObjective"
SECRET = "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:prod/datadog-api-key-AbCdEf"


def web_service(name: str, *, tagged: bool = True, ecs_name: object = None, balancers: object = None) -> object:
    props: dict = {"name": ecs_name if ecs_name is not None else f"prod-{name}"}
    if tagged:
        props["tags"] = {"kanna:kind": "web", "kanna:service": name}
    if balancers is not None:
        props["loadBalancers"] = balancers
    return res(SERVICE, f"prod-{name}-service", props)


def watched(name: str, monitor: bool = True, slo: bool = True) -> list:
    tags = ["env:prod", f"service:{name}"]
    monitors = ("error-rate", "p95-latency", "running-tasks", "cpu", "memory")
    return [
        *([res(MONITOR, f"prod-{name}-{m}", {"type": "query alert", "tags": tags}) for m in monitors] if monitor else []),
        *([res(SLO, f"prod-{name}-{k}-slo", {"type": "metric", "tags": tags}) for k in ("availability", "latency")] if slo else []),
    ]


def task(definitions: object) -> object:
    return res(TASK, "prod-core-api-task", {"family": "prod-core-api", "containerDefinitions": definitions})


def helper_definitions() -> list[dict]:
    return container_definitions(
        service="core-api",
        env="prod",
        version="v1",
        container_name="app",
        image="111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/core-api:v1",
        port=3000,
        log_group="/kanna/prod/core-api",
        region="ap-northeast-1",
        api_key_secret_arn=SECRET,
        datadog_site="ap1.datadoghq.com",
    )


# --- web-service-monitored ---------------------------------------------------------------------


def test_watched_web_service_passes(pack: PolicyPack) -> None:
    assert violations(judge(pack, [web_service("core-api"), *watched("core-api")]), "web-service-monitored") == []


@pytest.mark.parametrize(("monitor", "slo", "missing"), [(False, True, "monitor"), (True, False, "SLO"), (False, False, "monitor")])
def test_unwatched_web_service_fails(pack: PolicyPack, monitor: bool, slo: bool, missing: str) -> None:
    found = violations(judge(pack, [web_service("core-api"), *watched("core-api", monitor, slo)]), "web-service-monitored")
    assert any(f"no Datadog {missing} tagged service:core-api" in d.message for d in found)
    assert all("Service 'prod-core-api-service'" in d.message and "Fix: add the service" in d.message for d in found)


def test_service_behind_a_load_balancer_counts_as_web_even_untagged(pack: PolicyPack) -> None:
    untagged = web_service("report", tagged=False, balancers=[{"containerName": "app", "containerPort": 3000}])
    (found,) = violations(judge(pack, [untagged, *watched("prod-report", slo=False)]), "web-service-monitored")
    assert "no Datadog SLO tagged service:prod-report" in found.message
    worker = res(SERVICE, "prod-sidekiq-service", {"name": "prod-sidekiq", "tags": {"kanna:kind": "worker"}})
    assert violations(judge(pack, [worker]), "web-service-monitored") == []


def test_unknown_values_first_preview(pack: PolicyPack) -> None:
    # The ECS name is unknown but the literal kanna:service tag relates it; unknown balancers count as web.
    known_tag = web_service("core-api", ecs_name=UNKNOWN)
    assert violations(judge(pack, [known_tag, *watched("core-api")]), "web-service-monitored") == []
    nameless = web_service("x", tagged=False, ecs_name=UNKNOWN, balancers=UNKNOWN)
    (found,) = violations(judge(pack, [nameless]), "web-service-monitored")
    assert "no known name" in found.message


def test_removing_a_prod_services_slo_fails_the_recorded_stack(prod: RecordedStack, pack: PolicyPack) -> None:
    # The real prod stack: its ECS services are tagged kanna:service, its monitors and SLOs service:<name>.
    registrations = copied(prod.registrations)
    assert len([r for r in registrations if r.type == SERVICE]) == len(CATALOG)
    assert violations(judge(pack, registrations), "web-service-monitored") == []
    without = [r for r in registrations if r.name != "prod-payment-availability-slo"]
    without = [r for r in without if r.name != "prod-payment-latency-slo"]
    found = violations(judge(pack, without), "web-service-monitored")
    assert [d.message.split(": ")[1].split(". Fix")[0] for d in found] == ["has no Datadog SLO tagged service:payment"]
    assert "'prod-payment-service'" in found[0].message
    # Dropping one of its monitors (or SLOs) is caught too: every web service keeps all of them.
    fewer = [r for r in registrations if r.name != "prod-payment-p95-latency"]
    (found,) = violations(judge(pack, fewer), "web-service-monitored")
    assert "keeps 4 Datadog monitors tagged service:payment, fewer than its 5" in found.message
    fewer = [r for r in registrations if r.name != "prod-payment-latency-slo"]
    (found,) = violations(judge(pack, fewer), "web-service-monitored")
    assert "keeps 1 Datadog SLOs tagged service:payment, fewer than its 2" in found.message


def test_dev_reports_the_same_gap(dev: RecordedStack, pack: PolicyPack) -> None:
    lonely = res(SERVICE, "dev-newsvc-service", {"name": "dev-newsvc", "tags": {"kanna:kind": "web", "kanna:service": "newsvc"}})
    diagnostics = judge(pack, [*dev.registrations, lonely], stack="dev")
    assert len(violations(diagnostics, "web-service-monitored")) == 2  # mandatory in dev too


# --- log-group-retention -------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "violating", "deferring"), [(30.0, 0, 0), (None, 1, 0), (0.0, 1, 0), (UNKNOWN, 0, 1)])
def test_log_group_retention(pack: PolicyPack, days: object, violating: int, deferring: int) -> None:
    props = {"name": "/kanna/prod/core-api"} | ({} if days is None else {"retentionInDays": days})
    diagnostics = judge(pack, [res("aws:cloudwatch/logGroup:LogGroup", "prod-core-api-logs", props)])
    found = violations(diagnostics, "log-group-retention")
    assert len(found) == violating and len(deferred(diagnostics, "log-group-retention")) == deferring
    assert all("keeps its logs forever" in d.message and "retention_in_days" in d.message for d in found)


# --- task-definition-telemetry -------------------------------------------------------------------


def test_task_definition_from_the_helper_passes(pack: PolicyPack) -> None:
    assert violations(judge(pack, [task(json.dumps(helper_definitions()))]), "task-definition-telemetry") == []


def test_task_definition_without_the_agent_fails(pack: PolicyPack) -> None:
    definitions = [c for c in helper_definitions() if c["name"] != AGENT_CONTAINER]
    (found,) = violations(judge(pack, [task(json.dumps(definitions))]), "task-definition-telemetry")
    assert "TaskDefinition 'prod-core-api-task'" in found.message and "no 'datadog-agent' container" in found.message
    assert "components.platform.service.telemetry.container_definitions()" in found.message


def test_task_definition_without_unified_tags_fails(pack: PolicyPack) -> None:
    definitions = helper_definitions()
    definitions[0]["environment"] = [e for e in definitions[0]["environment"] if e["name"] != "DD_VERSION"]
    del definitions[0]["dockerLabels"]["com.datadoghq.tags.service"]
    (found,) = violations(judge(pack, [task(json.dumps(definitions))]), "task-definition-telemetry")
    assert "container 'app' lacks unified service tags DD_VERSION, com.datadoghq.tags.service" in found.message


def test_task_definition_with_unknown_containers_is_deferred(pack: PolicyPack) -> None:
    diagnostics = judge(pack, [task(UNKNOWN)])
    assert violations(diagnostics, "task-definition-telemetry") == []
    assert len(deferred(diagnostics, "task-definition-telemetry")) == 1


def test_removing_the_agent_fails_the_recorded_prod_and_dev_stacks(prod: RecordedStack, dev: RecordedStack, pack: PolicyPack) -> None:
    stripped = task(json.dumps([c for c in helper_definitions() if c["name"] != AGENT_CONTAINER]))
    assert [d.policy for d in violations(judge(pack, [*prod.registrations, stripped]))] == ["task-definition-telemetry"]
    diagnostics = judge(pack, [*dev.registrations, stripped], stack="dev")
    assert [d.policy for d in violations(diagnostics)] == ["task-definition-telemetry"]  # mandatory in dev too
