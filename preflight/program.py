"""Runs the real program for one stack under Pulumi's mock runtime and records what the engine receives."""

from __future__ import annotations

import asyncio
import gc
import logging
import runpy
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_in_stack

from settings import SettingsError
from settings import load as load_settings

from . import MAIN, ROOT, Project, source
from .mocks import EngineMocks
from .waiting import linear_wait

PROJECT = "kanna-infra"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's marker for a value not known yet


@dataclass
class Registration:
    """One RegisterResource call as the engine receives it (properties in the engine's camelCase)."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    inputs: dict[str, Any]  # as JSON: unknowns are the UNKNOWN marker, secrets the secret signature
    protect: bool
    ignore_changes: list[str]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    aliases: list[dict[str, Any]]
    delete_before_replace: bool | None
    retain_on_delete: bool
    replace_on_changes: list[str]
    additional_secret_outputs: list[str]
    outputs: dict[str, Any] = field(default_factory=dict)  # registerOutputs, for components and the stack
    source: str | None = None  # `components/edge/edge.py:101`: the line in this repository that made it (preflight/source.py)
    # Every URN the engine takes as this resource's former self: its alias specs resolved and its parent's aliases
    # inherited (_RecordingMonitor.alias_urns). A URN in the last state that is neither registered nor here is deleted.
    alias_urns: list[str] = field(default_factory=list)


@dataclass
class Invocation:
    """One data-source invoke as the engine receives it: its token, arguments and the resources it waits for.

    `depends_on` are the URNs the SDK declares on the request (the invoke's `depends_on` and the resources
    its arguments came from, components expanded to their children): the engine runs the invoke only after they
    exist, and in a first preview, where they are all still to be created, answers it as unknown."""

    token: str
    args: dict[str, Any]
    provider: str
    depends_on: list[str]
    unknown: bool  # answered as unknown (first preview, a dependency not created yet)


@dataclass
class Recording:
    stack: str
    mode: str
    registrations: list[Registration]
    error: str | None = None  # set when the program itself failed (bad settings, an exception)
    project: str = PROJECT
    warnings: list[str] = field(default_factory=list)  # what the program warns about (pulumi.log.warn), as `up` shows it
    calls: list[Invocation] = field(default_factory=list)  # every invoke, in the order the program made them
    # Every resource the program reads rather than registers (ReadResource: a StackReference, a `.get`), as
    # (type, name, id), sorted: the engine reads them from the cloud or another stack's state.
    reads: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def stack_urn(self) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::pulumi:pulumi:Stack::{self.project}-{self.stack}"

    @property
    def label(self) -> str:
        """The stack's name in reports: bare for the main program, `<project>/<stack>` for the others."""
        return self.stack if self.project == PROJECT else f"{self.project}/{self.stack}"

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}


class ProgramError(Exception):
    """The program failed before the policy pack could judge it."""


def stack_config(stack: str, stack_file: Path | None = None, project: Project = MAIN) -> tuple[dict[str, str], list[str]]:
    """Reads `Pulumi.<stack>.yaml` the way the CLI hands config to the program: JSON text for structures.

    Only `config:` is read: `secretsprovider:` and `encryptedkey:` matter to the CLI, not to the program.
    """
    path = stack_file or project.directory / f"Pulumi.{stack}.yaml"
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProgramError(f"stack '{stack}': cannot read {path.name}: {exc}") from None
    return config_of(document, project)


def config_of(document: dict[str, Any], project: Project = MAIN) -> tuple[dict[str, str], list[str]]:
    """The config and secret keys of a stack file's document (see `stack_config`)."""
    import json

    config, secret_keys = {}, []
    for key, value in (document.get("config") or {}).items():
        key = key if ":" in key else f"{project.name}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            # The preflight has no key to decrypt with: the program sees a placeholder, marked secret.
            value, _ = "preflight-placeholder-secret", secret_keys.append(key)
        config[key] = value if isinstance(value, str) else json.dumps(value)
    return config, secret_keys


