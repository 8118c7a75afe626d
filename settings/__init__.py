"""The typed model of a stack's settings, validated once at start-up.

Every key the program reads from `Pulumi.<stack>.yaml` is declared here, with its type, default and
meaning. Defaults suit prod; a stack file says only what differs. `load()` turns the raw Pulumi config
into a `Settings` object or raises `SettingsError`, whose message names the stack, the key, the bad
value and what is allowed, one line per problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from .base import Problem, Section, SettingsError, SettingsProblems, config_from_pulumi, validate
from .cost import CostSettings
from .data import DataSettings
from .deploy import DeploySettings
from .dr import DrSettings
from .gcp import GcpSettings
from .network import NetworkSettings
from .observability import ObservabilitySettings
from .platform import PlatformSettings
from .regions import DEFAULT_REGION, REGIONS, SupportedRegion
from .security import SecuritySettings

PROJECT = "kanna-infra"
REGION = DEFAULT_REGION

__all__ = [
    "PROJECT",
    "REGION",
    "CostSettings",
    "DataSettings",
    "DeploySettings",
    "DrSettings",
    "GcpSettings",
    "NetworkSettings",
    "ObservabilitySettings",
    "PlatformSettings",
    "SecuritySettings",
    "Settings",
    "SettingsError",
    "from_pulumi",
    "load",
    "of_stack",
    "regions_in_use",
    "stack_file_config",
]

# The project directory: the committed stack files (Pulumi.<stack>.yaml) sit beside Pulumi.yaml.
PROJECT_DIR = Path(__file__).resolve().parent.parent


def _under(key: str, problems: list[Problem]) -> list[Problem]:
    """A section's problems, with their paths under the section's key."""
    return [Problem((key, *p.path), p.value, p.message) for p in problems]


class Settings(Section):
    """All settings of one stack. Components receive the typed section they need, never raw config."""

    tier: Literal["dev", "prod"] = Field(
        default="prod",
        description="prod: protected stateful resources, multi-AZ everything, mandatory policies. dev: shared and cheap.",
    )
    aws_account_id: str = Field(
        pattern=r"^\d{12}$",
        description="The workload account. The AWS provider refuses to touch any other account.",
    )
    region: SupportedRegion = Field(
        default=REGION, description=f"The region the stack runs in; supported: {', '.join(REGIONS)} (settings/regions.py)."
    )
    home_region: SupportedRegion = Field(
        default=REGION,
        description=(
            "The account's home region, where its baseline stack (account/) keeps the trail: the one region whose AWS Config "
            f"recorder records global resource types such as IAM, recorded once per account; supported: {', '.join(REGIONS)}."
        ),
    )
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    platform: PlatformSettings = Field(default_factory=PlatformSettings)
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    dr: DrSettings = Field(default_factory=DrSettings, description="Disaster recovery: a primary's standby, or a standby's primary.")
    dr_outputs: dict[str, dict[str, Any]] | None = Field(
        default=None,
        description=(
            "Set only on a standby whose primary's region is lost: its primary's and that account baseline's outputs, by stack, as "
            "the last drill captured them (deploy/dr/prod-dr-outputs.json), read instead of StackReferences, which need the "
            "primary's secrets key in the lost region (docs/disaster-recovery.md)."
        ),
    )
    cost: CostSettings = Field(default_factory=CostSettings, description="Usage assumptions and budgets of the cost estimate.")
    tags: dict[str, str] = Field(default_factory=dict, description="Extra default tags on every AWS resource.")
    gcp: GcpSettings | None = Field(default=None, description="The GCP complement (Firebase, Firestore, BigQuery); none when absent.")

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        prod = self.tier == "prod"
        sections = {
            "network": self.network,
            "platform": self.platform,
            "deploy": self.deploy,
            "data": self.data,
            "security": self.security,
            "observability": self.observability,
            "gcp": self.gcp,
            "dr": self.dr,
        }
        problems = [p for key, section in sections.items() if section is not None for p in _under(key, section.problems(prod))]
        if self.dr.standby:
            # A pilot light's web services wait at zero tasks, so the on-demand floor of prod's web services is theirs
            # only once a fail-over raises their sizes (docs/disaster-recovery.md).
            problems = [p for p in problems if p.path[:1] != ("platform",) or p.path[-1:] != ("onDemandBase",)]
        problems += _under("cost", self.cost.problems(self.platform.schedule is not None))
        problems += self._captured_problems()
        problems += self._region_problems()
        web = sum(1 for service in self.platform.services.values() if service.kind == "web")
        callers = sum(1 for service in self.platform.services.values() if service.calls)
        problems += _under("deploy", self.deploy.capacity_problems(len(self.platform.environments), web, callers))
        problems += _under("deploy", self.deploy.image_problems(self.platform.repositories()))
        if problems:
            raise SettingsProblems(problems)
        return self

    def _captured_problems(self) -> list[Problem]:
        """Captured outputs stand in for a standby's two StackReferences: its primary's and that account baseline's."""
        if self.dr_outputs is None:
            return []
        primary = self.dr.primary_stack
        if primary is None:
            return [
                Problem(
                    ("drOutputs",), sorted(self.dr_outputs), "only a standby reads captured outputs; allowed: unset, or set dr.primaryStack"
                )
            ]
        from account.settings import SUFFIX  # here: account/ builds on settings.base

        wanted = [primary, f"{primary}{SUFFIX}"]
        missing = [stack for stack in wanted if stack not in self.dr_outputs]
        return (
            [
                Problem(
                    ("drOutputs",),
                    sorted(self.dr_outputs),
                    f"no outputs of {', '.join(missing)}; allowed: the outputs of {' and '.join(wanted)}",
                )
            ]
            if missing
            else []
        )

    def _region_problems(self) -> list[Problem]:
        """What must lie in the stack's region: the AZs, and the log forwarder (S3 notifies only a function in its
        own bucket's region: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html)."""
        zones = REGIONS[self.region].availability_zones
        found = [
            Problem(("network", "availabilityZones", i), az, f"not an AZ of {self.region}; allowed: {', '.join(zones)}")
            for i, az in enumerate(self.network.availability_zones)
            if az not in zones
        ]
        forwarder = self.observability.log_forwarder_arn
        if forwarder is not None and forwarder.split(":")[3] != self.region:
            found.append(
                Problem(("observability", "logForwarderArn"), forwarder, f"not in the stack's region; allowed: a function in {self.region}")
            )
        return found

    @property
    def prod(self) -> bool:
        return self.tier == "prod"

    @property
    def home(self) -> bool:
        """The stack runs in its account's home region (a second region of the account doesn't)."""
        return self.region == self.home_region

    @property
    def protect(self) -> bool:
        """Stateful resources are `protect`ed in prod: deleting them needs an explicit unprotect first."""
        return self.prod


def from_pulumi() -> Settings:
    """The current stack's settings, as the Pulumi language host handed the config to this program."""
    return load(*config_from_pulumi())


def load(stack: str, config: Mapping[str, Any]) -> Settings:
    """Validates the raw config of `stack` (keys like `kanna-infra:network`, values as Pulumi passes them)."""
    return validate(Settings, PROJECT, stack, config)


def of_stack(stack: str) -> Settings:
    """Another stack's settings, from its committed stack file: a standby learns its primary's region (and a
    primary its standby's) here instead of a second copy in its own file."""
    return load(stack, stack_file_config(PROJECT_DIR / f"Pulumi.{stack}.yaml"))


def stack_file_config(path: Path) -> dict[str, str]:
    """A committed stack file's config as the language host passes it: structured values as JSON text, scalars as strings."""
    document = yaml.safe_load(path.read_text())
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in (document.get("config") or {}).items()}


def regions_in_use() -> list[str]:
    """The regions of every committed stack of this project (the organization's SCP allows exactly these)."""
    return sorted({of_stack(path.name.split(".")[1]).region for path in PROJECT_DIR.glob("Pulumi.*.yaml")})
