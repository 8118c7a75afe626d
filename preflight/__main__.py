"""`python -m preflight [--project main|bootstrap] [STACK ...|--all] [--mode update|first|both] [--json FILE]`.

`python -m preflight cost ...` estimates the monthly cost instead (preflight/cost/cli.py).

`--all` checks every stack of every project: the main program's dev and prod, and bootstrap's management.

Exit codes: 0 passed; 1 a mandatory policy violation; 2 the program failed (bad settings, an exception);
3 the policy pack could not be started or asked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import MAIN, MODES, PROJECTS, ROOT, Project
from .analyzer import PolicyPack, PolicyPackError
from .program import ProgramError, Recording, record, stack_config
from .report import Outcome
from .sarif import policy_info, sarif
from .summary import markdown

EXIT_VIOLATION, EXIT_PROGRAM, EXIT_PACK = 1, 2, 3


def run(stacks: Sequence[str | tuple[Project, str]], modes: list[str], stack_files: dict[str, Path] | None = None) -> list[Outcome]:
    """Checks each stack (a main-program stack name, or a (project, stack) pair) in each mode with one pack.

    Recording is CPU work in this process; judging is mostly CPU work in the pack's process. So each
    recording is judged on a background thread while the next one records, and the two use both cores.
    A single judging thread keeps `configure` and `analyze` of one recording together and in order (the
    pack holds one configuration at a time), so every outcome is what a one-at-a-time run would give.
    """
    outcomes = []
    targets = [(MAIN, s) if isinstance(s, str) else s for s in stacks]
    with PolicyPack() as pack, ThreadPoolExecutor(max_workers=1) as judge:
        for project, stack in targets:
            config_file = ROOT / "policies" / "config" / f"{stack}.json"
            if not config_file.exists():
                config_file = ROOT / "policies" / "config" / "prod.json"  # an unknown stack is judged like prod
            levels = judge.submit(pack.configure, config_file)
            for mode in modes:
                try:
                    config, secrets = stack_config(stack, (stack_files or {}).get(stack), project)
                    recording = record(stack, mode, config, secrets, project)
                except ProgramError as exc:
                    recording = Recording(stack, mode, [], str(exc), project.name)
                diagnostics = judge.submit(pack.analyze, recording.registrations) if recording.error is None else None
                outcomes.append((Outcome(stack, mode, recording), levels, diagnostics))
        for outcome, levels, diagnostics in outcomes:
            outcome.levels = levels.result()  # raises PolicyPackError as the sequential run did
            outcome.policy_info = policy_info(pack)  # descriptions, for the SARIF rules
            if diagnostics is not None:
                outcome.diagnostics = diagnostics.result()
    return [outcome for outcome, _, _ in outcomes]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["cost"]:  # `python -m preflight cost ...`: the monthly estimate (preflight/cost/)
        from .cost.cli import main as cost

        return cost(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m preflight", description="Offline preflight of kanna-infra stacks.")
    parser.add_argument("stacks", nargs="*", help="stacks to check (main: dev, prod; bootstrap: management)")
    parser.add_argument("--project", choices=list(PROJECTS), default=MAIN.key, help="the Pulumi project the stacks belong to")
    parser.add_argument("--all", action="store_true", help="check every stack of every project")
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both", help="update preview, first preview, or both")
    parser.add_argument("--stack-file", type=Path, help="use this file instead of Pulumi.<stack>.yaml (one stack only)")
    parser.add_argument("--json", type=Path, help="also write the outcome as JSON to this file ('-' for stdout)")
    parser.add_argument("--sarif", type=Path, help="also write the violations as SARIF 2.1.0 to this file (code scanning)")
    parser.add_argument("--markdown", type=Path, help="also write a Markdown summary to this file (job summary, PR comment)")
    args = parser.parse_args(argv)
    project = PROJECTS[args.project]
    if args.all:
        targets = [(p, s) for p in PROJECTS.values() for s in p.stacks]
    else:
        targets = [(project, s) for s in args.stacks]
    if not targets:
        parser.error("name a stack or pass --all")
    if args.stack_file and len(targets) != 1:
        parser.error("--stack-file needs exactly one stack")
    modes = list(MODES) if args.mode == "both" else [args.mode]
    try:
        outcomes = run(targets, modes, {targets[0][1]: args.stack_file} if args.stack_file else None)
    except PolicyPackError as exc:
        print(f"preflight: {exc}", file=sys.stderr)
        return EXIT_PACK
    for outcome in outcomes:
        print(outcome.render(), file=sys.stderr if args.json and str(args.json) == "-" else sys.stdout)
    if args.json:
        document = json.dumps([o.to_json() for o in outcomes], indent=2)
        if str(args.json) == "-":
            print(document)
        else:
            args.json.write_text(document + "\n")
    write_reports(outcomes, args.sarif, args.markdown)
    return exit_code(outcomes)


def write_reports(outcomes: list[Outcome], sarif_file: Path | None, markdown_file: Path | None) -> None:
    """`--sarif` and `--markdown`; on GitHub Actions the summary links each source position to its line."""
    if sarif_file is not None:
        sarif_file.parent.mkdir(parents=True, exist_ok=True)
        sarif_file.write_text(json.dumps(sarif(outcomes), indent=2) + "\n")
    if markdown_file is not None:
        markdown_file.parent.mkdir(parents=True, exist_ok=True)
        markdown_file.write_text(markdown(outcomes, github_blob(os.environ)) + "\n")


def github_blob(env: Mapping[str, str]) -> str | None:
    """https://github.com/<owner>/<repo>/blob/<sha> of the commit a workflow checked out, or None outside Actions."""
    if not all(env.get(key) for key in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA")):
        return None
    return f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/blob/{env['GITHUB_SHA']}"


def exit_code(outcomes: list[Outcome]) -> int:
    if any(o.recording.error for o in outcomes):
        return EXIT_PROGRAM
    if any(o.mandatory for o in outcomes):
        return EXIT_VIOLATION
    return 0


if __name__ == "__main__":
    sys.exit(main())
