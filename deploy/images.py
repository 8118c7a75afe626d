"""Before `pulumi up`: do the repositories hold the `bootstrap` image that the stack's services are created with?

    python -m deploy.images --stack dev

The offline preflight can't see the account, so CI asks ECR (with the deploy role) right before each `up`.
A stack lists in `deploy.awaitingImages` the repositories that have no image yet (all of them at its first
`up`, a new service's new one later): their services are created with 0 tasks, and there is nothing to
check. Every other repository of the catalog must hold its `bootstrap` image, or its services would start
tasks that can't pull: one line names the stack, the key and the repositories, and the `up` doesn't start. Exit codes: 0 ready, 1 an image is missing, 2 ECR can't be asked.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from components.platform.cluster import BOOTSTRAP_TAG
from preflight.program import ProgramError, stack_config
from settings import SettingsError, load

Ask = Callable[[str], subprocess.CompletedProcess[str]]
NOT_THERE = ("ImageNotFoundException", "RepositoryNotFoundException")


def ask_ecr(repository: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["aws", "ecr", "describe-images", "--repository-name", repository, "--image-ids", f"imageTag={BOOTSTRAP_TAG}"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def missing_images(stack: str, ask: Ask = ask_ecr, stack_file: Path | None = None) -> tuple[str | None, list[str]]:
    """(the one line to print or None, the repositories without their bootstrap image)."""
    config, _ = stack_config(stack, stack_file)
    settings = load(stack, config)
    awaited = settings.deploy.awaiting_images
    missing = []
    for repository in [r for r in settings.platform.repositories() if r not in awaited]:
        answer = ask(repository)
        if answer.returncode == 0:
            continue
        if not any(error in answer.stderr for error in NOT_THERE):
            raise RuntimeError(f"aws ecr describe-images {repository}: {answer.stderr.strip()}")
        missing.append(repository)
    if not missing:
        return None, []
    return (
        f"stack '{stack}': kanna-infra:deploy.awaitingImages leaves out {', '.join(missing)}, which hold no '{BOOTSTRAP_TAG}' "
        "image; allowed: push it first (docs/first-deploy.md, first images), or list them, so their services get 0 tasks",
        missing,
    )


def main(argv: Sequence[str] | None = None, ask: Ask = ask_ecr) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.images", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--stack-file", type=Path, help="instead of Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    try:
        line, _ = missing_images(args.stack, ask, args.stack_file)
    except (ProgramError, SettingsError) as exc:
        print(exc, file=sys.stderr)
        return 1
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"images: {exc}", file=sys.stderr)
        return 2
    if line:
        print(line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
