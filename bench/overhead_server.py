"""One variant of the hub for `overhead.py` and `ab.py`, served as the hub is deployed:
its own process, uvicorn with uvloop and httptools, one worker, on 127.0.0.1.

    .venv/bin/python bench/overhead_server.py --variant full|allow-all|no-audit --dir DIR --ready FILE
        [--store-url URL]

Writes into DIR the catalog (Dukcapil's residents, confidential fields), the real
policy model with no explicit rule (the caller, `opd:dukcapil`, reads its own data
by the owner rule) and the hub's store (SQLite, WAL, synchronous=FULL: the hub's own
code opens it, as `hub serve` does; or the empty database at --store-url, e.g. a
PostgreSQL one, which the hub migrates at start). Starts the hub through `Hub.start`,
creates an API key, binds a free port, writes `{"port", "key", "pid"}` to FILE and
serves until SIGTERM, logging as `hub serve` does by default (JSON lines at INFO, one
access record per request, into the log file its parent gives it). A variant switches
one step off through `Hub.start`'s own parameters, never by changing the hub's objects:

    full        policy and audit as in production
    allow-all   `policy=AllowAll(...)`: the policy in force, whose `decide` answers
                "allowed" for every pair without looking
    no-audit    `audit_sink=NoAudit()`: the entry is still built and handed over, and
                the sink answers at once without writing
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import socket
import sys
from collections.abc import Iterable
from pathlib import Path
from types import FrameType

import uvicorn
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import DATABASE
from servers import DUKCAPIL as CATALOG

from hub.audit.chain import Entry
from hub.catalog import load_catalog
from hub.http.app import Hub, create_app
from hub.logs import configure as configure_logging
from hub.policy.decisions import Pair, Policy
from hub.settings import Settings
from hub.store import clients

REPO = Path(__file__).resolve().parents[1]
SUBJECT = "opd:dukcapil"  # Dukcapil's own system: reads its own residents (owner rule)
VARIANTS = ("full", "allow-all", "no-audit")


def write_config(tmp: Path, store_url: str | None = None) -> Settings:
    (tmp / "schema").mkdir()
    (tmp / "policies").mkdir()
    (tmp / "schema" / "dukcapil.yaml").write_text(CATALOG.format(database=DATABASE))
    (tmp / "policies" / "model.conf").write_text((REPO / "policies" / "model.conf").read_text())
    (tmp / "policies" / "policy.csv").write_text("# opd:dukcapil reads its own data (owner rule)\n")
    return Settings(
        schema_dir=tmp / "schema", policies_dir=tmp / "policies", audit_key="bench-audit-key",
        cursor_secret="bench-cursor-secret", log_level="WARNING", rate_limit_public="", rate_limit_key="",
        database_url=store_url or f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
    )  # fmt: skip


class AllowAll(Policy):
    """The policy in force, except that a request's decisions are all "allowed"."""

    def decide(self, subject: str, pairs: Iterable[Pair]) -> dict[Pair, bool]:
        return dict.fromkeys(pairs, True)


class NoAudit:
    """An `AuditSink` that keeps nothing and answers at once."""

    async def append(self, entry: Entry) -> int:
        return 0

    async def aclose(self) -> None:
        return None


async def start(settings: Settings, variant: str) -> Hub:
    """The hub of `variant`, started as `hub serve` starts it."""
    if variant == "allow-all":
        catalog = load_catalog(settings.schema_dir)
        return await Hub.start(settings, catalog, AllowAll(settings.policies_dir, catalog))
    if variant == "no-audit":
        return await Hub.start(settings, audit_sink=NoAudit())
    return await Hub.start(settings)


def stop(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


async def serve(variant: str, tmp: Path, ready: Path, store_url: str | None) -> None:
    # SIGTERM before uvicorn serves, or re-raised by uvicorn after its graceful
    # shutdown: leave through `finally`, so the hub closes its audit log and exits 0.
    signal.signal(signal.SIGTERM, stop)
    settings = write_config(tmp, store_url)
    # As `hub serve`: no cyclic GC while start-up builds its long-lived objects, then
    # freeze them and collect from here on.
    gc.disable()
    try:
        hub = await start(settings, variant)
    finally:
        gc.freeze()
        gc.enable()
    try:
        key = (await clients.create(hub.store, SUBJECT, name=f"overhead-{variant}")).key
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            create_app(settings, hub=hub), loop="uvloop", http="httptools",
            log_level="warning", log_config=None, access_log=False, lifespan="on",
        )  # fmt: skip
        server = uvicorn.Server(config)
        port = sock.getsockname()[1]
        # Written whole, then renamed: the parent never reads half a file.
        part = ready.with_suffix(".part")
        part.write_text(json.dumps({"port": port, "key": key, "pid": os.getpid(), "variant": variant}))
        part.rename(ready)
        await server.serve(sockets=[sock])
    finally:
        await hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="One hub variant for bench/overhead.py and bench/ab.py.")
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="empty directory for config and store")
    parser.add_argument("--ready", type=Path, required=True, help="where to write port and key")
    parser.add_argument("--store-url", help="the hub store (default: a SQLite file in DIR)")
    args = parser.parse_args()
    # logged as `hub serve` logs by default: JSON lines, one access record per request
    configure_logging("INFO", "json")
    uvloop.run(serve(args.variant, args.dir, args.ready, args.store_url))


if __name__ == "__main__":
    main()
