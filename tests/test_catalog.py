"""A service is one catalog entry (issue 17, item 2): a ninth one, added in memory, and the stacks still preflight.

The entry is a JVM web service that calls core-api, keeps its data in PostgreSQL and takes uploads. Nothing but
the catalog changes: no stack file (dev runs it at its catalog size), no component, no policy config. The
recordings get the catalog with the entry added as their `platform.services` setting, which is what that
setting defaults to (the catalog), so they are the session's forked variants (tests/conftest.py: recorded in a
child on the second core while this process runs other tests); `test_the_settings_are_the_catalogs_with_the_entry`
shows that this is the same as adding the entry to `CATALOG`. Both stacks, both previews, judged by the real pack.
"""

from __future__ import annotations

import json
import re
from unittest import mock

import pytest

from deploy.workflows import WORKFLOW, choices, render
from preflight import MODES, STACKS
from preflight.analyzer import PolicyPack
from preflight.diagram import document
from preflight.program import stack_config
from settings import load
from settings.services import CATALOG, LANGUAGES
from tests.conftest import recorded, variant
from tests.kit import RecordedStack, judge, violations

NINTH = "inspection"
ENTRY = {
    "kind": "web",
    "language": "jvm",
    "image": "kanna/inspection",
    "port": 8080,
    "healthPath": "/actuator/health",
    "size": {"cpu": 512, "memory": 1024, "minTasks": 1, "maxTasks": 4, "onDemandBase": 1, "spotWeight": 2},
    "routing": {"host": "inspection"},
    "uploadPaths": ["/inspections/photos/"],
    "calls": ["core-api"],
    "stores": ["postgres"],
    "environment": {"SPRING_PROFILES_ACTIVE": "prod"},
}
MONITORS = {"error-rate", "p95-latency", "running-tasks", "cpu", "memory"}


def with_ninth(stack: str) -> tuple[dict[str, str], list[str]]:
    """`stack`'s committed config, its platform settings given the catalog with the ninth entry."""
    config, secret_keys = stack_config(stack)
    platform = json.loads(config.get("kanna-infra:platform", "{}"))
    return {**config, "kanna-infra:platform": json.dumps({**platform, "services": {**CATALOG, NINTH: ENTRY}})}, secret_keys


JOBS = {(stack, mode): variant(stack, mode, *with_ninth(stack)) for stack in STACKS for mode in MODES}
records_nine = pytest.mark.records(*JOBS.values())


@pytest.fixture(scope="module")
def nine() -> dict[tuple[str, str], RecordedStack]:
    """Every stack in both previews, recorded with the ninth entry in the catalog."""
    return {key: RecordedStack(recorded(job)) for key, job in JOBS.items()}


@pytest.fixture(scope="module")
def prod9(nine: dict[tuple[str, str], RecordedStack]) -> RecordedStack:
    return nine[("prod", "update")]


@pytest.fixture(scope="module")
def dev9(nine: dict[tuple[str, str], RecordedStack]) -> RecordedStack:
    return nine[("dev", "update")]


@records_nine
def test_a_ninth_service_preflights_cleanly_in_both_stacks_and_previews(
    nine: dict[tuple[str, str], RecordedStack], pack: PolicyPack
) -> None:
    assert sorted(nine) == sorted((s, m) for s in STACKS for m in MODES)
    for (stack, mode), stack9 in nine.items():
        services = [r.name for r in stack9.of_type("aws:ecs/service:Service")]
        environment = load(stack, stack_config(stack)[0]).platform.environments[0]  # prod, alpha (dev), dr (prod-dr)
        assert services.count(f"{environment}-{NINTH}-service") == 1, (stack, mode)
        found = violations(judge(pack, stack9.registrations, stack))
        assert found == [], f"{stack}/{mode}: " + "; ".join(d.message for d in found)


def test_the_settings_are_the_catalogs_with_the_entry() -> None:
    for stack in STACKS:
        with mock.patch.dict(CATALOG, {NINTH: ENTRY}):
            patched = load(stack, stack_config(stack)[0]).platform
        given = load(stack, with_ninth(stack)[0]).platform
        assert list(given.services) == [*CATALOG, NINTH] and given == patched, stack
    assert NINTH not in CATALOG


def test_the_ninth_service_is_a_deploy_choice() -> None:
    with mock.patch.dict(CATALOG, {NINTH: ENTRY}):
        written = render(WORKFLOW.read_text(), choices())
    (options,) = re.findall(r"^      service:\n(?:        .*\n)*?        options: \[(.*)\]$", written, re.MULTILINE)
    assert options.split(", ") == [*CATALOG, NINTH]


