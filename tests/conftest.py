"""Each stack is run once per test session (both previews), and one policy pack process serves all tests.

What the session's tests read besides those recordings starts as soon as collection ends, so that it runs
on the second core while the in-process tests use the first, and the tests that read it wait for it:
- the preflight CLI runs the selected tests mark (`pytest.mark.cli`), forked from this session once it has
  imported the SDKs, as the preflight forks its recordings, so each does not import them again. `--all` (every
  stack, what CI runs) is `make preflight`: it would record again what this session records;
- the stack variants the selected tests mark (`pytest.mark.records(job, ...)`, read with `recorded(job)`):
  programs run with other settings, recorded in forked children one at a time, two once this process waits for one.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from preflight import ACCOUNT, MAIN, MODES, PROJECTS, STACKS, Project
from preflight.analyzer import PolicyPack
from preflight.parallel import Forked, Job, preload
from preflight.program import Recording, record, stack_config
from settings import of_stack
from tests.kit import RecordedStack

_recordings: dict[tuple[str, str, str], Recording] = {}

_cli: dict[str, _ForkedCli] = {}
BAD_VPC_CIDR = "10.0.0.0/8"
TWELVE_ENVIRONMENTS = [f"qa{i}" for i in range(12)]
QUIET_REPORTS = Path(tempfile.mkdtemp(prefix="preflight-reports-"))  # the 'quiet' run's --sarif out/p.sarif, --markdown p.md

# The marked variants: job key -> the forked child's recording once it has come back.
_variants: dict[tuple[str, ...], Recording | None] = {}
_variant_arrived = threading.Condition()
_forked: list[tuple[Forked, threading.Thread]] = []
_parallel = False  # whether the variants record two at a time yet (`_waiting`)

# Collection imports the SDKs, hundreds of thousands of objects the collector would scan again and again (a third of
# the import's time) only to find nothing to free; it runs again once collection has ended, with them frozen.
gc.disable()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cli(name): the test reads the preflight CLI run `name` (started with the session)")
    config.addinivalue_line("markers", "records(job, ...): the test reads `recorded(job)` (recorded in a forked child)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read a CLI run or a forked variant go last (in their order), so that this process does all
    its own work while those run on the other core, and waits for them, if at all, only at the end."""
    items.sort(key=lambda item: any(True for name in ("cli", "records") for _ in item.iter_markers(name)))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the CLI runs and the variants that the selected tests read, and only those: a `-k` run of one test starts none."""
    gc.freeze()  # the modules collection imported (the SDKs among them) stay: see `recording`
    try:
        _start_forks(session)
    finally:
        gc.enable()


def _start_forks(session: pytest.Session) -> None:
    from preflight import ROOT

    wanted = {name for item in session.items for mark in item.iter_markers("cli") for name in mark.args}
    jobs = {_key(job): job for item in session.items for mark in item.iter_markers("records") for job in mark.args}
    if not wanted and not jobs:
        return
    # Everything the programs import, once, before forking (the in-process recordings would import it anyway).
    preload(PROJECTS.values())
    gc.freeze()
    if "several" in wanted:
        # The CLI over several stacks and both previews, as `--all` runs them (forked recordings, judged as each
        # ends, in order). `--all` itself, every stack again, is `make preflight`, which CI runs on each commit.
        _cli["several"] = _ForkedCli(["--project", "account", *ACCOUNT.stacks, "--json", "-"])
    if "quiet" in wanted:
        # It writes the reports CI uploads too: quiet on the terminal, the files still written.
        _cli["quiet"] = _ForkedCli(
            [
                "--project",
                "bootstrap",
                "management",
                "--quiet",
                "--sarif",
                str(QUIET_REPORTS / "out" / "p.sarif"),
                "--markdown",
                str(QUIET_REPORTS / "p.md"),
            ]
        )
    if "bad-settings" in wanted:
        bad = Path(tempfile.mkdtemp()) / "Pulumi.prod.yaml"
        bad.write_text((ROOT / "Pulumi.prod.yaml").read_text() + f"  kanna-infra:network:\n    vpcCidr: {BAD_VPC_CIDR}\n")
        _cli["bad-settings"] = _ForkedCli(["prod", "--mode", "update", "--stack-file", str(bad)])
    if "twelve" in wanted:
        # The dev stack with 12 verification environments, the most the shared platform must carry.
        import yaml

        document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
        document["config"]["kanna-infra:platform"]["environments"] = TWELVE_ENVIRONMENTS
        # 12 environments of blue/green web services would need twice the ALB's 100 target groups and rules (settings/deploy.py).
        document["config"]["kanna-infra:deploy"] = {"webStrategy": "rolling"}
        twelve = Path(tempfile.mkdtemp()) / "Pulumi.dev.yaml"
        twelve.write_text(yaml.safe_dump(document))
        _cli["twelve"] = _ForkedCli(["dev", "--mode", "first", "--stack-file", str(twelve), "--json", "-"])
    if jobs:
        _variants.update(dict.fromkeys(jobs))
        forked = Forked(list(jobs.values()), workers=1)  # one core for these; this process keeps the other
        collector = threading.Thread(target=_collect, args=(forked,), daemon=True)
        collector.start()
        _forked.append((forked, collector))


def _waiting() -> None:
    """This process is about to wait for a fork: its core is free, so from now on two variants record at a time
    (the tests that read forks run last, so this process has little of its own work left)."""
    global _parallel
    if not _parallel:
        _parallel = True
        for forked, _ in _forked:
            forked.add_worker()


def _collect(forked: Forked) -> None:
    """Takes in each variant as its child ends (this thread only reads pipes: it forks nothing)."""
    for index, found, _ in forked.results():
        with _variant_arrived:
            _variants[_key(forked.jobs[index])] = found
            _variant_arrived.notify_all()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A run no test waited for (a `-k` selection, say) must not outlive the session.
    for process in _cli.values():
        if process.poll() is None:
            process.kill()
            process.communicate()
    for forked, collector in _forked:  # variants no test waited for (a test failed under -x, say)
        forked.kill()
        collector.join(timeout=60)
        forked.close()


class _ForkedCli:
    """`python -m preflight ARGS` forked from this session: `preflight.__main__.main(ARGS)` in a child whose
    stdout and stderr are files, as a subprocess's would be; its exit code is main's."""

    def __init__(self, args: list[str]) -> None:
        self.args = [sys.executable, "-m", "preflight", *args]
        self._out: IO[bytes] = tempfile.TemporaryFile()
        self._err: IO[bytes] = tempfile.TemporaryFile()
        self.returncode: int | None = None
        self._pid = os.fork()
        if self._pid == 0:
            code = 1
            try:
                os.dup2(self._out.fileno(), 1)
                os.dup2(self._err.fileno(), 2)
                sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)
                from preflight.__main__ import main

                code = main(args)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)  # never the session's exit handlers

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self._pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self._pid, 9)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self._pid, 0)[1])
        return tuple(_read(f) for f in (self._out, self._err))  # type: ignore[return-value]


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode()


def cli_result(name: str) -> subprocess.CompletedProcess[str]:
    """The finished CLI run `name` ('several', 'quiet', 'bad-settings' or 'twelve'): its exit code, stdout and stderr.

    'quiet' is `--project bootstrap management --quiet` with `--sarif` and `--markdown` into QUIET_REPORTS."""
    process = _cli[name]
    if process.poll() is None:
        _waiting()
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode is not None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def recording(stack: str, mode: str = "update", project: Project = MAIN) -> Recording:
    """The stack recorded once per session. Tests share it: a test that needs a variant changes a copy (kit.mutate)."""
    key = (project.key, stack, mode)
    if key not in _recordings:
        _recordings[key] = record(stack, mode, project=project)
        # The recordings, and the SDK modules, live to the end of the session: the collector need not scan them
        # again at each collection (a quarter of the in-process time otherwise).
        gc.freeze()
    return _recordings[key]


def variant(stack: str, mode: str, config: dict[str, str], secret_keys: list[str] | None = None, project: Project = MAIN) -> Job:
    """A recording job of `stack` with other settings, for `pytest.mark.records` and `recorded`."""
    return Job(project, stack, mode, config, list(secret_keys or []))


def recorded(job: Job) -> Recording:
    """`record` of the job: the forked child's recording if a selected test marked it, the session's recording if
    the job's settings are the committed ones, else recorded here."""
    key = _key(job)
    if key in _variants:
        with _variant_arrived:
            if _variants[key] is None:
                _waiting()
            _variant_arrived.wait_for(lambda: _variants[key] is not None, timeout=600)
        found = _variants[key]
        assert found is not None, f"the forked recording of {job.stack} ({job.mode}) did not come back"
        return found
    if job.stack in job.project.stacks and key == _key(
        variant(job.stack, job.mode, *stack_config(job.stack, project=job.project), job.project)
    ):
        return recording(job.stack, job.mode, job.project)
    return record(job.stack, job.mode, job.config, job.secret_keys, job.project)


