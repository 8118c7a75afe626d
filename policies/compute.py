"""ARM and Spot, secrets and task roles: Fargate tasks run on Graviton, services are placed with Spot, containers get
secrets only by reference, and task and execution roles hold least privilege.

The minimum Spot share and whether web services need an on-demand base are per-stack settings
(policies/config/<stack>.json): dev runs everything on Spot, prod keeps an on-demand floor for web.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, PolicyResource, ResourceValidationArgs

from ._lib import UNKNOWN, Finding, Pending, StackIndex, collect, defer, get, items, json_value, resource_policy, stack_policy

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
SPOT, ON_DEMAND = "FARGATE_SPOT", "FARGATE"


def _arm64(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    compatibilities = items(args.props, "requiresCompatibilities")
    if UNKNOWN in compatibilities:
        defer("requiresCompatibilities")
    if "FARGATE" not in compatibilities:
        return []
    arch = get(args.props, "runtimePlatform", "cpuArchitecture")
    if arch is UNKNOWN:
        defer("runtimePlatform.cpuArchitecture")
    if arch != "ARM64":
        return [f"runs on {arch or 'X86_64 (no runtimePlatform, the default)'} instead of ARM64"]
    return []


def _strategies(args: ResourceValidationArgs) -> list[Any]:
    """The service's capacity provider strategy items; defers when any part is unknown."""
    strategies = items(args.props, "capacityProviderStrategies")
    for strategy in strategies:
        if strategy is UNKNOWN or UNKNOWN in (get(strategy, "capacityProvider"), get(strategy, "weight"), get(strategy, "base")):
            defer("capacityProviderStrategies")
    return strategies


