"""`python -m preflight [--project main|bootstrap] [STACK ...|--all] [--mode update|first|both] [--json FILE]`.

`python -m preflight cost ...` estimates the monthly cost instead (preflight/cost/cli.py).
`python -m preflight urns [--write]` checks (or rewrites) the URN manifests (preflight/urns.py).
`python -m preflight moves` prints the `pulumi state move` commands of the account baseline (preflight/moves.py).

`--all` checks every stack of every project: the main program's dev and prod, bootstrap's management, and the
account baselines (account/: dev-account, prod-account).

Exit codes: 0 passed; 1 a mandatory policy violation; 2 the program failed (bad settings, an exception);
3 the policy pack could not be started or asked.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import MAIN, MODES, PROJECTS, ROOT, Project
from .analyzer import Diagnostic, PolicyPack, PolicyPackError
from .parallel import Job, preload, record_forked
from .program import ProgramError, Recording, record, stack_config
from .report import Outcome
from .sarif import policy_info, sarif
from .summary import markdown

EXIT_VIOLATION, EXIT_PROGRAM, EXIT_PACK = 1, 2, 3


Target = tuple[Project, str]
Progress = Callable[[Outcome, float, float], None]  # (outcome, seconds recording, seconds judging)


def run(
    stacks: Sequence[str | Target],
    modes: list[str],
    stack_files: dict[str, Path] | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Checks each stack (a main-program stack name, or a (project, stack) pair) in each mode.

    With `workers` > 1 the recordings run in forked children, that many at a time (preflight/parallel.py),
    and as many packs judge them; with 1, one after the other in this process, judged by one pack. Either
    way each recording is judged as soon as it ends, by the least busy pack, and the outcomes come back in
    the order of `stacks` and `modes`: the same outcomes, whichever order the recordings end in. The two
    previews of a stack share the stack file, read once, and the pack's answers to the single-resource
    requests they have in common.
    """
    targets = [(MAIN, s) if isinstance(s, str) else s for s in stacks]
    jobs: list[Job] = []
    failed: dict[int, Recording] = {}  # a stack file that can't be read fails both previews, unrecorded
    for project, stack in targets:
        try:
            config, secrets = stack_config(stack, (stack_files or {}).get(stack), project)
        except ProgramError as exc:
            config, secrets = {}, []
            failed |= {len(jobs) + i: Recording(stack, mode, [], str(exc), project.name) for i, mode in enumerate(modes)}
        jobs += [Job(project, stack, mode, config, secrets) for mode in modes]
    judged: list[Future[tuple[list[Diagnostic], dict[str, str]]] | None] = [None] * len(jobs)
    recordings: list[Recording | None] = [None] * len(jobs)
    pending = [(i, job) for i, job in enumerate(jobs) if i not in failed]
    memos: dict[Path, dict[bytes, list[Diagnostic]]] = {}
    # Each pack starts while this process imports; with workers, as many packs judge at once, one per core.
    judges = [_Judge(memos) for _ in range(max(1, min(workers, len(pending))))]
    try:
        for index, recording, seconds in _record(pending, workers, failed):
            recordings[index] = recording
            judged[index] = min(judges, key=_Judge.busy).submit(recording, seconds, progress)
        results = [future.result() for future in judged if future is not None]  # raises PolicyPackError
    finally:
        for judge in judges:
            judge.close()
    info = next((judge.policy_info for judge in judges if judge.policy_info), {})  # descriptions, for the SARIF rules
    return [
        Outcome(recording.stack, recording.mode, recording, diagnostics, levels, info)
        for recording, (diagnostics, levels) in zip(recordings, results, strict=True)
        if recording is not None
    ]


def _record(pending: list[tuple[int, Job]], workers: int, failed: dict[int, Recording]) -> Iterator[tuple[int, Recording, float]]:
    """(index, recording, seconds) for every job, failed ones first, the others as their recordings end."""
    yield from ((index, recording, 0.0) for index, recording in failed.items())
    if workers > 1 and len(pending) > 1 and hasattr(os, "fork"):
        preload({job.project for _, job in pending})
        for n, recording, seconds in record_forked([job for _, job in pending], workers):
            yield pending[n][0], recording, seconds
        return
    for index, job in pending:
        start = time.perf_counter()
        recording = record(job.stack, job.mode, job.config, job.secret_keys, job.project)
        yield index, recording, time.perf_counter() - start


def policy_config(stack: str) -> Path:
    """The `--policy-pack-config` file of a stack; an unknown stack is judged like prod."""
    config_file = ROOT / "policies" / "config" / f"{stack}.json"
    return config_file if config_file.exists() else ROOT / "policies" / "config" / "prod.json"


