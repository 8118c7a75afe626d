"""Observability on the real dev and prod stacks, and its pure pieces: the telemetry helper and the alarm specs."""

from __future__ import annotations

import json

import pytest

from account.settings import account_key
from components.observability.alarms import service_alarm_specs, web_monitor_specs
from components.observability.integration import METRIC_NAMESPACES
from components.platform.service.telemetry import (
    AGENT_CONTAINER,
    AGENT_IMAGE,
    AGENT_INIT_CONTAINER,
    LOG_ROUTER_CONTAINER,
    LOG_ROUTER_IMAGE,
    container_definitions,
)
from settings.observability import WebThresholds
from settings.services import CATALOG, LANGUAGES
from tests.kit import UNKNOWN, RecordedStack

PRODUCT_WEB_SERVICES = [name for name, entry in CATALOG.items() if entry["kind"] == "web"]
PRODUCT_WORKERS = [name for name, entry in CATALOG.items() if entry["kind"] == "worker"]

MONITOR = "datadog:index/monitor:Monitor"
SLO = "datadog:index/serviceLevelObjective:ServiceLevelObjective"
SYNTHETIC = "datadog:index/syntheticsTest:SyntheticsTest"
SECRET = "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:prod/datadog-api-key-AbCdEf"
WEB_MONITORS = {"error-rate", "p95-latency", "running-tasks", "cpu", "memory"}


def helper(**overrides: object) -> list[dict]:
    args = {
        "service": "core-api",
        "env": "prod",
        "version": "v1.2.3",
        "container_name": "app",
        "image": "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/core-api:v1.2.3",
        "port": 3000,
        "log_group": "/kanna/prod/core-api",
        "region": "ap-northeast-1",
        "api_key_secret_arn": SECRET,
        "datadog_site": "ap1.datadoghq.com",
    }
    return container_definitions(**{**args, **overrides})  # type: ignore[arg-type]


def by_service(stack: RecordedStack, type_: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for resource in stack.of_type(type_):
        for tag in resource.inputs.get("tags", []):
            if tag.startswith("service:"):
                found.setdefault(tag.removeprefix("service:"), []).append(resource)
    return found


def test_helper_builds_app_agent_and_firelens_router() -> None:
    app, agent, router, init = json.loads(json.dumps(helper()))  # plain inputs: plain JSON, as json_dumps would render it
    assert [app["name"], agent["name"], router["name"], init["name"]] == [
        "app",
        AGENT_CONTAINER,
        LOG_ROUTER_CONTAINER,
        AGENT_INIT_CONTAINER,
    ]
    env = {e["name"]: e["value"] for e in app["environment"]}
    assert (env["DD_ENV"], env["DD_SERVICE"], env["DD_VERSION"]) == ("prod", "core-api", "v1.2.3")
    assert app["dockerLabels"] == {
        "com.datadoghq.tags.env": "prod",
        "com.datadoghq.tags.service": "core-api",
        "com.datadoghq.tags.version": "v1.2.3",
    }
    logs = app["logConfiguration"]
    assert logs["logDriver"] == "awsfirelens"
    assert logs["options"]["Name"] == "datadog" and logs["options"]["Host"] == "http-intake.logs.ap1.datadoghq.com"
    assert logs["secretOptions"] == [{"name": "apikey", "valueFrom": SECRET}]
    assert app["portMappings"] == [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}]

    assert agent["image"] == AGENT_IMAGE == "public.ecr.aws/datadog/agent:7"
    agent_env = {e["name"]: e["value"] for e in agent["environment"]}
    assert agent_env["ECS_FARGATE"] == "true" and agent_env["DD_APM_ENABLED"] == "true"
    assert agent_env["DD_DOGSTATSD_NON_LOCAL_TRAFFIC"] == "true" and agent_env["DD_SITE"] == "ap1.datadoghq.com"
    assert "DD_API_KEY" not in agent_env, "the API key is never plain text in a task definition"
    assert agent["secrets"] == [{"name": "DD_API_KEY", "valueFrom": SECRET}]
    assert {(p["containerPort"], p["protocol"]) for p in agent["portMappings"]} == {(8126, "tcp"), (8125, "udp")}

    assert router["image"] == LOG_ROUTER_IMAGE == "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
    assert router["firelensConfiguration"]["type"] == "fluentbit" and router["essential"] is True
    # The sidecars' own logs go to CloudWatch, not through the router they might be debugging.
    assert agent["logConfiguration"]["logDriver"] == router["logConfiguration"]["logDriver"] == "awslogs"
    assert router["logConfiguration"]["options"]["awslogs-group"] == "/kanna/prod/core-api"


