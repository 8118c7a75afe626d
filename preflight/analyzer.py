"""A client for the policy pack, speaking the CrossGuard Analyzer gRPC protocol the way the Pulumi CLI does.

The pack runs as its own process, started like the CLI starts a Python pack
(`python -m pulumi.policy <engine> <pack-dir>`); it prints its port and serves `pulumirpc.Analyzer`.
The CLI's handling of `--policy-pack-config` is reproduced too: the file is validated against each
policy's config schema, schema defaults are applied, and every policy gets its enforcement level.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jsonschema
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from . import ROOT
from .program import PROJECT, Registration

PACK_DIR = ROOT / "policies"
LEVELS = {"advisory": 0, "mandatory": 1, "disabled": 2, "remediate": 3}
LEVEL_NAMES = {value: key for key, value in LEVELS.items()}
# Analyze calls in flight at once (the pack serves them on its 4-thread pool): asynchronous calls, which gRPC's
# core carries without a Python thread each (a third of the client's CPU of threads, on the dev stack).
ANALYZE_IN_FLIGHT = 64


class PolicyPackError(Exception):
    """The pack could not be started, configured or asked."""


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str  # mandatory | advisory
    message: str
    urn: str
    deferred: bool  # the policy could not run because a value is unknown until the update

    def to_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "level": self.level, "urn": self.urn, "message": self.message, "deferred": self.deferred}


class PolicyPack:
    """One running policy pack process. Use as a context manager; `close()` stops the process."""

    def __init__(self, pack_dir: Path = PACK_DIR, python: str = sys.executable) -> None:
        self.pack_dir = pack_dir
        env = {**os.environ, "PULUMI_PROJECT": PROJECT, "PULUMI_STACK": "preflight", "PULUMI_DRY_RUN": "true"}
        env.pop("PULUMI_CONFIG", None)
        self._process = subprocess.Popen(
            [python, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(pack_dir)],
            cwd=pack_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode().strip()
        if not line.isdigit():
            self._process.kill()
            _, stderr = self._process.communicate(timeout=10)
            raise PolicyPackError(f"the policy pack did not start: {line or ''}{stderr.decode()[-2000:]}")
        self._channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        self.info = self._call(self._stub.GetAnalyzerInfo, empty_pb2.Empty())
        self.policies = {policy.name: policy for policy in self.info.policies}
        self._validators: dict[str, tuple[dict[str, Any], Any]] = {}  # policy -> its config schema, and a validator of it
        self._configured: tuple[str, dict[str, str]] | None = None  # the config text the pack runs with, and its levels

    def __enter__(self) -> PolicyPack:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()
        self._process.kill()
        self._process.communicate(timeout=10)

    def _call(self, method: Any, request: Any = None) -> Any:
        """`method(request)` (a unary call, or with no request the result of an asynchronous one), its failure as ours."""
        try:
            return method(request, timeout=120) if request is not None else method()
        except grpc.RpcError as exc:
            raise PolicyPackError(f"the policy pack failed: {exc.details()}") from None  # type: ignore[attr-defined]

    def plugin_version(self) -> str:
        return self._call(self._stub.GetPluginInfo, empty_pb2.Empty()).version

    def configure(self, config_file: Path) -> dict[str, str]:
        """Applies `--policy-pack-config` like the CLI; returns each policy's effective enforcement level.

        A config the pack already runs with (the same text) is not sent again: the answer is the same."""
        try:
            text = config_file.read_text()
            document = json.loads(text)
        except (OSError, json.JSONDecodeError) as exc:
            raise PolicyPackError(f"cannot read policy config {config_file}: {exc}") from None
        if self._configured is not None and self._configured[0] == text:
            return dict(self._configured[1])
        default = document.pop("all", None)
        unknown = sorted(set(document) - set(self.policies))
        if unknown:
            raise PolicyPackError(f"{config_file.name}: no policy named {', '.join(unknown)} in pack '{self.info.name}'")
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        levels = {}
        for name, policy in self.policies.items():
            entry = document.get(name, {})
            if isinstance(entry, str):
                entry = {"enforcementLevel": entry}
            entry = dict(entry)
            level_name = entry.pop("enforcementLevel", None) or default or LEVEL_NAMES[policy.enforcementLevel]
            if level_name not in LEVELS:
                raise PolicyPackError(f"{config_file.name}: {name}: enforcement level {level_name!r} is not one of {', '.join(LEVELS)}")
            schema, validator = self._validator(name)
            properties = {key: spec["default"] for key, spec in schema.items() if "default" in spec} | entry
            # What jsonschema.validate does, with the schema checked and the validator built once per policy.
            error = jsonschema.exceptions.best_match(validator.iter_errors(properties))
            if error is not None:
                raise PolicyPackError(f"{config_file.name}: {name}: {error.message}")
            config = request.policyConfig[name]
            config.enforcementLevel = LEVELS[level_name]  # type: ignore[assignment]
            config.properties.update(properties)
            levels[name] = level_name
        self._configured = None  # a failed call leaves the pack's configuration unknown
        self._call(self._stub.Configure, request)
        self._configured = (text, levels)
        return dict(levels)

    def _validator(self, name: str) -> tuple[dict[str, Any], Any]:
        """The policy's config schema (its properties), and a validator of a config entry against it."""
        if name not in self._validators:
            policy = self.policies[name]
            schema = json.loads(_json(policy.configSchema.properties)) if policy.HasField("configSchema") else {}
            whole = {"type": "object", "properties": schema, "required": list(policy.configSchema.required), "additionalProperties": False}
            cls = jsonschema.validators.validator_for(whole)
            cls.check_schema(whole)
            self._validators[name] = schema, cls(whole)
        return self._validators[name]

    def analyze(self, registrations: Iterable[Registration], memo: dict[bytes, list[Diagnostic]] | None = None) -> list[Diagnostic]:
        """Each resource on its own (`Analyze`), then the whole stack (`AnalyzeStack`), as in a preview.

        The engine sends the same requests; only the client side is cheaper: each resource's properties
        become a Struct once (both requests carry them), a provider's once per stack rather than once per
        resource, and up to `ANALYZE_IN_FLIGHT` Analyze calls are in flight at once so the round trips
        overlap (the pack serves them on its 4-thread pool; the calls are independent). Diagnostics keep
        the registration order, so the result is the same as calling one at a time.

        `memo` (tests only) remembers the pack's answer to each distinct `Analyze` request under one policy
        configuration: a test that changes one resource of a recorded stack then asks the pack about that
        resource, and the whole stack, again, not about the hundreds it already judged identically.
        """
        registrations = list(registrations)
        structs = {id(r): _struct(r.inputs) for r in registrations}
        providers = {
            r.urn: analyzer_pb2.AnalyzerProviderResource(type=r.type, properties=structs[id(r)], urn=r.urn, name=r.name)
            for r in registrations
            if r.type.startswith("pulumi:providers:")
        }

        def request_of(registration: Registration) -> Any:
            request = analyzer_pb2.AnalyzeRequest(
                type=registration.type,
                properties=structs[id(registration)],
                urn=registration.urn,
                name=registration.name,
                options=_options(registration),
            )
            provider = _provider(registration, providers)
            if provider is not None:
                request.provider.CopyFrom(provider)
            return request

        requests = [request_of(r) for r in registrations]
        keys = [request.SerializeToString(deterministic=True) if memo is not None else b"" for request in requests]
        answers: list[list[Diagnostic] | None] = [memo.get(key) if memo is not None else None for key in keys]
        asked = [i for i, answer in enumerate(answers) if answer is None]  # only these go to the pack

        in_flight: deque[tuple[int, Any]] = deque()

        def answer_oldest() -> None:
            i, call = in_flight.popleft()
            answers[i] = found = self._diagnostics(self._call(call.result), registrations[i].urn)
            if memo is not None:
                memo[keys[i]] = found

        for i in asked:
            in_flight.append((i, self._stub.Analyze.future(requests[i], timeout=120)))
            if len(in_flight) == ANALYZE_IN_FLIGHT:
                answer_oldest()
        while in_flight:
            answer_oldest()
        diagnostics: list[Diagnostic] = [d for answer in answers for d in answer or ()]
        stack = analyzer_pb2.AnalyzeStackRequest()
        for registration in registrations:
            resource = stack.resources.add(
                type=registration.type,
                properties=structs[id(registration)],
                urn=registration.urn,
                name=registration.name,
                options=_options(registration),
                parent=registration.parent,
                dependencies=registration.dependencies,
            )
            for key, urns in registration.property_dependencies.items():
                resource.propertyDependencies[key].urns.extend(urns)
            provider = _provider(registration, providers)
            if provider is not None:
                resource.provider.CopyFrom(provider)
        diagnostics += self._diagnostics(self._call(self._stub.AnalyzeStack, stack), "")
        return diagnostics

    def _diagnostics(self, response: Any, urn: str) -> list[Diagnostic]:
        found = []
        for diagnostic in response.diagnostics:
            deferred = "during preview" in diagnostic.message and "can't run policy" in diagnostic.message
            found.append(
                Diagnostic(
                    policy=diagnostic.policyName,
                    level=LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory"),
                    message=diagnostic.message,
                    urn=diagnostic.urn or urn,
                    deferred=deferred,
                )
            )
        return found


def _json(message: Any) -> str:
    from google.protobuf import json_format

    return json.dumps(json_format.MessageToDict(message))


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _options(registration: Registration) -> analyzer_pb2.AnalyzerResourceOptions:
    options = analyzer_pb2.AnalyzerResourceOptions(
        protect=registration.protect,
        ignoreChanges=registration.ignore_changes,
        additionalSecretOutputs=registration.additional_secret_outputs,
        parent=registration.parent,
    )
    if registration.delete_before_replace is not None:
        options.deleteBeforeReplace = registration.delete_before_replace
        options.deleteBeforeReplaceDefined = True
    return options


def _provider(registration: Registration, providers: dict[str, Any]) -> analyzer_pb2.AnalyzerProviderResource | None:
    # A provider reference is "<provider urn>::<provider id>".
    return providers.get(registration.provider.rsplit("::", 1)[0]) if registration.provider else None
