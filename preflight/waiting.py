"""How a recording waits for the program's outstanding work: the SDK's own loop, in linear time.

When the program returns, the SDK's `run_pulumi_func` awaits `pulumi.runtime.stack.wait_for_rpcs`, which waits
for every pending RPC, then for every tracked output (`SETTINGS.outputs`). It waits for the outputs with
`asyncio.wait(..., FIRST_COMPLETED)` in a loop, so each pass adds and removes a done-callback on every output
still pending: quadratic in the outputs, and over a thousand resources (some 65,000 outputs) it was about a
third of a recording's time.

`wait_for_rpcs` below is the same loop with one change: it waits with `FIRST_EXCEPTION`, so one pass waits for
every pending output unless one fails, and an output that fails is re-raised at once, as the SDK does. What the
program registers, invokes and logs is unchanged (`tests/test_preflight.py` records a stack with either loop and
compares). It replaces the SDK's function only while `record` runs, and only in the preflight's own runtime:
`pulumi up` runs the program under the SDK's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any

from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime import stack as pulumi_stack
from pulumi.runtime.settings import _get_rpc_manager

# The runtime's settings: their fields are context properties, which a type checker sees as the descriptors.
SETTINGS: Any = pulumi_settings.SETTINGS


async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """`pulumi.runtime.stack.wait_for_rpcs`, waiting for the outputs in one pass (see the module's text)."""
    rpc_manager = _get_rpc_manager()
    while True:
        while rpc_manager.rpcs:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    raise exn from rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        while await_all_outstanding_tasks:
            with SETTINGS.lock:
                if not SETTINGS.outputs:
                    break
                pending = list(SETTINGS.outputs)
                SETTINGS.outputs.clear()  # outputs made while this waits are picked up on the next pass
            done, not_done = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                await task  # re-raises what failed
            with SETTINGS.lock:
                SETTINGS.outputs.update(not_done)
        if not rpc_manager.rpcs:
            break


@contextlib.contextmanager
def linear_wait() -> Generator[None]:
    """Runs the block with `wait_for_rpcs` above in place of the SDK's."""
    sdk = pulumi_stack.wait_for_rpcs
    pulumi_stack.wait_for_rpcs = wait_for_rpcs
    try:
        yield
    finally:
        pulumi_stack.wait_for_rpcs = sdk