def test_helper_keeps_app_variables_but_unified_tags_win() -> None:
    (app, *_) = helper(environment={"RAILS_ENV": "production", "DD_ENV": "wrong"}, secrets={"DATABASE_URL": SECRET})
    env = {e["name"]: e["value"] for e in app["environment"]}
    assert env["RAILS_ENV"] == "production" and env["DD_ENV"] == "prod"
    assert app["secrets"] == [{"name": "DATABASE_URL", "valueFrom": SECRET}]


def test_each_web_service_has_its_monitor_set_and_two_slos(each_stack: RecordedStack) -> None:
    monitors, slos = by_service(each_stack, MONITOR), by_service(each_stack, SLO)
    stack = each_stack.recording.stack
    for service in PRODUCT_WEB_SERVICES:
        keys = {m.name.removeprefix(f"{stack}-{service}-") for m in monitors[service]}
        assert keys == WEB_MONITORS, service
        assert sorted(s.name for s in slos[service]) == [f"{stack}-{service}-availability-slo", f"{stack}-{service}-latency-slo"]
        for slo in slos[service]:
            assert f"env:{stack}" in slo.inputs["tags"]
    assert {m.name for m in monitors[PRODUCT_WORKERS[0]]} == {f"{stack}-{PRODUCT_WORKERS[0]}-queue-latency"}
    assert set(slos) == set(PRODUCT_WEB_SERVICES)


def test_the_catalogs_language_picks_the_log_pipeline_and_the_apm_operation(prod: RecordedStack) -> None:
    # Issue 17: the port and the image used to decide (core-api and the Node services all listen on 3000).
    monitors = {m.name: m.inputs for m in prod.of_type(MONITOR)}
    for name, entry in CATALOG.items():
        instrumentation = LANGUAGES[entry["language"]]
        task = prod.one("aws:ecs/taskDefinition:TaskDefinition", f"prod-{name}-task")
        (app,) = [c for c in json.loads(task.inputs["containerDefinitions"]) if c["name"] == name]
        assert app["logConfiguration"]["options"]["dd_source"] == instrumentation.log_source, name
        if entry["kind"] == "web":
            query = monitors[f"prod-{name}-error-rate"]["query"]
            assert f"trace.{instrumentation.apm_operation}.errors{{env:prod,service:{name}}}" in query, (name, query)
    assert {LANGUAGES[e["language"]].log_source for e in CATALOG.values()} == {"ruby", "nodejs", "java"}


@pytest.mark.parametrize(("stack", "target", "handle"), [("prod", 99.9, "@pagerduty-kanna-prod"), ("dev", 99.5, "@slack-kanna-dev")])
def test_slo_targets_and_notifications_per_stack(stack: str, target: float, handle: str, request: pytest.FixtureRequest) -> None:
    recorded: RecordedStack = request.getfixturevalue(stack)
    availability = recorded.one(SLO, f"{stack}-core-api-availability-slo").inputs
    assert availability["type"] == "metric"
    assert availability["thresholds"] == [{"target": target, "timeframe": "30d"}]
    assert "service:core-api" in availability["query"]["denominator"] and "errors" in availability["query"]["numerator"]
    latency = recorded.one(SLO, f"{stack}-core-api-latency-slo").inputs["sliSpecification"]["timeSlice"]
    assert latency["comparator"] == "<=" and latency["threshold"] == 1.0
    for monitor in recorded.of_type(MONITOR):
        assert monitor.inputs["message"].endswith(handle), monitor.name
        assert f"env:{stack}" in monitor.inputs["tags"]


def test_data_store_and_platform_monitors(prod: RecordedStack) -> None:
    names = {m.name: m.inputs for m in prod.of_type(MONITOR)}
    assert names["prod-prod-mysql-prod-mysql-analytics-replica-lag"]["query"].endswith("> 300000.0")
    assert names["prod-prod-mysql-prod-mysql-reader-1-replica-lag"]["query"].endswith("> 5000.0")
    for key in ("cpu", "connections", "freeable-memory"):
        assert "dbclusteridentifier:prod-postgres" in names[f"prod-prod-postgres-{key}"]["query"]
    assert "cacheclusterid:prod-redis-*" in names["prod-prod-redis-evictions"]["query"]
    assert "aws.elasticache.database_memory_usage_percentage" in names["prod-prod-redis-memory"]["query"]
    assert names["prod-codedeploy-deployment-failed"]["type"] == "event-v2 alert"
    assert names["prod-guardduty-guardduty-high"]["type"] == "log alert"
    assert "@detail.severity:>=7" in names["prod-guardduty-guardduty-high"]["query"]
    assert (
        names["prod-core-api-running-tasks"]["query"]
        == "max(last_10m):min:aws.ecs.service.running{clustername:prod-cluster,servicename:prod-core-api} < 2"
    )


