"""Shared pieces of the settings model: the base class, and how a problem is reported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


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
