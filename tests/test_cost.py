"""The cost estimate: every recorded type is priced, free or listed as not priced; figures match hand arithmetic from
the price table; the savings ratios; the cost diff of a pull request that adds an environment; the budget policy over gRPC."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import settings
from preflight import BOOTSTRAP, ROOT, STACKS
from preflight.__main__ import main
from preflight.analyzer import PolicyPack
from preflight.cost import cli as cost_cli
from preflight.cost.cli import POLICY, estimate_stack, policy_entry
from preflight.cost.estimate import FREE, NOT_PRICED, PRICERS, Estimate, Resource, estimate
from preflight.cost.prices import CONFIRMED, NOT_VERIFIED, PRICES, rate
from preflight.cost.report import diff, document, ratios, render, render_diff
from preflight.program import UNKNOWN, config_of, stack_config
from settings import SettingsError
from tests.conftest import recorded, recording, variant
from tests.kit import CONFIG_DIR, RecordedStack, deferred, judge, res, violations

H = 730  # hours in the estimate's month

# The types the estimate cannot price yet. Adding a resource of a new type means pricing it, calling it free
# with a reason, or adding it here on purpose: never a silent 0.
UNPRICED = {
    "aws:s3/bucket:Bucket",
    "aws:inspector2/enabler:Enabler",
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration",
    "gcp:storage/bucket:Bucket",
    "gcp:storage/transferJob:TransferJob",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream",
    "aws:rds/globalCluster:GlobalCluster",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "aws:ecr/replicationConfiguration:ReplicationConfiguration",
}


def cost_of(stack: RecordedStack) -> tuple[list[Resource], Estimate]:
    resources = [Resource.of(r) for r in stack.registrations]
    config, _ = stack_config(stack.recording.stack)
    return resources, estimate(resources, settings.load(stack.recording.stack, config).cost)


def usd(found: Estimate, name: str, service: str | None = None) -> float:
    return sum(line.usd for line in found.lines if line.name == name and (service is None or line.service == service))


def test_every_recorded_type_is_priced_free_or_explicitly_not_priced(dev: RecordedStack, prod: RecordedStack) -> None:
    assert not set(PRICERS) & set(FREE) and not set(PRICERS) & set(NOT_PRICED) and not set(FREE) & set(NOT_PRICED)
    assert set(NOT_PRICED) == UNPRICED
    management = RecordedStack(recording("management", "update", BOOTSTRAP))
    for stack in (dev, prod, management, RecordedStack(recording("prod-dr"))):
        # A StackReference reads another stack's outputs: not a cloud resource.
        types = {r.type for r in stack.registrations if r.custom and not r.type.startswith(("pulumi:providers:", "pulumi:pulumi:"))}
        assert types <= set(PRICERS) | set(FREE) | UNPRICED, sorted(types - set(PRICERS) - set(FREE) - UNPRICED)
    _, found = cost_of(dev)
    # Reported by name, not costed at 0 (dev has no global database and replicates nothing).
    assert {gap.type for gap in found.not_priced} == UNPRICED - {t for t in UNPRICED if "eplication" in t or "globalCluster" in t}
    assert found.unknown == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_first_preview_prices_the_same_as_the_update(stack: str) -> None:
    # Relations go through property dependencies and sizes are literal inputs, so no id or ARN is needed.
    update, first = (cost_of(RecordedStack(recording(stack, mode)))[1] for mode in ("update", "first"))
    assert first.unknown == [] and first.total == pytest.approx(update.total)


def test_an_unknown_type_is_reported_not_priced_never_zero() -> None:
    found = estimate([Resource.of(res("aws:sqs/queue:Queue", "jobs"))], settings.CostSettings())
    assert found.lines == [] and [(g.name, g.reason) for g in found.not_priced] == [
        ("jobs", "no price for this type in preflight/cost/prices.py")
    ]


def test_every_price_has_a_source_a_date_and_how_far_it_was_checked() -> None:
    for key, price in PRICES.items():
        assert price.source.startswith("https://") and re.fullmatch(r"\d{4}-\d{2}", price.as_of), key
        assert price.checked in (CONFIRMED, NOT_VERIFIED) and price.usd > 0, key
    # CloudFront, WAF and Route 53 are global services with their own rates, not regional ones.
    assert {k.split(".")[0] for k in PRICES} >= {"cloudfront", "waf", "route53", "datadog", "firestore", "bigquery", "identityplatform"}


def test_a_fargate_service_by_hand(dev: RecordedStack, prod: RecordedStack) -> None:
    # prod core-api: 1 vCPU / 2 GB ARM64, autoscaling floor 2 tasks, both on FARGATE's base of 2, 60% under a
    # Savings Plan that takes 20% off: 0.88 of on-demand.
    task = prod.one("aws:ecs/taskDefinition:TaskDefinition", "prod-core-api-task").inputs
    assert (task["cpu"], task["memory"], task["runtimePlatform"]["cpuArchitecture"]) == ("1024", "2048", "ARM64")
    assert prod.one("aws:appautoscaling/target:Target", "prod-core-api-scaling").inputs["minCapacity"] == 2
    plan = 1 - 0.6 * 0.20
    by_hand = 1 * 2 * H * 0.04045 * plan + 2 * 2 * H * 0.00442 * plan
    _, found = cost_of(prod)
    assert usd(found, "prod-core-api-service", "Fargate") == pytest.approx(by_hand) == pytest.approx(63.33, abs=0.01)
    # Datadog bills each concurrent task: infrastructure $1 and APM $2 a month.
    assert usd(found, "prod-core-api-service", "Datadog") - _logs(found, "prod-core-api-service") == pytest.approx(2 * (1 + 2))
    # dev alpha core-api: 0.5 vCPU / 1 GB ARM64, one Spot task, up 38.7% of the hours on the schedule.
    hours = H * 0.387
    _, found = cost_of(dev)
    assert usd(found, "alpha-core-api-service", "Fargate") == pytest.approx(0.5 * hours * 0.012135 + 1 * hours * 0.001326)


def _logs(found: Estimate, name: str) -> float:
    return sum(line.usd for line in found.lines if line.name == name and line.item.startswith(("logs", "log events")))


def test_application_logs_are_shared_out_without_loss(prod: RecordedStack) -> None:
    _, found = cost_of(prod)
    total = sum(_logs(found, r.name) for r in prod.of_type("aws:ecs/service:Service"))
    assert total == pytest.approx(20 * H / 24 * (0.10 + 1.70))  # 20 GB a day, ingested and indexed at 1 KB per event


def test_a_nat_gateway_an_endpoint_and_an_aurora_cluster_by_hand(dev: RecordedStack, prod: RecordedStack) -> None:
    _, found = cost_of(dev)
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1  # dev: natGateways single, natGb 50
    assert usd(found, "dev-nat-a") == pytest.approx(H * 0.062 + 50 * 0.062) == pytest.approx(48.36)
    endpoint = dev.one("aws:ec2/vpcEndpoint:VpcEndpoint", "dev-ecr-api-endpoint").inputs
    interfaces = [e for e in dev.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e.inputs["vpcEndpointType"] == "Interface"]
    assert len(endpoint["subnetIds"]) == 3 and len(interfaces) == 10  # endpointGb 100 shared by 10 interface endpoints
    assert usd(found, "dev-ecr-api-endpoint") == pytest.approx(3 * H * 0.014 + 100 / 10 * 0.01)
    assert usd(found, "dev-s3-endpoint") == 0  # a gateway endpoint is free
    # prod MySQL: writer, reader and analytics reader on db.r7g.large, 80% reserved at 30% off; 200 GB, 500M I/Os.
    _, found = cost_of(prod)
    instances = [r for r in prod.of_type("aws:rds/clusterInstance:ClusterInstance") if r.name.startswith("prod-mysql-")]
    assert sorted(r.inputs["instanceClass"] for r in instances) == ["db.r7g.large"] * 3
    cluster = usd(found, "prod-mysql-cluster") + sum(usd(found, r.name) for r in instances)
    # No RDS-managed master secret ($0.40): prod's is its own (a global database's), priced as a Secret.
    assert prod.one("aws:rds/cluster:Cluster", "prod-mysql-cluster").inputs["manageMasterUserPassword"] is False
    assert cluster == pytest.approx(200 * 0.12 + 500 * 0.24 + 3 * H * 0.336 * (1 - 0.8 * 0.30))


def test_dev_serverless_aurora_pauses_with_the_schedule(dev: RecordedStack) -> None:
    _, found = cost_of(dev)
    # minCapacity 0: it runs only while the scheduled services do, at the assumed 1 ACU.
    assert usd(found, "dev-mysql-writer") == pytest.approx(1 * H * 0.387 * 0.20)


def test_the_savings_ratios_are_measured_on_the_stack(dev: RecordedStack, prod: RecordedStack) -> None:
    resources, found = cost_of(dev)
    measured = {r.choice.split(" vs ")[0]: r for r in ratios(resources, found)}
    arm_spot = measured["Fargate ARM64 + Spot"]
    assert 0.2 < arm_spot.ratio < 0.3  # Spot's 70% off, and ARM64's 20% off the rest
    environments = measured["3 environment(s) on one platform"]
    shared = found.environment_total("(shared)")
    assert environments.alternative == pytest.approx(3 * shared + sum(found.environment_total(e) for e in ("alpha", "beta", "gamma")))
    assert measured["the schedule"].alternative > found.total  # always on costs more
    endpoints = measured["interface endpoints"]
    assert endpoints.alternative == pytest.approx(100 * rate("nat.gb")) and endpoints.chosen == pytest.approx(
        sum(line.usd for line in found.lines if line.service == "VPC endpoints")
    )
    resources, found = cost_of(prod)
    measured = {r.choice.split(" vs ")[0]: r for r in ratios(resources, found)}
    assert measured["Savings Plan coverage"].ratio < 1 and measured["reserved coverage"].ratio < 1
    assert measured["1 environment(s) on one platform"].ratio == pytest.approx(1.0)
    assert measured["the schedule"].ratio == pytest.approx(1.0)  # prod never sleeps


@pytest.fixture
def shared_recordings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost command records through `recorded`: the session's recording of a committed stack, a marked variant's
    forked recording, or else a recording of its own."""
    monkeypatch.setattr(cost_cli, "record", lambda stack, mode, config, secrets: recorded(variant(stack, mode, config, secrets)))


