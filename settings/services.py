"""The service catalog: the product's services, one typed entry each. Adding a service means adding one entry.

An entry says what a service is (language, image, port, health path, routing, whom it calls, the data stores
it uses, its environment and secrets) and its prod size; everything that lists services derives from here (the
data stores' users, the deploy workflow's choices, monitors, routes: tests/test_catalog.py adds a ninth). Stacks change only sizes, through `platform.sizes` (see settings/platform.py).
Secrets are given only as references (Secrets Manager or SSM parameter ARNs), never as values; ARNs may
use `{account}`, `{region}` and `{env}`, filled in per stack and verification environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Section

# Fargate's allowed task sizes: cpu units -> memory (MiB). Anything else fails at deploy time, so we stop it here.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}

SECRET_ARN = re.compile(
    r"^arn:aws:(secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+|ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9/_.-]+)$"
)
# A plain path prefix: the WAF's upload exception is one regex of them, escaped, and matches from the start.
UPLOAD_PATH = re.compile(r"^/[A-Za-z0-9/_.-]{1,100}$")
_SAMPLE = {"account": "111111111111", "region": "ap-northeast-1", "env": "env"}

Language = Literal["ruby", "node", "jvm"]


@dataclass(frozen=True)
class Instrumentation:
    """What a service's language decides outside its image: Datadog's log pipeline and the APM span its web
    requests open, which the monitors and SLOs query."""

    # The logs' `ddsource`: when it names an integration, Datadog applies that integration's parsers
    # (https://docs.datadoghq.com/api/latest/logs/#send-logs).
    log_source: str
    # The primary operation of the tracer's server spans, whose `trace.<operation>.hits` and `.errors` the
    # monitors and SLOs count (https://docs.datadoghq.com/tracing/guide/configuring-primary-operation).
    apm_operation: str


LANGUAGES: dict[Language, Instrumentation] = {
    "ruby": Instrumentation("ruby", "rack.request"),  # Rails through dd-trace-rb's Rack middleware
    "node": Instrumentation("nodejs", "web.request"),  # dd-trace-js's http server spans
    "jvm": Instrumentation("java", "servlet.request"),  # Spring Boot through dd-java-agent's servlet instrumentation
}


def fargate_problem(cpu: int, memory: int) -> str | None:
    """Why `cpu`/`memory` is not a Fargate size, or None when it is."""
    if cpu not in FARGATE_SIZES:
        return f"cpu {cpu} is not a Fargate size; allowed: {', '.join(map(str, FARGATE_SIZES))}"
    allowed: tuple[int, ...] = FARGATE_SIZES[cpu]
    if memory not in allowed:
        step = allowed[1] - allowed[0]
        return f"memory {memory} does not go with cpu {cpu} on Fargate; allowed: {allowed[0]} to {allowed[-1]} in steps of {step}"
    return None


class Routing(Section):
    """How the public ALB reaches a web service: a host label (`""` is the environment's main host) and paths.

    The ALB forwards a path unchanged, so a service routed by paths serves them as they are, its health check
    included. The catalog gives every service its own host, so each one owns all its paths."""

    host: str = Field(default="", pattern=r"^([a-z][a-z0-9-]{0,20})?$", description="Host label: '' main host, 'admin' -> admin host.")
    paths: list[str] = Field(default_factory=list, max_length=3, description="Path patterns such as /api/*; none: the whole host.")


class Size(Section):
    """The size and placement of one service: cpu/memory, task counts and the capacity provider weights."""

    cpu: int = Field(default=256, description="Fargate cpu units: 256, 512, 1024, 2048, 4096, 8192 or 16384.")
    memory: int = Field(default=512, description="MiB, one of Fargate's sizes for the cpu.")
    min_tasks: int = Field(default=1, ge=0, le=100, description="Autoscaling minimum (prod web: at least the on-demand base).")
    max_tasks: int = Field(default=4, ge=1, le=200, description="Autoscaling maximum.")
    on_demand_base: int = Field(default=0, ge=0, le=10, description="Tasks always on FARGATE (prod web services need >= 1).")
    on_demand_weight: int = Field(default=0, ge=0, le=100, description="FARGATE's share above the base.")
    spot_weight: int = Field(default=1, ge=1, le=100, description="FARGATE_SPOT's share above the base; always > 0.")

    @model_validator(mode="after")
    def _fargate(self) -> Size:
        if problem := fargate_problem(self.cpu, self.memory):
            raise ValueError(problem)
        if self.max_tasks < self.min_tasks:
            raise ValueError(f"maxTasks {self.max_tasks} is below minTasks {self.min_tasks}; allowed: maxTasks >= minTasks")
        return self


class SizeOverride(Section):
    """A stack's change to a catalog entry's size: only the keys given change."""

    cpu: int | None = None
    memory: int | None = None
    min_tasks: int | None = Field(default=None, ge=0, le=100)
    max_tasks: int | None = Field(default=None, ge=1, le=200)
    on_demand_base: int | None = Field(default=None, ge=0, le=10)
    on_demand_weight: int | None = Field(default=None, ge=0, le=100)
    spot_weight: int | None = Field(default=None, ge=1, le=100)


class ServiceSettings(Section):
    """One service of the product, as every environment runs it."""

    kind: Literal["web", "worker"] = Field(description="web: behind the ALB; worker: no load balancer.")
    language: Language = Field(description="ruby, node or jvm: picks the log pipeline and the APM operation the monitors read.")
    image: str = Field(pattern=r"^[a-z0-9][a-z0-9/_-]{1,100}$", description="The ECR repository name, e.g. kanna/core-api.")
    port: int | None = Field(default=None, ge=1024, le=65535, description="The container port of a web service (unprivileged).")
    health_path: str = Field(default="/health", pattern=r"^/\S*$", description="The load balancer's health check path.")
    size: Size = Field(default_factory=Size)
    routing: Routing | None = Field(default=None, description="Web services only.")
    internal_auth: bool = Field(default=False, description="Internal users only: the ALB authenticates them with Cognito first.")
    read_only_root: bool = Field(default=True, description="False only when the runtime must write outside /tmp.")
    ecs_exec: bool = Field(
        default=True,
        description="ECS Exec shells into the tasks (on a read-only root only through an AWS-unsupported workaround); false turns it off.",
    )
    upload_paths: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Path prefixes that take request bodies over 8 KB (uploads): the WAF lets those through; elsewhere it blocks them.",
    )
    calls: list[str] = Field(
        default_factory=list,
        description="Services this one calls, at their internal hosts inside its environment (`<SERVICE>_URL`, through the ALB).",
    )
    stores: list[Literal["mysql", "postgres", "redis"]] = Field(
        default_factory=list, description="Data stores the service connects to: it gets their endpoints and credentials, and their ingress."
    )
    gcp_backend: bool = Field(
        default=False,
        description="Its task role may act as the stack's GCP backend service account (Firebase Admin, FCM), without a key.",
    )
    scale_on: Literal["requests", "queueLatency"] = Field(default="requests", description="Target tracking metric besides CPU.")
    environment: dict[str, str] = Field(default_factory=dict, description="Plain environment variables (no secrets).")
    secrets: dict[str, str] = Field(default_factory=dict, description="Env var -> Secrets Manager or SSM parameter ARN.")

    @field_validator("upload_paths")
    @classmethod
    def _upload_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not UPLOAD_PATH.match(path):
                raise ValueError(f"upload path {path!r} is not a plain prefix; allowed: /, then letters, digits, / _ . - (no wildcards)")
        return value

    @field_validator("secrets")
    @classmethod
    def _secret_refs(cls, value: dict[str, str]) -> dict[str, str]:
        for name, arn in value.items():
            if not SECRET_ARN.match(arn.format(**_SAMPLE)):
                raise ValueError(
                    f"secret {name} is not a reference; allowed: a Secrets Manager or SSM parameter ARN "
                    "(arn:aws:secretsmanager:<region>:<account>:secret:<name> or arn:aws:ssm:<region>:<account>:parameter/<name>)"
                )
        return value

    @model_validator(mode="after")
    def _shape(self) -> ServiceSettings:
        if (self.kind == "web") != (self.routing is not None and self.port is not None):
            raise ValueError(
                "web services need a port and routing, workers have neither; allowed: port and routing exactly when kind is web"
            )
        if self.routing is not None and self.routing.paths and not any(fnmatchcase(self.health_path, p) for p in self.routing.paths):
            raise ValueError(
                f"healthPath {self.health_path} is outside routing.paths {self.routing.paths}: through the ALB it would reach "
                "another service; allowed: a healthPath that one of the paths matches, or no paths (the whole host)"
            )
        if self.kind == "worker" and self.scale_on == "requests":
            raise ValueError("a worker has no load balancer requests to scale on; allowed: scaleOn queueLatency")
        if self.scale_on == "queueLatency" and self.language != "ruby":
            # The queue's age comes from Sidekiq: the app publishes it, the monitor reads sidekiq.queue.latency.
            raise ValueError(
                f"scaleOn queueLatency reads Sidekiq's queue age, and a {self.language} service has no Sidekiq; allowed: language ruby"
            )
        return self

    @property
    def instrumentation(self) -> Instrumentation:
        return LANGUAGES[self.language]

    def secret_arns(self, account: str, region: str, env: str) -> dict[str, str]:
        return {name: arn.format(account=account, region=region, env=env) for name, arn in self.secrets.items()}


_SM = "arn:aws:secretsmanager:{region}:{account}:secret:kanna/{env}"
_SSM = "arn:aws:ssm:{region}:{account}:parameter/kanna/{env}"

# The product. Sizes here are prod's; dev shrinks them in Pulumi.dev.yaml.
CATALOG: dict[str, dict] = {
    "frontend": {
        "kind": "web",
        "language": "node",
        "image": "kanna/frontend",
        "port": 3000,
        "healthPath": "/api/health",
        "size": {"cpu": 512, "memory": 1024, "minTasks": 2, "maxTasks": 10, "onDemandBase": 1, "spotWeight": 3, "onDemandWeight": 1},
        "routing": {"host": ""},
        # Next.js writes its image and fetch caches under .next/cache.
        "readOnlyRoot": False,
        "calls": ["core-api"],
        "environment": {"NODE_ENV": "production"},
    },
    "admin": {
        "kind": "web",
        "language": "node",
        "image": "kanna/admin",
        "port": 3000,
        "healthPath": "/api/health",
        "size": {"cpu": 256, "memory": 512, "minTasks": 1, "maxTasks": 3, "onDemandBase": 1, "spotWeight": 1},
        "routing": {"host": "admin"},
        "internalAuth": True,
        "readOnlyRoot": False,
        "calls": ["core-api"],
        "environment": {"NODE_ENV": "production"},
    },
    "core-api": {
        "kind": "web",
        "language": "ruby",
        "image": "kanna/core-api",
        "port": 3000,
        "healthPath": "/up",
        "size": {"cpu": 1024, "memory": 2048, "minTasks": 2, "maxTasks": 20, "onDemandBase": 2, "spotWeight": 3, "onDemandWeight": 1},
        # Its own host: on the main host, /api/* took the frontend's own Next.js API routes (its /api/health too).
        "routing": {"host": "api"},
        # Site photos and documents: the only requests with bodies over 8 KB the WAF lets through.
        "uploadPaths": ["/api/v1/photos/", "/api/v1/attachments/"],
        "calls": ["report", "approval", "payment"],
        "stores": ["mysql", "redis"],
        "gcpBackend": True,
        "environment": {"RAILS_ENV": "production", "RAILS_LOG_TO_STDOUT": "1", "BOOTSNAP_CACHE_DIR": "/tmp/bootsnap"},
        "secrets": {"RAILS_MASTER_KEY": f"{_SSM}/core-api/rails-master-key"},
    },
    "sidekiq": {
        "kind": "worker",
        "language": "ruby",
        "image": "kanna/core-api",
        "size": {"cpu": 1024, "memory": 2048, "minTasks": 1, "maxTasks": 10, "spotWeight": 1},
        "scaleOn": "queueLatency",
        "calls": ["report", "approval", "payment"],
        "stores": ["mysql", "redis"],
        "gcpBackend": True,
        "environment": {"RAILS_ENV": "production", "RAILS_LOG_TO_STDOUT": "1", "BOOTSNAP_CACHE_DIR": "/tmp/bootsnap"},
        "secrets": {
            "RAILS_MASTER_KEY": f"{_SSM}/core-api/rails-master-key",
            "BUNDLE_ENTERPRISE__CONTRIBSYS__COM": f"{_SM}/sidekiq/enterprise-license",
        },
    },
    "openapi": {
        "kind": "web",
        "language": "node",
        "image": "kanna/openapi",
        "port": 3000,
        "healthPath": "/health",
        "size": {"cpu": 512, "memory": 1024, "minTasks": 2, "maxTasks": 8, "onDemandBase": 1, "spotWeight": 2, "onDemandWeight": 1},
        "routing": {"host": "openapi"},
        "calls": ["core-api"],
        "stores": ["mysql"],
        "environment": {"NODE_ENV": "production"},
    },
    "report": {
        "kind": "web",
        "language": "jvm",
        "image": "kanna/report",
        "port": 8080,
        "healthPath": "/actuator/health",
        "size": {"cpu": 1024, "memory": 2048, "minTasks": 1, "maxTasks": 6, "onDemandBase": 1, "spotWeight": 2},
        "routing": {"host": "report"},
        "environment": {"SPRING_PROFILES_ACTIVE": "prod", "JAVA_TOOL_OPTIONS": "-XX:MaxRAMPercentage=75 -Djava.io.tmpdir=/tmp"},
        "stores": ["postgres"],
    },
    "approval": {
        "kind": "web",
        "language": "jvm",
        "image": "kanna/approval",
        "port": 8080,
        "healthPath": "/actuator/health",
        "size": {"cpu": 512, "memory": 1024, "minTasks": 1, "maxTasks": 6, "onDemandBase": 1, "spotWeight": 2},
        "routing": {"host": "approval"},
        "environment": {"SPRING_PROFILES_ACTIVE": "prod", "JAVA_TOOL_OPTIONS": "-XX:MaxRAMPercentage=75 -Djava.io.tmpdir=/tmp"},
        "stores": ["postgres"],
    },
    "payment": {
        "kind": "web",
        "language": "jvm",
        "image": "kanna/payment",
        "port": 8080,
        "healthPath": "/actuator/health",
        "size": {"cpu": 512, "memory": 1024, "minTasks": 2, "maxTasks": 6, "onDemandBase": 1, "spotWeight": 1, "onDemandWeight": 1},
        "routing": {"host": "payment"},
        "environment": {"SPRING_PROFILES_ACTIVE": "prod", "JAVA_TOOL_OPTIONS": "-XX:MaxRAMPercentage=75 -Djava.io.tmpdir=/tmp"},
        "stores": ["postgres"],
        "secrets": {"PSP_API_KEY": f"{_SM}/payment/psp-api-key"},
        # No interactive shells where the payment provider's key lives: debugging goes through logs and traces.
        "ecsExec": False,
    },
}
