"""`python -m preflight [dev|prod ...|--all] [--mode update|first|both] [--json FILE]`.

Exit codes: 0 passed; 1 a mandatory policy violation; 2 the program failed (bad settings, an exception);
3 the policy pack could not be started or asked.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import MODES, ROOT, STACKS
from .analyzer import PolicyPack, PolicyPackError
from .program import ProgramError, record, stack_config
from .report import Outcome

EXIT_VIOLATION, EXIT_PROGRAM, EXIT_PACK = 1, 2, 3


def run(stacks: list[str], modes: list[str], stack_files: dict[str, Path] | None = None) -> list[Outcome]:
    outcomes = []
    with PolicyPack() as pack:
        for stack in stacks:
            config_file = ROOT / "policies" / "config" / f"{stack}.json"
            if not config_file.exists():
                config_file = ROOT / "policies" / "config" / "prod.json"  # an unknown stack is judged like prod
            levels = pack.configure(config_file)
            for mode in modes:
                try:
                    config, secrets = stack_config(stack, (stack_files or {}).get(stack))
                    recording = record(stack, mode, config, secrets)
                except ProgramError as exc:
                    from .program import Recording

                    recording = Recording(stack, mode, [], str(exc))
                outcome = Outcome(stack, mode, recording, levels=levels)
                if recording.error is None:
                    outcome.diagnostics = pack.analyze(recording.registrations)
                outcomes.append(outcome)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight", description="Offline preflight of kanna-infra stacks.")
    parser.add_argument("stacks", nargs="*", help=f"stacks to check ({', '.join(STACKS)})")
    parser.add_argument("--all", action="store_true", help="check every stack")
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both", help="update preview, first preview, or both")
    parser.add_argument("--stack-file", type=Path, help="use this file instead of Pulumi.<stack>.yaml (one stack only)")
    parser.add_argument("--json", type=Path, help="also write the outcome as JSON to this file ('-' for stdout)")
    args = parser.parse_args(argv)
    stacks = list(STACKS) if args.all else args.stacks
    if not stacks:
        parser.error("name a stack or pass --all")
    if args.stack_file and len(stacks) != 1:
        parser.error("--stack-file needs exactly one stack")
    modes = list(MODES) if args.mode == "both" else [args.mode]
    try:
        outcomes = run(stacks, modes, {stacks[0]: args.stack_file} if args.stack_file else None)
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
    return exit_code(outcomes)


def exit_code(outcomes: list[Outcome]) -> int:
    if any(o.recording.error for o in outcomes):
        return EXIT_PROGRAM
    if any(o.mandatory for o in outcomes):
        return EXIT_VIOLATION
    return 0


if __name__ == "__main__":
    sys.exit(main())
