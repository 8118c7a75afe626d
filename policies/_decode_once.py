"""The pack's server decodes each request once, where pulumi_policy decodes it once per policy.

pulumi_policy's servicer (`_PolicyAnalyzerServicer.Analyze` and `.AnalyzeStack` in pulumi_policy/policy.py)
turns the request's protobuf properties into proxied dicts inside its loop over the policies. On the
1,000-resource dev stack that is 17 decodes of the whole stack per AnalyzeStack, about 2 s, where the stack
policies themselves take 40 ms; and 34 decodes of each resource per Analyze.

Here each request is decoded once, with the SDK's own functions, and then the SDK's own loop over the policies
runs (enforcement levels, unknown values, not-applicable, async checks all stay its code) on a copy of the
request without what it would decode; the argument objects it builds get the decoded values instead. Every
policy of a request sees the same objects: the SDK's proxies, which a policy reads. They are not read-only (the
dict proxy has a `__setitem__` that writes through), so a policy that wrote into one would change what the next
policy of the request reads; none here writes into a resource's properties, which is also how the SDK's own loop
is meant to be used.
"""

from __future__ import annotations

import threading
from typing import Any

from google.protobuf import json_format
from pulumi_policy import policy as sdk
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

_serving = threading.local()  # the request this gRPC worker thread is serving, decoded


def _props(struct: Any) -> Any:
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def _stack_resources(servicer: Any, request: Any) -> list[sdk.PolicyResource]:
    """The request's resources, linked to their parent and dependencies, as the SDK's AnalyzeStack builds them."""
    resources = [
        sdk.PolicyResource(
            r.type, _props(r.properties), r.urn, r.name, servicer._get_resource_options(r), servicer._get_provider_resource(r), None, [], {}
        )
        for r in request.resources
    ]
    by_urn = {resource.urn: resource for resource in resources}
    for resource, r in zip(resources, request.resources, strict=True):
        resource.parent = by_urn.get(r.parent) if r.parent else None
        resource.dependencies.extend(by_urn[urn] for urn in r.dependencies if urn in by_urn)
        for key, deps in r.propertyDependencies.items():
            resource.property_dependencies[key] = [by_urn[urn] for urn in deps.urns if urn in by_urn]
    return resources


def _without(request: Any, *fields: str) -> Any:
    stripped = type(request)()
    stripped.CopyFrom(request)
    for name in fields:
        stripped.ClearField(name)
    return stripped


class _StackArgs(sdk.StackValidationArgs):
    def __init__(self, resources: list[sdk.PolicyResource], *args: Any, **kwargs: Any) -> None:
        super().__init__(getattr(_serving, "resources", resources), *args, **kwargs)


class _ResourceArgs(sdk.ResourceValidationArgs):
    def __init__(self, resource_type: str, props: Any, urn: str, name: str, opts: Any, provider: Any, *args: Any, **kwargs: Any) -> None:
        props, provider = getattr(_serving, "resource", (props, provider))
        super().__init__(resource_type, props, urn, name, opts, provider, *args, **kwargs)


_sdk_analyze = sdk._PolicyAnalyzerServicer.Analyze
_sdk_analyze_stack = sdk._PolicyAnalyzerServicer.AnalyzeStack


def _analyze(self: Any, request: Any, context: Any) -> Any:
    _serving.resource = (_props(request.properties), self._get_provider_resource(request))
    try:
        return _sdk_analyze(self, _without(request, "properties", "provider"), context)
    finally:
        del _serving.resource


def _analyze_stack(self: Any, request: Any, context: Any) -> Any:
    _serving.resources = _stack_resources(self, request)
    try:
        return _sdk_analyze_stack(self, _without(request, "resources"), context)
    finally:
        del _serving.resources


# Remediate builds its ResourceValidationArgs as before: `_serving` is empty on its threads.
sdk.StackValidationArgs = _StackArgs  # type: ignore[misc]
sdk.ResourceValidationArgs = _ResourceArgs  # type: ignore[misc]
sdk._PolicyAnalyzerServicer.Analyze = _analyze  # type: ignore[method-assign]
sdk._PolicyAnalyzerServicer.AnalyzeStack = _analyze_stack  # type: ignore[method-assign]
