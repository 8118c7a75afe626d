"""Each stack is run once per test session (both previews), and one policy pack process serves all tests."""

from __future__ import annotations

import gc
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from preflight import MAIN, MODES, STACKS, Project
from preflight.analyzer import PolicyPack
from preflight.program import Recording, record
from tests.kit import RecordedStack

_recordings: dict[tuple[str, str, str], Recording] = {}

# The preflight CLI runs as its own process, as CI runs it. The runs the selected tests mark start when collection ends, so they use
# the second core while the in-process tests use the first; the tests that read them wait for them.
_cli: dict[str, subprocess.Popen[str]] = {}
BAD_VPC_CIDR = "10.0.0.0/8"
TWELVE_ENVIRONMENTS = [f"qa{i}" for i in range(12)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cli(name): the test reads the preflight CLI run `name` (started with the session)")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the CLI runs that the selected tests read, and only those: a `-k` run of one test starts none."""
    from preflight import ROOT

    gc.freeze()  # the modules collection imported (the SDKs among them) stay: see `recording`
    wanted = {name for item in session.items for mark in item.iter_markers("cli") for name in mark.args}

    def start(name: str, *args: str) -> None:
        if name not in wanted:
            return
        _cli[name] = subprocess.Popen(
            [sys.executable, "-m", "preflight", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    start("all", "--all", "--json", "-")
    start("quiet", "--project", "bootstrap", "management", "--quiet")
    bad = Path(tempfile.mkdtemp()) / "Pulumi.prod.yaml"
    bad.write_text((ROOT / "Pulumi.prod.yaml").read_text() + f"  kanna-infra:network:\n    vpcCidr: {BAD_VPC_CIDR}\n")
    start("bad-settings", "prod", "--mode", "update", "--stack-file", str(bad))
    # The dev stack with 12 verification environments, the most the shared platform must carry.
    import yaml

    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    document["config"]["kanna-infra:platform"]["environments"] = TWELVE_ENVIRONMENTS
    # 12 environments of blue/green web services would need twice the ALB's 100 target groups and rules (settings/deploy.py).
    document["config"]["kanna-infra:deploy"] = {"webStrategy": "rolling"}
    twelve = bad.parent / "Pulumi.dev.yaml"
    twelve.write_text(yaml.safe_dump(document))
    start("twelve", "dev", "--mode", "first", "--stack-file", str(twelve), "--json", "-")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A run no test waited for (a `-k` selection, say) must not outlive the session.
    for process in _cli.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


def cli_result(name: str) -> subprocess.CompletedProcess[str]:
    """The finished CLI run `name` ('all', 'quiet', 'bad-settings' or 'twelve'): its exit code, stdout and stderr."""
    process = _cli[name]
    stdout, stderr = process.communicate(timeout=600)
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


@pytest.fixture(scope="session", params=[(s, m) for s in STACKS for m in MODES], ids=lambda p: f"{p[0]}-{p[1]}")
def each_stack(request: pytest.FixtureRequest) -> RecordedStack:
    """Every stack in both previews: update (ids known) and first (ids unknown)."""
    return RecordedStack(recording(*request.param))
