"""The container platform and edge, on the real dev and prod stacks: services, placement, routing, WAF, ingress."""

from __future__ import annotations

import json

import pytest

from preflight.program import stack_config
from settings import SettingsError, load
from settings.services import CATALOG
from tests.conftest import TWELVE_ENVIRONMENTS, cli_result
from tests.kit import UNKNOWN, RecordedStack

SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
RULE = "aws:lb/listenerRule:ListenerRule"
SG = "aws:ec2/securityGroup:SecurityGroup"
ACL = "aws:wafv2/webAcl:WebAcl"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
WEB = sorted(name for name, entry in CATALOG.items() if entry["kind"] == "web")


def envs(stack: RecordedStack) -> list[str]:
    return sorted({s.name.split("-", 1)[0] for s in stack.of_type(SERVICE)})


def test_every_environment_runs_every_catalog_service(dev: RecordedStack, prod: RecordedStack) -> None:
    assert envs(dev) == ["alpha", "beta", "gamma"] and envs(prod) == ["prod"]
    for stack in (dev, prod):
        for env in envs(stack):
            names = sorted(s.inputs["name"] for s in stack.of_type(SERVICE) if s.name.startswith(f"{env}-"))
            assert names == sorted(f"{env}-{service}" for service in CATALOG)
            for service in (s for s in stack.of_type(SERVICE) if s.name.startswith(f"{env}-")):
                # No service discovery (callers go through the ALB: tests/test_deploy.py); private subnets, no public IP,
                # ECS Exec on.
                assert "serviceRegistries" not in service.inputs and "serviceConnectConfiguration" not in service.inputs
                assert service.inputs["networkConfiguration"]["assignPublicIp"] is False
                assert {s.inputs["tags"]["Tier"] for s in stack.deps(service, "networkConfiguration", "aws:ec2/subnet:Subnet")} == {
                    "private"
                }
                # ECS Exec on unless the catalog turns it off (tests/test_cloud_constraints.py).
                assert service.inputs["enableExecuteCommand"] is CATALOG[service.inputs["name"].split("-", 1)[1]].get("ecsExec", True)
                assert "launchType" not in service.inputs
                assert service.ignore_changes[0] == "desiredCount"  # the rest is CodeDeploy's: tests/test_deploy.py