def _key(job: Job) -> tuple[str, ...]:
    """What makes two jobs the same recording: a structured value compares as data, not as its JSON text."""

    def normal(value: str) -> str:
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value

    config = json.dumps({key: normal(value) for key, value in job.config.items()}, sort_keys=True)
    return (job.project.key, job.stack, job.mode, config, *sorted(job.secret_keys))


@pytest.fixture(scope="session")
def pack() -> Iterator[PolicyPack]:
    with PolicyPack() as running:
        yield running


@pytest.fixture(scope="session")
def dev() -> RecordedStack:
    return RecordedStack(recording("dev"))


@pytest.fixture(scope="session")
def prod() -> RecordedStack:
    return RecordedStack(recording("prod"))


# The stacks that stand on their own. A standby (prod-dr) differs from them by design (another region, no GCP, its
# data and secrets from its primary, no CloudFront of its own) and has its own tests (tests/test_dr.py); the policy
# pack judges it with the rest (`preflight --all`).
STANDALONE = tuple(s for s in STACKS if not of_stack(s).dr.standby)


@pytest.fixture(scope="session", params=[(s, m) for s in STANDALONE for m in MODES], ids=lambda p: f"{p[0]}-{p[1]}")
def each_stack(request: pytest.FixtureRequest) -> RecordedStack:
    """Every standalone stack in both previews: update (ids known) and first (ids unknown)."""
    return RecordedStack(recording(*request.param))


@pytest.fixture(scope="session", params=[(s, m) for s in ACCOUNT.stacks for m in MODES], ids=lambda p: f"{p[0]}-{p[1]}")
def each_account(request: pytest.FixtureRequest) -> RecordedStack:
    """Every account baseline stack (account/) in both previews."""
    stack, mode = request.param
    return RecordedStack(recording(stack, mode, ACCOUNT))
