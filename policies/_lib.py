"""What every policy module shares: unknown-safe property access, the stack index, and policy builders.

Properties arrive the way the engine sends them: camelCase keys, numbers as floats, JSON text where the
provider takes JSON. During a first preview many values are unknown. A resource check that needs an
unknown value defers (the engine runs it again with real values before the resource is created); a
stack check relates resources through property dependencies, which are known even when ids are not.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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


VPC_ORIGIN = "aws:cloudfront/vpcOrigin:VpcOrigin"

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

    def serves_viewers(self, balancer: PolicyResource) -> bool:
        """Whether the internet reaches `balancer`: it is internet-facing (or may be: `internal` unknown), or it is
        internal but the endpoint of a CloudFront VPC origin, so every viewer's request arrives there."""
        if get(balancer.props, "internal", default=False) is not True:
            return True
        return bool(self.dependents(balancer, VPC_ORIGIN, "vpcOriginEndpointConfig"))


FAMILIES = ("NET", "EDGE", "COMP", "DEPLOY", "DATA", "SEC", "IAM", "OBS", "GCP", "GOV", "COST")
_ID = re.compile(r"^KANNA-(" + "|".join(FAMILIES) + r")-\d{3}$")


@dataclass(frozen=True)
class PolicyInfo:
    """What a reviewer traces a policy by: its stable id, the controls it enforces, what it checks and how to fix it."""

    id: str
    name: str
    description: str
    controls: tuple[str, ...]
    fix: str
    kind: str  # "resource" or "stack"

    @property
    def family(self) -> str:
        return self.id.split("-")[1]


CATALOG: dict[str, PolicyInfo] = {}
"""Every policy built by `resource_policy` / `stack_policy`, by name, in the order the modules define them."""

# Every policy's config takes a written `reason` (why this stack's level or thresholds differ) and reviewed
# `exceptions`. The CLI validates `--policy-pack-config` against each policy's schema (only the keys it
# declares are checked; the preflight also refuses undeclared keys), so both are declared on every policy.
REVIEW_PROPERTIES: dict[str, Any] = {
    "reason": {"type": "string", "minLength": 10, "description": "Why this stack's level or settings differ from the default."},
    "exceptions": {
        "type": "array",
        "default": [],
        "description": "Reviewed exceptions: findings on `resource` (a name pattern) whose problem contains `match` are not reported.",
        "items": {
            "type": "object",
            "properties": {
                "resource": {"type": "string", "minLength": 1},
                "match": {"type": "string", "minLength": 1},
                "reason": {"type": "string", "minLength": 10},
            },
            "required": ["resource", "reason"],
            "additionalProperties": False,
        },
    },
}


def _schema(config_schema: PolicyConfigSchema | None) -> PolicyConfigSchema:
    own = config_schema.properties if config_schema is not None else {}
    required = config_schema.required if config_schema is not None else None
    return PolicyConfigSchema(properties={**own, **REVIEW_PROPERTIES}, required=required)


def _excepted(config: Mapping[str, Any], name: str, problem: str) -> bool:
    for exception in config.get("exceptions") or []:
        if fnmatch.fnmatchcase(name, str(exception.get("resource", ""))) and str(exception.get("match", "")) in problem:
            return True
    return False


def _register(id: str, name: str, description: str, controls: Sequence[str], fix: str, kind: str) -> str:
    if not _ID.match(id):
        raise ValueError(f"{name}: policy id {id!r} is not KANNA-<{'|'.join(FAMILIES)}>-NNN")
    clash = [info.name for info in CATALOG.values() if info.id == id and info.name != name]
    if clash:
        raise ValueError(f"{name}: policy id {id} is already {clash[0]}'s")
    CATALOG[name] = PolicyInfo(id, name, description, tuple(controls), fix, kind)
    # The engine shows the description above each message: the id and controls go last, so both read naturally.
    return f"{description} [{'; '.join((id, *controls))}]"


def _message(id: str, name: str, problem: str, fix: str) -> str:
    return f"{id} {name}: {problem}. Fix: {fix}"


_last = threading.local()  # (resources, index) of the request this gRPC worker thread served last


def _index(resources: Sequence[PolicyResource]) -> StackIndex:
    """One StackIndex per AnalyzeStack request: every stack policy of a request gets the same resource list."""
    last = getattr(_last, "index", None)
    if last is None or last[0] is not resources:
        last = _last.index = (resources, StackIndex(resources))
    return last[1]


def resource_policy(
    name: str,
    description: str,
    types: Sequence[str],
    check: Callable[[ResourceValidationArgs, Mapping[str, Any]], list[str]],
    fix: str,
    config_schema: PolicyConfigSchema | None = None,
    *,
    id: str,
    controls: Sequence[str] = (),
) -> ResourceValidationPolicy:
    """A policy over single resources of `types`. `check` returns the problems it found, as phrases.

    `id` is the policy's stable id (KANNA-<family>-NNN), `controls` the AWS FSBP / CIS controls it enforces."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        config = args.get_config() or {}
        for problem in check(args, config):
            if not _excepted(config, args.name, problem):
                report(_message(id, f"{args.resource_type.rsplit(':', 1)[-1]} '{args.name}'", problem, fix), None)

    return ResourceValidationPolicy(
        name=name,
        description=_register(id, name, description, controls, fix, "resource"),
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=_schema(config_schema),
        remediation_steps=fix,
    )


Finding = tuple[PolicyResource, str]


def stack_policy(
    name: str,
    description: str,
    check: Callable[[StackIndex, Mapping[str, Any]], list[Finding]],
    fix: str,
    config_schema: PolicyConfigSchema | None = None,
    *,
    id: str,
    controls: Sequence[str] = (),
) -> StackValidationPolicy:
    """A policy over the whole stack. `check` returns (resource, problem) pairs."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        config = args.get_config() or {}
        for resource, problem in check(_index(args.resources), config):
            if not _excepted(config, resource.name, problem):
                report(_message(id, f"{resource.resource_type.rsplit(':', 1)[-1]} '{resource.name}'", problem, fix), resource.urn)

    return StackValidationPolicy(
        name=name,
        description=_register(id, name, description, controls, fix, "stack"),
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=_schema(config_schema),
        remediation_steps=fix,
    )


class Pending(Exception):
    """A value one resource's check needs is unknown: the other resources are still judged (see `each`)."""


def sure(value: Any, what: str) -> Any:
    """`value`, or `Pending` when it is not known yet (inside `each`)."""
    if value is UNKNOWN:
        raise Pending(what)
    return value


def collect(things: Sequence[Any], check: Callable[[Any], list[Finding]]) -> list[Finding]:
    """Runs `check` per thing; defers only when nothing definite was found and some thing's check was unknown.

    A first preview leaves some values unknown: a definite finding elsewhere in the stack is still reported."""
    found: list[Finding] = []
    pending: list[str] = []
    for thing in things:
        try:
            found += check(thing)
        except (Pending, UnknownValueError) as exc:
            pending.append(str(exc))
    if pending and not found:
        defer(pending[0])
    return found


def each(resources: Sequence[PolicyResource], check: Callable[[PolicyResource], list[str]]) -> list[Finding]:
    """`collect` over resources whose `check` returns problems, as phrases."""
    return collect(resources, lambda resource: [(resource, problem) for problem in check(resource)])
