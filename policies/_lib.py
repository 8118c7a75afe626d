"""What every policy module shares: unknown-safe property access, the stack index, and policy builders.

Properties arrive the way the engine sends them: camelCase keys, numbers as floats, JSON text where the
provider takes JSON. During a first preview many values are unknown. A resource check that needs an
unknown value defers (the engine runs it again with real values before the resource is created); a
stack check relates resources through property dependencies, which are known even when ids are not.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, _is_unknown

from . import _decode_once  # noqa: F401  (the pack's server decodes a request once for all policies)


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""Returned by `get` for a value the engine does not know yet."""


def _raw(value: Any) -> Any:
    """The plain value behind pulumi_policy's unknown-checking proxies, without tripping them."""
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return value["__target"]
    if isinstance(value, Sequence) and not isinstance(value, (str, list, tuple)):
        return value["__target"]  # type: ignore[index]  # pulumi_policy's list proxy
    return value


def get(value: Any, *path: str | int, default: Any = None) -> Any:
    """`value[path[0]][path[1]]...`, or `default` when absent, or `UNKNOWN` when not known yet."""
    current = value
    for key in path:
        container = _raw(current)
        if _is_unknown(container):
            return UNKNOWN
        if isinstance(container, Mapping) and isinstance(key, str):
            current = container.get(key, default)
        elif isinstance(container, (list, tuple)) and isinstance(key, int) and -len(container) <= key < len(container):
            current = container[key]
        else:
            return default
        if _is_unknown(current):
            return UNKNOWN
        if current is None:
            return default
    return current


def items(value: Any, *path: str | int) -> list[Any]:
    """The elements of a list property (an empty list when absent); UNKNOWN elements stay UNKNOWN."""
    found = get(value, *path, default=[])
    if found is UNKNOWN:
        return [UNKNOWN]
    return [UNKNOWN if _is_unknown(_raw(e)) else e for e in _raw(found)]


def json_value(value: Any, *path: str | int) -> Any:
    """A property the provider takes as JSON text (a policy document, container definitions), parsed."""
    text = get(value, *path)
    if text is UNKNOWN or text is None:
        return text
    if not isinstance(text, str):
        return _plain(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _plain(value: Any) -> Any:
    raw = _raw(value)
    if isinstance(raw, Mapping):
        return {key: _plain(raw[key]) for key in raw}
    if isinstance(raw, (list, tuple)):
        return [_plain(e) for e in raw]
    return raw


def defer(what: str) -> None:
    """Stops this check for now: `what` is unknown until the update, when the engine checks again."""
    raise UnknownValueError(UNKNOWN_STRING_VALUE, [what])


class StackIndex:
    """The resources of a stack, by type, with their property dependencies resolved to resources."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.resources = list(resources)
        self._by_type: dict[str, list[PolicyResource]] = {}
        for resource in self.resources:
            self._by_type.setdefault(resource.resource_type, []).append(resource)

    def of_type(self, *types: str) -> list[PolicyResource]:
        return [resource for type_ in types for resource in self._by_type.get(type_, [])]

    def deps(self, resource: PolicyResource, prop: str, *types: str) -> list[PolicyResource]:
        """The resources whose outputs flow into `resource`'s property `prop` (optionally of `types`)."""
        found = resource.property_dependencies.get(prop, [])
        return [dep for dep in found if not types or dep.resource_type in types]

    def dependents(self, target: PolicyResource, type_: str, prop: str) -> list[PolicyResource]:
        """The resources of `type_` whose property `prop` depends on `target`."""
        return [r for r in self.of_type(type_) if any(dep.urn == target.urn for dep in r.property_dependencies.get(prop, []))]


_last = threading.local()  # (resources, index) of the request this gRPC worker thread served last


def _index(resources: Sequence[PolicyResource]) -> StackIndex:
    """One StackIndex per AnalyzeStack request: every stack policy of a request gets the same resource list."""
    last = getattr(_last, "index", None)
    if last is None or last[0] is not resources:
        last = _last.index = (resources, StackIndex(resources))
    return last[1]


def _message(name: str, problem: str, fix: str) -> str:
    return f"{name}: {problem}. Fix: {fix}"


def resource_policy(
    name: str,
    description: str,
    types: Sequence[str],
    check: Callable[[ResourceValidationArgs, Mapping[str, Any]], list[str]],
    fix: str,
    config_schema: PolicyConfigSchema | None = None,
) -> ResourceValidationPolicy:
    """A policy over single resources of `types`. `check` returns the problems it found, as phrases."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        for problem in check(args, args.get_config() or {}):
            report(_message(f"{args.resource_type.rsplit(':', 1)[-1]} '{args.name}'", problem, fix), None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=config_schema,
        remediation_steps=fix,
    )


Finding = tuple[PolicyResource, str]


def stack_policy(
    name: str,
    description: str,
    check: Callable[[StackIndex, Mapping[str, Any]], list[Finding]],
    fix: str,
    config_schema: PolicyConfigSchema | None = None,
) -> StackValidationPolicy:
    """A policy over the whole stack. `check` returns (resource, problem) pairs."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for resource, problem in check(_index(args.resources), args.get_config() or {}):
            report(_message(f"{resource.resource_type.rsplit(':', 1)[-1]} '{resource.name}'", problem, fix), resource.urn)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=config_schema,
        remediation_steps=fix,
    )
