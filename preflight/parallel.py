"""Records several stacks at once: the SDKs are imported once, then each recording runs in a forked child.

The Pulumi runtime is process-global (one stack, one config, one monitor at a time), so two recordings can't
share a process; and a fresh interpreter per recording would import the SDKs again, which is most of a
preflight's time. So this process imports the SDK classes the programs name, then forks one child per
recording. A pipe holds one token per worker, as make's jobserver does: a child records once it has taken a
token, so `workers` record at a time, one per core. A child sends its Recording back pickled, through a pipe
of its own, and exits without running any of the parent's exit handlers.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import importlib
import os
import pickle
import selectors
import signal
import sys
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from . import ROOT, Project
from .program import Recording, record

SDKS = ("pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_datadog", "pulumi_random")


@dataclass(frozen=True)
class Job:
    project: Project
    stack: str
    mode: str
    config: dict[str, str]
    secret_keys: list[str]


def program_modules(projects: Iterable[Project]) -> set[str]:
    """The modules the projects' programs import, and the SDK classes their source names (`aws.ec2.Vpc` as
    `pulumi_aws.ec2.Vpc`): what a recording would import as it goes. A name too many loads one class more,
    a name missed is loaded by the child itself."""
    names: set[str] = set()
    for project in projects:
        main = project.directory / "__main__.py"
        files = [main]
        for node in ast.walk(ast.parse(main.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (ROOT / node.module.split(".")[0]).is_dir():
                files += (ROOT / node.module.split(".")[0]).rglob("*.py")  # packages of packages too (components/<layer>/)
        for file in set(files):
            names |= _imported_names(ast.parse(file.read_text()))
    return names


def _imported_names(tree: ast.Module) -> set[str]:
    aliases: dict[str, str] = {}  # a name in this module -> the module or SDK attribute it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {(a.asname or a.name): a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            aliases |= {(a.asname or a.name): f"{node.module}.{a.name}" for a in node.names}
    names = {name for name in aliases.values() if name.split(".")[0] not in sys.stdlib_module_names}
    for node in ast.walk(tree):
        chain = []
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and chain and aliases.get(node.id, "").split(".")[0] in SDKS:
            names.add(".".join([aliases[node.id], *reversed(chain)]))
    return names


def preload(projects: Iterable[Project]) -> None:
    """Imports what `program_modules` finds, so that every forked child starts with it loaded."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    for name in sorted(program_modules(projects)):
        parts = name.split(".")
        with contextlib.suppress(Exception):  # a name that is not an attribute (a method, a typo) loads nothing
            value = importlib.import_module(parts[0])
            for i, part in enumerate(parts[1:], start=1):
                try:
                    value = getattr(value, part)
                except AttributeError:
                    value = importlib.import_module(".".join(parts[: i + 1]))


def record_forked(jobs: list[Job], workers: int) -> Iterator[tuple[int, Recording, float]]:
    """Records every job, `workers` at a time, each in a forked child.

    Yields (job index, recording, seconds the recording took) as each ends."""
    forked = Forked(jobs, workers)
    try:
        yield from forked.results()
    finally:
        forked.close()


class Forked:
    """The children of `jobs`, forked at once, recording `workers` at a time; `results()` collects them.

    Forking and collecting are apart so that a process can fork while it has one thread, then collect from
    another thread while its main thread goes on (the test session): collecting only reads pipes and waits."""

    def __init__(self, jobs: list[Job], workers: int) -> None:
        self.jobs = jobs
        self._tokens_r, self._tokens_w = os.pipe()
        os.write(self._tokens_w, b"t" * workers)
        self._children: dict[int, tuple[int, int]] = {}  # read end of its pipe -> (job index, pid)
        for index, job in enumerate(jobs):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child
                os.close(read)
                os.close(self._tokens_w)  # so that a child waiting for a token sees the parent end, not hang
                _child(job, self._tokens_r, write)
            os.close(write)
            self._children[read] = (index, pid)

    def results(self) -> Iterator[tuple[int, Recording, float]]:
        """(job index, recording, seconds) as each child ends."""
        received = {fd: bytearray() for fd in self._children}
        with selectors.DefaultSelector() as selector:
            for fd in self._children:
                selector.register(fd, selectors.EVENT_READ)
            while self._children:
                for key, _ in selector.select():
                    fd = int(key.fd)
                    chunk = os.read(fd, 1 << 20)
                    if chunk:
                        if not received[fd]:
                            os.write(self._tokens_w, b"t")  # its first byte says it is done recording: the next one may start
                        received[fd] += chunk
                        continue
                    if not received[fd]:
                        os.write(self._tokens_w, b"t")  # it died before saying so: its token must not be lost
                        received[fd] += b"d"
                    selector.unregister(fd)
                    os.close(fd)
                    index, pid = self._children.pop(fd)
                    _, status = os.waitpid(pid, 0)
                    yield index, *_result(self.jobs[index], bytes(received.pop(fd)[1:]), status)

    def add_worker(self) -> None:
        """Lets one more child record at a time from now on (a caller that has a core free, say)."""
        if self._tokens_w >= 0:
            os.write(self._tokens_w, b"t")

    def kill(self) -> None:
        """Kills the children still running; `results()`, in another thread, then sees them end and reaps them."""
        for _, pid in list(self._children.values()):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Stops the children still running (a caller that stopped early)."""
        for fd, (_, pid) in self._children.items():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(fd)
        self._children.clear()
        if self._tokens_r >= 0:
            os.close(self._tokens_r)
            os.close(self._tokens_w)
            self._tokens_r = self._tokens_w = -1


def _child(job: Job, tokens_r: int, out: int) -> None:
    try:
        if os.read(tokens_r, 1):  # wait for a free core; nothing to read: the parent is gone
            gc.disable()  # the child lives for one recording: nothing needs collecting before it exits
            start = time.perf_counter()
            try:
                recording = record(job.stack, job.mode, job.config, job.secret_keys, job.project)
            except BaseException:
                recording = Recording(job.stack, job.mode, [], f"the recording failed:\n{traceback.format_exc()}", job.project.name)
            seconds = time.perf_counter() - start
            os.write(out, b"d")
            data = memoryview(pickle.dumps((recording, seconds), protocol=pickle.HIGHEST_PROTOCOL))
            while data:
                data = data[os.write(out, data) :]
    finally:
        os._exit(0)  # never the parent's atexit handlers, nor a flush of its buffered output


def _result(job: Job, data: bytes, status: int) -> tuple[Recording, float]:
    try:
        return pickle.loads(data)
    except Exception:
        error = f"the recording process ended without a result (wait status {status})"
        return Recording(job.stack, job.mode, [], error, job.project.name), 0.0
