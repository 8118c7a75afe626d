"""Writes what CI needs to deploy one service, from the stack's outputs: taskdef.json, and appspec.json for blue/green.

    pulumi stack output --json --show-secrets=false > outputs.json
    python deploy/render.py --outputs outputs.json --env prod --service core-api --out-dir build/

It prints the names the deploy actions take (strategy, cluster, service, container, the image repository,
and for blue/green the CodeDeploy application and deployment group) as `key=value` lines, ready for
`$GITHUB_OUTPUT`. The task definition template is the one Pulumi manages, so a deploy changes only the
image (amazon-ecs-render-task-definition sets it). Web services deploy blue/green: the AppSpec keeps the
`<TASK_DEFINITION>` placeholder that amazon-ecs-deploy-task-definition replaces with the new revision.
Workers (and web services of a stack that deploys rolling) deploy rolling: the new revision replaces the
service's, and ECS rolls back on the circuit breaker or the service's alarms.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PLACEHOLDER = "<TASK_DEFINITION>"


class RenderError(Exception):
    """The outputs don't describe this environment or service."""


STRATEGIES = ("blueGreen", "rolling")


def deploy_inputs(outputs: dict[str, Any], env: str, service: str) -> dict[str, Any]:
    environments = outputs.get("deploy") or {}
    if env not in environments:
        raise RenderError(f"no environment {env!r} in the stack's deploy output; known: {', '.join(sorted(environments)) or 'none'}")
    services = environments[env] or {}
    if service not in services:
        raise RenderError(f"no service {service!r} in {env}; known: {', '.join(sorted(services)) or 'none'}")
    inputs = services[service]
    if inputs.get("strategy") not in STRATEGIES:
        raise RenderError(f"{env}/{service} deploys by {inputs.get('strategy')!r}; allowed: {', '.join(STRATEGIES)}")
    return inputs


def repository_of(image: str) -> str:
    """`<registry>/<name>` of an image given by tag (`...:bootstrap`) or by digest (`...@sha256:...`)."""
    image = image.split("@", 1)[0]
    registry_and_path, _, tag = image.rpartition(":")
    return registry_and_path if registry_and_path and "/" not in tag else image


def render(outputs: dict[str, Any], env: str, service: str) -> tuple[dict[str, Any] | None, dict[str, Any], dict[str, str]]:
    """(appspec, or None for a rolling deploy; task definition template; names for the deploy actions)."""
    inputs = deploy_inputs(outputs, env, service)
    taskdef = inputs["taskDefinition"]
    names = [c["name"] for c in taskdef["containerDefinitions"]]
    if inputs["containerName"] not in names:
        raise RenderError(f"container {inputs['containerName']!r} is not in the task definition of {env}/{service}: {names}")
    appspec, keys = None, ["strategy", "cluster", "service", "containerName"]
    if inputs["strategy"] == "blueGreen":
        appspec, keys = inputs["appspec"], [*keys, "application", "deploymentGroup"]
        (target,) = appspec["Resources"]
        if target["TargetService"]["Properties"]["TaskDefinition"] != PLACEHOLDER:
            raise RenderError(f"the AppSpec of {env}/{service} has no {PLACEHOLDER} placeholder")
    (container,) = [c for c in taskdef["containerDefinitions"] if c["name"] == inputs["containerName"]]
    # The ECR repository the service pulls from: CI pushes the commit's image there once, and deploys its digest.
    repository = repository_of(container["image"])
    return (
        appspec,
        taskdef,
        {**{key: str(inputs[key]) for key in keys}, "repository": repository, "repositoryName": repository.split("/", 1)[1]},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=Path, required=True, help="`pulumi stack output --json` of the stack")
    parser.add_argument("--env", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--out-dir", type=Path, default=Path())
    args = parser.parse_args(argv)
    try:
        appspec, taskdef, names = render(json.loads(args.outputs.read_text()), args.env, args.service)
    except (RenderError, KeyError, ValueError) as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if appspec is not None:
        (args.out_dir / "appspec.json").write_text(json.dumps(appspec, indent=2) + "\n")
    (args.out_dir / "taskdef.json").write_text(json.dumps(taskdef, indent=2) + "\n")
    for key, value in names.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
