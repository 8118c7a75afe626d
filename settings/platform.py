"""Platform settings: the verification environments, their hostnames, service sizes and the edge's limits.

One shared platform (cluster, ALB, CloudFront, WAF) hosts every environment of a stack. Prod hosts exactly
one, at the domain itself (example.com, admin.example.com); dev hosts several, each under its own name
(alpha.dev.example.com, alpha-admin.dev.example.com), so one wildcard certificate covers them all.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

from pydantic import Field, field_validator

from .base import Problem, RetentionDays, Section
from .services import CATALOG, ServiceSettings, Size, SizeOverride

# An ALB takes 100 listener rules; each environment uses one per web service (two with blue/green), and the ALB's
# callers group one inbound rule per calling service: settings/deploy.py refuses what the catalog doesn't fit.
MAX_ENVIRONMENTS = 12
# The label suffix of a service's internal host: `<service>-svc` sits one level under the domain, so the ALB's
# wildcard certificate covers it, and no catalog host label may end with it (see `problems`).
SERVICE_HOST_SUFFIX = "-svc"
# A service's name makes its database user (hyphens as underscores, plus `_clone` for the rotation's second user):
# MySQL takes user names of 32 characters (https://dev.mysql.com/doc/refman/8.0/en/user-names.html), so 26 here. The
# other names made from it have room to spare then: `<env>-<service>-task` roles (64) and `<env>-<service>-svc` labels (63).
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,24}[a-z0-9]$")
# A Cognito app client takes at most 100 callback URLs, not adjustable
# (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html); the ALB's client needs one per internal host.
MAX_CALLBACK_URLS = 100
# A CloudFront distribution takes 100 alternate domain names by default
# (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html); one per public host.
MAX_ALIASES = 100


def idp_response_url(host: str) -> str:
    """Where the IdP sends a user back to the ALB after sign-in: the ALB's fixed path on the host the user asked for."""
    return f"https://{host}/oauth2/idpresponse"


