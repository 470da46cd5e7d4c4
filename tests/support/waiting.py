"""Waiting for something to happen in another task, thread or process: ask again every
20 ms until it holds, and fail, saying what was awaited, once a deadline has passed.
No test sleeps a fixed time to wait out a race."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

EVERY = 0.02


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> float:
    """Seconds until `await check()` held; fails after `within` seconds."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < within, f"gave up after {within} s waiting for {what}"
        await asyncio.sleep(EVERY)
    return time.monotonic() - started


def poll(condition: Callable[[], bool], within: float, what: str) -> float:
    """Seconds until `condition()` held, for code that runs in threads of its own; fails
    after `within` seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, f"gave up after {within} s waiting for {what}"
        time.sleep(EVERY)
    return time.monotonic() - started
