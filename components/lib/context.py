"""What every component of a stack needs, in one object instead of the same fields in each args class.

`Scope` is where the stack lives (its name, account, region, and whether its stateful resources are protected);
the keys are made in it. `Context` adds the stack's KMS key ARNs, which every later component encrypts with.
Args classes take it as `context` (through `InContext`), and read `args.env`, `args.account_id`, ... from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from settings import Settings


@dataclass(frozen=True, kw_only=True)
class Scope:
    stack: str
    account_id: str
    region: str
    protect: bool  # stateful resources are protected (prod)

    @staticmethod
    def of(stack: str, settings: Settings) -> Scope:
        return Scope(stack=stack, account_id=settings.aws_account_id, region=settings.region, protect=settings.protect)

    def with_keys(self, keys: KeyArns) -> Context:
        return Context(stack=self.stack, account_id=self.account_id, region=self.region, protect=self.protect, keys=keys)


@dataclass(frozen=True, kw_only=True)
class KeyArns:
    """The stack's three KMS keys (components/security/keys.py), by what they encrypt."""

    data: pulumi.Input[str]
    secrets: pulumi.Input[str]
    logs: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class Context(Scope):
    keys: KeyArns


@dataclass(frozen=True, kw_only=True)
class InContext:
    """The base of an args class whose component runs in the stack's context."""

    context: Context

    @property
    def env(self) -> str:
        return self.context.stack

    @property
    def account_id(self) -> str:
        return self.context.account_id

    @property
    def region(self) -> str:
        return self.context.region

    @property
    def protect(self) -> bool:
        return self.context.protect

    @property
    def data_key_arn(self) -> pulumi.Input[str]:
        return self.context.keys.data

    @property
    def secrets_key_arn(self) -> pulumi.Input[str]:
        return self.context.keys.secrets

    @property
    def logs_key_arn(self) -> pulumi.Input[str]:
        return self.context.keys.logs