def _urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """A URN as the engine makes it (resource.NewURN): the parent's qualified type, unless it is the root stack."""
    qualified = parent.split("::")[2] if parent else ""
    if qualified and qualified != "pulumi:pulumi:Stack":
        type_ = f"{qualified}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: EngineMocks, stack: str) -> None:
        super().__init__(mocks)
        self.stack = stack
        self.mode = mocks.mode  # the base class keeps `mocks` as the plain Mocks type
        self.registrations: list[Registration] = []
        self.calls: list[Invocation] = []
        self.reads: list[tuple[str, str, str]] = []
        self._by_urn: dict[str, Registration] = {}  # RegisterResourceOutputs finds its resource without a scan
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine qualifies a child's type with its parent's full qualified type (`A$B$C` for a grandchild),
        # except under the root stack (Deployment.generateURN in pkg/resource/deploy/deployment.go); the mock
        # monitor keeps only the parent's last type, which would give grandchildren URNs no state holds.
        return _urn(self.stack, pulumi_settings.get_project(), parent, type_, name)

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        custom = bool(request.custom)
        if custom and not request.type.startswith("pulumi:providers:") and not request.provider:
            # Default providers are disabled in every stack file: the engine would refuse this resource.
            raise ProgramError(f"{request.type} '{request.name}' has no explicit provider (default providers are disabled)")
        response = super().RegisterResource(request)
        registration = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=custom,
            parent=request.parent,
            provider=request.provider,
            inputs=json_format.MessageToDict(request.object),
            protect=bool(request.protect),
            ignore_changes=list(request.ignoreChanges),
            # Sorted: the SDK gathers dependencies in sets of resources, whose order differs from run to run.
            dependencies=sorted(request.dependencies),
            property_dependencies={key: sorted(deps.urns) for key, deps in sorted(request.propertyDependencies.items())},
            aliases=[json_format.MessageToDict(alias) for alias in request.aliases],
            delete_before_replace=request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            retain_on_delete=bool(request.retainOnDelete),
            replace_on_changes=list(request.replaceOnChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            source=source.registered(request.type, request.name, request.parent),
        )
        with self._lock:
            registration.alias_urns = self.alias_urns(request)
            self.registrations.append(registration)
            self._by_urn[registration.urn] = registration
        return response

    def alias_urns(self, request: Any) -> list[str]:
        """The URNs the engine derives from a request's aliases, as its step generator does (generateAliases and
        collapseAliasToUrn in pkg/resource/deploy/step_generator.go): the SDK sends specs (name, type, parent,
        stack, project; what is unset is the resource's own), and a child inherits each alias of its parent, with
        the parent's name prefix of its own name swapped for the alias's. Call it under the lock, parent registered."""
        own = [alias.urn or self._spec_urn(request, alias.spec) for alias in request.aliases]
        urns = list(own)
        parent = self._by_urn.get(request.parent)
        parent_name = request.parent.split("::")[-1]
        # The engine inherits only the parent alias that matched its old state; not knowing the state, every one.
        for parent_alias in parent.alias_urns if parent is not None else []:
            for type_, name in [(request.type, request.name), *((u.split("::")[2].split("$")[-1], u.split("::")[-1]) for u in own)]:
                alias_name = parent_alias.split("::")[-1] + name[len(parent_name) :] if name.startswith(parent_name) else name
                urns.append(_urn(self.stack, pulumi_settings.get_project(), parent_alias, type_, alias_name))
        return list(dict.fromkeys(urns))

    def _spec_urn(self, request: Any, spec: Any) -> str:
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        stack, project = spec.stack or self.stack, spec.project or pulumi_settings.get_project()
        return _urn(stack, project, parent, spec.type or request.type, spec.name or request.name)

    def ReadResource(self, request):  # noqa: N802
        with self._lock:
            self.reads.append((request.type, request.name, request.id))
        return super().ReadResource(request)

    def GetDeploymentInfo(self, request):  # noqa: N802
        # The engine gates invokes on their dependencies (INVOKE_DEPENDS_ON), so the SDK sends `dependsOn` with each
        # invoke instead of checking ids itself; Invoke below plays that gate.
        info = super().GetDeploymentInfo(request)
        info.supportedFeatures.append(resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_DEPENDS_ON)
        return info

    def Invoke(self, request):  # noqa: N802
        if request.tok == "pulumi:pulumi:getResource":
            return super().Invoke(request)
        # In a first preview every resource is still to be created: an invoke that waits for one is not run.
        unknown = self.mode == "first" and bool(request.dependsOn)
        call = Invocation(
            token=request.tok,
            args=json_format.MessageToDict(request.args),
            provider=request.provider,
            depends_on=sorted(request.dependsOn),  # gathered from sets, like the resources' dependencies
            unknown=unknown,
        )
        with self._lock:
            self.calls.append(call)
        if unknown:
            return resource_pb2.ResourceInvokeResponse(unknown=True)
        return super().Invoke(request)

    def RegisterResourceOutputs(self, request):  # noqa: N802
        outputs = json_format.MessageToDict(request.outputs)
        with self._lock:
            registration = self._by_urn.get(request.urn)
            if registration is not None:
                registration.outputs = outputs
        return super().RegisterResourceOutputs(request)


