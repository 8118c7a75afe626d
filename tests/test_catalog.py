"""A service is one catalog entry (issue 17, item 2): a ninth one, added in memory, and the stacks still preflight.

The entry is a JVM web service that calls core-api, keeps its data in PostgreSQL and takes uploads. Nothing but
`CATALOG` changes: no stack file (dev runs it at its catalog size), no component, no policy config. Both stacks
are recorded in both previews, each in a forked child (preflight/parallel.py, as `python -m preflight` does), so
the SDKs are imported once and the two cores record at once; the real pack judges each recording.
"""

from __future__ import annotations

import json
import re
from unittest import mock

import pytest

from deploy.workflows import WORKFLOW, choices, render
from preflight import MAIN, MODES, STACKS
from preflight.analyzer import PolicyPack
from preflight.diagram import document
from preflight.parallel import Job, preload, record_forked
from preflight.program import stack_config
from settings.services import CATALOG, LANGUAGES
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


@pytest.fixture(scope="module")
def nine() -> dict[tuple[str, str], RecordedStack]:
    """Every stack in both previews, recorded with the ninth entry in the catalog."""
    preload([MAIN])  # the SDK classes, once, before the children fork (a no-op when the session recorded already)
    jobs = [Job(MAIN, stack, mode, *stack_config(stack)) for stack in STACKS for mode in MODES]
    # The children fork with the patched catalog; this process has the committed one back before any test runs.
    with mock.patch.dict(CATALOG, {NINTH: ENTRY}):
        return {(jobs[i].stack, jobs[i].mode): RecordedStack(r) for i, r, _ in record_forked(jobs, workers=2)}


@pytest.fixture(scope="module")
def prod9(nine: dict[tuple[str, str], RecordedStack]) -> RecordedStack:
    return nine[("prod", "update")]


@pytest.fixture(scope="module")
def dev9(nine: dict[tuple[str, str], RecordedStack]) -> RecordedStack:
    return nine[("dev", "update")]


def test_a_ninth_service_preflights_cleanly_in_both_stacks_and_previews(
    nine: dict[tuple[str, str], RecordedStack], pack: PolicyPack
) -> None:
    assert sorted(nine) == sorted((s, m) for s in STACKS for m in MODES)
    for (stack, mode), recorded in nine.items():
        services = [r.name for r in recorded.of_type("aws:ecs/service:Service")]
        assert services.count(f"{stack if stack == 'prod' else 'alpha'}-{NINTH}-service") == 1, (stack, mode)
        found = violations(judge(pack, recorded.registrations, stack))
        assert found == [], f"{stack}/{mode}: " + "; ".join(d.message for d in found)
    assert NINTH not in CATALOG, "the catalog is back as committed"


def test_the_ninth_service_is_a_deploy_choice() -> None:
    with mock.patch.dict(CATALOG, {NINTH: ENTRY}):
        written = render(WORKFLOW.read_text(), choices())
    (options,) = re.findall(r"^      service:\n(?:        .*\n)*?        options: \[(.*)\]$", written, re.MULTILINE)
    assert options.split(", ") == [*CATALOG, NINTH]


def test_the_ninth_service_gets_its_own_postgres_database_and_user(dev9: RecordedStack, prod9: RecordedStack) -> None:
    for recorded, envs in ((prod9, ["prod"]), (dev9, ["alpha", "beta", "gamma"])):
        stack = recorded.recording.stack
        secret = recorded.one("aws:secretsmanager/secret:Secret", f"{stack}-postgres-{NINTH}")
        assert secret.inputs["name"] == f"kanna/{stack}/postgres/{NINTH}" and secret.protect is (stack == "prod")
        assert recorded.one("aws:secretsmanager/secretRotation:SecretRotation", f"{stack}-postgres-{NINTH}-rotation")
        assert NINTH in recorded.of_type("kanna:data:Data")[0].outputs["postgresSecretArns"]
        # Its tasks, in every environment, are admitted to PostgreSQL and to nothing else of the data stores.
        admitted = {r.name for r in recorded.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if f"-{NINTH}" in r.name}
        assert {n for n in admitted if n.startswith(f"{stack}-") and "-from-" in n} == {f"{stack}-postgres-from-{e}-{NINTH}" for e in envs}
        for env in envs:
            task = recorded.one("aws:ecs/taskDefinition:TaskDefinition", f"{env}-{NINTH}-task")
            (app,) = [c for c in json.loads(task.inputs["containerDefinitions"]) if c["name"] == NINTH]
            variables = {v["name"]: v["value"] for v in app["environment"]}
            secrets = {v["name"]: v["valueFrom"] for v in app["secrets"]}
            assert variables["SPRING_DATASOURCE_URL"].endswith(f":5432/{NINTH}?sslmode=require")
            assert secrets["SPRING_DATASOURCE_PASSWORD"].endswith(f"kanna/{stack}/postgres/{NINTH}:password::")
            assert "DATABASE_HOST" not in variables and "REDIS_URL" not in variables
            # It calls core-api at core-api's internal host, and its logs go to the JVM pipeline.
            assert variables["CORE_API_URL"].startswith(f"https://{env + '-' if stack == 'dev' else ''}core-api-svc.")
            assert app["logConfiguration"]["options"]["dd_source"] == LANGUAGES["jvm"].log_source


