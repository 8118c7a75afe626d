"""Shared pieces of the settings models (this program's and bootstrap's): the base class, and validation
of a stack's raw config with one line per problem that names the stack, the key, the value and what is allowed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(f"not a CloudWatch retention period; allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return value


RetentionDays = Annotated[int, AfterValidator(_retention)]
"""A CloudWatch Logs retention period, in days."""


class Section(BaseModel):
    """A part of the stack settings: camelCase keys as in `Pulumi.<stack>.yaml`, no unknown keys."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
    )


@dataclass(frozen=True)
class Problem:
    """One bad setting: where it is (a path of keys and indexes), the value, and what is allowed."""

    path: tuple[str | int, ...]
    value: Any
    message: str


class SettingsProblems(Exception):
    """Raised by cross-field checks. Not a ValueError, so pydantic passes it through untouched."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


M = TypeVar("M", bound=Section)


class SettingsError(Exception):
    """Bad stack settings. `str()` is the message for the user: one line per problem."""

    def __init__(self, project: str, stack: str, problems: list[Problem]) -> None:
        self.stack = stack
        self.problems = problems
        super().__init__("\n".join(_describe(project, stack, p) for p in problems))


def validate(root: type[M], project: str, stack: str, config: Mapping[str, Any]) -> M:
    """Validates the raw config of `stack` (keys like `<project>:network`, values as Pulumi passes them)."""
    prefix = f"{project}:"
    raw = {key[len(prefix) :]: _parse(value) for key, value in config.items() if key.startswith(prefix)}
    try:
        return root.model_validate(raw)
    except SettingsProblems as exc:
        raise SettingsError(project, stack, exc.problems) from None
    except ValidationError as exc:
        raise SettingsError(project, stack, [_from_pydantic(root, error) for error in exc.errors()]) from None


def config_from_pulumi() -> tuple[str, dict[str, Any]]:
    """The current stack and its config, as the Pulumi language host handed them to the program."""
    import pulumi  # here, so that validating a plain dict (tests, tools) needs no Pulumi runtime

    return pulumi.get_stack(), {**pulumi.runtime.get_config_env(), **pulumi.runtime.config.CONFIG.get()}


def _parse(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text, and scalars as plain strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _from_pydantic(root: type[Section], error: Any) -> Problem:
    loc = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = sorted(field.alias or name for name, field in model.model_fields.items())
        message = f"unknown key; allowed keys: {', '.join(allowed)}"
    elif kind == "missing":
        message = f"required and not set; allowed: {_describe_field(root, loc)}"
    elif message.startswith("Input should be "):
        message = f"wrong value; allowed: {message.removeprefix('Input should be ')} ({_describe_field(root, loc)})"
    elif kind == "string_pattern_mismatch":
        message = f"wrong format; allowed: text matching {error['ctx']['pattern']} ({_describe_field(root, loc)})"
    elif "allowed:" not in message:
        message = f"{message}; allowed: {_describe_field(root, loc)}"
    return Problem(loc, None if kind == "missing" else error.get("input"), message)


def _model_at(root: type[Section], loc: tuple[str | int, ...]) -> type[Section]:
    """The section class that holds the key at `loc` (indexes into lists are skipped)."""
    model = root
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


def _describe_field(root: type[Section], loc: tuple[str | int, ...]) -> str:
    keys = [part for part in loc if isinstance(part, str)]
    field = _field(_model_at(root, tuple(keys[:-1])), keys[-1]) if keys else None
    return field.description if field is not None and field.description else "see the settings model for the type of this key"


def _describe(project: str, stack: str, problem: Problem) -> str:
    path = ""
    for part in problem.path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    value = json.dumps(problem.value, default=str) if problem.value is not None else "(not set)"
    if len(value) > 80:
        value = value[:77] + "..."
    return f"stack '{stack}': {project}:{path} = {value}: {problem.message}"