def _database_clients(stack: str, config: dict[str, str], project: Project) -> dict[str, list[str]] | None:
    """The recorded stack's database clients (a standby's mock of its primary names the primary's secrets for them)."""
    if project != MAIN:
        return None
    try:
        platform = load_settings(stack, config).platform
    except SettingsError:
        return None  # the program reports it
    return {store: platform.clients_of(store) for store in ("mysql", "postgres")}


def record(
    stack: str, mode: str, config: dict[str, str] | None = None, secret_keys: list[str] | None = None, project: Project = MAIN
) -> Recording:
    """Runs the project's `__main__.py` for `stack`, as an update preview (`update`) or a first preview (`first`)."""
    if config is None:
        config, secret_keys = stack_config(stack, project=project)
    account = str(config.get(f"{project.name}:awsAccountId") or config.get(f"{project.name}:managementAccountId") or "111111111111")
    region = str(config.get(f"{project.name}:region") or "ap-northeast-1")  # ARNs name the stack's region
    monitor = _RecordingMonitor(EngineMocks(mode, account=account, region=region, users=_database_clients(stack, config, project)), stack)
    warnings = _Warnings()
    logger = logging.getLogger(f"preflight.{project.name}.{stack}.{mode}")
    handlers: list[logging.Handler] = [warnings]
    logger.propagate, logger.handlers = False, handlers
    pulumi_settings.configure(
        pulumi_mocks.MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=pulumi_mocks.MockEngine(logger),
            project=project.name,
            stack=stack,
            dry_run=True,  # both modes are previews; `first` differs in what the engine knows
            organization="organization",
            callbacks=None,
            # The outputs the runtime tracks are process-global and MockSettings keeps them: a failed recording
            # leaves its failed ones there, bound to its closed loop, for the next recording to wait on.
            outputs=set(),
        )
    )
    pulumi.runtime.set_all_config(dict(config), list(secret_keys or []))
    pulumi_settings.ROOT.set(None)

    def program() -> None:
        runpy.run_path(str(project.directory / "__main__.py"), run_name="__main__")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    error = None
    sys.path.insert(0, str(ROOT))
    # The runtime makes short-lived cycles by the hundred thousand (futures, outputs), and the collector,
    # scanning the SDKs' classes each time, took half of a recording's time; memory stays the same without it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with source.capture(), linear_wait():  # each registration's position in this repository; preflight/waiting.py
            loop.run_until_complete(run_in_stack(program))
    except pulumi.RunError as exc:
        error = str(exc)
    except ProgramError as exc:
        error = str(exc)
    except Exception as exc:
        import traceback

        error = f"the program failed: {exc!r}\n{traceback.format_exc()}"
    finally:
        if collecting:
            gc.enable()
        sys.path.remove(str(ROOT))
        # A failed program leaves tasks waiting on what failed: cancelled here, as asyncio.run does, not destroyed pending.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)
    # The runtime registers from a thread pool, so two runs register in different orders: URN order is the same in every run.
    registrations = sorted(monitor.registrations, key=lambda r: r.urn)
    return Recording(stack, mode, registrations, error, project.name, warnings.messages, monitor.calls, sorted(monitor.reads))


class _Warnings(logging.Handler):
    """Keeps the program's warnings, which the mock engine logs, for the report."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
