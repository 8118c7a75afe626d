"""Datadog for one environment: monitors, SLOs, a dashboard and synthetic checks.

- The AWS integration that collects metrics and S3 logs exists once per AWS account: it is the account
  baseline's (account/, components/observability/integration.py). Task logs go straight to Datadog through
  FireLens (components/platform/service/telemetry.py) and need no forwarder.
- Monitors come from the specs in components/observability/alarms.py, the same thresholds the CodeDeploy rollback
  alarms use. Every monitor and SLO is tagged `env:<env>` and `service:<name>`: the policy pack relates
  them to ECS services by that tag.

All inputs are explicit (`ObservabilityArgs`): this component looks nothing up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_datadog as datadog

from components.data.data import Data
from components.data.rotation import rotation_exempt
from components.lib.context import Context, InContext
from components.observability import alarms
from components.observability.alarms import MonitorSpec
from settings import Settings
from settings.observability import API_KEY_SECRET, ObservabilitySettings
from settings.platform import PlatformSettings


@dataclass(frozen=True)
class WebService:
    """A service behind the ALB. Names are literal (they become tags); ECS names may be Outputs."""

    name: str
    checks: dict[str, str]  # environment -> the public URL the synthetic check calls; none for internal-only services
    min_tasks: int
    cluster_name: pulumi.Input[str]
    ecs_service_name: pulumi.Input[str]
    apm_operation: str = "rack.request"
    health_path: str = "/up"


@dataclass(frozen=True)
class Worker:
    name: str


@dataclass(frozen=True)
class AuroraCluster:
    identifier: str
    readers: list[str] = field(default_factory=list)
    analytics_readers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DataStores:
    aurora: list[AuroraCluster] = field(default_factory=list)
    redis_replication_groups: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ObservabilityArgs(InContext):
    settings: ObservabilitySettings
    web_services: list[WebService]
    workers: list[Worker]
    data_stores: DataStores

    @staticmethod
    def of(context: Context, settings: Settings, cluster_name: pulumi.Input[str], data: Data) -> ObservabilityArgs:
        """What the stack runs, observed (see `observed`)."""
        web, workers, stores = observed(settings.platform, cluster_name, data)
        return ObservabilityArgs(context=context, settings=settings.observability, web_services=web, workers=workers, data_stores=stores)


class Observability(pulumi.ComponentResource):
    monitors: dict[str, datadog.Monitor]
    slos: dict[str, datadog.ServiceLevelObjective]
    synthetics: dict[str, datadog.SyntheticsTest]
    dashboard: datadog.DashboardJson

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:observability:Observability", name, None, opts)
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        # Tasks read the API key from here at start (components/platform/service/telemetry.py). Its value is put in once by an
        # operator (`aws secretsmanager put-secret-value`), so it never passes through git or Pulumi state.
        self.api_key_secret = aws.secretsmanager.Secret(
            f"{args.env}-datadog-api-key",
            name=API_KEY_SECRET.format(stack=args.env),
            description="Datadog API key for the agents and log routers of every task",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=30,
            tags=rotation_exempt(
                "Datadog issues this API key and no Secrets Manager function can create one. Rotated in Datadog: create a key "
                "there and put its value here. Tasks read it at start."
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.monitors = {}
        for spec in self._monitor_specs():
            self._monitor(spec)
        self.slos = {}
        for service in args.web_services:
            self._slos(service)
        self.synthetics = {
            f"{where}-{s.name}": self._synthetic(s, where, url) for s in args.web_services for where, url in s.checks.items()
        }
        self.dashboard = self._dashboard()
        self.register_outputs(
            {
                "monitors": {key: monitor.id for key, monitor in self.monitors.items()},
                "slos": {key: slo.id for key, slo in self.slos.items()},
                "dashboardUrl": self.dashboard.url,
            }
        )

    def outputs(self) -> dict[str, object]:
        """The stack outputs of observability."""
        return {"datadogDashboardUrl": self.dashboard.url}

    @property
    def _notify(self) -> str:
        return " ".join(self._args.settings.notify)

    def _monitor_specs(self) -> list[MonitorSpec]:
        args, env, s = self._args, self._args.env, self._args.settings
        specs: list[MonitorSpec] = []
        for service in args.web_services:
            specs += alarms.web_monitor_specs(
                service.name, env, service.apm_operation, service.cluster_name, service.ecs_service_name, service.min_tasks, s.web
            )
        for worker in args.workers:
            specs += alarms.worker_monitor_specs(worker.name, env, s.data)
        for cluster in args.data_stores.aurora:
            specs += alarms.aurora_monitor_specs(env, cluster.identifier, cluster.readers, cluster.analytics_readers, s.data)
        for group in args.data_stores.redis_replication_groups:
            specs += alarms.redis_monitor_specs(env, group, s.data)
        return specs + alarms.platform_monitor_specs(env)

    def _monitor(self, spec: MonitorSpec) -> None:
        key = f"{spec.subject}-{spec.key}"
        env = self._args.env
        self.monitors[key] = datadog.Monitor(
            f"{env}-{key}",
            name=f"[{env}] {spec.title}",
            type=spec.type,
            query=spec.query,
            message=f"{spec.title} in {env}. Runbook: docs/operations.md#{spec.key}\n{self._notify}",
            monitor_thresholds=datadog.MonitorMonitorThresholdsArgs(critical=str(spec.critical)),
            tags=list(spec.tags),
            include_tags=True,
            notify_no_data=False,
            renotify_interval=60,
            opts=self._child,
        )

    def _slos(self, service: WebService) -> None:
        env, slo = self._args.env, self._args.settings.slo
        scope = f"env:{env},service:{service.name}"
        tags = [f"env:{env}", f"service:{service.name}", "managed-by:pulumi"]
        operation = service.apm_operation
        self.slos[f"{service.name}-availability"] = datadog.ServiceLevelObjective(
            f"{env}-{service.name}-availability-slo",
            name=f"[{env}] {service.name} availability",
            type="metric",
            description=f"Share of {service.name} requests that did not fail, over {slo.timeframe}.",
            query=datadog.ServiceLevelObjectiveQueryArgs(
                numerator=f"sum:trace.{operation}.hits{{{scope}}}.as_count() - sum:trace.{operation}.errors{{{scope}}}.as_count()",
                denominator=f"sum:trace.{operation}.hits{{{scope}}}.as_count()",
            ),
            thresholds=[datadog.ServiceLevelObjectiveThresholdArgs(timeframe=slo.timeframe, target=slo.availability_target)],
            tags=tags,
            opts=self._child,
        )
        self.slos[f"{service.name}-latency"] = datadog.ServiceLevelObjective(
            f"{env}-{service.name}-latency-slo",
            name=f"[{env}] {service.name} latency",
            type="time_slice",
            description=f"Share of 5-minute slices in which {service.name}'s p95 stays under {slo.latency_threshold_ms} ms.",
            sli_specification=datadog.ServiceLevelObjectiveSliSpecificationArgs(
                time_slice=datadog.ServiceLevelObjectiveSliSpecificationTimeSliceArgs(
                    comparator="<=",
                    threshold=slo.latency_threshold_ms / 1000,
                    query_interval_seconds=300,
                    query=datadog.ServiceLevelObjectiveSliSpecificationTimeSliceQueryArgs(
                        formula=datadog.ServiceLevelObjectiveSliSpecificationTimeSliceQueryFormulaArgs(formula_expression="latency"),
                        queries=[
                            datadog.ServiceLevelObjectiveSliSpecificationTimeSliceQueryQueryArgs(
                                metric_query=datadog.ServiceLevelObjectiveSliSpecificationTimeSliceQueryQueryMetricQueryArgs(
                                    name="latency", query=f"p95:trace.{operation}{{{scope}}}"
                                )
                            )
                        ],
                    ),
                )
            ),
            thresholds=[datadog.ServiceLevelObjectiveThresholdArgs(timeframe=slo.timeframe, target=slo.latency_target)],
            tags=tags,
            opts=self._child,
        )

    def _synthetic(self, service: WebService, where: str, url: str) -> datadog.SyntheticsTest:
        env, s = self._args.env, self._args.settings
        return datadog.SyntheticsTest(
            f"{where}-{service.name}-https-check",
            name=f"[{env}] {service.name} HTTPS {url}",
            type="api",
            subtype="http",
            status="live",
            locations=s.synthetic_locations,
            request_definition=datadog.SyntheticsTestRequestDefinitionArgs(method="GET", url=url, timeout=30),
            assertions=[
                datadog.SyntheticsTestAssertionArgs(type="statusCode", operator="is", target="200"),
                datadog.SyntheticsTestAssertionArgs(type="responseTime", operator="lessThan", target=str(s.web.latency_p99_ms)),
            ],
            options_list=datadog.SyntheticsTestOptionsListArgs(
                tick_every=s.synthetic_interval_seconds,
                min_location_failed=1,
                # One retry absorbs a single dropped packet; a second failure pages.
                retry=datadog.SyntheticsTestOptionsListRetryArgs(count=1, interval=30000),
                monitor_options=datadog.SyntheticsTestOptionsListMonitorOptionsArgs(renotify_interval=60),
            ),
            message=f"{url} failed its HTTPS check from Tokyo in {env}.\n{self._notify}",
            tags=[f"env:{env}", f"service:{service.name}", f"kanna_env:{where}", "managed-by:pulumi"],
            opts=self._child,
        )

    def _dashboard(self) -> datadog.DashboardJson:
        args, env = self._args, self._args.env

        def timeseries(title: str, *queries: str) -> dict:
            return {
                "definition": {
                    "type": "timeseries",
                    "title": title,
                    "requests": [{"q": q, "display_type": "line"} for q in queries],
                }
            }

        def group(title: str, widgets: list) -> dict:
            return {"definition": {"type": "group", "title": title, "layout_type": "ordered", "widgets": widgets}}

        services = [
            group(
                s.name,
                [
                    timeseries(
                        "requests and errors",
                        f"sum:trace.{s.apm_operation}.hits{{env:{env},service:{s.name}}}.as_count()",
                        f"sum:trace.{s.apm_operation}.errors{{env:{env},service:{s.name}}}.as_count()",
                    ),
                    timeseries("p95 latency (s)", f"p95:trace.{s.apm_operation}{{env:{env},service:{s.name}}}"),
                    *[
                        {
                            "definition": {
                                "type": "slo",
                                "title": f"{s.name} {kind}",
                                "slo_id": self.slos[f"{s.name}-{kind}"].id,
                                "view_type": "detail",
                                "time_windows": [args.settings.slo.timeframe],
                                "view_mode": "overall",
                            }
                        }
                        for kind in ("availability", "latency")
                    ],
                ],
            )
            for s in args.web_services
        ]
        data = (
            [
                group(
                    "data stores",
                    [
                        timeseries(
                            "Aurora CPU %",
                            *[
                                f"avg:aws.rds.cpuutilization{{dbclusteridentifier:{c.identifier}}} by {{dbinstanceidentifier}}"
                                for c in args.data_stores.aurora
                            ],
                        ),
                        timeseries(
                            "Aurora replica lag (ms)",
                            *[
                                f"max:aws.rds.aurora_replica_lag{{dbclusteridentifier:{c.identifier}}} by {{dbinstanceidentifier}}"
                                for c in args.data_stores.aurora
                            ],
                        ),
                        timeseries(
                            "Redis memory %",
                            *[
                                f"max:aws.elasticache.database_memory_usage_percentage{{cacheclusterid:{g}-*}} by {{cacheclusterid}}"
                                for g in args.data_stores.redis_replication_groups
                            ],
                        ),
                        timeseries(
                            "Sidekiq queue latency (s)",
                            *[f"max:sidekiq.queue.latency{{env:{env},service:{w.name}}} by {{queue}}" for w in args.workers],
                        ),
                    ],
                )
            ]
            if args.data_stores.aurora or args.data_stores.redis_replication_groups or args.workers
            else []
        )
        deploys = group(
            "deploys",
            [
                # The event list of an ordered dashboard: `event_stream` is accepted only on free ones.
                {
                    "definition": {
                        "type": "list_stream",
                        "title": "CodeDeploy",
                        "requests": [
                            {
                                # As in Datadog's example "dashboard with event_stream list_stream widget" (Dashboards API).
                                "columns": [{"field": "timestamp", "width": "auto"}],
                                "query": {
                                    "data_source": "event_stream",
                                    "query_string": f"source:amazon_codedeploy env:{env}",
                                    "event_size": "s",
                                    "sort": {"column": "timestamp", "order": "desc"},
                                },
                                "response_format": "event_list",
                            }
                        ],
                    }
                }
            ],
        )
        # Empty request lists are invalid in Datadog: drop widgets that have nothing to plot.
        for g in data:
            g["definition"]["widgets"] = [w for w in g["definition"]["widgets"] if w["definition"].get("requests", [None])]
        document = {
            "title": f"kanna {env}",
            "description": "Services, data stores, deploys and SLOs. Managed by Pulumi (kanna-infra); edits in the UI are overwritten.",
            "layout_type": "ordered",
            "template_variables": [],
            "widgets": [*services, *data, deploys],
        }
        return datadog.DashboardJson(f"{env}-dashboard", dashboard=pulumi.Output.json_dumps(document), opts=self._child)


def observed(platform: PlatformSettings, cluster_name: pulumi.Input[str], data: Data) -> tuple[list[WebService], list[Worker], DataStores]:
    """What the stack runs, as Datadog sees it: the catalog's services (one Datadog service each, across the
    stack's environments, told apart by the `kanna_env` tag) and the data component's stores.

    Synthetic checks call every public URL of every environment; internal-only services are behind
    Cognito, where an unauthenticated check could only ever see the login redirect."""
    single = len(platform.environments) == 1
    web: list[WebService] = []
    for name, spec in platform.services.items():
        if spec.routing is None:
            continue
        # The ALB forwards paths unchanged: the check calls the health path the target group checks (settings make
        # sure a path-routed service's health path is one of its own paths).
        checks = (
            {}
            if spec.internal_auth
            else {env: f"https://{platform.hosts(env, spec.routing.host, single)}{spec.health_path}" for env in platform.environments}
        )
        web.append(
            WebService(
                name=name,
                checks=checks,
                min_tasks=platform.size(name).min_tasks,
                cluster_name=cluster_name,
                # ECS services are named <environment>-<service>: one monitor watches the service in every environment.
                ecs_service_name=f"{platform.environments[0]}-{name}" if single else f"*-{name}",
                apm_operation=spec.instrumentation.apm_operation,
                health_path=spec.health_path,
            )
        )
    workers = [Worker(name) for name, spec in platform.services.items() if spec.kind == "worker"]
    stores = DataStores(
        aurora=[
            AuroraCluster(cluster.identifier, readers=cluster.reader_identifiers, analytics_readers=cluster.analytics_identifiers)
            for cluster in (data.mysql, data.postgres)
        ],
        redis_replication_groups=[data.redis.identifier],
    )
    return web, workers, stores