EVERY = "*"  # the `sizes` key that changes every service of the catalog


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
    sizes: dict[str, SizeOverride] = Field(
        default_factory=dict,
        description=f"Per-service size changes, by catalog name; `{EVERY}` changes every service (a pilot light at zero tasks), "
        "a service's own entry goes on top.",
    )
    schedule: Schedule | None = Field(default=None, description="Scale to zero out of hours (dev only).")
    log_retention_days: RetentionDays = Field(default=365, description="Retention of service, ALB-side and WAF log groups.")
    rate_limit: int = Field(default=2000, ge=100, le=2_000_000_000, description="WAF requests per IP per 5 minutes.")

    @field_validator("services")
    @classmethod
    def _service_names(cls, value: dict[str, ServiceSettings]) -> dict[str, ServiceSettings]:
        for name in value:
            if not SERVICE_NAME.match(name):
                raise ValueError(
                    f"{name!r} is not a service name; allowed: 2-26 lowercase letters, digits and hyphens, starting with a letter"
                )
        return value

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
            if name not in self.services and name != EVERY:
                found.append(Problem(("sizes", name), None, f"no such service; allowed: {', '.join(self.services)} or {EVERY}"))
                continue
            for service in self.services if name == EVERY else [name]:
                try:
                    self.size(service)
                except ValueError as exc:
                    found.append(Problem(("sizes", name), override.model_dump(by_alias=True, exclude_none=True), _first_error(exc)))
                    break
        if len(self.callback_urls()) > MAX_CALLBACK_URLS:
            found.append(
                Problem(
                    ("environments",),
                    self.environments,
                    f"{len(self.callback_urls())} internal hosts need as many Cognito callback URLs; "
                    f"allowed: at most {MAX_CALLBACK_URLS} (environments x internal services)",
                )
            )
        if len(self.public_hosts()) > MAX_ALIASES:
            found.append(
                Problem(
                    ("environments",),
                    self.environments,
                    f"{len(self.public_hosts())} public hosts exceed CloudFront's aliases per distribution; "
                    f"allowed: at most {MAX_ALIASES} (environments x hosts)",
                )
            )
        found += self._shared_host_problems()
        try:
            self.call_order()
        except ValueError as exc:
            found.append(Problem(("services",), list(self.services), f"{exc}; allowed: calls without cycles"))
        for name, service in self.services.items():
            for callee in service.calls:
                if callee not in self.services or self.services[callee].kind != "web":
                    found.append(Problem(("services", name, "calls"), callee, "not a web service; allowed: a web service of the catalog"))
                elif self.services[callee].internal_auth:
                    # A call would get the Cognito login redirect: internal hosts share the callee's rule and its actions.
                    found.append(
                        Problem(("services", name, "calls"), callee, "sits behind Cognito login; allowed: a service without internalAuth")
                    )
            if service.routing is not None and service.routing.host.endswith(SERVICE_HOST_SUFFIX):
                found.append(
                    Problem(
                        ("services", name, "routing", "host"),
                        service.routing.host,
                        f"names ending in {SERVICE_HOST_SUFFIX} are the internal hosts of calls between services; allowed: another label",
                    )
                )
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

    def _shared_host_problems(self) -> list[Problem]:
        """Services on one host: at most one takes the whole host, and no path of one matches a path of another,
        so the listener rules' order (paths first) decides nothing by accident."""
        found: list[Problem] = []
        by_host: dict[str, list[str]] = {}
        for name, spec in self.services.items():
            if spec.routing is not None:
                by_host.setdefault(spec.routing.host, []).append(name)
        for host, names in by_host.items():
            # No paths, or a path that matches every path ("/*"): the service takes the whole host.
            whole = [n for n in names if not set(self.services[n].routing.paths or ["*"]).isdisjoint({"*", "/*"})]  # type: ignore[union-attr]
            if len(whole) > 1:
                found.append(Problem(("services",), whole, f"all take host label {host!r}; allowed: one service per host without paths"))
            for i, a in enumerate(names):
                for b in names[i + 1 :]:
                    pa, pb = self.services[a].routing.paths, self.services[b].routing.paths  # type: ignore[union-attr]
                    if any(fnmatchcase(x, y) or fnmatchcase(y, x) for x in pa for y in pb):
                        found.append(
                            Problem(("services", b, "routing", "paths"), pb, f"overlap {a}'s {pa}; allowed: disjoint paths per host")
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

    def gcp_backends(self) -> list[str]:
        """The services whose task roles may act as the GCP backend service account, in catalog order."""
        return [name for name, spec in self.services.items() if spec.gcp_backend]

    def size(self, name: str) -> Size:
        """The catalog size of `name` with this stack's changes applied: every service's (`*`), then its own."""
        overrides = [o for o in (self.sizes.get(EVERY), self.sizes.get(name)) if o is not None]
        base = self.services[name].size
        if not overrides:
            return base
        return Size.model_validate({**base.model_dump(), **{k: v for o in overrides for k, v in o.model_dump(exclude_none=True).items()}})

    def hosts(self, env: str, label: str, single: bool) -> str:
        """The hostname of `label` ('' is the main host) in `env`; a single-environment stack uses the domain itself."""
        if single:
            return f"{label}.{self.domain}" if label else self.domain
        return f"{env}-{label}.{self.domain}" if label else f"{env}.{self.domain}"

    def service_host(self, env: str, service: str) -> str:
        """The internal host at which `env`'s other services call `service` (through the ALB, never through CloudFront).

        The callers' `<SERVICE>_URL`, the DNS record and the host condition of the service's listener rule all come
        from here, so a call between services takes the rule, and the target group pair, that CodeDeploy shifts."""
        return self.hosts(env, f"{service}{SERVICE_HOST_SUFFIX}", len(self.environments) == 1)

    def callees(self) -> list[str]:
        """The web services that other services call, in catalog order."""
        return [name for name in self.services if any(name in other.calls for other in self.services.values())]

    def service_hosts(self) -> list[str]:
        """Every internal host of every environment: one per called service."""
        return [self.service_host(env, service) for env in self.environments for service in self.callees()]

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

    def upload_paths(self) -> list[str]:
        """Every web service's upload path prefixes: where the WAF lets request bodies over 8 KB through."""
        return sorted({path for spec in self.services.values() if spec.routing is not None for path in spec.upload_paths})

    def callback_urls(self) -> list[str]:
        """The Cognito callback URL of every internal host of every environment: the hosts the ALB authenticates."""
        return [idp_response_url(host) for host in self.public_hosts(internal=True)]


def _first_error(exc: Any) -> str:
    errors = exc.errors() if hasattr(exc, "errors") else []
    return str(errors[0]["msg"]).removeprefix("Value error, ") if errors else str(exc)