@records_nine
def test_the_ninth_service_gets_its_own_postgres_database_and_user(dev9: RecordedStack, prod9: RecordedStack) -> None:
    for stack9, envs in ((prod9, ["prod"]), (dev9, ["alpha", "beta", "gamma"])):
        stack = stack9.recording.stack
        secret = stack9.one("aws:secretsmanager/secret:Secret", f"{stack}-postgres-{NINTH}")
        assert secret.inputs["name"] == f"kanna/{stack}/postgres/{NINTH}" and secret.protect is (stack == "prod")
        assert stack9.one("aws:secretsmanager/secretRotation:SecretRotation", f"{stack}-postgres-{NINTH}-rotation")
        assert NINTH in stack9.of_type("kanna:data:Data")[0].outputs["postgresSecretArns"]
        # Its tasks, in every environment, are admitted to PostgreSQL and to nothing else of the data stores.
        admitted = {r.name for r in stack9.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if f"-{NINTH}" in r.name}
        assert {n for n in admitted if n.startswith(f"{stack}-") and "-from-" in n} == {f"{stack}-postgres-from-{e}-{NINTH}" for e in envs}
        for env in envs:
            task = stack9.one("aws:ecs/taskDefinition:TaskDefinition", f"{env}-{NINTH}-task")
            (app,) = [c for c in json.loads(task.inputs["containerDefinitions"]) if c["name"] == NINTH]
            variables = {v["name"]: v["value"] for v in app["environment"]}
            secrets = {v["name"]: v["valueFrom"] for v in app["secrets"]}
            assert variables["SPRING_DATASOURCE_URL"].endswith(f":5432/{NINTH}?sslmode=require")
            assert secrets["SPRING_DATASOURCE_PASSWORD"].endswith(f"kanna/{stack}/postgres/{NINTH}:password::")
            assert "DATABASE_HOST" not in variables and "REDIS_URL" not in variables
            # It calls core-api at core-api's internal host, and its logs go to the JVM pipeline.
            assert variables["CORE_API_URL"].startswith(f"https://{env + '-' if stack == 'dev' else ''}core-api-svc.")
            assert app["logConfiguration"]["options"]["dd_source"] == LANGUAGES["jvm"].log_source


@records_nine
def test_the_ninth_service_is_routed_watched_and_deployed(dev9: RecordedStack, prod9: RecordedStack) -> None:
    for stack9, envs, host in (
        (prod9, ["prod"], lambda e: f"{NINTH}.example.com"),
        (dev9, ["alpha", "beta", "gamma"], lambda e: f"{e}-{NINTH}.dev.example.com"),
    ):
        stack = stack9.recording.stack
        (distribution,) = stack9.of_type("aws:cloudfront/distribution:Distribution")
        (callers,) = [g for g in stack9.of_type("aws:ec2/securityGroup:SecurityGroup") if g.name.endswith("alb-callers-sg")]
        ingress = stack9.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        for env in envs:
            # Its own host on CloudFront and on the ALB's rule, blue/green through CodeDeploy.
            assert host(env) in distribution.inputs["aliases"]
            rule = stack9.one("aws:lb/listenerRule:ListenerRule", f"{env}-{NINTH}-rule")
            conditions = json.dumps(rule.inputs["conditions"])
            assert host(env) in conditions, conditions
            assert stack9.one("aws:codedeploy/deploymentGroup:DeploymentGroup", f"{env}-{NINTH}-deployment-group")
            assert NINTH in stack9.outputs["deploy"][env]
            # It calls another service: its tasks' group is one of the ALB's callers, on 443.
            tasks = stack9.one("aws:ec2/securityGroup:SecurityGroup", f"{env}-{NINTH}-sg")
            (rule,) = [
                r
                for r in ingress
                if stack9.deps(r, "securityGroupId") == [callers] and stack9.deps(r, "referencedSecurityGroupId") == [tasks]
            ]
            assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (443, 443)
        # One monitor set and two SLOs watch it in every environment; they count the JVM's APM operation.
        monitors = {m.name: m.inputs for m in stack9.of_type("datadog:index/monitor:Monitor") if m.name.startswith(f"{stack}-{NINTH}-")}
        assert {name.removeprefix(f"{stack}-{NINTH}-") for name in monitors} == MONITORS
        assert f"trace.{LANGUAGES['jvm'].apm_operation}.errors" in monitors[f"{stack}-{NINTH}-error-rate"]["query"]
        slos = sorted(s.name for s in stack9.of_type("datadog:index/serviceLevelObjective:ServiceLevelObjective") if NINTH in s.name)
        assert slos == [f"{stack}-{NINTH}-availability-slo", f"{stack}-{NINTH}-latency-slo"]
        (dashboard,) = stack9.of_type("datadog:index/dashboardJson:DashboardJson")
        titles = [w["definition"].get("title") for w in json.loads(dashboard.inputs["dashboard"])["widgets"]]
        assert NINTH in titles and f"service:{NINTH}}}" in dashboard.inputs["dashboard"]
        for env in envs:  # and a synthetic check calls its health path from Tokyo
            check = stack9.one("datadog:index/syntheticsTest:SyntheticsTest", f"{env}-{NINTH}-https-check")
            assert f"https://{host(env)}{ENTRY['healthPath']}" in json.dumps(check.inputs)
        # Its image repository, and its upload paths on the WAF's exception for bodies over 8 KB.
        assert stack9.one("aws:ecr/repository:Repository", f"{stack}-{NINTH}-repo").inputs["name"] == ENTRY["image"]
        exceptions = [re.compile(p) for acl in stack9.of_type("aws:wafv2/webAcl:WebAcl") for p in _regexes(acl.inputs["rules"])]
        assert exceptions and all(p.match(f"{ENTRY['uploadPaths'][0]}site-1.jpg") for p in exceptions), stack
    assert f"{NINTH}" in document(prod9.recording), "the architecture diagram draws it"


def _regexes(value: object) -> list[str]:
    """Every `regexString` in a WAF rule list: the upload exception of the oversized-body rule."""
    if isinstance(value, dict):
        return [value["regexString"]] if "regexString" in value else [r for v in value.values() for r in _regexes(v)]
    return [r for v in value for r in _regexes(v)] if isinstance(value, list) else []
