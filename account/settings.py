"""The typed settings of an account baseline stack (`Pulumi.<account>-account.yaml`), validated once at start-up.

The same shape as the main program's settings (camelCase keys, no unknown keys, one line per problem naming the
stack, the key, the value and what is allowed). A stack is named after the workload stack whose account it
serves (`dev-account` serves dev's account): the moved resources keep their names (preflight/moves.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from settings.base import Problem, Section, SettingsError, SettingsProblems, config_from_pulumi, validate
from settings.observability import ObservabilitySettings
from settings.regions import DEFAULT_REGION, REGIONS, SupportedRegion
from settings.security import AuditSettings

PROJECT = "kanna-account"
SUFFIX = "-account"

__all__ = ["PROJECT", "AccountSettings", "SettingsError", "from_pulumi", "load"]


class AccountSettings(Section):
    """What exists once per AWS account. Defaults suit prod."""

    tier: Literal["dev", "prod"] = Field(default="prod", description="prod: the account's resources are protected.")
    aws_account_id: str = Field(pattern=r"^\d{12}$", description="The workload account. The AWS provider refuses any other.")
    home_region: SupportedRegion = Field(
        default=DEFAULT_REGION,
        description=(
            "Where the account's single resources live (the trail, the account's log groups), and the one region whose "
            f"Config recorder records global resource types; supported: {', '.join(REGIONS)}."
        ),
    )
    workloads: dict[str, SupportedRegion] = Field(
        min_length=1,
        description="The workload stacks of the account and their regions: the Datadog integration collects these regions.",
    )
    security: AuditSettings = Field(default_factory=AuditSettings, description="The trail's Object Lock and log retention.")
    observability: ObservabilitySettings = Field(
        default_factory=ObservabilitySettings, description="Only datadogSite, logForwarderArn and logSources apply here."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Extra default tags on every AWS resource.")

    @model_validator(mode="after")
    def _cross_checks(self) -> AccountSettings:
        prod = self.tier == "prod"
        found = [Problem(("security", *p.path), p.value, p.message) for p in self.security.problems(prod)]
        if self.home_region not in self.workloads.values():
            found.append(
                Problem(
                    ("homeRegion",), self.home_region, f"no workload runs there; allowed: {', '.join(sorted(set(self.workloads.values())))}"
                )
            )
        forwarder = self.observability.log_forwarder_arn
        if forwarder is not None and len(self.regions) > 1:
            found.append(
                Problem(
                    ("observability", "logForwarderArn"),
                    forwarder,
                    "one function can't forward logs of several regions (S3 notifies only a function in its own region); "
                    "allowed: unset, the DatadogForwarder of each region",
                )
            )
        if found:
            raise SettingsProblems(found)
        return self

    @property
    def protect(self) -> bool:
        return self.tier == "prod"

    @property
    def regions(self) -> list[str]:
        """The regions the account's workloads run in, the home region first."""
        return [self.home_region, *sorted(set(self.workloads.values()) - {self.home_region})]


def account_key(stack: str) -> str:
    """`dev-account` -> `dev`: the workload stack the baseline took its resources from, and their names' prefix."""
    return stack.removesuffix(SUFFIX)


def from_pulumi() -> AccountSettings:
    return load(*config_from_pulumi())


def load(stack: str, config: Mapping[str, Any]) -> AccountSettings:
    if not stack.endswith(SUFFIX):
        raise SettingsError(PROJECT, stack, [Problem(("stack",), stack, f"not an account stack name; allowed: <workload stack>{SUFFIX}")])
    return validate(AccountSettings, PROJECT, stack, config)
