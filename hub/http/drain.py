"""Draining before a stop: on SIGTERM, `/readyz` answers 503 `draining` for
`HUB_DRAIN_SECONDS` while every request is still served, then uvicorn's graceful shutdown
begins (no new connections, those in flight answered and audited).

Without it, a process behind a load balancer closes its idle keep-alive connections the
moment SIGTERM comes, and a request the proxy sends on one of them at that instant is
lost: its client sees the connection close with no answer (tests/test_deploy_haproxy.py
lost one in about six stops). Draining lets the proxy's health check take the process out
first. A second SIGTERM ends the drain at once. The handler works the same in a single
process and in each `--workers` process: it wraps the one uvicorn installed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from types import FrameType
from typing import Any

log = logging.getLogger("hub.app")


def drain_on_sigterm(state: Any, seconds: float) -> None:
    """From now on, SIGTERM first sets `state.draining` for `seconds`, then does what the
    handler in place (uvicorn's) does. Nothing when there is no such handler (an app run
    in-process by tests) or when called off the main thread."""
    previous = signal.getsignal(signal.SIGTERM)
    if seconds <= 0 or not callable(previous) or threading.current_thread() is not threading.main_thread():
        return
    stop = previous
    loop = asyncio.get_running_loop()

    def on_sigterm(sig: int, frame: FrameType | None) -> None:
        if state.draining:
            stop(sig, frame)  # asked again: stop now
            return
        state.draining = True
        log.warning("SIGTERM: draining for %g s (/readyz 503) before shutting down", seconds)
        loop.call_soon_threadsafe(loop.call_later, seconds, stop, sig, None)

    signal.signal(signal.SIGTERM, on_sigterm)
