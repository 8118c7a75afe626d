"""One verification environment (or prod's only one): every catalog service, on the shared cluster and ALB.

An environment has its own hosts on the shared ALB and its own security groups. Its services call each other
through the ALB too, at the callee's internal host (`https://alpha-core-api-svc.dev.example.com`, from
`PlatformSettings.service_host`), which the callee's own listener rule matches: a call takes the target group
pair CodeDeploy shifts, the test listener, the canary and the rollback alarms, like a user's request
(docs/service-to-service.md). Task groups admit only the ALB's; the ALB's callers group admits the groups of
this environment's calling services on 443. No Cloud Map: its DNS would list green tasks as soon as they
are healthy and blue ones through the termination wait, whatever CodeDeploy decided.

Deploys: with the stack's `deploy.webStrategy` blueGreen (and the edge's test listener), every web service
gets a green target group, a test rule and a CodeDeploy deployment group (components/platform/bluegreen.py), all in
the environment's one CodeDeploy application. Workers deploy rolling, rolled back by the circuit breaker and
by their queue-latency alarm. `deploy` holds what CI needs to ship an image to each service, either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.contracts import Connection, InternalAuth, Telemetry
from components.observability.alarms import service_alarms, worker_alarm_specs
from components.platform.bluegreen import BlueGreen, BlueGreenArgs, deploy_application, deploy_inputs, rolling_deploy_inputs
from components.platform.cluster import Cluster
from components.platform.service.container_service import ContainerService, ContainerServiceArgs, Placement, Rollout, Routing, Runtime
from components.platform.service.scaling import QUEUE_METRIC_NAMESPACE
from components.platform.web_route import WebRoute, WebRouteArgs
from settings import Settings

# Listener rule priorities: each environment owns a block; inside it, rules with paths come first so that a
# service routed by paths on a shared host wins over that host's catch-all (settings keep their paths disjoint).
PRIORITY_BLOCK = 50


@dataclass(frozen=True, kw_only=True)
class EnvironmentArgs:
    env: str
    index: int  # the environment's position in the settings: its block of listener rule priorities
    settings: Settings
    cluster: Cluster
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Output[str]]
    listener_arn: pulumi.Input[str]
    alb_arn_suffix: pulumi.Input[str]
    alb_security_group_id: pulumi.Input[str]
    alb_callers_security_group_id: pulumi.Input[str]  # the ALB's group that admits calling services' tasks
    internal_auth: InternalAuth
    logs_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    telemetry: Telemetry
    exec_policy_arn: pulumi.Input[str]
    connect: Callable[[str, str], Connection]  # (store, service) -> how the service reaches that data store
    test_listener_arn: pulumi.Input[str] | None = None  # the ALB's VPC-only test listener: web services deploy blue/green


class Environment(pulumi.ComponentResource):
    services: dict[str, ContainerService]
    routes: dict[str, WebRoute]
    security_group_ids: dict[str, pulumi.Output[str]]  # by service: for data stores' ingress rules
    blue_green: dict[str, BlueGreen]  # by web service, when the stack deploys blue/green
    deploy: dict[str, pulumi.Output[dict]]  # by service: what CI needs to ship an image (deploy/render.py)

    def __init__(self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:platform:Environment", name, None, opts)
        env, settings = args.env, args.settings
        platform = settings.platform
        child = pulumi.ResourceOptions(parent=self)
        single = len(platform.environments) == 1
        blue_green = settings.deploy.web_strategy == "blueGreen" and args.test_listener_arn is not None
        web = [name for name, spec in platform.services.items() if spec.routing is not None]
        ordered = sorted(web, key=lambda name: not platform.services[name].routing.paths)  # type: ignore[union-attr]
        called = platform.callees()

        self.routes = {}
        for position, service in enumerate(ordered):
            spec = platform.services[service]
            assert spec.routing is not None and spec.port is not None
            self.routes[service] = WebRoute(
                f"{env}-{service}-route",
                WebRouteArgs(
                    name=f"{env}-{service}",
                    vpc_id=args.vpc_id,
                    port=spec.port,
                    health_path=spec.health_path,
                    host=platform.hosts(env, spec.routing.host, single),
                    paths=spec.routing.paths,
                    priority=1 + args.index * PRIORITY_BLOCK + position,
                    listener_arn=args.listener_arn,
                    internal_auth=args.internal_auth if spec.internal_auth else None,
                    test_listener_arn=args.test_listener_arn if blue_green else None,
                    service_host=platform.service_host(env, service) if service in called else None,
                ),
                child,
            )

        placement = Placement(
            cluster_arn=args.cluster.cluster.arn,
            cluster_name=args.cluster.cluster.name,
            vpc_id=args.vpc_id,
            vpc_cidr=str(settings.network.vpc_cidr),
            subnet_ids=args.subnet_ids,
            spot_only=not settings.prod,
        )
        runtime = Runtime(
            account_id=settings.aws_account_id,
            region=settings.region,
            protect=settings.protect,
            logs_key_arn=args.logs_key_arn,
            secrets_key_arn=args.secrets_key_arn,
            log_retention_days=platform.log_retention_days,
            telemetry=args.telemetry,
            exec_policy_arn=args.exec_policy_arn,
        )
        self.services = {}
        for service in platform.call_order():
            spec = platform.services[service]
            route = self.routes.get(service)
            rollback_alarms: list[pulumi.Input[str]] = []
            if spec.scale_on == "queueLatency":
                specs = worker_alarm_specs(service, env, QUEUE_METRIC_NAMESPACE, settings.observability.data)
                rollback_alarms = [alarm.name for alarm in service_alarms(specs, child)]
            self.services[service] = ContainerService(
                f"{env}-{service}",
                ContainerServiceArgs(
                    env=env,
                    service=service,
                    spec=spec,
                    size=platform.size(service),
                    repository=args.cluster.repositories[spec.image],
                    placement=placement,
                    runtime=runtime,
                    connections=[args.connect(store, service) for store in spec.stores],
                    callees={callee: f"https://{platform.service_host(env, callee)}" for callee in spec.calls},
                    routing=Routing(
                        target_group=route.target_group,
                        green_target_group=route.green_target_group,
                        alb_arn_suffix=args.alb_arn_suffix,
                        ingress_from={"alb": args.alb_security_group_id},  # only the ALB: callers come through it too
                        depends_on=[route.rule],
                    )
                    if route
                    else Routing(),
                    rollout=Rollout(
                        blue_green=blue_green and route is not None,
                        rollback_alarm_names=rollback_alarms,
                        parked=spec.image in settings.deploy.awaiting_images,
                        schedule=platform.schedule,
                    ),
                ),
                child,
            )
            if spec.calls:
                aws.vpc.SecurityGroupIngressRule(
                    f"{env}-{service}-to-alb",
                    security_group_id=args.alb_callers_security_group_id,
                    referenced_security_group_id=self.services[service].security_group.id,
                    ip_protocol="tcp",
                    from_port=443,
                    to_port=443,
                    description=f"{env}-{service} calls {', '.join(spec.calls)}",
                    opts=child,
                )

        self.blue_green, self.deploy = {}, {}
        if blue_green and args.test_listener_arn is not None:
            application, role = deploy_application(env, settings.aws_account_id, self)
            for service, route in self.routes.items():
                port = platform.services[service].port or 0
                self.blue_green[service] = BlueGreen(
                    f"{env}-{service}-bluegreen",
                    BlueGreenArgs(
                        env=env,
                        service=service,
                        route=route,
                        container_service=self.services[service],
                        application=application,
                        role=role,
                        cluster_name=args.cluster.cluster.name,
                        listener_arn=args.listener_arn,
                        test_listener_arn=args.test_listener_arn,
                        alb_arn_suffix=args.alb_arn_suffix,
                        settings=settings.deploy,
                        thresholds=settings.observability.web,
                    ),
                    child,
                )
                self.deploy[service] = deploy_inputs(
                    self.services[service], self.blue_green[service], args.cluster.cluster.name, service, port
                )
        for service, container_service in self.services.items():  # the workers, and web services deployed rolling
            if service not in self.deploy:
                self.deploy[service] = rolling_deploy_inputs(container_service, args.cluster.cluster.name, service)

        self.security_group_ids = {service: svc.security_group.id for service, svc in self.services.items()}
        # store -> this environment's clients of it, named <environment>-<service>, for the data stores' ingress.
        self.store_clients = {
            store: {
                f"{env}-{service}": svc.security_group.id
                for service, svc in self.services.items()
                if store in platform.services[service].stores
            }
            for store in ("mysql", "postgres", "redis")
        }
        self.register_outputs({"securityGroupIds": self.security_group_ids})