class _Judge:
    """One pack process and the one thread that speaks to it, so that the `configure` and `analyze` of a
    recording stay together and in order (a pack holds one configuration at a time)."""

    def __init__(self, memos: dict[Path, dict[bytes, list[Diagnostic]]]) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1)
        self._starting = self._thread.submit(PolicyPack)
        self._configured: Path | None = None
        self._levels: dict[Path, dict[str, str]] = {}
        self._memos = memos  # the pack's answers per policy config, shared by the packs and both previews
        self._futures: list[Future[tuple[list[Diagnostic], dict[str, str]]]] = []
        self.policy_info: dict[str, dict[str, Any]] = {}  # what the pack says of each policy, once it has judged

    def busy(self) -> int:
        return sum(not future.done() for future in self._futures)

    def submit(self, recording: Recording, seconds: float, progress: Progress | None) -> Future[tuple[list[Diagnostic], dict[str, str]]]:
        self._futures.append(self._thread.submit(self._judge, recording, seconds, progress))
        return self._futures[-1]

    def close(self) -> None:
        self._thread.submit(lambda: self._starting.exception() is None and self._starting.result().close())
        self._thread.shutdown(wait=True)

    def _judge(self, recording: Recording, seconds: float, progress: Progress | None) -> tuple[list[Diagnostic], dict[str, str]]:
        pack = self._starting.result()
        self.policy_info = self.policy_info or policy_info(pack)
        start = time.perf_counter()
        config_file = policy_config(recording.stack)
        if self._configured != config_file:
            self._levels[config_file] = pack.configure(config_file)
            self._configured = config_file
        diagnostics = []
        if recording.error is None:
            diagnostics = pack.analyze(recording.registrations, memo=self._memos.setdefault(config_file, {}))
        if progress is not None:
            outcome = Outcome(recording.stack, recording.mode, recording, diagnostics, self._levels[config_file])
            progress(outcome, seconds, time.perf_counter() - start)
        return diagnostics, self._levels[config_file]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["cost"]:  # `python -m preflight cost ...`: the monthly estimate (preflight/cost/)
        from .cost.cli import main as cost

        return cost(argv[1:])
    if argv[:1] == ["urns"]:  # `python -m preflight urns [--write]`: the URN manifests (preflight/urns.py)
        from .urns import main as urns

        return urns(argv[1:])
    if argv[:1] == ["moves"]:  # `python -m preflight moves`: the runbook's `pulumi state move` commands (preflight/moves.py)
        from .moves import main as moves

        return moves(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m preflight", description="Offline preflight of kanna-infra stacks.")
    parser.add_argument("stacks", nargs="*", help="stacks to check (main: dev, prod; bootstrap: management)")
    parser.add_argument("--project", choices=list(PROJECTS), default=MAIN.key, help="the Pulumi project the stacks belong to")
    parser.add_argument("--all", action="store_true", help="check every stack of every project")
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both", help="update preview, first preview, or both")
    parser.add_argument("--stack-file", type=Path, help="use this file instead of Pulumi.<stack>.yaml (one stack only)")
    parser.add_argument("--json", type=Path, help="also write the outcome as JSON to this file ('-' for stdout)")
    parser.add_argument("--sarif", type=Path, help="also write the violations as SARIF 2.1.0 to this file (code scanning)")
    parser.add_argument("--markdown", type=Path, help="also write a Markdown summary to this file (job summary, PR comment)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines, and a report only for what failed")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="recordings at a time, each in a forked process (1: in this one)"
    )
    args = parser.parse_args(argv)
    project = PROJECTS[args.project]
    if args.all:
        targets = every_stack()
    else:
        targets = [(project, s) for s in args.stacks]
    if not targets:
        parser.error("name a stack or pass --all")
    if args.stack_file and len(targets) != 1:
        parser.error("--stack-file needs exactly one stack")
    modes = list(MODES) if args.mode == "both" else [args.mode]
    # One short run, whose garbage is small next to what it keeps: the collector would only rescan the SDKs.
    gc.disable()
    try:
        outcomes = run(
            targets,
            modes,
            {targets[0][1]: args.stack_file} if args.stack_file else None,
            max(1, args.jobs),
            None if args.quiet else _progress,
        )
    except PolicyPackError as exc:
        print(f"preflight: {exc}", file=sys.stderr)
        return EXIT_PACK
    for outcome in outcomes:
        if not (args.quiet and outcome.passed):
            print(outcome.render(), file=sys.stderr if args.json and str(args.json) == "-" else sys.stdout)
    if args.json:
        document = json.dumps([o.to_json() for o in outcomes], indent=2)
        if str(args.json) == "-":
            print(document)
        else:
            args.json.write_text(document + "\n")
    write_reports(outcomes, args.sarif, args.markdown)
    return exit_code(outcomes)


def every_stack() -> list[tuple[Project, str]]:
    """What `--all` checks (what `make preflight` and CI run): every stack of every project, in order."""
    return [(p, s) for p in PROJECTS.values() for s in p.stacks]


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


def _progress(outcome: Outcome, recorded: float, judged: float) -> None:
    """One line per stack and preview as it is judged, on stderr: stdout holds the reports, or the JSON."""
    preview = "first preview" if outcome.mode == "first" else "update preview"
    if outcome.recording.error is not None:
        verdict = "the program failed"
    else:
        verdict = f"{len(outcome.mandatory)} mandatory violations" if outcome.mandatory else "passed"
        verdict += f" ({len(outcome.violations) - len(outcome.mandatory)} advisory, {len(outcome.deferred)} deferred)"
    resources = sum(1 for r in outcome.recording.registrations if r.custom)
    print(
        f"preflight: {outcome.recording.label}, {preview}: {resources} resources, recorded in {recorded:.1f} s, "
        f"judged in {judged:.1f} s: {verdict}",
        file=sys.stderr,
        flush=True,
    )


def exit_code(outcomes: list[Outcome]) -> int:
    if any(o.recording.error for o in outcomes):
        return EXIT_PROGRAM
    if any(o.mandatory for o in outcomes):
        return EXIT_VIOLATION
    return 0


if __name__ == "__main__":
    code = main()
    # Without the interpreter's teardown, which would free the SDKs' classes and the recordings object by object
    # (2.5 s of a 10 s run, for nothing a caller sees): the reports are written and closed, the packs stopped.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
