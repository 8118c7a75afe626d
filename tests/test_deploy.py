"""Blue/green deploys on the real stacks: deployment group wiring per web service, ignoreChanges, worker rollback,
the VPC-only test listener, settings, and the deploy inputs CI renders."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from deploy.render import PLACEHOLDER, RenderError, main, render
from preflight.parallel import Job
from preflight.program import stack_config
from settings import SettingsError, load
from settings.services import CATALOG
from tests.conftest import recorded, variant
from tests.kit import RecordedStack

SERVICE = "aws:ecs/service:Service"
GROUP = "aws:codedeploy/deploymentGroup:DeploymentGroup"
TG = "aws:lb/targetGroup:TargetGroup"
RULE = "aws:lb/listenerRule:ListenerRule"
LISTENER = "aws:lb/listener:Listener"
RECORD = "aws:route53/record:Record"
LB = "aws:lb/loadBalancer:LoadBalancer"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
CALLS = sorted((caller, callee) for caller, entry in CATALOG.items() for callee in entry.get("calls", []))
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
WEB = sorted(name for name, entry in CATALOG.items() if entry["kind"] == "web")
TRAFFIC = {"dev": "CodeDeployDefault.ECSAllAtOnce", "prod": "CodeDeployDefault.ECSCanary10Percent5Minutes"}
WAIT = {"dev": 5.0, "prod": 60.0}
ACCOUNT = {"dev": "222222222222", "prod": "111111111111"}


def environments(stack: RecordedStack) -> list[str]:
    return ["alpha", "beta", "gamma"] if stack.recording.stack == "dev" else ["prod"]


def listeners(stack: RecordedStack) -> dict[float, object]:
    return {listener.inputs["port"]: listener for listener in stack.of_type(LISTENER)}


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_every_web_service_has_a_deployment_group_matching_its_load_balancer(name: str, dev: RecordedStack, prod: RecordedStack) -> None:
    stack = dev if name == "dev" else prod
    by_port = listeners(stack)
    for env in environments(stack):
        for service in WEB:
            base = f"{env}-{service}"
            group, ecs = stack.one(GROUP, f"{base}-deployment-group"), stack.one(SERVICE, f"{base}-service")
            blue, green = stack.one(TG, f"{base}-tg"), stack.one(TG, f"{base}-green-tg")
            inputs = group.inputs
            assert inputs["deploymentStyle"] == {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
            assert inputs["deploymentGroupName"] == base and inputs["deploymentConfigName"] == TRAFFIC[name]
            # The pair is the service's own load balancer group (blue) and its green twin, related by dependency.
            assert stack.deps(ecs, "loadBalancers", TG) == [blue]
            assert sorted(r.name for r in stack.deps(group, "loadBalancerInfo", TG)) == sorted([blue.name, green.name])
            assert stack.deps(group, "ecsService", SERVICE) == [ecs]
            pair = inputs["loadBalancerInfo"]["targetGroupPairInfo"]
            assert len(pair["targetGroups"]) == 2
            assert {r.urn for r in stack.deps(group, "loadBalancerInfo", LISTENER)} == {by_port[443.0].urn, by_port[8443.0].urn}  # type: ignore[attr-defined]
            assert len(pair["prodTrafficRoute"]["listenerArns"]) == len(pair["testTrafficRoute"]["listenerArns"]) == 1
            assert pair["prodTrafficRoute"]["listenerArns"] != pair["testTrafficRoute"]["listenerArns"]
            assert inputs["autoRollbackConfiguration"] == {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}
            config = inputs["blueGreenDeploymentConfig"]
            assert config["terminateBlueInstancesOnDeploymentSuccess"] == {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": WAIT[name],
            }
            (role,) = stack.deps(group, "serviceRoleArn")
            attachment = [a for a in stack.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if stack.deps(a, "role") == [role]]
            assert [a.inputs["policyArn"] for a in attachment] == ["arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"]
            assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "codedeploy.amazonaws.com"}
            # The rollback alarms: 5xx rate, unhealthy hosts and p99 latency, over both target groups.
            alarms = stack.deps(group, "alarmConfiguration", ALARM)
            assert inputs["alarmConfiguration"]["enabled"] is True and len(inputs["alarmConfiguration"]["alarms"]) == 6
            assert sorted(a.inputs["name"] for a in alarms) == sorted(
                f"{base}-{role}-{kind}" for role in ("blue", "green") for kind in ("5xx-rate", "unhealthy-hosts", "p99-latency")
            )
            watched = {t.name for a in alarms for t in stack.deps(a, "metricQueries", TG)}
            assert watched == {blue.name, green.name}


def test_code_deploy_owns_the_task_definition_load_balancers_and_rule_actions(each_stack: RecordedStack) -> None:
    for ecs in each_stack.of_type(SERVICE):
        service = ecs.inputs["name"].split("-", 1)[1]
        if service in WEB:
            assert ecs.inputs["deploymentController"] == {"type": "CODE_DEPLOY"}
            assert ecs.ignore_changes == ["desiredCount", "taskDefinition", "loadBalancers", "capacityProviderStrategies"]
            assert "deploymentCircuitBreaker" not in ecs.inputs
            # Pulumi creates the first task definition; CodeDeploy ships the next ones.
            assert [t.type for t in each_stack.deps(ecs, "taskDefinition")] == ["aws:ecs/taskDefinition:TaskDefinition"]
        else:
            # CI owns a rolling service's task definition too, after the first (test_ci_deploys_the_worker_rolling...).
            assert ecs.inputs["deploymentController"] == {"type": "ECS"} and ecs.ignore_changes == ["desiredCount", "taskDefinition"]
            assert ecs.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    rules = each_stack.of_type(RULE)
    assert len(rules) == 2 * len(WEB) * len(environments(each_stack))
    assert all(rule.ignore_changes == ["actions"] for rule in rules)


def test_workers_roll_back_on_their_queue_latency_alarm(each_stack: RecordedStack) -> None:
    for env in environments(each_stack):
        sidekiq = each_stack.one(SERVICE, f"{env}-sidekiq-service")
        assert sidekiq.inputs["alarms"]["enable"] is True and sidekiq.inputs["alarms"]["rollback"] is True
        (alarm,) = each_stack.deps(sidekiq, "alarms", ALARM)
        assert alarm.inputs["name"] == f"{env}-sidekiq-queue-latency"
        (query,) = alarm.inputs["metricQueries"]
        assert query["metric"]["namespace"] == "Kanna/Sidekiq" and query["metric"]["dimensions"] == {"Environment": env}
        assert alarm.inputs["threshold"] == 60.0


def test_the_test_listener_is_https_and_reachable_from_the_vpc_only(each_stack: RecordedStack) -> None:
    test = listeners(each_stack)[8443.0]
    assert test.inputs["protocol"] == "HTTPS" and test.inputs["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert [a["type"] for a in test.inputs["defaultActions"]] == ["fixed-response"]
    (vpc,) = each_stack.of_type("aws:ec2/vpc:Vpc")
    (rule,) = [
        r for r in each_stack.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") if r.inputs.get("fromPort") == 8443.0
    ]
    assert rule.inputs["cidrIpv4"] == vpc.inputs["cidrBlock"] and rule.inputs["toPort"] == 8443.0 and "prefixListId" not in rule.inputs
    test_rules = [r for r in each_stack.of_type(RULE) if r.name.endswith("-test-rule")]
    assert {d.name for r in test_rules for d in each_stack.deps(r, "listenerArn")} == {test.name}
    for rule in test_rules:
        prod = each_stack.one(RULE, rule.name.replace("-test-rule", "-rule"))
        # Same routing (public and internal hosts) and actions as production.
        assert prod.inputs["conditions"] == rule.inputs["conditions"]
        assert [a["type"] for a in rule.inputs["actions"]] == [a["type"] for a in prod.inputs["actions"]]


def forwards_to(stack: RecordedStack, rule) -> list:
    return stack.deps(rule, "actions", TG)


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_calls_between_services_follow_the_codedeploy_traffic_shift(name: str, dev: RecordedStack, prod: RecordedStack) -> None:
    """Issue 12 item 11. For every caller -> callee of the catalog, in every environment: the caller's <CALLEE>_URL
    names a host whose record aliases the ALB; on that ALB, exactly one rule of the HTTPS listener matches the host,
    forwards to the callee's blue target group and leaves its actions to CodeDeploy; and the callee's deployment group
    shifts exactly that pair on exactly that listener (its production route), with the test listener matching the
    host too. Cloud Map names (the old path, blue and green tasks alike) fail the first step."""
    stack = dev if name == "dev" else prod
    assert CALLS, "the catalog has calls between services"
    (alb,) = stack.of_type(LB)
    https = listeners(stack)[443.0]
    test = listeners(stack)[8443.0]
    assert stack.deps(https, "loadBalancerArn") == [alb] == stack.deps(test, "loadBalancerArn")  # type: ignore[arg-type]
    for env in environments(stack):
        for caller, callee in CALLS:
            (task,) = [t for t in stack.of_type("aws:ecs/taskDefinition:TaskDefinition") if t.name == f"{env}-{caller}-task"]
            app = json.loads(task.inputs["containerDefinitions"])[0]
            variables = {e["name"]: e["value"] for e in app["environment"]}
            url = urlsplit(variables[f"{callee.upper().replace('-', '_')}_URL"])
            assert (url.scheme, url.port, url.path) == ("https", None, ""), url
            host = url.hostname
            records = [r for r in stack.of_type(RECORD) if r.inputs["name"] == host]
            assert len(records) == 1 and stack.deps(records[0], "aliases") == [alb], f"{env}-{caller}: {host} is not the ALB's"
            matching = {
                listener.name: [
                    r
                    for r in stack.of_type(RULE)
                    if stack.deps(r, "listenerArn") == [listener]
                    and any(host in c.get("hostHeader", {}).get("values", []) for c in r.inputs["conditions"])
                ]
                for listener in (https, test)
            }
            (rule,) = matching[https.name]  # type: ignore[attr-defined]
            (test_rule,) = matching[test.name]  # type: ignore[attr-defined]
            blue = stack.one(TG, f"{env}-{callee}-tg")
            assert forwards_to(stack, rule) == [blue] == forwards_to(stack, test_rule)
            assert rule.ignore_changes == ["actions"] == test_rule.ignore_changes  # CodeDeploy rewrites them on every shift
            group = stack.one(GROUP, f"{env}-{callee}-deployment-group")
            assert stack.deps(group, "ecsService", SERVICE) == [stack.one(SERVICE, f"{env}-{callee}-service")]
            pair = {t.urn for t in stack.deps(group, "loadBalancerInfo", TG)}
            assert pair == {blue.urn, stack.one(TG, f"{env}-{callee}-green-tg").urn}
            assert {r.urn for r in stack.deps(group, "loadBalancerInfo", LISTENER)} == {https.urn, test.urn}  # type: ignore[attr-defined]
            routes = group.inputs["loadBalancerInfo"]["targetGroupPairInfo"]
            # The mocks name an ARN after its resource: the production route is the listener the caller's rule is on.
            assert routes["prodTrafficRoute"]["listenerArns"][0].endswith(f"/{https.name}")  # type: ignore[attr-defined]
            assert routes["testTrafficRoute"]["listenerArns"][0].endswith(f"/{test.name}")  # type: ignore[attr-defined]
            # The network lets exactly this path through: the caller's tasks into the ALB on 443, the ALB into the callee.
            caller_sg = stack.one("aws:ec2/securityGroup:SecurityGroup", f"{env}-{caller}-sg")
            alb_groups = {g.urn for g in stack.deps(alb, "securityGroups")}
            into_alb = [
                r
                for r in stack.of_type(INGRESS)
                if stack.deps(r, "referencedSecurityGroupId") == [caller_sg] and stack.deps(r, "securityGroupId")[0].urn in alb_groups
            ]
            assert [(r.inputs["fromPort"], r.inputs["toPort"]) for r in into_alb] == [(443.0, 443.0)]
            callee_sg = stack.one("aws:ec2/securityGroup:SecurityGroup", f"{env}-{callee}-sg")
            assert [g.urn for g in stack.deps(callee_sg, "ingress")] == [
                stack.one("aws:ec2/securityGroup:SecurityGroup", f"{name}-alb-sg").urn
            ]


def test_internal_hosts_are_derived_once_and_never_collide_with_public_hosts() -> None:
    from preflight.program import stack_config

    for name in ("dev", "prod"):
        platform = load(name, stack_config(name)[0]).platform
        internal, public = platform.service_hosts(), platform.public_hosts()
        assert len(internal) == len(set(internal)) == len(platform.environments) * len(platform.callees())
        assert not set(internal) & set(public)
        # One level under the domain: the ALB's wildcard certificate (the domain and *.<domain>) covers them.
        assert all(host.removesuffix(f".{platform.domain}").count(".") == 0 for host in internal)


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_rendered_appspec_and_task_definition_for_every_web_service(name: str, dev: RecordedStack, prod: RecordedStack, tmp_path) -> None:
    stack = dev if name == "dev" else prod
    outputs = stack.outputs
    for env in environments(stack):
        assert sorted(outputs["deploy"][env]) == sorted(CATALOG)
        for service in WEB:
            appspec, taskdef, names = render(outputs, env, service)
            (target,) = appspec["Resources"]
            properties = target["TargetService"]["Properties"]
            assert target["TargetService"]["Type"] == "AWS::ECS::Service" and appspec["version"] == 0.0
            assert properties["TaskDefinition"] == PLACEHOLDER
            assert properties["LoadBalancerInfo"] == {"ContainerName": service, "ContainerPort": CATALOG[service]["port"]}
            providers = {s["CapacityProvider"] for s in properties["CapacityProviderStrategy"]}
            assert providers == ({"FARGATE_SPOT"} if name == "dev" else {"FARGATE", "FARGATE_SPOT"})
            assert appspec is not None
            assert names == {
                "strategy": "blueGreen",
                "repositoryName": CATALOG[service]["image"],
                "cluster": f"{name}-cluster",
                "service": f"{env}-{service}",
                "application": f"kanna-{env}",
                "deploymentGroup": f"{env}-{service}",
                "containerName": service,
                "repository": names["repository"],
            }
            assert names["repository"].startswith(f"{ACCOUNT[name]}.dkr.ecr.ap-northeast-1.amazonaws.com/")
            recorded = stack.one("aws:ecs/taskDefinition:TaskDefinition", f"{env}-{service}-task")
            assert taskdef["family"] == recorded.inputs["family"] == f"kanna-{env}-{service}"
            assert taskdef["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
            assert taskdef["containerDefinitions"] == json.loads(recorded.inputs["containerDefinitions"])
            assert (taskdef["cpu"], taskdef["memory"]) == (recorded.inputs["cpu"], recorded.inputs["memory"])
            assert taskdef["executionRoleArn"].endswith(f"{env}-{service}-execution-role")
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    env = environments(stack)[0]
    assert main(["--outputs", str(tmp_path / "outputs.json"), "--env", env, "--service", "report", "--out-dir", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "appspec.json").read_text())["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"] == {
        "ContainerName": "report",
        "ContainerPort": 8080,
    }
    with pytest.raises(RenderError, match="no service 'worker' in"):
        render(outputs, env, "worker")


@pytest.mark.parametrize(
    ("stack", "deploy", "platform", "where", "allowed"),
    [
        ("prod", {"webStrategy": "rolling"}, {}, "deploy.webStrategy", "prod deploys web services blue/green"),
        ("prod", {"trafficConfig": "CodeDeployDefault.ECSAllAtOnce"}, {}, "deploy.trafficConfig", "a canary or linear config"),
        ("dev", {}, {"environments": [f"qa{i}" for i in range(8)]}, "deploy.webStrategy", "at most 7 environments with blueGreen"),
        ("prod", {"trafficConfig": "AllAtOnce"}, {}, "deploy.trafficConfig", "CodeDeployDefault.ECSAllAtOnce"),
    ],
)
def test_bad_deploy_settings_give_one_line(stack: str, deploy: dict, platform: dict, where: str, allowed: str) -> None:
    config = {"kanna-infra:awsAccountId": "111111111111", "kanna-infra:deploy": json.dumps(deploy)}
    if stack == "dev":
        config |= {"kanna-infra:tier": "dev", "kanna-infra:platform": json.dumps(platform)}
    with pytest.raises(SettingsError) as caught:
        load(stack, config)
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and where in message and allowed in message, message


def test_the_albs_callers_group_takes_one_rule_per_calling_service_per_environment() -> None:
    from settings.deploy import SG_INBOUND_RULES, DeploySettings

    rolling = DeploySettings.model_validate({"webStrategy": "rolling"})
    assert rolling.capacity_problems(12, 7, 5) == []  # the twelve-environment dev fleet: 60 rules, the quota
    (problem,) = rolling.capacity_problems(13, 7, 5)
    assert f"65 inbound rules on the ALB's callers security group, which takes {SG_INBOUND_RULES}" in problem.message
    assert "at most 12 environments" in problem.message
    # Rolling takes one target group and rule per web service and environment: 13 x 8 do not fit either.
    (problem,) = rolling.capacity_problems(13, 8)
    assert "13 environments x 8 web services need 104 target groups" in problem.message and "at most 12 environments" in problem.message
    assert "rolling" not in problem.message.split("allowed:")[1]


@pytest.mark.parametrize(
    ("change", "where", "allowed"),
    [
        ({"frontend": {"calls": ["admin"]}}, "platform.services.frontend.calls", "allowed: a service without internalAuth"),
        ({"openapi": {"routing": {"host": "openapi-svc"}}}, "platform.services.openapi.routing.host", "internal hosts of calls"),
    ],
)
def test_calls_and_hosts_that_internal_routing_cannot_serve_give_one_line(change: dict, where: str, allowed: str) -> None:
    services = {name: {**entry, **change.get(name, {})} for name, entry in CATALOG.items()}
    with pytest.raises(SettingsError) as caught:
        load("prod", {"kanna-infra:awsAccountId": "111111111111", "kanna-infra:platform": json.dumps({"services": services})})
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and where in message and allowed in message, message


def test_request_scaling_follows_traffic_across_blue_and_green(each_stack: RecordedStack) -> None:
    """CodeDeploy moves traffic between the pair: scaling on one target group would see zero after a swap."""
    policies = [p for p in each_stack.of_type("aws:appautoscaling/policy:Policy") if p.name.endswith("-scale-on-requests")]
    web = [n for n, entry in CATALOG.items() if entry["kind"] == "web" and entry.get("scaleOn", "requests") == "requests"]
    assert len(policies) == len(web) * len(environments(each_stack))
    for policy in policies:
        spec = policy.inputs["targetTrackingScalingPolicyConfiguration"]["customizedMetricSpecification"]
        metrics = {m["id"]: m for m in spec["metrics"]}
        assert metrics["perTask"]["expression"] == "(FILL(blue, 0) + FILL(green, 0)) / tasks" and metrics["perTask"]["returnData"]
        assert metrics["tasks"]["metricStat"]["metric"]["metricName"] == "RunningTaskCount"
        groups = each_stack.deps(policy, "targetTrackingScalingPolicyConfiguration", "aws:lb/targetGroup:TargetGroup")
        base = policy.name.removesuffix("-scale-on-requests")
        assert sorted(g.name for g in groups) == sorted([f"{base}-tg", f"{base}-green-tg"])


# Issue 12, item 13: the worker has a deploy path, and a first `up` before any image exists converges.

WORKERS = sorted(name for name, entry in CATALOG.items() if entry["kind"] == "worker")


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_ci_deploys_the_worker_rolling_from_the_stack_outputs(name: str, dev: RecordedStack, prod: RecordedStack, tmp_path) -> None:
    stack = dev if name == "dev" else prod
    assert WORKERS == ["sidekiq"]
    for env in environments(stack):
        for service in WORKERS:
            appspec, taskdef, names = render(stack.outputs, env, service)
            assert appspec is None  # no CodeDeploy: ECS rolls it out and back
            recorded = stack.one("aws:ecs/taskDefinition:TaskDefinition", f"{env}-{service}-task")
            assert taskdef["family"] == recorded.inputs["family"] and taskdef["containerDefinitions"] == json.loads(
                recorded.inputs["containerDefinitions"]
            )
            assert names == {
                "strategy": "rolling",
                "cluster": f"{name}-cluster",
                "service": f"{env}-{service}",
                "containerName": service,
                "repository": f"{ACCOUNT[name]}.dkr.ecr.ap-northeast-1.amazonaws.com/kanna/core-api",  # sidekiq runs core-api's image
                "repositoryName": "kanna/core-api",
            }
            # The service it updates is the rolling one that rolls back on its circuit breaker and its alarm, and
            # Pulumi leaves the revision CI registered alone.
            ecs = stack.one(SERVICE, f"{env}-{service}-service")
            assert ecs.inputs["name"] == names["service"] and ecs.inputs["deploymentController"] == {"type": "ECS"}
            assert ecs.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True} and ecs.inputs["alarms"]["rollback"]
            assert "taskDefinition" in ecs.ignore_changes
    (tmp_path / "outputs.json").write_text(json.dumps(stack.outputs))
    args = [
        "--outputs",
        str(tmp_path / "outputs.json"),
        "--env",
        environments(stack)[0],
        "--service",
        "sidekiq",
        "--out-dir",
        str(tmp_path),
    ]
    assert main(args) == 0
    assert (tmp_path / "taskdef.json").exists() and not (tmp_path / "appspec.json").exists()


def test_repository_of_an_image_by_tag_or_digest() -> None:
    from deploy.render import repository_of

    repo = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/kanna/core-api"
    assert repository_of(f"{repo}:bootstrap") == repository_of(f"{repo}@sha256:{'a' * 64}") == repository_of(repo) == repo
    assert repository_of("registry.example.com:5000/kanna/x") == "registry.example.com:5000/kanna/x"


def _awaiting(stack: str, repositories: list[str], mode: str = "update") -> Job:
    """The stack whose deploy settings await images for `repositories` (recorded in a forked child: conftest)."""
    config, secrets = stack_config(stack)
    deploy = json.loads(config.get("kanna-infra:deploy", "{}"))
    config["kanna-infra:deploy"] = json.dumps({**deploy, "awaitingImages": repositories})
    return variant(stack, mode, config, secrets)


REPOSITORIES = sorted({entry["image"] for entry in CATALOG.values()})
DEV_AWAITS_REPORT = _awaiting("dev", ["kanna/report"])


@pytest.mark.parametrize(
    ("mode", "awaited"),
    [
        pytest.param(mode, awaited, id=name, marks=pytest.mark.records(_awaiting("prod", awaited, mode)))
        for name, mode, awaited in [
            ("all", "update", REPOSITORIES),
            ("all-first", "first", REPOSITORIES),
            ("one", "update", ["kanna/core-api"]),
        ]
    ],
)
def test_services_whose_image_is_awaited_are_parked_and_the_preflight_says_so(mode: str, awaited: list[str], prod: RecordedStack) -> None:
    """The repositories are created by the same `up` as the services: with no image to pull yet, no task starts."""
    from components.platform.cluster import BOOTSTRAP_TAG

    recording = recorded(_awaiting("prod", awaited, mode))
    stack = RecordedStack(recording)
    parked = sorted(name for name, entry in CATALOG.items() if entry["image"] in awaited)
    assert ("sidekiq" in parked) is ("kanna/core-api" in awaited)  # it runs core-api's image
    targets = {t.name.removesuffix("-scaling").removeprefix("prod-"): t for t in stack.of_type("aws:appautoscaling/target:Target")}
    assert len(targets) == len(CATALOG)
    for service in CATALOG:
        ecs, target = stack.one(SERVICE, f"prod-{service}-service"), targets[service]
        counts = (ecs.inputs["desiredCount"], target.inputs["minCapacity"], target.inputs["maxCapacity"])
        assert (counts == (0, 0, 0)) is (service in parked), (service, counts)
    assert recording.warnings == [
        f"stack 'prod': kanna-infra:deploy.awaitingImages = {', '.join(awaited)}: {', '.join(sorted(parked, key=list(CATALOG).index))} "
        f"are created with 0 tasks until these repositories hold their '{BOOTSTRAP_TAG}' image; push it (docs/first-deploy.md, "
        "first images), then remove them from the list"
    ]
    # Nothing else changes: the same resources, so the `up` after the push only lifts the counts.
    assert sorted(r.urn for r in recording.registrations) == sorted(r.urn for r in prod.registrations)
    assert prod.recording.warnings == []


@pytest.mark.records(DEV_AWAITS_REPORT)
def test_dev_parks_the_out_of_hours_schedule_of_an_awaited_image_too() -> None:
    stack = RecordedStack(recorded(DEV_AWAITS_REPORT))
    actions = {a.name for a in stack.of_type("aws:appautoscaling/scheduledAction:ScheduledAction")}
    assert actions and not any("-report-" in name for name in actions)  # the morning start would lift it
    assert {f"alpha-payment-{a}" for a in ("stop", "start")} <= actions


def test_awaited_images_must_be_catalog_repositories() -> None:
    config = {"kanna-infra:awsAccountId": "111111111111", "kanna-infra:deploy": json.dumps({"awaitingImages": ["kanna/corapi"]})}
    with pytest.raises(SettingsError) as caught:
        load("prod", config)
    (line,) = str(caught.value).splitlines()
    assert line.startswith("stack 'prod': kanna-infra:deploy.awaitingImages = [\"kanna/corapi\"]: names each catalog repository")
    assert "allowed: kanna/admin, kanna/approval, kanna/core-api" in line


def test_services_start_from_the_bootstrap_image_that_the_repositories_keep(each_stack: RecordedStack) -> None:
    from components.platform.cluster import BOOTSTRAP_TAG

    for task in each_stack.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        if each_stack.recording.mode == "first":
            continue  # the repository URL is unknown
        service = task.name.split("-", 1)[1].removesuffix("-task")
        (app,) = [c for c in json.loads(task.inputs["containerDefinitions"]) if c["name"] == service]
        assert app["image"].endswith(f"/{CATALOG[service]['image']}:{BOOTSTRAP_TAG}"), app["image"]
    for policy in each_stack.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy"):
        rules = sorted(json.loads(policy.inputs["policy"])["rules"], key=lambda r: r["rulePriority"])
        # A higher-priority rule that matches the bootstrap tag and never finds more than one image keeps it from the others.
        assert rules[0]["selection"] == {
            "tagStatus": "tagged",
            "tagPrefixList": [BOOTSTRAP_TAG],
            "countType": "imageCountMoreThan",
            "countNumber": 1,
        }
        assert rules[-1]["selection"]["tagStatus"] == "any"


def _ecr(present: set[str], error: str | None = None):
    """Plays `aws ecr describe-images ... imageTag=bootstrap` for the repositories in `present`."""
    import subprocess

    asked: list[str] = []

    def ask(repository: str) -> subprocess.CompletedProcess[str]:
        asked.append(repository)
        if error:
            return subprocess.CompletedProcess([], 255, "", error)
        if repository in present:
            return subprocess.CompletedProcess([], 0, '{"imageDetails": [{}]}', "")
        return subprocess.CompletedProcess(
            [], 254, "", "An error occurred (ImageNotFoundException) when calling the DescribeImages operation"
        )

    return ask, asked


def test_before_up_ci_stops_a_stack_whose_services_would_start_without_images(capsys, tmp_path) -> None:
    from deploy.images import main

    ask, asked = _ecr(set(REPOSITORIES))
    assert main(["--stack", "prod"], ask) == 0 and asked == REPOSITORIES
    ask, _ = _ecr(set(REPOSITORIES) - {"kanna/core-api", "kanna/report"})
    assert main(["--stack", "prod"], ask) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(
        "stack 'prod': kanna-infra:deploy.awaitingImages leaves out kanna/core-api, kanna/report, which hold no 'bootstrap'"
    )
    assert "docs/first-deploy.md" in line and "or list them" in line
    # An empty account: not even the repositories exist yet.
    ask, _ = _ecr(set(), None)
    assert main(["--stack", "dev"], ask) == 1 and "kanna/admin, kanna/approval" in capsys.readouterr().err
    # ECR can't be asked (no credentials, throttled): that is not "missing", and the up doesn't start either.
    ask, _ = _ecr(set(), "An error occurred (AccessDeniedException)")
    assert main(["--stack", "dev"], ask) == 2 and "AccessDeniedException" in capsys.readouterr().err
    # The first up of a stack awaits every image: its services are parked, there is nothing to ask. A new
    # repository later is awaited alone, and the others are asked about.
    import yaml

    from preflight import ROOT

    for awaited in (REPOSITORIES, ["kanna/report"]):
        document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
        document["config"]["kanna-infra:deploy"] = {"awaitingImages": awaited}
        stack_file = tmp_path / "Pulumi.prod.yaml"
        stack_file.write_text(yaml.safe_dump(document))
        ask, asked = _ecr(set(REPOSITORIES) - set(awaited))
        assert main(["--stack", "prod", "--stack-file", str(stack_file)], ask) == 0
        assert asked == [r for r in REPOSITORIES if r not in awaited]


def test_the_first_deploy_runbook_names_every_repository_the_catalog_has() -> None:
    # docs/first-deploy.md step 4 is copied by hand into a stack file and a shell loop: a catalog change
    # that the runbook misses would park a service forever, or push to a repository that doesn't exist.
    from preflight import ROOT
    from preflight.program import stack_config

    text = (ROOT / "docs" / "first-deploy.md").read_text()
    repositories = load("dev", stack_config("dev")[0]).platform.repositories()
    listed = text.split("awaitingImages: [", 1)[1].split("]", 1)[0].split(", ")
    looped = text.split("for repo in ", 1)[1].split(";", 1)[0].split()
    assert listed == repositories and looped == repositories