def _dev_with_delta() -> dict:
    spec = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    spec["config"]["kanna-infra:platform"]["environments"].append("delta")
    return spec


DEV_WITH_DELTA = _dev_with_delta()


@pytest.mark.usefixtures("shared_recordings")
def test_the_cost_command_prints_tables_ratios_and_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "prod.json"
    assert main(["cost", "prod", "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    for heading in ("== cost of prod: $", "component", "service", "environment", "savings, measured", "not priced", "usage assumed"):
        assert heading in out
    assert "savingsPlanCoverage 0.6" in out and "Fargate ARM64 + Spot vs x86_64 on-demand" in out
    (doc,) = json.loads(saved.read_text())
    assert doc["stack"] == "prod" and doc["totalUsd"] == pytest.approx(sum(line["usd"] for line in doc["lines"]), abs=0.05)
    assert doc["budgetUsd"] == 6500 and doc["totalUsd"] < doc["budgetUsd"]
    # prod makes the global databases; the replication is its standby's (prod-dr).
    assert {g["type"] for g in doc["notPriced"]} == UNPRICED - {t for t in UNPRICED if "eplication" in t}


@pytest.mark.usefixtures("shared_recordings")
@pytest.mark.records(variant("dev", "update", *config_of(DEV_WITH_DELTA)))
def test_a_pull_request_adding_an_environment_shows_its_cost_in_the_diff(dev: RecordedStack, tmp_path: Path) -> None:
    resources, found = cost_of(dev)
    base = [document("dev", found, ratios(resources, found))]
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(DEV_WITH_DELTA))
    head = [estimate_stack("dev", stack_file)]
    (stack,) = diff(base, head)
    added = [c for c in stack["changes"] if c["change"] == "added"]
    assert added and {c["environment"] for c in added} == {"delta"}
    assert sum(c["headUsd"] for c in added) == pytest.approx(head[0]["byEnvironment"]["delta"], abs=0.05)
    assert stack["headUsd"] - stack["baseUsd"] == pytest.approx(sum(c["headUsd"] - c["baseUsd"] for c in stack["changes"]), abs=0.05)
    markdown = render_diff([stack], markdown=True)
    assert "`delta-core-api-service`" in markdown and f"${stack['headUsd']:,.2f}" in markdown
    # The same, offline from two saved files, as the pull request workflow runs it.
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "head.json").write_text(json.dumps(head))
    assert main(["cost", "diff", str(tmp_path / "base.json"), str(tmp_path / "head.json"), "--markdown"]) == 0


