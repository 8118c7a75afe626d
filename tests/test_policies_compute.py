"""ARM64 and Spot policies over gRPC: compliant, violating and unknown cases, and the recorded stacks mutated."""

from __future__ import annotations

import json

import pytest

from preflight.analyzer import PolicyPack
from tests.conftest import recording
from tests.kit import UNKNOWN, deferred, judge, mutate, res, violations

TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
COMPUTE = ("ecs-task-definition-arm64", "ecs-service-capacity-providers", "ecs-service-spot-share", "ecs-web-service-on-demand-base")


def placement(diagnostics: list) -> list:
    """The violations of this module's policies (synthetic services lack the network the network policies want)."""
    return [d for d in violations(diagnostics) if d.policy in COMPUTE]


def task(arch: object) -> object:
    platform = {"cpuArchitecture": arch, "operatingSystemFamily": "LINUX"} if arch is not None else None
    return res(TASK, "td", {"requiresCompatibilities": ["FARGATE"], **({"runtimePlatform": platform} if platform else {})})


def service(strategies: object, web: bool = True, launch_type: object = None) -> object:
    props: dict = {"capacityProviderStrategies": strategies}
    if web:
        props["loadBalancers"] = [{"containerName": "web", "containerPort": 3000}]
    if launch_type is not None:
        props["launchType"] = launch_type
    return res(SERVICE, "svc", props)


def spot(weight: float, base: float = 0.0) -> dict:
    return {"capacityProvider": "FARGATE_SPOT", "weight": weight, "base": base}


def on_demand(weight: float, base: float) -> dict:
    return {"capacityProvider": "FARGATE", "weight": weight, "base": base}


def test_arm64_task_definition(pack: PolicyPack) -> None:
    assert violations(judge(pack, [task("ARM64")]), "ecs-task-definition-arm64") == []
    for arch in ("X86_64", None):
        (found,) = violations(judge(pack, [task(arch)]), "ecs-task-definition-arm64")
        assert (
            "TaskDefinition 'td'" in found.message and "instead of ARM64" in found.message and "Fix: set runtime_platform" in found.message
        )
    diagnostics = judge(pack, [task(UNKNOWN)])
    assert violations(diagnostics, "ecs-task-definition-arm64") == [] and deferred(diagnostics, "ecs-task-definition-arm64")


def test_capacity_provider_strategy_with_spot(pack: PolicyPack) -> None:
    assert placement(judge(pack, [service([on_demand(1, 1), spot(3)])])) == []
    (found,) = violations(judge(pack, [service([on_demand(1, 1)])]), "ecs-service-capacity-providers")
    assert "FARGATE_SPOT no weight" in found.message
    launch = violations(judge(pack, [service(None, launch_type="FARGATE")]), "ecs-service-capacity-providers")
    assert {d.message.split(": ", 1)[1].split(".")[0] for d in launch} == {
        "is placed by launchType FARGATE, which can't use Spot",
        "has no capacityProviderStrategies",
    }
    diagnostics = judge(pack, [service([on_demand(1, UNKNOWN), spot(3)])])
    assert placement(diagnostics) == [] and deferred(diagnostics, "ecs-service-capacity-providers")


def test_spot_share_is_per_stack(pack: PolicyPack) -> None:
    half = service([on_demand(1, 1), spot(1)])
    assert violations(judge(pack, [half], "prod"), "ecs-service-spot-share") == []
    (found,) = violations(judge(pack, [half], "dev"), "ecs-service-spot-share")  # dev wants 100% Spot
    assert "50% of its tasks" in found.message and "at least 100%" in found.message
    assert deferred(judge(pack, [service(UNKNOWN)], "dev"), "ecs-service-spot-share")


def test_prod_web_services_keep_an_on_demand_base(pack: PolicyPack) -> None:
    spot_only = service([spot(1)])
    (found,) = violations(judge(pack, [spot_only], "prod"), "ecs-web-service-on-demand-base")
    assert "no on-demand base" in found.message
    assert violations(judge(pack, [spot_only], "dev"), "ecs-web-service-on-demand-base") == []
    assert violations(judge(pack, [service([spot(1)], web=False)], "prod"), "ecs-web-service-on-demand-base") == []
    assert deferred(
        judge(pack, [res(SERVICE, "svc", {"loadBalancers": UNKNOWN, "capacityProviderStrategies": [spot(1)]})], "prod"),
        "ecs-web-service-on-demand-base",
    )


