"""The GitHub Actions workflows: linted against GitHub's workflow schema, then held to what delivery needs.

The schema is the one check-jsonschema vendors (`--builtin-schema vendor.github-workflows`): nothing is
downloaded at test time. The rest asserts real properties: OIDC only where a job reaches a cloud, no stored
keys, the policy pack and the stack's own config on every preview and update, prod behind its environment.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bootstrap.ci import subject
from preflight import ROOT, STACKS
from settings import of_stack

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
CLOUD_LOGINS = ("aws-actions/configure-aws-credentials", "google-github-actions/auth")


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as True
    return document


def lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(path.name, name, job) for path in WORKFLOWS for name, job in load(path.name)["jobs"].items()]


def steps(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if s.get("uses", "").split("@")[0] == action]


def test_the_workflows_are_the_expected_ones() -> None:
    assert [p.name for p in WORKFLOWS] == ["deploy-service.yml", "deploy.yml", "drift.yml", "pull-request.yml"]


def test_every_workflow_passes_the_github_workflow_schema() -> None:
    result = lint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_linter_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    permissions: {id-token: writ}\n    steps: [{run: make}]\n"
    )
    result = lint(broken)
    assert result.returncode == 1 and "id-token" in result.stdout


def test_no_stored_cloud_keys_anywhere() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "credentials_json"):
            assert forbidden not in text, f"{path.name} uses {forbidden}: cloud access is OIDC only"
        # awskms secrets and an S3 backend: neither a passphrase nor a Pulumi Cloud token exists.
        assert "PULUMI_CONFIG_PASSPHRASE" not in text and "PULUMI_ACCESS_TOKEN" not in text


def test_least_privilege_permissions() -> None:
    for path in WORKFLOWS:
        assert load(path.name)["permissions"] == {}, f"{path.name}: the workflow default must grant nothing"
    for workflow, name, job in jobs():
        assert "permissions" in job, f"{workflow}:{name} must state its permissions"
        reaches_cloud = any(steps(job, action) for action in CLOUD_LOGINS)
        # id-token: write exactly where a job trades an OIDC token for cloud credentials.
        assert (job["permissions"].get("id-token") == "write") is reaches_cloud, f"{workflow}:{name}"
        assert job["permissions"].get("contents", "read") == "read", f"{workflow}:{name} never writes the repository"


def test_actions_are_pinned_to_a_major_version() -> None:
    for workflow, name, job in jobs():
        for step in job.get("steps", []):
            if "uses" in step:
                # owner/repo[/path]@vN: an action may live in a folder of its repository (codeql-action/upload-sarif).
                assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*@v\d+", step["uses"]), f"{workflow}:{name}: {step['uses']}"


def pulumi_steps() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    return [(w, n, job, s["with"]) for w, n, job in jobs() for s in steps(job, "pulumi/actions")]


def test_every_pulumi_run_uses_the_s3_backend_and_the_policy_pack_with_its_stack_config() -> None:
    found = pulumi_steps()
    assert {(w, n, s["command"]) for w, n, _, s in found} == {
        ("pull-request.yml", "preview", "preview"),
        ("deploy.yml", "dev", "up"),
        ("deploy.yml", "prod", "up"),
        ("drift.yml", "drift", "refresh"),
        ("drift.yml", "drift", "preview"),
    }
    for workflow, name, _, step in found:
        assert step["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}", f"{workflow}:{name}"
        if step["command"] in ("preview", "up"):
            assert step["policyPacks"] == "policies"
            # The stack's own enforcement config, whether the stack is literal or the matrix's.
            assert step["policyPackConfigs"] == f"policies/config/{step['stack-name']}.json", f"{workflow}:{name}"


def matrix_stacks(job: dict[str, Any]) -> list[str]:
    return [entry["stack"] for entry in job["strategy"]["matrix"]["include"]]


def test_pull_request_previews_every_stack_and_comments() -> None:
    workflow = load("pull-request.yml")
    assert list(workflow["on"]) == ["pull_request"]
    checks, preview = workflow["jobs"]["checks"], workflow["jobs"]["preview"]
    commands = [s.get("run", "") for s in checks["steps"]]
    assert any("ruff check" in c for c in commands) and "make test" in commands and "make preflight" in commands
    assert preview["needs"] == "checks" and matrix_stacks(preview) == list(STACKS)
    for stack in STACKS:
        assert (ROOT / "policies" / "config" / f"{stack}.json").exists()
    (step,) = steps(preview, "pulumi/actions")
    assert step["with"]["command"] == "preview" and step["with"]["comment-on-pr"] is True
    assert preview["permissions"]["pull-requests"] == "write"
    # An environment would turn the OIDC subject into `environment:...`; the preview roles trust `pull_request`.
    assert "environment" not in preview
    assert subject("example-org/kanna-infra", "preview", "dev").endswith(":pull_request")
    (aws,) = steps(preview, "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ vars[matrix.aws-role] }}"
    # A standby previews with its primary's role: the same account, whose CI roles bootstrap makes per primary stack.
    roles = [f"AWS_PREVIEW_ROLE_{(of_stack(s).dr.primary_stack or s).upper()}" for s in STACKS]
    assert [e["aws-role"] for e in preview["strategy"]["matrix"]["include"]] == roles


def test_pull_request_shows_preflight_findings_where_reviewers_look() -> None:
    checks, preview = (load("pull-request.yml")["jobs"][job] for job in ("checks", "preview"))
    (preflight,) = [s for s in checks["steps"] if s.get("run") == "make preflight"]
    flags = preflight["env"]["PREFLIGHT_ARGS"].split()
    sarif_file, summary_file = flags[flags.index("--sarif") + 1], flags[flags.index("--markdown") + 1]
    # Code-scanning alerts from the SARIF, also when the preflight failed (that is when they matter).
    (upload,) = steps(checks, "github/codeql-action/upload-sarif")
    assert upload["with"]["sarif_file"] == sarif_file and "!cancelled()" in upload["if"]
    assert checks["permissions"]["security-events"] == "write"
    (summary,) = [s for s in checks["steps"] if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert summary_file in summary["run"] and "!cancelled()" in summary["if"]
    # The preview comment: pulumi/actions' comment of this stack, found by the heading it writes, gets the summary.
    steps_after = preview["steps"][preview["steps"].index(steps(preview, "pulumi/actions")[0]) + 1 :]
    (comment,) = [s for s in steps_after if "--markdown" in s.get("run", "")]
    assert comment["env"]["HEADING"] == "#### :tropical_drink: `preview` on kanna-infra/${{ matrix.stack }}"
    assert 'preflight "${{ matrix.stack }}" --markdown' in comment["run"] and "gh api -X PATCH" in comment["run"]


def test_deploy_goes_dev_then_prod_behind_its_environment() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"] == {"branches": ["main"]}
    dev, prod = workflow["jobs"]["dev"], workflow["jobs"]["prod"]
    assert dev["environment"] == "dev" and "needs" not in dev
    assert prod["environment"] == "prod" and prod["needs"] == "dev"
    for stack, job in (("dev", dev), ("prod", prod)):
        (step,) = steps(job, "pulumi/actions")
        assert step["with"]["command"] == "up" and step["with"]["stack-name"] == stack
        # The deploy role of a stack trusts only its environment's subject.
        assert subject("example-org/kanna-infra", "deploy", job["environment"]) == f"repo:example-org/kanna-infra:environment:{stack}"
        assert job["concurrency"] == {"group": f"pulumi-{stack}-deploy", "cancel-in-progress": False}
        # Before the up, with the stack's credentials: the images its services start from exist (tests/test_deploy.py).
        runs = [s.get("run", "") for s in job["steps"]]
        check = runs.index(f"venv/bin/python -m deploy.images --stack {stack}")
        assert job["steps"].index(step) > check > job["steps"].index(steps(job, "aws-actions/configure-aws-credentials")[0])


def test_drift_refreshes_then_expects_no_changes_and_alerts() -> None:
    workflow = load("drift.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"} and workflow["on"]["schedule"][0]["cron"]
    drift, alert = workflow["jobs"]["drift"], workflow["jobs"]["alert"]
    assert matrix_stacks(drift) == list(STACKS) and "environment" not in drift
    refresh, preview = (s["with"] for s in steps(drift, "pulumi/actions"))
    assert refresh["command"] == "refresh" and preview["command"] == "preview" and preview["expect-no-changes"] is True
    assert drift["concurrency"] == {"group": "pulumi-${{ matrix.stack }}-drift", "cancel-in-progress": False}
    assert alert["needs"] == "drift" and alert["if"] == "${{ failure() }}"
    assert alert["permissions"] == {"issues": "write"}
    assert any("gh issue create" in s.get("run", "") for s in alert["steps"])


@pytest.mark.parametrize("workflow", ["pull-request.yml", "deploy.yml", "drift.yml"])
def test_every_stack_job_has_a_concurrency_group_per_stack(workflow: str) -> None:
    for name, job in load(workflow)["jobs"].items():
        if steps(job, "pulumi/actions"):
            group = job["concurrency"]["group"]
            assert "${{ matrix.stack }}" in group or any(f"-{s}-" in f"{group}-" for s in STACKS), f"{workflow}:{name}: {group}"


def test_the_deploy_workflows_choices_are_written_from_the_catalog() -> None:
    from deploy.workflows import COMMAND, WORKFLOW, choices, main, render
    from settings.services import CATALOG

    committed = WORKFLOW.read_text()
    assert render(committed, choices()) == committed, f"stale choices: run {COMMAND}"
    assert main(["--check"]) == 0
    inputs = load("deploy-service.yml")["on"]["workflow_dispatch"]["inputs"]
    # Every service of the catalog, the workers included (they deploy rolling), and every primary stack: a standby gets
    # its images by ECR replication (docs/disaster-recovery.md).
    assert inputs["service"]["options"] == list(CATALOG)
    assert inputs["stack"]["options"] == [s for s in STACKS if not of_stack(s).dr.standby]
    # A stale file is found, and rewriting changes the options lines only.
    stale = committed.replace("options: [frontend, ", "options: [")
    assert stale != committed and render(stale, choices()) == committed
    with pytest.raises(ValueError, match="no single choice input 'service'"):
        render(committed.replace("      service:", "      component:"), choices())


def test_deploy_service_ships_an_arm64_image_through_codedeploy_from_the_stack_outputs() -> None:
    workflow = load("deploy-service.yml")
    assert list(workflow["on"]) == ["workflow_dispatch"]
    (job,) = workflow["jobs"].values()
    # The stack's GitHub environment is the credential gate (its deploy role trusts only that subject).
    assert job["environment"] == "${{ inputs.stack }}" and job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["concurrency"]["cancel-in-progress"] is False and "${{ inputs.service }}" in job["concurrency"]["group"]
    (aws,) = steps(job, "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE }}"
    assert steps(job, "aws-actions/amazon-ecr-login")
    render = next(s for s in job["steps"] if s.get("id") == "render")
    assert "pulumi stack output" in render["run"] and "deploy/render.py" in render["run"]
    build = next(s for s in job["steps"] if s.get("id") == "image")
    assert "--platform linux/arm64" in build["run"] and "arm" in job["runs-on"]
    (taskdef,) = steps(job, "aws-actions/amazon-ecs-render-task-definition")
    assert taskdef["with"] == {
        "task-definition": "build/taskdef.json",
        "container-name": "${{ steps.render.outputs.containerName }}",
        "image": "${{ steps.image.outputs.uri }}",
    }
    blue_green, rolling = steps(job, "aws-actions/amazon-ecs-deploy-task-definition")
    assert blue_green["if"] == "steps.render.outputs.strategy == 'blueGreen'"
    assert {key: blue_green["with"][key] for key in ("task-definition", "cluster", "service", "codedeploy-appspec")} == {
        "task-definition": "${{ steps.taskdef.outputs.task-definition }}",
        "cluster": "${{ steps.render.outputs.cluster }}",
        "service": "${{ steps.render.outputs.service }}",
        "codedeploy-appspec": "build/appspec.json",
    }
    assert blue_green["with"]["codedeploy-application"] == "${{ steps.render.outputs.application }}"
    assert blue_green["with"]["codedeploy-deployment-group"] == "${{ steps.render.outputs.deploymentGroup }}"
    # Workers: the service takes the new revision itself (rolling, rolled back by ECS), no CodeDeploy input at all.
    assert rolling["if"] == "steps.render.outputs.strategy == 'rolling'"
    assert rolling["with"] == {
        "task-definition": "${{ steps.taskdef.outputs.task-definition }}",
        "cluster": "${{ steps.render.outputs.cluster }}",
        "service": "${{ steps.render.outputs.service }}",
        "wait-for-service-stability": True,
    }
    # Every name the steps read is one deploy/render.py prints (tests/test_deploy.py checks what it prints).
    read = set(re.findall(r"steps\.render\.outputs\.(\w+)", (ROOT / ".github" / "workflows" / "deploy-service.yml").read_text()))
    assert read == {"strategy", "containerName", "cluster", "service", "application", "deploymentGroup", "repository", "repositoryName"}


FAKE_AWS = """#!/usr/bin/env bash
# describe-images --repository-name R --image-ids imageTag=T --query ... --output text
tag="${6#imageTag=}"
if [ -e "$REGISTRY/$tag" ]; then cat "$REGISTRY/$tag"; exit 0; fi
echo "An error occurred (ImageNotFoundException) when calling the DescribeImages operation: tag $tag not found" >&2
exit 254
"""
FAKE_DOCKER = """#!/usr/bin/env bash
echo "docker $*" >> "$REGISTRY/log"
if [ "$1" = push ]; then
  tag="${2##*:}"
  # The repository is immutable: a tag is pushed once.
  if [ -e "$REGISTRY/$tag" ]; then echo "tag invalid: The image tag '$tag' already exists" >&2; exit 1; fi
  if [ -n "$RACE" ]; then echo "sha256:$RACE" > "$REGISTRY/$tag"; exit 1; fi
  echo "sha256:pushed" > "$REGISTRY/$tag"
