"""Deploy settings: how web services ship a new task definition, and how fast CodeDeploy moves traffic.

Defaults are prod's: blue/green through CodeDeploy, a 10% canary for five minutes, and an hour in which
the blue tasks stay up so a rollback is a listener flip, not a cold start.

Why a strategy switch exists at all: blue/green costs an ALB two target groups and two listener rules
(production and test) per web service. One ALB takes 100 of each, so a stack fits
`100 // (2 * web services)` blue/green environments (7 with today's catalog). Dev runs blue/green like
prod, so the deploy path is exercised before prod; a dev stack with more verification environments than
that sets `webStrategy: rolling` (ECS rolling deploys with the circuit breaker) and keeps one listener rule
and one target group per service. Prod is always blue/green.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Problem, Section

# The ALB's quotas (per load balancer, not adjustable above these defaults for rules without a case).
ALB_TARGET_GROUPS = 100
ALB_RULES = 100
# Inbound rules per security group (VPC quota, default 60). The ALB's callers group holds one rule per calling
# service per environment: calls between services go through the ALB (components/edge/edge.py, docs/service-to-service.md).
SG_INBOUND_RULES = 60

# CodeDeploy's predefined ECS configurations.
TrafficConfig = Literal[
    "CodeDeployDefault.ECSAllAtOnce",
    "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "CodeDeployDefault.ECSCanary10Percent15Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
]


class DeploySettings(Section):
    """How web services deploy. Workers always deploy rolling (they have no load balancer to switch)."""

    web_strategy: Literal["blueGreen", "rolling"] = Field(
        default="blueGreen",
        description="blueGreen: CodeDeploy switches target groups (prod: always). rolling: ECS circuit breaker (dev with many environments).",
    )
    traffic_config: TrafficConfig = Field(
        default="CodeDeployDefault.ECSCanary10Percent5Minutes",
        description="The CodeDeploy deployment config: how traffic moves from blue to green (canary, linear or all at once).",
    )
    termination_wait_minutes: int = Field(
        default=60, ge=0, le=2880, description="Minutes the blue tasks stay up after a successful switch, for an instant rollback."
    )
    test_listener_port: int = Field(
        default=8443, ge=1024, le=65535, description="The ALB's test listener for the green tasks, reachable from the VPC only."
    )
    awaiting_images: list[str] = Field(
        default_factory=list,
        description="ECR repositories that hold no `bootstrap` image yet, which their services are created with: every "
        "repository at a stack's first `up`, a new service's new one later. Their services get 0 tasks (docs/first-deploy.md).",
    )

    def problems(self, prod: bool) -> list[Problem]:
        found: list[Problem] = []
        if prod and self.web_strategy != "blueGreen":
            found.append(Problem(("webStrategy",), self.web_strategy, "prod deploys web services blue/green; allowed: blueGreen"))
        if prod and self.traffic_config == "CodeDeployDefault.ECSAllAtOnce":
            found.append(
                Problem(("trafficConfig",), self.traffic_config, "prod shifts traffic gradually; allowed: a canary or linear config")
            )
        if self.test_listener_port in (80, 443):
            found.append(Problem(("testListenerPort",), self.test_listener_port, "taken by a public listener; allowed: another port"))
        return found

    def image_problems(self, repositories: list[str]) -> list[Problem]:
        """Every awaited image is a repository of the catalog, once."""
        unknown = [name for name in self.awaiting_images if name not in repositories]
        if unknown or len(set(self.awaiting_images)) != len(self.awaiting_images):
            allowed = ", ".join(repositories)
            return [Problem(("awaitingImages",), self.awaiting_images, f"names each catalog repository at most once; allowed: {allowed}")]
        return []

    def capacity_problems(self, environments: int, web_services: int, callers: int = 0) -> list[Problem]:
        """Blue/green needs two target groups and two rules per web service per environment on the one ALB (rolling
        one of each), and every calling service of every environment takes one inbound rule of the ALB's callers group."""
        found: list[Problem] = []
        if environments * callers > SG_INBOUND_RULES:
            found.append(
                Problem(
                    ("webStrategy",),
                    self.web_strategy,
                    f"{environments} environments x {callers} calling services need {environments * callers} inbound rules on the "
                    f"ALB's callers security group, which takes {SG_INBOUND_RULES}; allowed: at most "
                    f"{SG_INBOUND_RULES // callers} environments",
                )
            )
        # Blue/green: a pair of target groups, and a rule on the production and on the test listener; rolling: one of each.
        per = 2 if self.web_strategy == "blueGreen" else 1
        needed = per * environments * web_services
        if needed <= min(ALB_TARGET_GROUPS, ALB_RULES):
            return found
        fits = min(ALB_TARGET_GROUPS, ALB_RULES) // (per * web_services)
        return [
            *found,
            Problem(
                ("webStrategy",),
                self.web_strategy,
                f"{environments} environments x {web_services} web services need {needed} target groups and listener rules, the ALB "
                f"takes {ALB_TARGET_GROUPS}; allowed: at most {fits} environments"
                + (" with blueGreen, or webStrategy rolling" if per == 2 else ""),
            ),
        ]