def _x86(registration) -> None:
    registration.inputs["runtimePlatform"]["cpuArchitecture"] = "X86_64"


def _launch_type(registration) -> None:
    registration.inputs["launchType"] = "FARGATE"
    del registration.inputs["capacityProviderStrategies"]


def _no_spot(registration) -> None:
    registration.inputs["capacityProviderStrategies"] = [
        s for s in registration.inputs["capacityProviderStrategies"] if s["capacityProvider"] != "FARGATE_SPOT"
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize(
    ("type_", "name", "change", "policy"),
    [
        (TASK, "{env}-core-api-task", _x86, "ecs-task-definition-arm64"),
        (SERVICE, "{env}-core-api-service", _launch_type, "ecs-service-capacity-providers"),
        (SERVICE, "{env}-frontend-service", _no_spot, "ecs-service-capacity-providers"),
    ],
    ids=["x86_64", "launch-type", "no-spot"],
)
def test_done_when_mutations_fail_preflight_naming_the_policy(
    pack: PolicyPack, stack: str, type_: str, name: str, change, policy: str
) -> None:
    recorded = recording(stack, "update")
    env = "alpha" if stack == "dev" else "prod"
    found = violations(judge(pack, mutate(recorded, type_, name.format(env=env), change), stack))
    assert policy in {d.policy for d in found}
    assert all(name.format(env=env) in d.message for d in found), [d.message for d in found]
    assert json.dumps([d.policy for d in found])


# --- secrets in environment, task and execution roles -----------------------------------------------------------

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ROLE, ROLE_POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT, POLICY = "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policy:Policy"
ORDINARY = {
    "DD_ENV": "prod",
    "DD_VERSION": "3f2c1d0e9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e",  # a git SHA is not a secret
    "PORT": "3000",
    "REDIS_URL": "rediss://master.prod-redis.example.cache.amazonaws.com:6379",
    "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:db",
    "TOKEN_TTL_SECONDS": "900",
    "RAILS_ENV": "production",
}


def containers(environment: dict[str, str], secrets: list | None = None) -> object:
    container = {
        "name": "app",
        "environment": [{"name": k, "value": v} for k, v in environment.items()],
        "secrets": secrets or [{"name": "DATABASE_PASSWORD", "valueFrom": "arn:aws:secretsmanager:ap-northeast-1:111111111111:secret:db"}],
    }
    return res(TASK_DEFINITION, "td", {"containerDefinitions": json.dumps([container])})


def test_secrets_come_only_by_reference(pack: PolicyPack) -> None:
    policy = "container-secrets-not-in-environment"
    assert violations(judge(pack, [containers(ORDINARY)]), policy) == []
    for name, value, problem in [
        ("DATABASE_PASSWORD", "hunter2", "passes DATABASE_PASSWORD in plaintext environment"),
        ("DD_API_KEY", "0123456789abcdef0123456789abcdef", "passes DD_API_KEY in plaintext environment"),
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", "passes AWS_ACCESS_KEY_ID in plaintext environment"),
        ("SECRET_KEY_BASE", "x" * 64, "passes SECRET_KEY_BASE in plaintext environment"),
        (
            "DATABASE_URL",
            "mysql2://app:s3cret@db.internal:3306/app",
            "passes a URL with a password in plaintext environment variable DATABASE_URL",
        ),
        ("UPSTREAM", "ghp_" + "a" * 36, "passes a GitHub token in plaintext environment variable UPSTREAM"),
    ]:
        (found,) = violations(judge(pack, [containers({**ORDINARY, name: value})]), policy)
        assert f"TaskDefinition 'td': container 'app' {problem}" in found.message, found.message
    plain = [{"name": "API_TOKEN", "valueFrom": "s3://bucket/token"}]
    (found,) = violations(judge(pack, [containers(ORDINARY, plain)]), policy)
    assert "reads secrets API_TOKEN from s3://bucket/token, not a Secrets Manager or SSM ARN" in found.message
    diagnostics = judge(pack, [res(TASK_DEFINITION, "td", {"containerDefinitions": UNKNOWN})])
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ_OWN = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::prod-uploads/*"}


def task_with(grant: str, statement: dict | None = None, arn: str | None = None, known: bool = True) -> list:
    role = res(
        ROLE,
        "task-role",
        {"assumeRolePolicy": doc({"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"})},
    )
    task = res(TASK_DEFINITION, "td", {"taskRoleArn": UNKNOWN, "containerDefinitions": "[]"}, {"taskRoleArn": [role]})
    policy = (doc(statement) if statement else None) if known else UNKNOWN
    if grant == "inline":
        role.inputs["inlinePolicies"] = [{"name": "own", "policy": policy}]
        return [role, task]
    if grant == "role-policy":
        return [role, task, res(ROLE_POLICY, "rp", {"role": UNKNOWN, "policy": policy}, {"role": [role]})]
    if grant == "customer-policy":
        managed = res(POLICY, "cp", {"policy": policy})
        return [
            role,
            task,
            managed,
            res(ATTACHMENT, "att", {"role": UNKNOWN, "policyArn": UNKNOWN}, {"role": [role], "policyArn": [managed]}),
        ]
    return [role, task, res(ATTACHMENT, "att", {"role": UNKNOWN, "policyArn": arn}, {"role": [role]})]


@pytest.mark.parametrize("grant", ["inline", "role-policy", "customer-policy"])
def test_task_roles_hold_least_privilege_however_the_policy_is_attached(pack: PolicyPack, grant: str) -> None:
    policy = "ecs-task-roles-least-privilege"
    assert violations(judge(pack, task_with(grant, READ_OWN)), policy) == []
    channels = {"Effect": "Allow", "Action": ["ssmmessages:CreateControlChannel", "logs:DescribeLogGroups"], "Resource": "*"}
    assert violations(judge(pack, task_with(grant, channels)), policy) == []  # actions that take no resource, and reads
    for statement, problem in [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, "allows every action ('*')"),
        ({"Effect": "Allow", "Action": "iam:*", "Resource": "arn:aws:iam::111111111111:role/x"}, "allows iam:*"),
        ({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}, "allows sts:AssumeRole on every role ('*')"),
        ({"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*"}, "allows s3:PutObject on every resource ('*')"),
        (
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": "*"},
            "allows secretsmanager:GetSecretValue on every",
        ),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "allows every action except iam:* (NotAction)"),
    ]:
        (found,) = violations(judge(pack, task_with(grant, statement)), policy)
        assert "Role 'task-role': is a task role whose" in found.message and problem in found.message, found.message
    diagnostics = judge(pack, task_with(grant, READ_OWN, known=False))
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


def test_task_roles_carry_no_broad_aws_managed_policy(pack: PolicyPack) -> None:
    policy = "ecs-task-roles-least-privilege"
    execution = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    assert violations(judge(pack, task_with("managed", arn=execution)), policy) == []
    for name in ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "AmazonS3FullAccess"):
        (found,) = violations(judge(pack, task_with("managed", arn=f"arn:aws:iam::aws:policy/{name}")), policy)
        assert f"is a task role with managed policy arn:aws:iam::aws:policy/{name}" in found.message
    diagnostics = judge(pack, task_with("managed", arn=UNKNOWN))
    assert violations(diagnostics, policy) == [] and deferred(diagnostics, policy)


@pytest.mark.parametrize("mode", ["update", "first"])
def test_admin_attached_to_a_recorded_execution_role_fails(pack: PolicyPack, mode: str) -> None:
    stack = recording("prod", mode)
    roles = [r for r in stack.registrations if r.name == "prod-core-api-execution-role"]
    admin = res(ATTACHMENT, "admin", {"role": UNKNOWN, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, {"role": roles})
    (found,) = violations(judge(pack, [*stack.registrations, admin]))
    assert found.policy == "ecs-task-roles-least-privilege"
    assert (
        "Role 'prod-core-api-execution-role': is an execution role with managed policy arn:aws:iam::aws:policy/AdministratorAccess"
        in found.message
    )
