"""The preflight end to end: both stacks pass, in both previews; a non-compliant variant fails by name."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from preflight import ACCOUNT, BOOTSTRAP, MODES, PROJECTS, ROOT, Project, program
from preflight.__main__ import EXIT_PROGRAM, EXIT_VIOLATION, every_stack, exit_code, policy_config
from preflight.analyzer import PolicyPack
from preflight.parallel import Job, record_forked
from preflight.program import stack_config
from preflight.report import Outcome
from tests.conftest import cli_result, recording
from tests.kit import RecordedStack, judge, res, violations


def test_every_stack_passes_in_both_previews(pack: PolicyPack, each_stack: RecordedStack) -> None:
    diagnostics = judge(pack, each_stack.registrations, each_stack.recording.stack)
    assert violations(diagnostics) == []
    assert violations(diagnostics, level="advisory") == []


def with_service(stack: RecordedStack, tier: str, assign_public_ip: bool) -> list:
    subnets = [s for s in stack.of_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["Tier"] == tier]
    service = res(
        "aws:ecs/service:Service",
        "rogue",
        {
            "networkConfiguration": {"subnets": [s.inputs["vpcId"] for s in subnets], "assignPublicIp": assign_public_ip},
            "capacityProviderStrategies": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}],
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
        {"networkConfiguration": subnets},
    )
    return [*stack.registrations, service]


@pytest.mark.parametrize("mode", ["update", "first"])
def test_public_ip_service_variant_fails_naming_policy_resource_and_fix(pack: PolicyPack, mode: str) -> None:
    stack = RecordedStack(recording("prod", mode))
    found = violations(judge(pack, with_service(stack, "public", assign_public_ip=True)))
    policies = {d.policy for d in found}
    assert policies == {"ecs-service-no-public-ip", "ecs-service-private-subnets"}
    assert all("Service 'rogue'" in d.message and "Fix:" in d.message for d in found)
    assert violations(judge(pack, with_service(stack, "private", assign_public_ip=False))) == []


@pytest.mark.parametrize("mode", ["update", "first"])
def test_database_in_public_subnet_variant_fails(pack: PolicyPack, mode: str) -> None:
    stack = RecordedStack(recording("dev", mode))
    public = [s for s in stack.of_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["Tier"] == "public"]
    group = res("aws:rds/subnetGroup:SubnetGroup", "db-subnets", {"subnetIds": ["x"] * 3}, {"subnetIds": public})
    compliant = {"storageEncrypted": True, "kmsKeyId": "key", "backupRetentionPeriod": 7}  # only its subnets are wrong
    cluster = res("aws:rds/cluster:Cluster", "db", {"dbSubnetGroupName": "db-subnets", **compliant}, {"dbSubnetGroupName": [group]})
    found = violations(judge(pack, [*stack.registrations, group, cluster], "dev"))
    assert {d.policy for d in found} == {"data-store-isolated-subnets"}
    # One finding per public subnet in the group, each naming the group, the subnet and the gateway.
    assert sorted(d.message.split("'")[3] for d in found) == sorted(s.name for s in public)
    assert all("SubnetGroup 'db-subnets'" in d.message and "internet gateway" in d.message for d in found)


def test_exit_codes() -> None:
    ok = Outcome("prod", "update", recording("prod"))
    assert exit_code([ok]) == 0
    failed_program = Outcome("prod", "update", recording("prod"))
    failed_program.recording = type(ok.recording)("prod", "update", [], "stack 'prod': bad")
    assert exit_code([ok, failed_program]) == EXIT_PROGRAM
    from preflight.analyzer import Diagnostic

    violated = Outcome("prod", "update", recording("prod"), [Diagnostic("p", "mandatory", "m", "u", False)])
    assert exit_code([ok, violated]) == EXIT_VIOLATION
    advisory = Outcome("prod", "update", recording("prod"), [Diagnostic("p", "advisory", "m", "u", False)])
    deferred = Outcome("prod", "update", recording("prod"), [Diagnostic("p", "mandatory", "m", "u", True)])
    assert exit_code([advisory, deferred]) == 0


def test_all_checks_every_stack_file_of_every_project() -> None:
    """`--all` (`make preflight`, what CI runs) leaves no stack out: each project's stack files, in order."""
    found = [(p.name, s) for p, s in every_stack()]
    files = [(p.name, f.name[len("Pulumi.") : -len(".yaml")]) for p in PROJECTS.values() for f in sorted(p.directory.glob("Pulumi.*.yaml"))]
    assert sorted(found) == sorted(files)
    assert [s for _, s in found][:2] == ["dev", "prod"] and len(found) == len(set(found))


