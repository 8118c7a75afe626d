"""What the clouds require and the mocks never check, derived from the recorded stacks (issue 12).

Each test works out a requirement from what the stack itself declares (a listener action, an image in a container
definition, a host behind Cognito) and checks that the stack also grants it (an egress rule, an ECR permission, a
callback URL), so a new listener, sidecar or host can't silently miss its half.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re

import pytest

from components.platform.service.telemetry import AGENT_VOLUMES
from preflight.program import stack_config
from settings import load
from settings.platform import PlatformSettings
from settings.services import CATALOG
from tests.kit import UNKNOWN, RecordedStack

RULE = "aws:lb/listenerRule:ListenerRule"
LISTENER = "aws:lb/listener:Listener"
TG = "aws:lb/targetGroup:TargetGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
REPOSITORY = "aws:ecr/repository:Repository"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
WORLD = "0.0.0.0/0"
# From AWS's table, not from the code: https://docs.aws.amazon.com/guardduty/latest/ug/ecs-runtime-agent-ecr-image-uri.html
GUARDDUTY_AGENT_IMAGE = "533107202818.dkr.ecr.ap-northeast-1.amazonaws.com/aws-guardduty-agent-fargate"
PRIVATE_ECR = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^:@]+)")
PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


# --- item 6: the ALB's egress follows from its listener actions --------------------------------------------------


def _actions(stack: RecordedStack, owner) -> list[tuple[dict, list]]:
    """(action, the target groups it may forward to) for a rule's actions or a listener's default actions."""
    key = "actions" if owner.type == RULE else "defaultActions"
    return [(action, stack.deps(owner, key, TG)) for action in owner.inputs.get(key, [])]


def needed_egress(stack: RecordedStack, vpc_cidr: str) -> set[tuple[int, str, str]]:
    """(port, destination, why) for every action of every listener and rule of the ALB.

    authenticate-cognito / authenticate-oidc: the ALB calls the IdP's token and userinfo endpoints on 443, on the
    internet (AWS: "Authenticate users using an Application Load Balancer"). forward: the target group's port on
    its targets, which are task IPs in the VPC (target type ip)."""
    needed: set[tuple[int, str, str]] = set()
    owners = [*stack.of_type(LISTENER), *stack.of_type(RULE)]
    for owner in owners:
        for action, groups in _actions(stack, owner):
            kind = action["type"]
            if kind in ("authenticate-cognito", "authenticate-oidc"):
                needed.add((443, WORLD, f"{owner.name}: {kind}"))
            elif kind == "forward":
                assert groups, f"{owner.name}: a forward action to no target group of the stack"
                for group in groups:
                    assert group.inputs["targetType"] == "ip"
                    needed.add((int(group.inputs["port"]), vpc_cidr, f"{owner.name}: forward to {group.name}"))
    return needed


def allowed_egress(stack: RecordedStack, group) -> list[tuple[int, int, str]]:
    rules = [r for r in stack.of_type(EGRESS) if stack.deps(r, "securityGroupId") == [group]]
    allowed = [(int(r.inputs["fromPort"]), int(r.inputs["toPort"]), r.inputs["cidrIpv4"]) for r in rules if r.inputs["ipProtocol"] == "tcp"]
    for inline in group.inputs.get("egress", []):
        allowed += [(int(inline["fromPort"]), int(inline["toPort"]), cidr) for cidr in inline.get("cidrBlocks", [])]
    return allowed


def covers(allowed: list[tuple[int, int, str]], port: int, destination: str) -> bool:
    wanted = ipaddress.ip_network(destination)
    return any(low <= port <= high and wanted.subnet_of(ipaddress.ip_network(cidr)) for low, high, cidr in allowed)  # type: ignore[arg-type]


def test_alb_security_group_allows_the_egress_every_listener_action_needs(each_stack: RecordedStack) -> None:
    (vpc,) = each_stack.of_type("aws:ec2/vpc:Vpc")
    (alb,) = each_stack.of_type("aws:lb/loadBalancer:LoadBalancer")
    groups = each_stack.deps(alb, "securityGroups", SG)
    assert groups, "the ALB has a security group of the stack"
    allowed = [rule for group in groups for rule in allowed_egress(each_stack, group)]
    needed = needed_egress(each_stack, vpc.inputs["cidrBlock"])
    kinds = {why.split(": ", 1)[1].split(" ")[0] for _, _, why in needed}
    assert {"authenticate-cognito", "forward"} <= kinds, "the stacks authenticate the admin routes and forward to tasks"
    missing = sorted(why for port, destination, why in needed if not covers(allowed, port, destination))
    assert not missing, f"the ALB's security group lets these actions reach nothing: {missing[:5]}"


# --- item 7: every host behind Cognito has its callback URL, and no callback names another host ------------------


def test_every_authenticated_host_has_its_cognito_callback_and_no_other(each_stack: RecordedStack) -> None:
    (distribution,) = each_stack.of_type("aws:cloudfront/distribution:Distribution")
    served = set(distribution.inputs["aliases"])
    hosts_by_client: dict[str, set[str]] = {}
    for rule in each_stack.of_type(RULE):
        if not any(a["type"] == "authenticate-cognito" for a in rule.inputs["actions"]):
            continue
        (client,) = each_stack.deps(rule, "actions", CLIENT)
        (host_condition,) = [c["hostHeader"] for c in rule.inputs["conditions"] if "hostHeader" in c]
        hosts_by_client.setdefault(client.urn, set()).update(host_condition["values"])
    assert hosts_by_client, "the admin routes authenticate with Cognito"
    for urn, hosts in hosts_by_client.items():
        client = each_stack.by_urn[urn]
        assert hosts <= served, "an authenticated host that CloudFront doesn't serve"
        assert sorted(client.inputs["callbackUrls"]) == sorted(f"https://{host}/oauth2/idpresponse" for host in hosts)
    if each_stack.recording.stack == "dev":
        assert set().union(*hosts_by_client.values()) == {f"{env}-admin.dev.example.com" for env in ("alpha", "beta", "gamma")}


def test_more_callback_urls_than_cognito_takes_is_one_clear_problem() -> None:
    internal = {"kind": "web", "language": "node", "image": "kanna/admin", "port": 3000, "internalAuth": True}
    services = {f"tool{i}": {**internal, "routing": {"host": f"tool{i}"}} for i in range(9)}
    platform = PlatformSettings.model_validate({"environments": [f"qa{i}" for i in range(12)], "services": services})
    (problem,) = [p for p in platform.problems(prod=False) if "callback" in p.message]
    assert "108 internal hosts" in problem.message and "at most 100" in problem.message
    assert len(PlatformSettings.model_validate({"environments": ["a", "b"], "services": services}).callback_urls()) == 18


# --- item 12: the execution role can pull every image a task runs, the GuardDuty sidecar included --------------


def _allows(document: dict, action: str, resource: str) -> bool:
    def listed(value) -> list[str]:
        return value if isinstance(value, list) else [value]

    return any(
        statement["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in listed(statement["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in listed(statement["Resource"]))
        for statement in document["Statement"]
    )


def _runs_guardduty_agent(stack: RecordedStack) -> bool:
    for feature in stack.of_type("aws:guardduty/detectorFeature:DetectorFeature"):
        if feature.inputs["name"] == "RUNTIME_MONITORING" and feature.inputs["status"] == "ENABLED":
            extra = {c["name"]: c["status"] for c in feature.inputs.get("additionalConfigurations", [])}
            return extra.get("ECS_FARGATE_AGENT_MANAGEMENT") == "ENABLED"
    return False


def _nat_routed(stack: RecordedStack, service) -> bool:
    """Every subnet of the service routes 0.0.0.0/0 to a NAT gateway (images outside ECR come from the internet)."""
    subnets = stack.deps(service, "networkConfiguration", "aws:ec2/subnet:Subnet")
    associations = stack.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
    routes = stack.of_type("aws:ec2/route:Route")
    for subnet in subnets:
        tables = [t for a in associations if stack.deps(a, "subnetId") == [subnet] for t in stack.deps(a, "routeTableId")]
        if not any(
            stack.deps(r, "routeTableId") == [table] and r.inputs["destinationCidrBlock"] == WORLD and stack.deps(r, "natGatewayId")
            for table in tables
            for r in routes
        ):
            return False
    return bool(subnets)


def test_execution_roles_pull_every_image_their_tasks_run(each_stack: RecordedStack) -> None:
    guardduty = _runs_guardduty_agent(each_stack)
    assert guardduty, "Runtime Monitoring manages the Fargate agent in every stack"
    services = {s.inputs["name"]: s for s in each_stack.of_type(SERVICE)}
    (vpc,) = each_stack.of_type("aws:ec2/vpc:Vpc")
    for service in services.values():
        # The agent reports to the guardduty-data endpoint GuardDuty creates in the VPC (HTTPS), and its layers
        # come from S3 (the gateway endpoint, no policy) and the ECR endpoints.
        (group,) = each_stack.deps(service, "networkConfiguration", SG)
        assert covers(allowed_egress(each_stack, group), 443, vpc.inputs["cidrBlock"]), group.name
    tasks = each_stack.of_type(TASK)
    assert tasks
    for task in tasks:
        (role,) = each_stack.deps(task, "executionRoleArn")
        (policy,) = [p for p in each_stack.of_type(ROLE_POLICY) if each_stack.deps(p, "role") == [role]]
        # Our own repositories, by dependency (their URLs and ARNs are unknown in a first preview).
        pulled = each_stack.deps(task, "containerDefinitions", REPOSITORY)
        granted = {r.urn for r in each_stack.deps(policy, "policy", REPOSITORY)}
        assert pulled and {r.urn for r in pulled} <= granted, task.name
        if task.inputs["containerDefinitions"] == UNKNOWN or policy.inputs["policy"] == UNKNOWN:
            continue
        document = json.loads(policy.inputs["policy"])
        images = [c["image"] for c in json.loads(task.inputs["containerDefinitions"])]
        images += [GUARDDUTY_AGENT_IMAGE] if guardduty else []
        assert _allows(document, "ecr:GetAuthorizationToken", "*")
        for image in images:
            if match := PRIVATE_ECR.match(image):
                account, region, repository = match.groups()
                arn = f"arn:aws:ecr:{region}:{account}:repository/{repository}"
                assert all(_allows(document, action, arn) for action in PULL), f"{task.name} can't pull {image}"
            else:
                # Anonymous pulls from ECR Public need no permission, but an internet path: NAT and HTTPS egress.
                assert image.startswith("public.ecr.aws/"), f"{task.name}: {image} is neither ECR nor ECR Public"
                service = services[task.inputs["family"].removeprefix("kanna-")]
                assert _nat_routed(each_stack, service), f"{service.name} pulls {image} without a NAT route"
                (group,) = each_stack.deps(service, "networkConfiguration", SG)
                assert any(e["fromPort"] <= 443 <= e["toPort"] and WORLD in e.get("cidrBlocks", []) for e in group.inputs["egress"]), (
                    group.name
                )


# --- item 14: ECS Exec, on a read-only root only by an unsupported workaround, is a per-service choice -------------


def test_ecs_exec_follows_the_catalog_per_service(each_stack: RecordedStack) -> None:
    assert CATALOG["payment"]["ecsExec"] is False
    services = each_stack.of_type(SERVICE)
    for service in services:
        env, name = service.inputs["name"].split("-", 1)
        enabled = CATALOG[name].get("ecsExec", True)
        assert service.inputs["enableExecuteCommand"] is enabled, service.name
        task = each_stack.one(TASK, f"{env}-{name}-task")
        volumes = {v["name"] for v in task.inputs["volumes"]} - set(AGENT_VOLUMES)
        assert volumes == ({"tmp", "var-lib-amazon", "var-log-amazon"} if enabled else {"tmp"}), task.name
        (role,) = each_stack.deps(task, "taskRoleArn")
        # Session channels and session logs: only through the exec-logging policy, attached only where exec is on.
        inline = [p for p in each_stack.of_type(ROLE_POLICY) if each_stack.deps(p, "role") == [role]]
        assert not any("ssmmessages" in str(p.inputs["policy"]) for p in inline), role.name
        attached = [
            d for a in each_stack.of_type(ATTACHMENT) if each_stack.deps(a, "role") == [role] for d in each_stack.deps(a, "policyArn")
        ]
        exec_logging = [d for d in attached if d.name.split("-", 1)[1] == "exec-logging-task"]
        assert len(exec_logging) == (1 if enabled else 0), role.name
        assert not [d for d in attached if d not in exec_logging and "ssmmessages" in str(d.inputs["policy"])], role.name
        if enabled and exec_logging[0].inputs["policy"] != UNKNOWN:
            assert "ssmmessages:OpenDataChannel" in exec_logging[0].inputs["policy"]
        if task.inputs["containerDefinitions"] != UNKNOWN:
            app = json.loads(task.inputs["containerDefinitions"])[0]
            assert {m["containerPath"] for m in app["mountPoints"]} == (
                {"/tmp", "/var/lib/amazon", "/var/log/amazon"} if enabled else {"/tmp"}
            )


# --- item 15: a CODE_DEPLOY service's capacity strategy changes through CodeDeploy, from the settings ----------------


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_blue_green_capacity_strategy_ships_through_the_appspec(name: str, dev: RecordedStack, prod: RecordedStack) -> None:
    from deploy.render import render

    stack = dev if name == "dev" else prod
    settings = load(name, stack_config(name)[0])
    for env, services in stack.outputs["deploy"].items():
        for service, inputs in services.items():
            if inputs["strategy"] != "blueGreen":
                continue
            ecs = stack.one(SERVICE, f"{env}-{service}-service")
            # ECS refuses the new deployment a strategy change needs on a CODE_DEPLOY service: Pulumi must not try.
            assert ecs.inputs["deploymentController"] == {"type": "CODE_DEPLOY"}
            assert "capacityProviderStrategies" in ecs.ignore_changes
            size = settings.platform.size(service)
            expected = [{"CapacityProvider": "FARGATE_SPOT", "Base": 0, "Weight": size.spot_weight}]
            if settings.prod:
                expected.insert(0, {"CapacityProvider": "FARGATE", "Base": size.on_demand_base, "Weight": size.on_demand_weight})
            appspec, _, _ = render(stack.outputs, env, service)
            assert appspec["Resources"][0]["TargetService"]["Properties"]["CapacityProviderStrategy"] == expected


# --- item 17: per host, every service's health check and synthetic check reach that service ---------------------


def _alb_route(rules: list, host: str, path: str):
    """The rule the ALB picks for host and path: the lowest priority whose host and path patterns match (* and ?)."""
    for rule in sorted(rules, key=lambda r: r.inputs["priority"]):
        conditions = {key: value["values"] for c in rule.inputs["conditions"] for key, value in c.items() if key != "httpHeader"}
        if any(fnmatch.fnmatchcase(host, h) for h in conditions["hostHeader"]) and (
            "pathPattern" not in conditions or any(fnmatch.fnmatchcase(path, p) for p in conditions["pathPattern"])
        ):
            return rule
    return None


def test_each_services_health_and_synthetic_paths_route_to_that_service(each_stack: RecordedStack) -> None:
    rules = [r for r in each_stack.of_type(RULE) if not r.name.endswith("-test-rule")]
    # Who serves what, from the wiring: a rule forwards to a target group, an ECS service is behind that group.
    served_by = {}
    for service in each_stack.of_type(SERVICE):
        for group in each_stack.deps(service, "loadBalancers", TG):
            served_by[group.urn] = service.inputs["name"]
    owner = {}
    for rule in rules:
        (group,) = each_stack.deps(rule, "actions", TG)
        owner[rule.urn] = served_by[group.urn]
    by_host: dict[str, list] = {}
    for rule in rules:
        (hosts,) = [c["hostHeader"]["values"] for c in rule.inputs["conditions"] if "hostHeader" in c]
        for host in hosts:
            by_host.setdefault(host, []).append(rule)
    for host, host_rules in by_host.items():
        whole = [r for r in host_rules if not any("pathPattern" in c for c in r.inputs["conditions"])]
        assert len(whole) <= 1, f"{host}: {len(whole)} rules take the whole host"
        paths = [(r, p) for r in host_rules for c in r.inputs["conditions"] if "pathPattern" in c for p in c["pathPattern"]["values"]]
        for rule, pattern in paths:
            assert all(rule.inputs["priority"] < w.inputs["priority"] for w in whole), f"{host}: {pattern} after the catch-all"
            others = [p for r, p in paths if r is not rule]
            assert not any(fnmatch.fnmatchcase(pattern, o) or fnmatch.fnmatchcase(o, pattern) for o in others), f"{host}: {pattern}"
    for rule in rules:
        (group,) = each_stack.deps(rule, "actions", TG)
        (hosts,) = [c["hostHeader"]["values"] for c in rule.inputs["conditions"] if "hostHeader" in c]
        health = group.inputs["healthCheck"]["path"]
        for host in hosts:
            reached = _alb_route(rules, host, health)
            assert reached is not None and owner[reached.urn] == owner[rule.urn], f"{owner[rule.urn]}'s health check {host}{health}"
    synthetics = each_stack.of_type("datadog:index/syntheticsTest:SyntheticsTest")
    checked = set()
    for synthetic in synthetics:
        tags = dict(tag.split(":", 1) for tag in synthetic.inputs["tags"])
        url = synthetic.inputs["requestDefinition"]["url"]
        host, _, path = url.removeprefix("https://").partition("/")
        reached = _alb_route(rules, host, "/" + path)
        expected = f"{tags['kanna_env']}-{tags['service']}"
        assert reached is not None and owner[reached.urn] == expected, f"the synthetic check of {expected} ({url}) reaches {reached}"
        checked.add(expected)
    public = {name for name, entry in CATALOG.items() if entry["kind"] == "web" and not entry.get("internalAuth")}
    assert checked == {f"{env}-{name}" for env in {s.inputs["name"].split("-")[0] for s in each_stack.of_type(SERVICE)} for name in public}


def test_shared_hosts_and_path_routing_are_checked_in_the_settings() -> None:
    from settings import SettingsError

    def problems(services: dict) -> list[str]:
        try:
            load("prod", {"kanna-infra:awsAccountId": "111111111111", "kanna-infra:platform": json.dumps({"services": services})})
        except SettingsError as error:
            return [str(error)]
        return []

    base = {name: dict(entry) for name, entry in CATALOG.items()}
    # The old catalog's core-api: /api/* on the main host, with a health path outside it.
    (message,) = problems({**base, "core-api": {**base["core-api"], "routing": {"host": "", "paths": ["/api/*"]}}})
    assert "healthPath /up is outside routing.paths" in message
    shadowing = {**base, "report": {**base["report"], "routing": {"host": "", "paths": ["/*"]}, "healthPath": "/actuator/health"}}
    (message,) = problems(shadowing)
    assert "overlap" in message or "take host label" in message, message
    twice = {**base, "approval": {**base["approval"], "routing": {"host": ""}}}
    (message,) = problems(twice)
    assert "all take host label ''" in message
    under = {**base, "report": {**base["report"], "routing": {"host": "", "paths": ["/report/*"]}, "healthPath": "/report/health"}}
    assert problems(under) == []


# --- item 8: the body size rule counts only together with the label rule that scopes it ----------------------------

SIZE_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"


def test_web_acls_block_oversized_bodies_except_on_upload_paths_and_keep_sqli_xss(each_stack: RecordedStack) -> None:
    uploads = sorted({p for entry in CATALOG.values() for p in entry.get("uploadPaths", [])})
    for acl in each_stack.of_type("aws:wafv2/webAcl:WebAcl"):
        rules = acl.inputs["rules"]
        groups = {r["statement"]["managedRuleGroupStatement"]["name"]: r for r in rules if "managedRuleGroupStatement" in r["statement"]}
        # SQL injection and XSS (the common set's CrossSiteScripting_* rules) block, bodies included.
        for name in ("AWSManagedRulesSQLiRuleSet", "AWSManagedRulesCommonRuleSet"):
            assert groups[name]["overrideAction"] == {"none": {}}, name
        assert "ruleActionOverrides" not in groups["AWSManagedRulesSQLiRuleSet"]["statement"]["managedRuleGroupStatement"]
        overrides = groups["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"].get("ruleActionOverrides", [])
        counted = [o["name"] for o in overrides if "count" in o["actionToUse"]]
        assert all(not name.startswith(("CrossSiteScripting_", "SQLi_")) for name in counted), counted
        labelled = [
            r
            for r in rules
            if SIZE_LABEL in json.dumps(r["statement"])
            and "block" in r.get("action", {})
            and "managedRuleGroupStatement" not in r["statement"]
        ]
        if "SizeRestrictions_BODY" not in counted:
            continue
        # The count override exists only with a blocking rule on its label, evaluated after the group that labels.
        (scoped,) = labelled
        assert scoped["priority"] > groups["AWSManagedRulesCommonRuleSet"]["priority"]
        statements = scoped["statement"]["andStatement"]["statements"]
        assert {"labelMatchStatement": {"scope": "LABEL", "key": SIZE_LABEL}} in statements
        (exception,) = [s["notStatement"]["statement"]["regexMatchStatement"] for s in statements if "notStatement" in s]
        assert "uriPath" in exception["fieldToMatch"]
        pattern = re.compile(exception["regexString"])
        assert all(pattern.match(path + "x.jpg") for path in uploads)
        assert not any(pattern.match(path) for path in ("/", "/api/v1/users", "/login", "/api/v1/photosx", "/x/api/v1/photos/"))
    assert any("SizeRestrictions_BODY" in json.dumps(a.inputs["rules"]) for a in each_stack.of_type("aws:wafv2/webAcl:WebAcl")), (
        "the body size rule is scoped in the committed stacks"
    )
    assert uploads, "the product uploads photos: the catalog names where"


# --- Checkov: the Datadog agent runs on a read-only root, with volumes exactly where it writes ------------------------


def test_sidecar_root_filesystems(each_stack: RecordedStack) -> None:
    for task in each_stack.of_type(TASK):
        if task.inputs["containerDefinitions"] == UNKNOWN:
            continue
        containers = {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}
        volumes = {v["name"] for v in task.inputs["volumes"]}
        agent, init = containers["datadog-agent"], containers["datadog-agent-init"]
        assert agent["readonlyRootFilesystem"] is True and init["readonlyRootFilesystem"] is True
        mounts = {m["containerPath"]: m["sourceVolume"] for m in agent["mountPoints"]}
        # Datadog's read-only guide: config, run (its log file too), sockets and /tmp are written at run time.
        assert set(mounts) == {"/etc/datadog-agent", "/opt/datadog-agent/run", "/var/run/datadog", "/tmp"}
        assert set(mounts.values()) <= volumes and not any(m["readOnly"] for m in agent["mountPoints"])
        env = {e["name"]: e["value"] for e in agent["environment"]}
        assert env["DD_LOG_FILE"].startswith("/opt/datadog-agent/run/")
        # The config volume starts empty: the init container fills it from the image before the agent starts.
        assert {"containerName": "datadog-agent-init", "condition": "SUCCESS"} in agent["dependsOn"]
        assert init["essential"] is False and init["image"] == agent["image"]
        (staging,) = init["mountPoints"]
        assert staging["sourceVolume"] == mounts["/etc/datadog-agent"] and staging["containerPath"] in " ".join(init["command"])
        # The FireLens router keeps a writable root on purpose (components/platform/service/telemetry.py says why).
        assert containers["log-router"].get("readonlyRootFilesystem") is not True