def test_render_names_the_budget(dev: RecordedStack) -> None:
    resources, found = cost_of(dev)
    text = render(document("dev", found, ratios(resources, found)))
    assert "budget $2,000; per environment $120" in text and "alpha" in text


def test_cost_settings_are_validated_with_one_line_per_problem() -> None:
    base = {"kanna-infra:awsAccountId": "111111111111"}
    with pytest.raises(SettingsError) as bad:
        settings.load("prod", {**base, "kanna-infra:cost": json.dumps({"scheduleShare": 2, "natGb": -1})})
    lines = str(bad.value).splitlines()
    assert len(lines) == 2 and all(line.startswith("stack 'prod': kanna-infra:cost.") and "allowed" in line for line in lines)
    with pytest.raises(SettingsError, match=r"kanna-infra:cost.scheduleShare = 0.5: no platform.schedule"):
        settings.load("prod", {**base, "kanna-infra:cost": json.dumps({"scheduleShare": 0.5})})


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_config_carries_the_stack_settings_budget_and_usage(stack: str) -> None:
    config, _ = stack_config(stack)
    committed = json.loads((CONFIG_DIR / f"{stack}.json").read_text())[POLICY]
    assert committed == policy_entry(settings.load(stack, config).cost), f"run: python -m preflight cost {stack} --policy-config"


