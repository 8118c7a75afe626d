"""The application platform of a stack: one cluster and one edge shared by every environment's services.

- `Cluster`: ECS (Fargate and Fargate Spot) and the image repositories.
- `Waf` and `Edge`: WAF -> CloudFront -> ALB, DNS and certificates; admin routes behind the security
  baseline's Cognito pool; a VPC-only test listener when web services deploy blue/green.
- One `Environment` per name in `platform.environments` (prod has one, dev several): every catalog
  service, with its Datadog telemetry, its data stores' connection details and ECS Exec logging.
- The data stores admit each environment's services that use them, and nobody else.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.data.data import Data
from components.dr import stack_reference
from components.edge.edge import Edge, EdgeArgs, StandbyOrigin, origin_host
from components.edge.waf import Waf, WafArgs
from components.lib.context import InContext
from components.lib.contracts import Telemetry
from components.lib.providers import AwsProviders
from components.network.network import Network
from components.platform.cluster import BOOTSTRAP_TAG, Cluster, ClusterArgs
from components.platform.environment import Environment, EnvironmentArgs
from components.security.security import Security
from settings import Settings
from settings.platform import PlatformSettings

STORES = ("mysql", "postgres", "redis")


def awaiting_images(stack: str, platform: PlatformSettings, repositories: list[str]) -> str:
    """The one line a stack whose repositories have no image yet gets, in the preflight and in `pulumi up`."""
    services = [name for name, spec in platform.services.items() if spec.image in repositories]
    return (
        f"stack '{stack}': kanna-infra:deploy.awaitingImages = {', '.join(repositories)}: {', '.join(services)} are created "
        f"with 0 tasks until these repositories hold their '{BOOTSTRAP_TAG}' image; push it (docs/first-deploy.md, "
        "first images), then remove them from the list"
    )


@dataclass(frozen=True, kw_only=True)
class PlatformArgs(InContext):
    settings: Settings
    providers: AwsProviders
    network: Network
    security: Security
    data: Data


class Platform(pulumi.ComponentResource):
    cluster: Cluster
    waf: Waf
    edge: Edge
    environments: dict[str, Environment]

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:platform:Platform", name, None, opts)
        stack, settings, network, security = args.env, args.settings, args.network, args.security
        platform, child = settings.platform, pulumi.ResourceOptions(parent=self)

        self.cluster = Cluster(
            f"{stack}-cluster",
            ClusterArgs(context=args.context, images=platform.repositories(), exec_logging=security.exec_logging),
            child,
        )
        self.waf = Waf(
            f"{stack}-waf",
            WafArgs(
                context=args.context,
                rate_limit=platform.rate_limit,
                log_retention_days=platform.log_retention_days,
                global_provider=args.providers.global_,
                upload_paths=platform.upload_paths(),
                cloudfront=settings.dr.primary_stack is None,
            ),
            child,
        )
        blue_green = settings.deploy.web_strategy == "blueGreen"
        self.edge = edge = Edge(
            f"{stack}-edge",
            EdgeArgs(
                context=args.context,
                domain=platform.domain,
                hosts=platform.public_hosts(),
                admin_hosts=platform.public_hosts(internal=True),
                vpc_id=network.vpc.id,
                vpc_cidr=str(settings.network.vpc_cidr),
                private_subnet_ids=network.private_subnet_ids,
                regional_acl_arn=self.waf.regional_acl.arn,
                cloudfront_acl_arn=self.waf.cloudfront_acl.arn if self.waf.cloudfront_acl else None,
                global_provider=args.providers.global_,
                prod=settings.prod,
                internal_auth=security.internal_auth,
                test_listener_port=settings.deploy.test_listener_port if blue_green else None,
                service_hosts=tuple(platform.service_hosts()),
                standby_of=settings.dr.primary_stack,
                standby_origin=self._standby_origin(settings, child),
            ),
            child,
        )
        observability = settings.observability
        # The first image tag ("bootstrap") doubles as the version tag until CI deploys a real one.
        telemetry = Telemetry(
            stack,
            observability.datadog_site,
            observability.api_key_secret_arn(settings.aws_account_id, settings.region, stack),
            BOOTSTRAP_TAG,
        )
        if settings.deploy.awaiting_images:
            pulumi.log.warn(awaiting_images(stack, platform, settings.deploy.awaiting_images))
        self.environments = {
            env: Environment(
                f"{stack}-{env}",
                EnvironmentArgs(
                    env=env,
                    index=index,
                    settings=settings,
                    cluster=self.cluster,
                    vpc_id=network.vpc.id,
                    subnet_ids=network.private_subnet_ids,
                    listener_arn=edge.https_listener.arn,
                    alb_arn_suffix=edge.alb.arn_suffix,
                    alb_security_group_id=edge.alb_security_group.id,
                    alb_callers_security_group_id=edge.callers_security_group.id,
                    internal_auth=edge.internal_auth,
                    logs_key_arn=args.logs_key_arn,
                    secrets_key_arn=args.secrets_key_arn,
                    telemetry=telemetry,
                    exec_policy_arn=security.exec_logging.task_policy_arn,
                    connect=args.data.connection,
                    test_listener_arn=edge.test_listener.arn if edge.test_listener else None,
                ),
                child,
            )
            for index, env in enumerate(platform.environments)
        }
        for store in STORES:
            args.data.admit(store, {client: group for e in self.environments.values() for client, group in e.store_clients[store].items()})
        self.register_outputs(
            {
                "clusterArn": self.cluster.cluster.arn,
                "cdnDomainName": edge.distribution.domain_name if edge.distribution else None,
                "taskSecurityGroupIds": {env: e.security_group_ids for env, e in self.environments.items()},
            }
        )

    def outputs(self) -> dict[str, object]:
        """The stack outputs of the platform. `deploy` is what CI needs to ship an image to a web service, by
        environment and service (deploy/render.py reads it)."""
        return {
            "clusterArn": self.cluster.cluster.arn,
            "cdnDomainName": self.edge.distribution.domain_name if self.edge.distribution else None,
            "taskSecurityGroupIds": {env: e.security_group_ids for env, e in self.environments.items()},
            "deploy": {env: e.deploy for env, e in self.environments.items()},
        }

    @staticmethod
    def _standby_origin(settings: Settings, opts: pulumi.ResourceOptions) -> StandbyOrigin | None:
        """A primary's standby ALB, from the standby's outputs: only once the standby is up (`dr.standbyUp`), since a
        reference to a stack that doesn't exist yet fails, and the standby's first deploy follows the primary's."""
        dr = settings.dr
        if dr.standby_stack is None or not dr.standby_up:
            return None
        standby = stack_reference(dr.standby_stack, opts)
        host = origin_host(settings.platform.domain, dr.standby_stack)
        return StandbyOrigin(vpc_origin_id=standby.require_output("vpcOriginId"), host=host, active=dr.active == "standby")
