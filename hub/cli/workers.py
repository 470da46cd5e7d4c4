"""`hub serve --workers N`: N processes serving one port, under uvicorn's supervisor.

The parent binds the socket, checks the catalog and policy once, and starts N workers
(spawned, each loading the hub from the same `HUB_*` settings); a worker that dies is
replaced; SIGTERM or Ctrl-C stops the workers through uvicorn's graceful shutdown: each
request in flight is answered, its audit record written first as always, before the
parent exits. Processes share nothing in memory, so more than
one is refused unless everything they must agree on lives outside them:

    HUB_DATABASE_URL     PostgreSQL: one store for API keys, the audit chain, guess budgets
    HUB_CURSOR_SECRET    a cursor one worker issued is opened by another
    HUB_AUDIT_KEY        one key for the audit log's query hashes and the guess digests
    HUB_DISCLOSURE_KEY   the same noise for the same cells, whichever worker answers

Without `HUB_REDIS_URL` each worker counts rate limits on its own (a warning says so).
`/metrics`, from whichever worker answers, reports every worker's counts (hub/metrics.py).

Example:
    $ HUB_DATABASE_URL=postgresql+asyncpg://… HUB_CURSOR_SECRET=… HUB_AUDIT_KEY=… \\
      HUB_DISCLOSURE_KEY=… hub serve --workers 2
"""

from __future__ import annotations

import gc
import os
import socket
from typing import Any, SupportsIndex

from sqlalchemy.engine import make_url
from starlette.types import ASGIApp

from hub.metrics_files import run_directory
from hub.settings import Settings


def problems(settings: Settings, workers: int) -> list[str]:
    """Why `workers` processes cannot serve with these settings; [] when they can."""
    if workers <= 1:
        return []
    found = []
    if make_url(settings.database_url).get_backend_name() != "postgresql":
        found.append(
            "HUB_DATABASE_URL must name a PostgreSQL store (postgresql+asyncpg://…): the "
            "workers share its API keys, audit chain and guess budgets"
        )
    needed = {
        "HUB_CURSOR_SECRET": (settings.cursor_secret, "a cursor one worker issues must open in another"),
        "HUB_AUDIT_KEY": (settings.audit_key, "every worker must hash queries and digests alike"),
        "HUB_DISCLOSURE_KEY": (settings.disclosure_key, "every worker must perturb a cell alike"),
    }
    found += [f"{name} must be set: {why}" for name, (value, why) in needed.items() if not value]
    return found


def warnings(settings: Settings, workers: int) -> list[str]:
    if workers > 1 and not settings.redis_url and (settings.rate_limit_public or settings.rate_limit_key):
        return [
            f"rate limits are counted by each of the {workers} workers apart (up to {workers}x a "
            "budget); set HUB_REDIS_URL to share them"
        ]
    return []


class PortShare(socket.socket):
    """The parent's socket, bound with SO_REUSEPORT and never listening; each worker it is
    handed to gets, instead of it, a listening socket of its own on the same address
    (`own_listener`). The kernel then spreads new connections over the workers' sockets.
    One shared socket let whichever worker woke first accept every waiting connection: 16
    keep-alive clients connecting at once all landed on one worker, the other idle."""

    def __init__(self, family: int, kind: int) -> None:
        super().__init__(family, kind)
        self.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # before it is bound

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return own_listener, (self.family, self.getsockname())


def own_listener(family: int, address: tuple[Any, ...]) -> socket.socket:
    """A worker's socket on the parent's address (uvicorn makes it listen)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def serve(settings: Settings, workers: int, sock: socket.socket) -> None:
    """Run `workers` processes on `sock` (a `PortShare`) until SIGTERM or Ctrl-C."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    # the workers are spawned: they read the settings from the environment, as given here
    os.environ["HUB_SCHEMA_DIR"] = str(settings.schema_dir.resolve())
    os.environ["HUB_POLICIES_DIR"] = str(settings.policies_dir.resolve())
    config = uvicorn.Config(
        "hub.cli.workers:app", factory=True, workers=workers, log_level="warning", log_config=None,
        access_log=False,
    )  # fmt: skip
    # every worker counts into files here, and /metrics reports them all (hub/metrics.py)
    with run_directory() as counts:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = counts
        Multiprocess(config, sockets=[sock]).run()


def app() -> ASGIApp:
    """One worker's app (uvicorn calls this in each spawned process); the collector is off
    until the worker's hub has started, as in a single process (hub/cli/collector.py)."""
    from hub.cli.collector import collect_from_now_on
    from hub.http.app import create_app
    from hub.logs import configure as configure_logging

    gc.disable()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, started=collect_from_now_on)