def test_task_definitions_are_arm64_with_read_only_root_where_allowed(each_stack: RecordedStack) -> None:
    tasks = each_stack.of_type(TASK)
    assert len(tasks) == len(CATALOG) * len(envs(each_stack))
    for task in tasks:
        assert task.inputs["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
        assert task.inputs["requiresCompatibilities"] == ["FARGATE"] and task.inputs["networkMode"] == "awsvpc"
        roles = {r.name for r in each_stack.deps(task, "executionRoleArn") + each_stack.deps(task, "taskRoleArn")}
        assert len(roles) == 2, "execution and task roles are separate"
        if task.inputs["containerDefinitions"] == UNKNOWN:
            continue
        containers = json.loads(task.inputs["containerDefinitions"])
        # The app, then the Datadog agent and the FireLens log router (components/platform/service/telemetry.py).
        assert [c["name"] for c in containers[1:]] == ["datadog-agent", "log-router", "datadog-agent-init"]
        container = containers[0]
        service = container["name"]
        assert container["readonlyRootFilesystem"] is CATALOG[service].get("readOnlyRoot", True)
        exec_dirs = {"/var/lib/amazon", "/var/log/amazon"} if CATALOG[service].get("ecsExec", True) else set()
        assert {m["containerPath"] for m in container["mountPoints"]} == {"/tmp", *exec_dirs}
        assert all(s["valueFrom"].startswith(("arn:aws:secretsmanager:", "arn:aws:ssm:")) for s in container["secrets"])
        assert "222222222222" in json.dumps(container["secrets"]) or each_stack.recording.stack == "prod" or not container["secrets"]


def strategy(service) -> dict[str, tuple[float, float]]:
    return {s["capacityProvider"]: (s.get("base", 0.0), s["weight"]) for s in service.inputs["capacityProviderStrategies"]}


def test_dev_is_spot_only_and_prod_web_keeps_an_on_demand_base(dev: RecordedStack, prod: RecordedStack) -> None:
    for service in dev.of_type(SERVICE):
        assert list(strategy(service)) == ["FARGATE_SPOT"] and strategy(service)["FARGATE_SPOT"][0] == 0
    for service in prod.of_type(SERVICE):
        name = service.name.removeprefix("prod-").removesuffix("-service")
        placement = strategy(service)
        assert placement["FARGATE_SPOT"][1] >= 1
        size = CATALOG[name]["size"]
        if name in WEB:
            assert placement["FARGATE"][0] == size["onDemandBase"] >= 1
        spot_share = placement["FARGATE_SPOT"][1] / sum(weight for _, weight in placement.values())
        assert spot_share >= 0.5
    (capacity,) = prod.of_type("aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    assert capacity.inputs["defaultCapacityProviderStrategies"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1.0}]
    (cluster,) = prod.of_type("aws:ecs/cluster:Cluster")
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": "enabled"}]


def production_rules(stack: RecordedStack) -> list:
    """The HTTPS listener's rules (blue/green adds a test rule per service on the VPC-only test listener)."""
    return [r for r in stack.of_type(RULE) if not r.name.endswith("-test-rule")]


def test_host_rules_per_environment_and_internal_hosts_of_called_services(dev: RecordedStack, prod: RecordedStack) -> None:
    def hosts(stack: RecordedStack, env: str) -> dict[str, tuple[list[str], list[str]]]:
        found = {}
        for rule in production_rules(stack):
            if rule.name.startswith(f"{env}-"):
                conditions = {next(iter(c)): next(iter(c.values())) for c in rule.inputs["conditions"]}
                # The ALB is internal (a VPC origin): no shared-secret header, and at most 5 condition values per rule.
                assert set(conditions) <= {"hostHeader", "pathPattern"} and sum(len(c["values"]) for c in conditions.values()) <= 5
                found[rule.name.removeprefix(f"{env}-").removesuffix("-rule")] = (
                    conditions["hostHeader"]["values"],
                    conditions.get("pathPattern", {}).get("values", []),
                )
        return found

    assert hosts(dev, "beta") == {
        "frontend": (["beta.dev.example.com"], []),
        "admin": (["beta-admin.dev.example.com"], []),
        "core-api": (["beta-api.dev.example.com", "beta-core-api-svc.dev.example.com"], []),
        "openapi": (["beta-openapi.dev.example.com"], []),
        "report": (["beta-report.dev.example.com", "beta-report-svc.dev.example.com"], []),
        "approval": (["beta-approval.dev.example.com", "beta-approval-svc.dev.example.com"], []),
        "payment": (["beta-payment.dev.example.com", "beta-payment-svc.dev.example.com"], []),
    }
    assert hosts(prod, "prod")["frontend"] == (["example.com"], []) and hosts(prod, "prod")["openapi"] == (["openapi.example.com"], [])
    assert hosts(prod, "prod")["core-api"] == (["api.example.com", "core-api-svc.example.com"], [])
    for stack in (dev, prod):
        priorities = [r.inputs["priority"] for r in production_rules(stack)]
        assert len(priorities) == len(set(priorities))
        # Every service owns its host: what reaches which service is tests/test_cloud_constraints.py's.
        (admin,) = [r for r in production_rules(stack) if r.name.endswith("-admin-rule")][:1]
        assert [a["type"] for a in admin.inputs["actions"]] == ["authenticate-cognito", "forward"]
        assert all(
            [a["type"] for a in r.inputs["actions"]] == ["forward"] for r in production_rules(stack) if not r.name.endswith("-admin-rule")
        )
    (distribution,) = dev.of_type("aws:cloudfront/distribution:Distribution")
    assert len(distribution.inputs["aliases"]) == len(envs(dev)) * len(WEB)  # every environment's web services, one host each
    # Internal hosts are never CloudFront aliases: viewers can't address them.
    assert not [alias for alias in distribution.inputs["aliases"] if "-svc." in alias]


def test_web_acls_block_with_managed_groups_and_a_rate_limit_and_log_redacted(each_stack: RecordedStack) -> None:
    acls = {a.inputs["scope"]: a for a in each_stack.of_type(ACL)}
    assert set(acls) == {"REGIONAL", "CLOUDFRONT"}
    providers = {p.urn: p.inputs["region"] for p in each_stack.of_type("pulumi:providers:aws")}
    assert providers[acls["CLOUDFRONT"].provider.rsplit("::", 1)[0]] == "us-east-1"
    for acl in acls.values():
        groups = {
            r["statement"]["managedRuleGroupStatement"]["name"]: r
            for r in acl.inputs["rules"]
            if "managedRuleGroupStatement" in r["statement"]
        }
        assert set(groups) == {
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesSQLiRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesAmazonIpReputationList",
        }
        assert all(rule["overrideAction"] == {"none": {}} for rule in groups.values())
        (rate,) = [r for r in acl.inputs["rules"] if "rateBasedStatement" in r["statement"]]
        statement = rate["statement"]["rateBasedStatement"]
        assert rate["action"] == {"block": {}}
        if acl.inputs["scope"] == "CLOUDFRONT":
            assert statement["aggregateKeyType"] == "IP"
        else:
            # The ALB sees VPC-origin and task addresses, never a viewer's: it counts the viewer CloudFront names, and
            # calls between services (no X-Forwarded-For) go uncounted.
            assert statement["aggregateKeyType"] == "FORWARDED_IP"
            assert statement["forwardedIpConfig"] == {"headerName": "X-Forwarded-For", "fallbackBehavior": "NO_MATCH"}
    for logging in each_stack.of_type("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"):
        assert sorted(f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]) == ["authorization", "cookie"]
        (group,) = each_stack.deps(logging, "logDestinationConfigs")
        assert group.inputs["name"].startswith("aws-waf-logs-")
    (association,) = each_stack.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert each_stack.deps(association, "webAclArn") == [acls["REGIONAL"]]
    assert [r.type for r in each_stack.deps(association, "resourceArn")] == ["aws:lb/loadBalancer:LoadBalancer"]


def test_alb_admits_cloudfront_and_calling_tasks_and_tasks_only_the_alb(each_stack: RecordedStack) -> None:
    (alb,) = each_stack.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["internal"] is True and alb.inputs["dropInvalidHeaderFields"] is True
    assert {s.inputs["tags"]["Tier"] for s in each_stack.deps(alb, "subnets", "aws:ec2/subnet:Subnet")} == {"private"}
    assert alb.inputs["enableDeletionProtection"] is (each_stack.recording.stack == "prod")
    assert alb.inputs["accessLogs"]["enabled"] is True
    groups = {g.name.removeprefix(f"{each_stack.recording.stack}-"): g for g in each_stack.deps(alb, "securityGroups")}
    assert sorted(groups) == ["alb-callers-sg", "alb-sg"]
    alb_sg, callers_sg = groups["alb-sg"], groups["alb-callers-sg"]
    rules = [r for r in each_stack.of_type(INGRESS) if alb_sg in each_stack.deps(r, "securityGroupId")]
    # 443 from CloudFront; the blue/green test listener's port from the VPC only (tests/test_deploy.py).
    rules = [r for r in rules if r.inputs["fromPort"] != 8443]
    assert len(rules) == 1 and "ingress" not in alb_sg.inputs
    assert (rules[0].inputs["fromPort"], rules[0].inputs["toPort"]) == (443, 443) and "cidrIpv4" not in rules[0].inputs
    if each_stack.recording.mode == "update":
        assert rules[0].inputs["prefixListId"] == "pl-58a04531"
    listeners = {listener.inputs["port"]: listener for listener in each_stack.of_type("aws:lb/listener:Listener")}
    assert listeners[443].inputs["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert [a["type"] for a in listeners[80].inputs["defaultActions"]] == ["redirect"]
    task_groups = [g for g in each_stack.of_type(SG) if each_stack.by_urn[g.parent].type == "kanna:platform:ContainerService"]
    assert len(task_groups) == len(CATALOG) * len(envs(each_stack))
    for group in task_groups:
        sources = each_stack.deps(group, "ingress")
        assert all("cidrBlocks" not in rule for rule in group.inputs.get("ingress", []))
        service = group.name.removesuffix("-sg").split("-", 1)[1]
        # Callers come through the ALB too: a task admits the ALB's group and nobody else.
        assert sources == ([alb_sg] if service in WEB else [])
    # The callers group: 443 from exactly the task groups of the services that call another one, in each environment.
    admitted = [r for r in each_stack.of_type(INGRESS) if each_stack.deps(r, "securityGroupId") == [callers_sg]]
    assert all((r.inputs["fromPort"], r.inputs["toPort"]) == (443, 443) for r in admitted)
    callers = {f"{env}-{name}-sg" for env in envs(each_stack) for name, entry in CATALOG.items() if entry.get("calls")}
    assert sorted(g.name for r in admitted for g in each_stack.deps(r, "referencedSecurityGroupId")) == sorted(callers)
    assert "ingress" not in callers_sg.inputs and "egress" not in callers_sg.inputs
    (environment,) = [e for e in each_stack.of_type("kanna:platform:Environment")][:1]
    assert sorted(environment.outputs["securityGroupIds"]) == sorted(CATALOG)


def test_cloudfront_is_https_only_to_viewer_and_origin_with_logging(each_stack: RecordedStack) -> None:
    (distribution,) = each_stack.of_type("aws:cloudfront/distribution:Distribution")
    inputs = distribution.inputs
    assert inputs["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
    assert inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    # The stack's own ALB only: prod's standby's in Osaka joins once prod-dr is up (`standbyUp`, tests/test_dr.py).
    (origin,) = inputs["origins"]
    assert origin["originId"] == "alb"
    # Through a VPC origin to the internal ALB, HTTPS only (the VPC origin holds the protocol settings).
    assert "customOriginConfig" not in origin and "customHeaders" not in origin
    (vpc_origin,) = each_stack.deps(distribution, "origins", "aws:cloudfront/vpcOrigin:VpcOrigin")
    endpoint = vpc_origin.inputs["vpcOriginEndpointConfig"]
    assert endpoint["originProtocolPolicy"] == "https-only" and endpoint["originSslProtocols"] == {"items": ["TLSv1.2"], "quantity": 1.0}
    assert each_stack.deps(vpc_origin, "vpcOriginEndpointConfig") == each_stack.of_type("aws:lb/loadBalancer:LoadBalancer")
    assert "loggingConfig" in inputs
    assert [a.type for a in each_stack.deps(distribution, "webAclId")] == [ACL]


def test_out_of_hours_scale_to_zero_only_in_dev(dev: RecordedStack, prod: RecordedStack) -> None:
    actions = dev.of_type("aws:appautoscaling/scheduledAction:ScheduledAction")
    assert len(actions) == 2 * len(CATALOG) * len(envs(dev))
    stops = [a for a in actions if a.name.endswith("-stop")]
    assert all(a.inputs["scalableTargetAction"] == {"minCapacity": 0.0, "maxCapacity": 0.0} for a in stops)
    assert prod.of_type("aws:appautoscaling/scheduledAction:ScheduledAction") == []
    policies = prod.of_type("aws:appautoscaling/policy:Policy")
    for worker in (name for name, entry in CATALOG.items() if entry["kind"] == "worker"):
        kinds = sorted(p.name.split("-scale-on-")[1] for p in policies if p.name.startswith(f"prod-{worker}-scale-on-"))
        assert kinds == ["cpu", "queue-latency"], worker
    web_requests = [p for p in policies if p.name.endswith("-scale-on-requests")]
    assert len(web_requests) == len(WEB)


def test_prod_stateful_platform_resources_are_protected(prod: RecordedStack) -> None:
    for type_ in ("aws:ecr/repository:Repository", "aws:route53/zone:Zone", "aws:secretsmanager/secret:Secret", "aws:s3/bucket:Bucket"):
        assert all(r.protect for r in prod.of_type(type_)), type_
    repo = prod.of_type("aws:ecr/repository:Repository")[0]
    assert repo.inputs["imageTagMutability"] == "IMMUTABLE" and repo.inputs["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"


@pytest.mark.cli("twelve")
def test_twelve_environments_preflight_cleanly() -> None:
    # `python -m preflight dev --mode first --stack-file <dev with 12 environments> --json -`
    result = cli_result("twelve")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (outcome,) = json.loads(result.stdout)
    assert outcome["passed"] and outcome["error"] is None
    # Rolling deploys there (see conftest) are what dev's advisory blue/green policy points out, and nothing else.
    assert {(v["policy"], v["level"]) for v in outcome["violations"]} == {("ecs-web-service-blue-green", "advisory")}
    count = {(p["component"], p["type"]): p["count"] for p in outcome["plan"]}
    # Every catalog service in each of the 12 environments, all on the one shared platform.
    assert count[("dev-platform", SERVICE)] == len(TWELVE_ENVIRONMENTS) * len(CATALOG)
    rules = sum(n for (_, type_), n in count.items() if type_ == RULE)
    assert rules <= 100, "an ALB listener holds at most 100 rules"


@pytest.mark.parametrize(
    ("platform", "where", "allowed"),
    [
        ({"sizes": {"core-api": {"cpu": 256, "memory": 4096}}}, "platform.sizes.core-api", "allowed: 512 to 2048"),
        ({"sizes": {"core-api": {"cpu": 300}}}, "platform.sizes.core-api", "allowed: 256, 512, 1024"),
        ({"sizes": {"worker": {"cpu": 256}}}, "platform.sizes.worker", "no such service; allowed: frontend"),
        ({"environments": ["one", "two"]}, "platform.environments", "prod hosts exactly one environment"),
        ({"environments": ["Alpha"]}, "platform.environments", "allowed: 1-10 lowercase letters"),
        ({"sizes": {"frontend": {"onDemandBase": 0}}}, "platform.sizes.frontend.onDemandBase", "keep an on-demand base"),
        ({"schedule": {}}, "platform.schedule", "prod never scales to zero"),
        ({"services": {"Core_API": CATALOG["report"]}}, "platform.services", "'Core_API' is not a service name; allowed: 2-26"),
    ],
)
def test_bad_platform_settings_give_one_line(platform: dict, where: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load("prod", {"kanna-infra:awsAccountId": "111111111111", "kanna-infra:platform": json.dumps(platform)})
    message = str(caught.value)
    assert len(message.splitlines()) == 1 and where in message and allowed in message, message


def test_secrets_are_references_only() -> None:
    from settings.services import ServiceSettings

    with pytest.raises(ValueError, match="secret API_KEY is not a reference"):
        ServiceSettings.model_validate({**CATALOG["payment"], "secrets": {"API_KEY": "sk_live_123"}})
    ServiceSettings.model_validate({**CATALOG["payment"], "secrets": {"API_KEY": "arn:aws:ssm:{region}:{account}:parameter/kanna/{env}/k"}})


def test_a_service_states_its_language_and_only_ruby_scales_on_sidekiqs_queue() -> None:
    from settings.services import ServiceSettings

    entry = {k: v for k, v in CATALOG["report"].items() if k != "language"}
    with pytest.raises(ValueError, match="language\n  Field required"):
        ServiceSettings.model_validate(entry)
    with pytest.raises(ValueError, match="Input should be 'ruby', 'node' or 'jvm'"):
        ServiceSettings.model_validate({**entry, "language": "python"})
    with pytest.raises(ValueError, match="reads Sidekiq's queue age, and a jvm service has no Sidekiq; allowed: language ruby"):
        ServiceSettings.model_validate({**CATALOG["sidekiq"], "language": "jvm"})


def test_committed_dev_hosts_at_least_three_environments() -> None:
    assert len(load("dev", stack_config("dev")[0]).platform.environments) >= 3