fi
"""
FAKE_GIT = "#!/usr/bin/env bash\necho 0123456789abcdef\n"


def run_image_step(tmp_path: Path, existing: str | None = None, race: str | None = None) -> tuple[int, str, list[str]]:
    """Runs the workflow's image step as the runner would (bash -e), with aws, docker and git played by stubs."""
    (job,) = load("deploy-service.yml")["jobs"].values()
    step = next(s for s in job["steps"] if s.get("id") == "image")
    bin_, registry = tmp_path / "bin", tmp_path / "registry"
    bin_.mkdir(parents=True)
    registry.mkdir()
    for name, text in (("aws", FAKE_AWS), ("docker", FAKE_DOCKER), ("git", FAKE_GIT)):
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(0o755)
    if existing:
        (registry / "0123456789abcdef").write_text(f"sha256:{existing}\n")
    output = tmp_path / "github_output"
    env = {
        "PATH": f"{bin_}:/usr/bin:/bin",
        "REGISTRY": str(registry),
        "RACE": race or "",
        "GITHUB_OUTPUT": str(output),
        "REPOSITORY": "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/kanna/core-api",
        "REPOSITORY_NAME": "kanna/core-api",
    }
    result = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=30)
    log = (registry / "log").read_text().splitlines() if (registry / "log").exists() else []
    return result.returncode, output.read_text() if output.exists() else "", log


def test_deploy_service_builds_a_commit_once_then_promotes_its_digest(tmp_path: Path) -> None:
    repo = "111111111111.dkr.ecr.ap-northeast-1.amazonaws.com/kanna/core-api"
    # First deploy of the commit anywhere: build and push its tag, deploy the digest.
    code, output, log = run_image_step(tmp_path / "first")
    assert code == 0 and output == f"uri={repo}@sha256:pushed\n"
    assert log == [f"docker build --platform linux/arm64 --tag {repo}:0123456789abcdef app", f"docker push {repo}:0123456789abcdef"]
    # A re-run, another environment, prod: the tag exists, nothing is built or pushed, the same digest deploys.
    code, output, log = run_image_step(tmp_path / "again", existing="built-before")
    assert code == 0 and output == f"uri={repo}@sha256:built-before\n" and log == []
    # Two deploys of one commit at once: the one that loses the push deploys the winner's image.
    code, output, log = run_image_step(tmp_path / "race", race="won-the-race")
    assert code == 0 and output == f"uri={repo}@sha256:won-the-race\n"
