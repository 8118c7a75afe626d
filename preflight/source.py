"""Where in this repository each resource was created: `components/edge/edge.py:101`.

The SDK registers a resource asynchronously: when the monitor's RegisterResource runs, the Python stack
is an asyncio task, not the constructor that made the resource. So the position is taken when the
resource is constructed (`pulumi.Resource.__init__`, which every custom, component and provider resource
runs), keyed by what RegisterResource will see again (type, name and the parent's type and name), and
joined when the registration arrives. The hook is installed only while `capture()` is open, by the
preflight's own recorder: the program itself, and the real CLI, never see it.

A position is the innermost frame in this repository outside `preflight/`, `tests/` and the virtualenv,
skipping the constructor of the resource itself: for `Network(...)` that is the line in `__main__.py`
that builds it, not the `super().__init__` inside the component; for `aws.ec2.Vpc(...)` it is the line in
`components/network/network.py`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Generator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import FrameType
from typing import Any

import pulumi
from pulumi.runtime.settings import get_root_resource

from . import ROOT

_OUTSIDE = ("preflight/", "tests/", "venv/")

Key = tuple[str, str, str, str]  # type, name, parent type, parent name


@cache  # a few hundred files, each met in most of a recording's thousand stack walks: resolve each once
def _relative(filename: str) -> str | None:
    """The path relative to the repository root, or None for a file outside it (the SDKs, the stdlib)."""
    if filename.startswith("<"):  # <string>, <stdin>: no file to point at
        return None
    try:
        path = Path(filename).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return None
    return None if path.startswith(_OUTSIDE) or "site-packages/" in path else path


def position(frame: FrameType | None, resource: object) -> str | None:
    """`path:line` of the innermost repository frame from `frame` outwards that is not `resource`'s own `__init__`."""
    while frame is not None:
        code = frame.f_code
        path = _relative(code.co_filename)
        if path is not None and not (code.co_name == "__init__" and frame.f_locals.get("self") is resource):
            return f"{path}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def split(source: str) -> tuple[str, int]:
    """`components/edge/edge.py:101` -> ("components/edge/edge.py", 101)."""
    path, line = source.rsplit(":", 1)
    return path, int(line)


def _urn_type_and_name(urn: str) -> tuple[str, str]:
    # urn:pulumi:<stack>::<project>::<qualified type>::<name>; the qualified type ends with the type itself.
    parts = urn.split("::", 3)
    return (parts[2].rsplit("$", 1)[-1], parts[3]) if len(parts) == 4 else ("", "")


class SourceMap:
    """Positions taken at construction, waiting for their registrations."""

    def __init__(self) -> None:
        self._pending: dict[Key, list[str | None]] = {}
        self._lock = threading.Lock()  # RegisterResource runs on the SDK's executor threads

    def constructed(self, resource: object, type_: str, name: str, opts: Any) -> None:
        parent = getattr(opts, "parent", None) if opts is not None else None
        if parent is None:
            parent = get_root_resource()
        key = (type_, name, getattr(parent, "_type", ""), getattr(parent, "_name", ""))
        found = position(sys._getframe(2), resource)
        with self._lock:
            self._pending.setdefault(key, []).append(found)

    def registered(self, type_: str, name: str, parent_urn: str) -> str | None:
        """The position of the resource that RegisterResource now receives (None: made outside the repository)."""
        key = (type_, name, *_urn_type_and_name(parent_urn)) if parent_urn else (type_, name, "", "")
        with self._lock:
            waiting = self._pending.get(key)
            return waiting.pop(0) if waiting else None


_active: SourceMap | None = None


def registered(type_: str, name: str, parent_urn: str) -> str | None:
    """The position of a registration, while `capture()` is open; None otherwise."""
    return _active.registered(type_, name, parent_urn) if _active is not None else None


@contextmanager
def capture() -> Generator[SourceMap]:
    """Hooks `pulumi.Resource.__init__` for the duration: each construction leaves its position behind."""
    global _active
    original = pulumi.Resource.__init__
    sources = SourceMap()

    def constructing(  # the signature of pulumi.Resource.__init__
        self: pulumi.Resource,
        t: str,
        name: str,
        custom: bool,
        props: Any = None,
        opts: Any = None,
        remote: bool = False,
        dependency: bool = False,
        package_ref: Any = None,
    ) -> None:
        if not dependency:  # dependency resources are the SDK's own stand-ins, never registered
            sources.constructed(self, t, name, opts)
        original(self, t, name, custom, props, opts, remote, dependency, package_ref)

    pulumi.Resource.__init__ = constructing  # type: ignore[method-assign]
    _active = sources
    try:
        yield sources
    finally:
        pulumi.Resource.__init__ = original  # type: ignore[method-assign]
        _active = None