def test_the_ninth_service_is_routed_watched_and_deployed(dev9: RecordedStack, prod9: RecordedStack) -> None:
    for recorded, envs, host in (
        (prod9, ["prod"], lambda e: f"{NINTH}.example.com"),
        (dev9, ["alpha", "beta", "gamma"], lambda e: f"{e}-{NINTH}.dev.example.com"),
    ):
        stack = recorded.recording.stack
        (distribution,) = recorded.of_type("aws:cloudfront/distribution:Distribution")
        (callers,) = [g for g in recorded.of_type("aws:ec2/securityGroup:SecurityGroup") if g.name.endswith("alb-callers-sg")]
        ingress = recorded.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        for env in envs:
            # Its own host on CloudFront and on the ALB's rule, blue/green through CodeDeploy.
            assert host(env) in distribution.inputs["aliases"]
            rule = recorded.one("aws:lb/listenerRule:ListenerRule", f"{env}-{NINTH}-rule")
            conditions = json.dumps(rule.inputs["conditions"])
            assert host(env) in conditions, conditions
            assert recorded.one("aws:codedeploy/deploymentGroup:DeploymentGroup", f"{env}-{NINTH}-deployment-group")
            assert NINTH in recorded.outputs["deploy"][env]
            # It calls another service: its tasks' group is one of the ALB's callers, on 443.
            tasks = recorded.one("aws:ec2/securityGroup:SecurityGroup", f"{env}-{NINTH}-sg")
            (rule,) = [
                r
                for r in ingress
                if recorded.deps(r, "securityGroupId") == [callers] and recorded.deps(r, "referencedSecurityGroupId") == [tasks]
            ]
            assert (rule.inputs["fromPort"], rule.inputs["toPort"]) == (443, 443)
        # One monitor set and two SLOs watch it in every environment; they count the JVM's APM operation.
        monitors = {m.name: m.inputs for m in recorded.of_type("datadog:index/monitor:Monitor") if m.name.startswith(f"{stack}-{NINTH}-")}
        assert {name.removeprefix(f"{stack}-{NINTH}-") for name in monitors} == MONITORS
        assert f"trace.{LANGUAGES['jvm'].apm_operation}.errors" in monitors[f"{stack}-{NINTH}-error-rate"]["query"]
        slos = sorted(s.name for s in recorded.of_type("datadog:index/serviceLevelObjective:ServiceLevelObjective") if NINTH in s.name)
        assert slos == [f"{stack}-{NINTH}-availability-slo", f"{stack}-{NINTH}-latency-slo"]
        (dashboard,) = recorded.of_type("datadog:index/dashboardJson:DashboardJson")
        titles = [w["definition"].get("title") for w in json.loads(dashboard.inputs["dashboard"])["widgets"]]
        assert NINTH in titles and f"service:{NINTH}}}" in dashboard.inputs["dashboard"]
        for env in envs:  # and a synthetic check calls its health path from Tokyo
            check = recorded.one("datadog:index/syntheticsTest:SyntheticsTest", f"{env}-{NINTH}-https-check")
            assert f"https://{host(env)}{ENTRY['healthPath']}" in json.dumps(check.inputs)
        # Its image repository, and its upload paths on the WAF's exception for bodies over 8 KB.
        assert recorded.one("aws:ecr/repository:Repository", f"{stack}-{NINTH}-repo").inputs["name"] == ENTRY["image"]
        exceptions = [re.compile(p) for acl in recorded.of_type("aws:wafv2/webAcl:WebAcl") for p in _regexes(acl.inputs["rules"])]
        assert exceptions and all(p.match(f"{ENTRY['uploadPaths'][0]}site-1.jpg") for p in exceptions), stack
    assert f"{NINTH}" in document(prod9.recording), "the architecture diagram draws it"


def _regexes(value: object) -> list[str]:
    """Every `regexString` in a WAF rule list: the upload exception of the oversized-body rule."""
    if isinstance(value, dict):
        return [value["regexString"]] if "regexString" in value else [r for v in value.values() for r in _regexes(v)]
    return [r for v in value for r in _regexes(v)] if isinstance(value, list) else []
