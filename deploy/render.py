"""Writes what CI needs to deploy one web service, from the stack's outputs: appspec.json and taskdef.json.

    pulumi stack output --json --show-secrets=false > outputs.json
    python deploy/render.py --outputs outputs.json --env prod --service core-api --out-dir build/

It prints the names the deploy actions take (cluster, service, application, deployment group, container)
as `key=value` lines, ready for `$GITHUB_OUTPUT`. The task definition template is the one Pulumi manages,
so a deploy changes only the image (amazon-ecs-render-task-definition sets it); the AppSpec keeps the
`<TASK_DEFINITION>` placeholder that amazon-ecs-deploy-task-definition replaces with the new revision.
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


def deploy_inputs(outputs: dict[str, Any], env: str, service: str) -> dict[str, Any]:
    environments = outputs.get("deploy") or {}
    if env not in environments:
        raise RenderError(f"no environment {env!r} in the stack's deploy output; known: {', '.join(sorted(environments)) or 'none'}")
    services = environments[env] or {}
    if service not in services:
        known = ", ".join(sorted(services)) or "none (the stack deploys web services rolling)"
        raise RenderError(f"no blue/green web service {service!r} in {env}; known: {known}")
    return services[service]


def render(outputs: dict[str, Any], env: str, service: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(appspec, task definition template, names for the deploy actions)."""
    inputs = deploy_inputs(outputs, env, service)
    appspec, taskdef = inputs["appspec"], inputs["taskDefinition"]
    (target,) = appspec["Resources"]
    properties = target["TargetService"]["Properties"]
    if properties["TaskDefinition"] != PLACEHOLDER:
        raise RenderError(f"the AppSpec of {env}/{service} has no {PLACEHOLDER} placeholder")
    names = [c["name"] for c in taskdef["containerDefinitions"]]
    if inputs["containerName"] not in names:
        raise RenderError(f"container {inputs['containerName']!r} is not in the task definition of {env}/{service}: {names}")
    keys = ("cluster", "service", "application", "deploymentGroup", "containerName")
    (container,) = [c for c in taskdef["containerDefinitions"] if c["name"] == inputs["containerName"]]
    # The ECR repository the service pulls from; CI pushes the new tag there.
    repository = container["image"].rsplit(":", 1)[0]
    return appspec, taskdef, {**{key: str(inputs[key]) for key in keys}, "repository": repository}


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
    (args.out_dir / "appspec.json").write_text(json.dumps(appspec, indent=2) + "\n")
    (args.out_dir / "taskdef.json").write_text(json.dumps(taskdef, indent=2) + "\n")
    for key, value in names.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
