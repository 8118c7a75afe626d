"""Disaster recovery: which stack is the pilot-light standby of which (docs/disaster-recovery.md).

A primary (prod) names its standby stack; the standby (prod-dr, in another region of the same account) names
its primary. Nothing else is typed twice: the names both sides share (the global database ids, the VPC
origin the primary reads) come from functions in `components/` that both stacks call.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from .base import Problem, Section

STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


class DrSettings(Section):
    """Unset on a stack without disaster recovery (dev)."""

    primary_stack: str | None = Field(
        default=None, description="On a standby: the stack whose databases it replicates (its clusters join that stack's global databases)."
    )
    standby_stack: str | None = Field(
        default=None, description="On a primary: its standby stack. The primary's clusters become the primaries of global databases."
    )
    standby_up: bool = Field(
        default=False,
        description="On a primary: the standby stack is deployed, so the primary's secrets replicate to its region and its ALB "
        "is a second CloudFront origin (read from its outputs). Set it after the standby's first deploy, which follows the primary's.",
    )
    active: Literal["primary", "standby"] = Field(
        default="primary", description="On a primary: the origin CloudFront sends requests to; standby is the fail-over."
    )

    @field_validator("primary_stack", "standby_stack")
    @classmethod
    def _stack(cls, value: str | None) -> str | None:
        if value is not None and not STACK_NAME.match(value):
            raise ValueError("not a stack name; allowed: lowercase letters, digits and -, 2 to 31 characters")
        return value

    @property
    def standby(self) -> bool:
        """This stack is a pilot light: its data replicates from the primary, its services wait at zero tasks."""
        return self.primary_stack is not None

    def problems(self, prod: bool) -> list[Problem]:
        found: list[Problem] = []
        if self.primary_stack is not None and self.standby_stack is not None:
            found.append(
                Problem(("standbyStack",), self.standby_stack, "a standby has no standby of its own; allowed: primaryStack or standbyStack")
            )
        if not prod and (self.primary_stack or self.standby_stack):
            found.append(
                Problem(("primaryStack",), self.primary_stack or self.standby_stack, "disaster recovery is for prod; allowed: tier prod")
            )
        if self.standby_stack is None and self.standby_up:
            found.append(Problem(("standbyUp",), True, "no standby to send requests to; allowed: false, or set standbyStack"))
        if self.active == "standby" and not self.standby_up:
            found.append(Problem(("active",), self.active, "the standby is not up yet; allowed: primary, or set standbyUp"))
        return found