@pytest.mark.cli("several")
def test_cli_json_for_ci() -> None:
    result = cli_result("several")  # `python -m preflight --project account dev-account prod-account --json -`
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout)
    assert [(o["project"], o["stack"], o["mode"]) for o in outcomes] == [
        ("kanna-account", "dev-account", "update"),
        ("kanna-account", "dev-account", "first"),
        ("kanna-account", "prod-account", "update"),
        ("kanna-account", "prod-account", "first"),
    ]
    for outcome in outcomes:
        assert outcome["passed"] and outcome["violations"] == [] and outcome["error"] is None
        assert outcome["resources"] > 20 and outcome["policies"]
        assert all(level in ("mandatory", "advisory", "disabled") for level in outcome["policies"].values())
    prod = outcomes[2]  # the prod account's baseline: the trail's bucket, key and log group
    assert prod["stateful"] and all(s["protect"] for s in prod["stateful"])
    assert "== kanna-account/prod-account (first preview: ids unknown) ==" in result.stderr


def test_prod_reports_its_stateful_resources_all_protected() -> None:
    stateful = Outcome("prod", "update", recording("prod")).to_json()["stateful"]
    assert {s["type"] for s in stateful} >= {"aws:rds/cluster:Cluster", "aws:kms/key:Key"}, stateful
    assert all(s["protect"] for s in stateful)


@pytest.mark.cli("several")
def test_cli_parallel_run_gives_what_a_serial_run_gives(pack: PolicyPack) -> None:
    """The CLI records in forked children and judges each recording as it ends; this process records and judges
    one at a time. Both must say the same, in the same order: the JSON document and every report."""
    result = cli_result("several")
    serial = []
    for stack in ACCOUNT.stacks:
        levels = pack.configure(policy_config(stack))
        for mode in MODES:
            stack_recording = recording(stack, mode, ACCOUNT)
            diagnostics = judge(pack, stack_recording.registrations, config=policy_config(stack))
            serial.append(Outcome(stack, mode, stack_recording, diagnostics, levels))
    assert json.loads(result.stdout) == [o.to_json() for o in serial]
    for outcome in serial:
        assert outcome.render() in result.stderr


@pytest.mark.cli("several")
def test_cli_prints_a_progress_line_per_stack_and_preview() -> None:
    lines = [line for line in cli_result("several").stderr.splitlines() if line.startswith("preflight: ")]
    pattern = r"preflight: (.+), (update|first) preview: (\d+) resources, recorded in [\d.]+ s, judged in [\d.]+ s: passed \(0 advisory, \d+ deferred\)"
    found = sorted((m[1], m[2]) for m in (re.fullmatch(pattern, line) for line in lines) if m)
    labels = ("kanna-account/dev-account", "kanna-account/prod-account")
    assert len(found) == len(lines) == 4, lines
    assert found == sorted((label, mode) for label in labels for mode in MODES)


@pytest.mark.cli("quiet")
def test_cli_quiet_prints_nothing_when_every_stack_passes() -> None:
    result = cli_result("quiet")  # `python -m preflight --project bootstrap management --quiet`
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_recording_made_in_a_forked_child_is_the_one_made_here() -> None:
    config, secrets = stack_config("management", project=BOOTSTRAP)
    jobs = [Job(BOOTSTRAP, "management", mode, config, secrets) for mode in MODES]
    forked = {jobs[index].mode: found for index, found, _ in record_forked(jobs, workers=2)}
    assert forked == {mode: recording("management", mode, BOOTSTRAP) for mode in MODES}


def test_the_linear_wait_records_what_the_sdks_own_wait_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """A recording waits for the program's outputs with preflight/waiting.py's loop; with the SDK's own loop in its
    place the program registers, invokes, reads and warns the same (the first preview: invokes answered unknown)."""
    monkeypatch.setattr(program, "linear_wait", contextlib.nullcontext)
    config, secrets = stack_config("management", project=BOOTSTRAP)
    assert program.record("management", "first", config, secrets, BOOTSTRAP) == recording("management", "first", BOOTSTRAP)


FAILING = """
import pulumi

def fail(value):
    raise ValueError(f"no such value: {value}")

pulumi.Output.from_input("a").apply(lambda a: pulumi.Output.from_input(a * 2)).apply(fail)
pulumi.export("late", pulumi.Output.from_input("b").apply(lambda b: b))
"""


@pytest.mark.parametrize("wait", ["linear", "sdk"])
def test_an_output_that_fails_fails_the_recording_under_either_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wait: str) -> None:
    if wait == "sdk":
        monkeypatch.setattr(program, "linear_wait", contextlib.nullcontext)
    (tmp_path / "__main__.py").write_text(FAILING)
    project = Project("failing", "failing", tmp_path, ("test",))
    failed = program.record("test", "update", {}, [], project)
    assert failed.error is not None and "ValueError('no such value: aa')" in failed.error, failed.error
    # The runtime's state is process-global: the failed outputs must not be left for the next recording to wait on.
    (tmp_path / "__main__.py").write_text('import pulumi\npulumi.export("fine", pulumi.Output.from_input(1))\n')
    assert program.record("test", "update", {}, [], project).error is None


def test_the_cli_exits_without_the_interpreters_teardown_yet_flushes_what_it_printed() -> None:
    """`python -m preflight` ends with os._exit (preflight/__main__.py): its output must still all be there."""
    from preflight.moves import runbook_block

    result = subprocess.run([sys.executable, "-m", "preflight", "moves"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, runbook_block() + "\n", "")