def budget_config(tmp_path: Path, stack: str, **entry: float | None) -> Path:
    document = json.loads((CONFIG_DIR / f"{stack}.json").read_text())
    document[POLICY] = {**document[POLICY], **entry}
    path = tmp_path / f"{stack}-{len(list(tmp_path.iterdir()))}.json"  # a new file per config: judge() remembers answers by path
    path.write_text(json.dumps(document))
    return path


def test_budget_policy_passes_within_and_fails_over_naming_the_top_contributors(
    pack: PolicyPack, dev: RecordedStack, tmp_path: Path
) -> None:
    assert violations(judge(pack, dev.registrations, "dev"), POLICY) == []
    _, found = cost_of(dev)
    tight = budget_config(tmp_path, "dev", monthlyBudgetUsd=round(found.total * 0.8), environmentBudgetUsd=None)
    (over,) = violations(judge(pack, dev.registrations, "dev", tight), POLICY)
    assert over.urn == dev.recording.stack_urn and f"${found.total:,.0f}, over its ${round(found.total * 0.8):,.0f} budget" in over.message
    for name, cost in found.top(3):
        assert f"{name} (${cost:,.0f})" in over.message
    per_environment = budget_config(tmp_path, "dev", monthlyBudgetUsd=None, environmentBudgetUsd=found.environment_total("alpha") - 1)
    failed = violations(judge(pack, dev.registrations, "dev", per_environment), POLICY)
    assert sorted(d.urn.rsplit("::", 1)[-1] for d in failed) == ["dev-alpha", "dev-beta", "dev-gamma"]
    assert all("biggest contributors" in d.message and "core-api" in d.message for d in failed)


def test_budget_policy_defers_on_unknown_values_unless_the_known_part_is_over(pack: PolicyPack, tmp_path: Path) -> None:
    task = res("aws:ecs/taskDefinition:TaskDefinition", "t", {"cpu": UNKNOWN, "memory": "512"})
    service = res("aws:ecs/service:Service", "s", {"desiredCount": 1, "taskDefinition": UNKNOWN}, {"taskDefinition": [task]})
    nat = res("aws:ec2/natGateway:NatGateway", "nat", {"subnetId": "x"})
    roomy = budget_config(tmp_path, "prod", monthlyBudgetUsd=1000)
    found = judge(pack, [task, service, nat], "prod", roomy)
    assert violations(found, POLICY) == [] and len(deferred(found, POLICY)) == 1
    tight = budget_config(tmp_path, "prod", monthlyBudgetUsd=10)  # the NAT gateway alone is over
    (over,) = violations(judge(pack, [task, service, nat], "prod", tight), POLICY)
    assert "(known resources alone)" in over.message and "nat ($" in over.message


def test_the_pull_request_workflow_comments_the_cost_diff_offline() -> None:
    from tests.test_workflows import load, steps

    job = load("pull-request.yml")["jobs"]["cost"]
    script = "\n".join(s.get("run", "") for s in job["steps"])
    assert "preflight cost --all --save head-cost.json" in script and "git worktree add ../base" in script
    assert "preflight cost diff base-cost.json head-cost.json --markdown > cost.md" in script
    (comment,) = steps(job, "actions/github-script")
    assert "cost.md" in comment["with"]["script"] and "updateComment" in comment["with"]["script"]
    # Offline: no cloud login, no OIDC token; only the comment is written.
    assert not steps(job, "aws-actions/configure-aws-credentials") and not steps(job, "google-github-actions/auth")
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_the_readme_shows_the_current_estimate_as_the_command_prints_it(dev: RecordedStack, prod: RecordedStack) -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Cost", 1)[1].split("```", 2)[1]
    printed = ""
    for stack in (dev, prod):
        resources, found = cost_of(stack)
        printed += render(document(stack.recording.stack, found, ratios(resources, found))) + "\n"
    shown = [line for line in block.splitlines() if line.strip()]
    assert len(shown) > 10 and [line for line in shown if line not in printed.splitlines()] == []
