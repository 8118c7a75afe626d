"""Each stack is run once per test session (both previews), and one policy pack process serves all tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from preflight import MODES, STACKS
from preflight.analyzer import PolicyPack
from preflight.program import Recording, record
from tests.kit import RecordedStack

_recordings: dict[tuple[str, str], Recording] = {}


def recording(stack: str, mode: str = "update") -> Recording:
    if (stack, mode) not in _recordings:
        _recordings[(stack, mode)] = record(stack, mode)
    return _recordings[(stack, mode)]


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
