"""Platform settings: the verification environments, their hostnames, service sizes and the edge's limits.

One shared platform (cluster, ALB, CloudFront, WAF) hosts every environment of a stack. Prod hosts exactly
one, at the domain itself (example.com, admin.example.com); dev hosts several, each under its own name
(alpha.dev.example.com, alpha-admin.dev.example.com), so one wildcard certificate covers them all.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .base import Problem, RetentionDays, Section
from .services import CATALOG, ServiceSettings, Size, SizeOverride

# An ALB takes 100 listener rules; each environment uses one per web service (7 today): 12 fit with room.
MAX_ENVIRONMENTS = 12


class Schedule(Section):
    """Out-of-hours scale to zero (dev only): the services stop at `stop` and come back at `start`."""

    stop: str = Field(default="cron(0 21 ? * MON-FRI *)", pattern=r"^cron\(.+\)$", description="Application Auto Scaling cron.")
    start: str = Field(default="cron(0 8 ? * MON-FRI *)", pattern=r"^cron\(.+\)$", description="Application Auto Scaling cron.")
    timezone: str = Field(default="Asia/Tokyo", description="IANA time zone of the crons.")


class PlatformSettings(Section):
    """Defaults suit prod: one environment at the apex of example.com, catalog sizes, no scale to zero."""

    domain: str = Field(
        default="example.com",
        pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$",
        description="The stack's hosted zone; environments' hosts live in it.",
    )
    environments: list[str] = Field(
        default=["prod"],
        min_length=1,
        max_length=MAX_ENVIRONMENTS,
        description=f"Verification environments, one set of services each; prod exactly one, dev 1 to {MAX_ENVIRONMENTS}.",
    )
    services: dict[str, ServiceSettings] = Field(
        default_factory=lambda: {name: ServiceSettings.model_validate(entry) for name, entry in CATALOG.items()},
        description="The service catalog (settings/services.py); stacks change sizes through `sizes`.",
    )
    sizes: dict[str, SizeOverride] = Field(default_factory=dict, description="Per-service size changes, by catalog name.")
    schedule: Schedule | None = Field(default=None, description="Scale to zero out of hours (dev only).")
    log_retention_days: RetentionDays = Field(default=365, description="Retention of service, ALB-side and WAF log groups.")
    rate_limit: int = Field(default=2000, ge=100, le=2_000_000_000, description="WAF requests per IP per 5 minutes.")

    @field_validator("environments")
    @classmethod
    def _environments(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.isascii() or not name.isalnum() or not name[:1].isalpha() or not name.islower() or len(name) > 10:
                raise ValueError(f"{name!r} is not an environment name; allowed: 1-10 lowercase letters and digits, starting with a letter")
        if len(set(value)) != len(value):
            raise ValueError("an environment is listed twice; allowed: distinct names")
        return value

    def problems(self, prod: bool) -> list[Problem]:
        found: list[Problem] = []
        if prod and len(self.environments) != 1:
            found.append(Problem(("environments",), self.environments, "prod hosts exactly one environment; allowed: a list of one name"))
        if prod and self.schedule is not None:
            found.append(Problem(("schedule",), self.schedule.model_dump(by_alias=True), "prod never scales to zero; allowed: not set"))
        for name, override in self.sizes.items():
            if name not in self.services:
                found.append(Problem(("sizes", name), None, f"no such service; allowed: {', '.join(self.services)}"))
                continue
            merged = {**self.services[name].size.model_dump(), **override.model_dump(exclude_none=True)}
            try:
                Size.model_validate(merged)
            except ValueError as exc:
                found.append(Problem(("sizes", name), override.model_dump(by_alias=True, exclude_none=True), _first_error(exc)))
        try:
            self.call_order()
        except ValueError as exc:
            found.append(Problem(("services",), list(self.services), f"{exc}; allowed: calls without cycles"))
        for name, service in self.services.items():
            for callee in service.calls:
                if callee not in self.services or self.services[callee].kind != "web":
                    found.append(Problem(("services", name, "calls"), callee, "not a web service; allowed: a web service of the catalog"))
            if prod and service.kind == "web" and not found:
                size = self.size(name)
                if size.on_demand_base < 1 or size.min_tasks < size.on_demand_base:
                    found.append(
                        Problem(
                            ("sizes", name, "onDemandBase"),
                            size.on_demand_base,
                            "prod web services keep an on-demand base within minTasks; allowed: 1 <= onDemandBase <= minTasks",
                        )
                    )
        return found

    def call_order(self) -> list[str]:
        """Service names, every caller before the services it calls (the catalog's order otherwise)."""
        ordered: list[str] = []
        remaining = dict(self.services)
        while remaining:
            ready = [
                name for name in remaining if not any(name in other.calls for other_name, other in remaining.items() if other_name != name)
            ]
            if not ready:
                raise ValueError(f"services call each other in a cycle: {', '.join(remaining)}")
            ordered += ready
            for name in ready:
                del remaining[name]
        return ordered

    def repositories(self) -> list[str]:
        """The ECR repositories of the catalog's images, sorted (sidekiq shares core-api's)."""
        return sorted({spec.image for spec in self.services.values()})

    def clients_of(self, store: str) -> list[str]:
        """The services that connect to `store` ('mysql', 'postgres' or 'redis'), in catalog order."""
        return [name for name, spec in self.services.items() if store in spec.stores]

    def size(self, name: str) -> Size:
        """The catalog size of `name` with this stack's changes applied."""
        override = self.sizes.get(name)
        base = self.services[name].size
        return Size.model_validate({**base.model_dump(), **override.model_dump(exclude_none=True)}) if override else base

    def hosts(self, env: str, label: str, single: bool) -> str:
        """The hostname of `label` ('' is the main host) in `env`; a single-environment stack uses the domain itself."""
        if single:
            return f"{label}.{self.domain}" if label else self.domain
        return f"{env}-{label}.{self.domain}" if label else f"{env}.{self.domain}"

    def public_hosts(self, internal: bool | None = None) -> list[str]:
        """Every web host of every environment, in order; `internal` filters by Cognito protection."""
        single = len(self.environments) == 1
        found: list[str] = []
        for env in self.environments:
            for spec in self.services.values():
                if spec.routing is None or (internal is not None and spec.internal_auth != internal):
                    continue
                host = self.hosts(env, spec.routing.host, single)
                if host not in found:
                    found.append(host)
        return found


def _first_error(exc: Any) -> str:
    errors = exc.errors() if hasattr(exc, "errors") else []
    return str(errors[0]["msg"]).removeprefix("Value error, ") if errors else str(exc)