def _weights(strategies: list[Any]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for strategy in strategies:
        provider = get(strategy, "capacityProvider")
        weights[provider] = weights.get(provider, 0.0) + float(get(strategy, "weight", default=0))
    return weights


def _capacity_providers(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    problems = []
    launch_type = get(args.props, "launchType")
    if launch_type is UNKNOWN:
        defer("launchType")
    if launch_type:
        problems.append(f"is placed by launchType {launch_type}, which can't use Spot")
    strategies = _strategies(args)
    if not strategies:
        problems.append("has no capacityProviderStrategies")
    elif _weights(strategies).get(SPOT, 0.0) <= 0:
        problems.append("gives FARGATE_SPOT no weight in its capacity provider strategy")
    return problems


def _spot_share(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    minimum = float(config.get("minSpotShare", 0.5))
    weights = _weights(_strategies(args))
    total = sum(weights.values())
    if total <= 0:
        return []  # ecs-service-capacity-providers reports a service with no strategy
    share = weights.get(SPOT, 0.0) / total
    if share + 1e-9 < minimum:
        return [f"puts {share:.0%} of its tasks above the base on Spot; this stack requires at least {minimum:.0%}"]
    return []


def _on_demand_base(args: ResourceValidationArgs, config: Mapping[str, Any]) -> list[str]:
    if not config.get("requireOnDemandBase", True):
        return []
    balancers = items(args.props, "loadBalancers")
    if UNKNOWN in balancers:
        defer("loadBalancers")
    if not balancers:
        return []  # workers can live on Spot alone: a reclaimed task's jobs are retried
    base = sum(float(get(s, "base", default=0)) for s in _strategies(args) if get(s, "capacityProvider") == ON_DEMAND)
    if base < 1:
        return ["is a web service (behind a load balancer) with no on-demand base, so a Spot reclaim wave could take it down"]
    return []


POLICIES = [
    resource_policy(
        "ecs-task-definition-arm64",
        "Fargate task definitions run on ARM64 (Graviton).",
        [TASK_DEFINITION],
        _arm64,
        "set runtime_platform cpu_architecture='ARM64' and operating_system_family='LINUX', and build the image for linux/arm64",
        id="KANNA-COMP-001",
    ),
    resource_policy(
        "ecs-service-capacity-providers",
        "ECS services are placed by a capacity provider strategy (never launchType) that gives FARGATE_SPOT a positive weight.",
        [SERVICE],
        _capacity_providers,
        "remove launch_type and set capacity_provider_strategies with FARGATE_SPOT weight >= 1 (and FARGATE for an on-demand base)",
        id="KANNA-COMP-002",
    ),
    resource_policy(
        "ecs-service-spot-share",
        "Above the on-demand base, at least the stack's minimum share of an ECS service's tasks run on Spot.",
        [SERVICE],
        _spot_share,
        "raise the FARGATE_SPOT weight (or lower FARGATE's) in the service's size settings",
        PolicyConfigSchema(
            properties={"minSpotShare": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.5}},
        ),
        id="KANNA-COMP-003",
    ),
    resource_policy(
        "ecs-web-service-on-demand-base",
        "Web services (behind a load balancer) keep an on-demand base of at least one task where the stack requires it.",
        [SERVICE],
        _on_demand_base,
        "give the service a FARGATE strategy item with base >= 1 (settings: onDemandBase)",
        PolicyConfigSchema(properties={"requireOnDemandBase": {"type": "boolean", "default": True}}),
        id="KANNA-COMP-004",
    ),
]


# --- secrets and task roles ------------------------------------------------------------------------------------
# Names and values judged as secrets. A name is split into words (DB_PASSWORD -> DB, PASSWORD); a reference to a
# secret (*_ARN, *_SECRET_NAME) or a setting about one (*_TTL, *_LENGTH) is not one.
_SECRET_WORDS = {"PASSWORD", "PASSWD", "PWD", "PASS", "SECRET", "SECRETS", "TOKEN", "CREDENTIAL", "CREDENTIALS", "APIKEY", "PRIVATEKEY"}
_SECRET_PAIRS = {("API", "KEY"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"), ("MASTER", "KEY"), ("SECRET", "KEY"), ("SIGNING", "KEY")}
_SECRET_PAIRS |= {("ENCRYPTION", "KEY"), ("AUTH", "KEY"), ("LICENSE", "KEY"), ("CLIENT", "SECRET"), ("ENGINE", "AUTH")}
_REFERENCE_WORDS = {"ARN", "ARNS", "NAME", "PATH", "FILE", "ID", "URL", "HEADER", "TYPE", "ENABLED"}  # as the last word
_SETTING_WORDS = {"TTL", "LENGTH", "EXPIRY", "EXPIRES", "TIMEOUT", "SECONDS", "MINUTES", "ROTATION"}  # anywhere
_SECRET_VALUES = [
    (re.compile(r"://[^/\s:@]+:[^/\s@]+@"), "a URL with a password"),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"), "a GitHub token"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\b[rs]k_live_[A-Za-z0-9]{16,}"), "a Stripe key"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\."), "a JWT"),
]
_SECRET_SOURCES = ("arn:aws:secretsmanager:", "arn:aws:ssm:")


def secret_name(name: str) -> bool:
    """Whether an environment variable of this name holds a secret by its name."""
    words = [w for w in re.split(r"[^A-Z0-9]+", name.upper()) if w]
    if "ACCESS" in words and "KEY" in words:  # AWS_ACCESS_KEY_ID: long-lived credentials, however it ends
        return True
    if not words or words[-1] in _REFERENCE_WORDS or _SETTING_WORDS & set(words):
        return False
    return bool(_SECRET_WORDS & set(words)) or any(pair in itertools.pairwise(words) for pair in _SECRET_PAIRS)


def secret_value(value: str) -> str | None:
    """What kind of secret `value` looks like, or None."""
    return next((kind for pattern, kind in _SECRET_VALUES if pattern.search(value)), None)


def _containers(args: ResourceValidationArgs) -> list[Mapping[str, Any]]:
    containers = json_value(args.props, "containerDefinitions")
    if containers is UNKNOWN:
        defer("containerDefinitions")
    return [c for c in containers if isinstance(c, Mapping)] if isinstance(containers, list) else []


def _no_plaintext_secrets(args: ResourceValidationArgs, _: Mapping[str, Any]) -> list[str]:
    problems = []
    for container in _containers(args):
        where = f"container '{container.get('name')}'"
        for entry in container.get("environment") or []:
            name, value = str(entry.get("name", "")), entry.get("value")
            if secret_name(name):
                problems.append(f"{where} passes {name} in plaintext environment")
            elif isinstance(value, str) and (kind := secret_value(value)):
                problems.append(f"{where} passes {kind} in plaintext environment variable {name}")
        references = [(s, "secrets") for s in container.get("secrets") or []]
        references += [(s, "logConfiguration.secretOptions") for s in (container.get("logConfiguration") or {}).get("secretOptions") or []]
        for secret, prop in references:
            source = str(secret.get("valueFrom", ""))
            if not source.startswith(_SECRET_SOURCES):
                problems.append(f"{where} reads {prop} {secret.get('name')} from {source or 'nowhere'}, not a Secrets Manager or SSM ARN")
    return problems


ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
POLICY = "aws:iam/policy:Policy"
AWS_MANAGED = "arn:aws:iam::aws:policy/"
# AWS managed policies a task or execution role may carry: pulling images, writing logs, traces and metrics.
TASK_MANAGED_POLICIES = [
    "service-role/AmazonECSTaskExecutionRolePolicy",
    "AWSXRayDaemonWriteAccess",
    "CloudWatchAgentServerPolicy",
]
_READ_PREFIXES = ("Get", "List", "Describe", "BatchGet", "Head", "Lookup", "Search", "Filter", "Query", "Scan", "Select", "View")
# Actions that take no resource ARN, so `*` is the only resource they accept (Service Authorization Reference).
_RESOURCELESS = {
    "ssmmessages:*",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
    "ecr:GetAuthorizationToken",
}
_RESOURCELESS |= {f"ssmmessages:{a}Channel" for a in ("CreateControl", "CreateData", "OpenControl", "OpenData")}
# Reads that are as dangerous as writes when they reach every resource: every secret, key or object.
_SENSITIVE_READS = ("secretsmanager:GetSecretValue", "kms:Decrypt", "ssm:GetParameter", "ssm:GetParameters", "s3:GetObject")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def statement_problems(statement: Mapping[str, Any]) -> list[str]:
    """What makes one Allow statement too broad for a workload role."""
    if statement.get("Effect") != "Allow":
        return []
    if "NotAction" in statement:
        return [f"allows every action except {statement['NotAction']} (NotAction)"]
    actions = [str(a) for a in _listed(statement.get("Action"))]
    resources = [str(r) for r in _listed(statement.get("Resource"))]
    everywhere = "*" in resources or "NotResource" in statement
    problems = []
    if any(a in ("*", "*:*") for a in actions):
        problems.append("allows every action ('*')")
    if iam := [a for a in actions if a.lower().startswith("iam:") and ("*" in a or (a.lower() == "iam:passrole" and everywhere))]:
        problems.append(f"allows {', '.join(iam)}")
    if everywhere:
        scoped = [a for a in actions if a not in ("*", "*:*")]  # '*' is reported above
        if assume := [a for a in scoped if fnmatch.fnmatchcase("sts:AssumeRole", a) or a.lower().startswith("sts:assume")]:
            problems.append(f"allows {', '.join(assume)} on every role ('*')")
        writes = [a for a in scoped if a not in _RESOURCELESS and not a.split(":")[-1].startswith(_READ_PREFIXES)]
        writes += [a for a in scoped if any(fnmatch.fnmatchcase(s, a) for s in _SENSITIVE_READS) and a not in writes]
        if writes := [a for a in writes if a not in assume and not a.lower().startswith("iam:")]:
            problems.append(f"allows {', '.join(writes)} on every resource ('*')")
    return problems


def document_problems(document: Any) -> list[str]:
    statements = document.get("Statement", []) if isinstance(document, Mapping) else []
    return [p for s in _listed(statements) if isinstance(s, Mapping) for p in statement_problems(s)]


def _role_documents(index: StackIndex, role: PolicyResource) -> list[tuple[str, Any]]:
    """Every policy document that grants `role` something: inline, RolePolicy, attached customer or AWS managed policies."""
    found = [(f"inline policy '{get(p, 'name')}'", json_value(p, "policy")) for p in items(role.props, "inlinePolicies")]
    found += [(f"role policy '{p.name}'", json_value(p.props, "policy")) for p in index.dependents(role, ROLE_POLICY, "role")]
    attached = [(a, get(a.props, "policyArn"), index.deps(a, "policyArn", POLICY)) for a in index.dependents(role, ATTACHMENT, "role")]
    attached += [
        (a, get(a.props, "policyArn"), index.deps(a, "policyArn", POLICY)) for a in index.dependents(role, POLICY_ATTACHMENT, "roles")
    ]
    for attachment, arn, policies in attached:
        found += [(f"policy '{p.name}' (attached by '{attachment.name}')", json_value(p.props, "policy")) for p in policies]
        if not policies:
            found.append((f"managed policy {arn} (attached by '{attachment.name}')", arn))
    found += [(f"managed policy {arn}", arn) for arn in items(role.props, "managedPolicyArns")]
    return found


def _task_roles_least_privilege(index: StackIndex, config: Mapping[str, Any]) -> list[Finding]:
    allowed = {AWS_MANAGED + name for name in config.get("allowedManagedPolicies") or TASK_MANAGED_POLICIES}
    roles = {
        role.urn: (role, prop)
        for task in index.of_type(TASK_DEFINITION)
        for prop in ("taskRoleArn", "executionRoleArn")
        for role in index.deps(task, prop, ROLE)
    }

    def check(entry: tuple[PolicyResource, str]) -> list[Finding]:
        role, prop = entry
        kind = "a task role" if prop == "taskRoleArn" else "an execution role"
        found: list[Finding] = []
        pending = [where for where, document in _role_documents(index, role) if document is UNKNOWN]
        for where, document in _role_documents(index, role):
            if document is UNKNOWN:
                continue
            if isinstance(document, str):  # a managed policy's ARN
                if document not in allowed:
                    found.append((role, f"is {kind} with {where}; workload roles carry only their own least-privilege policies"))
                continue
            found += [(role, f"is {kind} whose {where} {problem}") for problem in document_problems(document)]
        if pending and not found:
            raise Pending(f"{role.name}: {pending[0]}")  # judged again at the update, when the engine knows it
        return found

    return collect(list(roles.values()), check)


POLICIES += [
    resource_policy(
        "container-secrets-not-in-environment",
        "Containers get secrets only through `secrets` (Secrets Manager or SSM ARNs), never in plaintext `environment`, judged by name and value.",
        [TASK_DEFINITION],
        _no_plaintext_secrets,
        "move the value to Secrets Manager (or SSM SecureString) and pass its ARN in the container's secrets (components/platform/service/task.py)",
        id="KANNA-COMP-006",
        controls=("AWS FSBP ECS.8",),
    ),
    stack_policy(
        "ecs-task-roles-least-privilege",
        "ECS task and execution roles get no admin or broad AWS managed policy, no '*' or iam:* action, no sts:AssumeRole on '*',"
        " and no write (or secret read) on '*', whether inline, attached or managed.",
        _task_roles_least_privilege,
        "grant the named actions on this stack's resource ARNs in the service's own policy (components/platform/service/roles.py)",
        PolicyConfigSchema(
            properties={"allowedManagedPolicies": {"type": "array", "items": {"type": "string"}, "default": TASK_MANAGED_POLICIES}}
        ),
        id="KANNA-COMP-007",
        controls=("AWS FSBP IAM.1", "AWS FSBP IAM.21"),
    ),
]
