"""The typed model of a stack's settings, validated once at start-up.

Every key the program reads from `Pulumi.<stack>.yaml` is declared here, with its type, default and
meaning. Defaults suit prod; a stack file says only what differs. `load()` turns the raw Pulumi config
into a `Settings` object or raises `SettingsError`, whose message names the stack, the key, the bad
value and what is allowed, one line per problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from .base import Problem, Section, SettingsProblems
from .data import DataSettings
from .deploy import DeploySettings
from .gcp import GcpSettings
from .network import NetworkSettings
from .observability import ObservabilitySettings
from .platform import PlatformSettings
from .security import SecuritySettings

PROJECT = "kanna-infra"
REGION = "ap-northeast-1"

__all__ = [
    "PROJECT",
    "REGION",
    "DataSettings",
    "DeploySettings",
    "GcpSettings",
    "NetworkSettings",
    "ObservabilitySettings",
    "PlatformSettings",
    "SecuritySettings",
    "Settings",
    "SettingsError",
    "from_pulumi",
    "load",
]


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
    region: Literal["ap-northeast-1"] = Field(default=REGION, description="The only region the product runs in.")
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    platform: PlatformSettings = Field(default_factory=PlatformSettings)
    deploy: DeploySettings = Field(default_factory=DeploySettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
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
        }
        problems = [
            Problem((key, *p.path), p.value, p.message)
            for key, section in sections.items()
            if section is not None
            for p in section.problems(prod)
        ]
        web = sum(1 for service in self.platform.services.values() if service.kind == "web")
        problems += [
            Problem(("deploy", *p.path), p.value, p.message) for p in self.deploy.capacity_problems(len(self.platform.environments), web)
        ]
        if problems:
            raise SettingsProblems(problems)
        return self

    @property
    def prod(self) -> bool:
        return self.tier == "prod"

    @property
    def protect(self) -> bool:
        """Stateful resources are `protect`ed in prod: deleting them needs an explicit unprotect first."""
        return self.prod


class SettingsError(Exception):
    """Bad stack settings. `str()` is the message for the user: one line per problem."""

    def __init__(self, stack: str, problems: list[Problem]) -> None:
        self.stack = stack
        self.problems = problems
        super().__init__("\n".join(_describe(stack, p) for p in problems))


def from_pulumi() -> Settings:
    """The current stack's settings, as the Pulumi language host handed the config to this program."""
    import pulumi  # here, so that validating a plain dict (tests, tools) needs no Pulumi runtime

    config = {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    return load(pulumi.get_stack(), config)


def load(stack: str, config: Mapping[str, Any]) -> Settings:
    """Validates the raw config of `stack` (keys like `kanna-infra:network`, values as Pulumi passes them)."""
    prefix = f"{PROJECT}:"
    raw = {key[len(prefix) :]: _parse(value) for key, value in config.items() if key.startswith(prefix)}
    try:
        return Settings.model_validate(raw)
    except SettingsProblems as exc:
        raise SettingsError(stack, exc.problems) from None
    except ValidationError as exc:
        raise SettingsError(stack, [_from_pydantic(error, raw) for error in exc.errors()]) from None


def _parse(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text, and scalars as plain strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _from_pydantic(error: Any, raw: Mapping[str, Any]) -> Problem:
    loc = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(field.alias or name for name, field in model.model_fields.items())
        message = f"unknown key; allowed keys: {', '.join(allowed)}"
    elif kind == "missing":
        message = f"required and not set; allowed: {_describe_field(loc)}"
    elif message.startswith("Input should be "):
        message = f"wrong value; allowed: {message.removeprefix('Input should be ')} ({_describe_field(loc)})"
    elif kind == "string_pattern_mismatch":
        message = f"wrong format; allowed: text matching {error['ctx']['pattern']} ({_describe_field(loc)})"
    elif "allowed:" not in message:
        message = f"{message}; allowed: {_describe_field(loc)}"
    return Problem(loc, None if kind == "missing" else error.get("input"), message)


def _model_at(loc: tuple[str | int, ...]) -> type[Section]:
    """The section class that holds the key at `loc` (indexes into lists are skipped)."""
    model: type[Section] = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = _field(model, part)
        annotation = field.annotation if field else None
        if isinstance(annotation, type) and issubclass(annotation, Section):
            model = annotation
        else:
            for arg in getattr(annotation, "__args__", ()):
                if isinstance(arg, type) and issubclass(arg, Section):
                    model = arg
    return model


def _field(model: type[Section], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _describe_field(loc: tuple[str | int, ...]) -> str:
    keys = [part for part in loc if isinstance(part, str)]
    field = _field(_model_at(tuple(keys[:-1])), keys[-1]) if keys else None
    return field.description if field is not None and field.description else "see settings/ for the type of this key"


def _describe(stack: str, problem: Problem) -> str:
    path = ""
    for part in problem.path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    value = json.dumps(problem.value, default=str) if problem.value is not None else "(not set)"
    if len(value) > 80:
        value = value[:77] + "..."
    return f"stack '{stack}': {PROJECT}:{path} = {value}: {problem.message}"