def test_synthetics_from_tokyo_for_every_public_hostname(each_stack: RecordedStack) -> None:
    environments = [c.name.split("-", 1)[1] for c in each_stack.of_type("kanna:platform:Environment")]
    public = [name for name in PRODUCT_WEB_SERVICES if not CATALOG[name].get("internalAuth")]
    checks = {s.name: s.inputs for s in each_stack.of_type(SYNTHETIC)}
    # Every public URL of every environment; the Cognito-protected admin only ever answers with a login redirect.
    assert set(checks) == {f"{env}-{name}-https-check" for env in environments for name in public}
    for name, check in checks.items():
        service = next(s for s in public if name.endswith(f"-{s}-https-check"))
        assert check["locations"] == ["aws:ap-northeast-1"]
        assert check["type"] == "api" and check["subtype"] == "http" and check["status"] == "live"
        url = check["requestDefinition"]["url"]
        assert url.startswith("https://") and "example.com/" in url and url.endswith(CATALOG[service]["healthPath"])
        assert {"type": "statusCode", "operator": "is", "target": "200"} in check["assertions"]


def test_integration_role_trusts_only_datadog_with_the_external_id(each_account: RecordedStack) -> None:
    each_stack = each_account  # the integration is the account's (account/): one per AWS account
    stack = account_key(each_stack.recording.stack)
    role = each_stack.one("aws:iam/role:Role", f"{stack}-datadog-integration-role")
    external_id = each_stack.one("datadog:aws/integrationExternalId:IntegrationExternalId", f"{stack}-datadog-external-id")
    assert each_stack.deps(role, "assumeRolePolicy") == [external_id]
    integration = each_stack.one("datadog:aws/integrationAccount:IntegrationAccount", f"{stack}-datadog-aws")
    assert {d.name for d in each_stack.deps(integration, "authConfig")} == {external_id.name, role.name}
    if each_stack.recording.mode == "first":
        assert role.inputs["assumeRolePolicy"] == UNKNOWN  # the external id is not known before the first up
        return
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    # The stacks' site is ap1 (Tokyo), whose AWS integration runs from 417141415827.
    assert statement["Principal"] == {"AWS": "arn:aws:iam::417141415827:root"} and statement["Action"] == "sts:AssumeRole"
    external = statement["Condition"]["StringEquals"]["sts:ExternalId"]
    assert external == integration.inputs["authConfig"]["awsAuthConfigRole"]["externalId"]
    assert integration.inputs["authConfig"]["awsAuthConfigRole"]["roleName"] == f"{stack}-datadog-integration"
    assert integration.inputs["metricsConfig"]["namespaceFilters"]["includeOnlies"] == METRIC_NAMESPACES
    assert integration.inputs["logsConfig"]["lambdaForwarder"]["sources"] == ["elbv2", "cloudfront", "s3"]
    policy = json.loads(each_stack.one("aws:iam/rolePolicy:RolePolicy", f"{stack}-datadog-integration-policy").inputs["policy"])
    read = next(s for s in policy["Statement"] if s["Sid"] == "ReadOnly")["Action"]
    assert all(a.split(":")[1].startswith(("Get", "List", "Describe", "BatchGet", "Filter", "Lookup", "Test", "GET")) for a in read)
    # Datadog creates the integration only once it can assume the role with its permissions.
    assert {d.split("::")[-1] for d in integration.dependencies} >= {
        f"{stack}-datadog-integration-policy",
        f"{stack}-datadog-integration-security-audit",
    }


def test_rollback_alarms_cover_both_target_groups_with_the_monitor_thresholds() -> None:
    thresholds = WebThresholds(error_rate_percent=2, latency_p99_ms=1500)
    specs = service_alarm_specs("core-api", "prod", "app/prod-alb/abc", {"blue": "targetgroup/b/1", "green": "targetgroup/g/2"}, thresholds)
    assert [s.name for s in specs] == [
        f"prod-core-api-{role}-{kind}" for role in ("blue", "green") for kind in ("5xx-rate", "unhealthy-hosts", "p99-latency")
    ]
    assert {s.dimensions["TargetGroup"] for s in specs if "blue" in s.name} == {"targetgroup/b/1"}
    assert {s.dimensions["TargetGroup"] for s in specs if "green" in s.name} == {"targetgroup/g/2"}
    rate = specs[0]
    assert rate.threshold == 2 and [q.id for q in rate.queries] == ["errors", "requests", "rate"]
    assert rate.queries[-1].expression == "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)" and rate.queries[-1].return_data
    assert specs[2].threshold == 1.5 and specs[2].queries[0].stat == "p99"
    # The Datadog error-rate monitor fires at the same threshold as the rollback alarm.
    (error_rate, *_) = web_monitor_specs("core-api", "prod", "rack.request", "c", "s", 2, thresholds)
    assert error_rate.critical == rate.threshold and str(error_rate.query).endswith("> 2.0")
    with pytest.raises(ValueError, match="both target groups"):
        service_alarm_specs("core-api", "prod", "app/x", {"blue": "targetgroup/b/1"}, thresholds)
