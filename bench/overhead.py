"""What the policy and the audit log cost: the same hub, the same requests, with each
step switched off in turn, interleaved in one run (issue targets: policies on /
allow-all >= 0.9, audit on / audit off >= 0.85).

    .venv/bin/python bench/overhead.py [--rows 100000] [--duration 5] [--rounds 3] [--concurrency 8]

The caller is Dukcapil's own system reading 100 of its residents (confidential
fields, so every request is audited). The hub runs in this process and is driven
through its ASGI app by `concurrency` concurrent clients, so the figures include
everything from HTTP parsing to the JSON answer except the network. The variants
replace one step with a stand-in, in this benchmark only:

    full        policy and audit as in production (audit store: SQLite, WAL, full sync)
    allow-all   the policy step answers "allowed" for every pair without looking
    no-audit    the audit step returns at once without writing
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from servers import DATABASE, SERVER
from servers import DUKCAPIL as CATALOG
from synthetic import ensure_loaded, kecamatan_in
from workloads import READ as QUERY

from hub import clients
from hub.app import Hub, create_app
from hub.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SUBJECT = "opd:dukcapil"  # Dukcapil's own system: reads its own residents (owner rule)


async def start(tmp: Path) -> tuple[Hub, str]:
    (tmp / "schema").mkdir()
    (tmp / "policies").mkdir()
    (tmp / "schema" / "dukcapil.yaml").write_text(CATALOG.format(database=DATABASE))
    (tmp / "policies" / "model.conf").write_text((REPO / "policies" / "model.conf").read_text())
    (tmp / "policies" / "policy.csv").write_text("# opd:dukcapil reads its own data (owner rule)\n")
    settings = Settings(
        schema_dir=tmp / "schema", policies_dir=tmp / "policies", audit_key="bench",
        database_url=f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
    )  # fmt: skip
    hub = await Hub.start(settings)
    return hub, (await clients.create(hub.store, SUBJECT)).key


def variant(hub: Hub, name: str) -> Any:
    """Switch one step off for `name`; returns the undo."""
    if name == "allow-all":
        real = hub.policy.decide
        hub.policy.decide = lambda _subject, pairs: dict.fromkeys(pairs, True)  # type: ignore[method-assign]
        return lambda: setattr(hub.policy, "decide", real)
    if name == "no-audit":
        real_record = hub.audit.record

        async def nothing(_entry: Any) -> int:
            return 0

        hub.audit.record = nothing  # type: ignore[method-assign]
        return lambda: setattr(hub.audit, "record", real_record)
    return lambda: None


async def drive(client: httpx.AsyncClient, bodies: list[bytes], concurrency: int, duration: float) -> float:
    """Requests per second over `duration`, `concurrency` clients sending back to back."""
    done = 0
    stop = time.perf_counter() + duration

    async def worker(i: int) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            r = await client.post("/graphql", content=bodies[(done + i) % len(bodies)])
            if r.status_code != 200 or b'"errors"' in r.content:
                raise RuntimeError(f"bad answer: {r.status_code} {r.text[:200]}")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return done / (time.perf_counter() - started)


async def main_async(args: argparse.Namespace) -> None:
    await ensure_loaded(SERVER, DATABASE, args.rows)
    kecamatan = await kecamatan_in(f"{SERVER}/{DATABASE}")
    import orjson

    bodies = [orjson.dumps({"query": QUERY, "variables": {"k": k, "n": 100}}) for k in kecamatan]
    with tempfile.TemporaryDirectory() as tmp:
        hub, key = await start(Path(tmp))
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        transport = httpx.ASGITransport(app=create_app(hub=hub))
        results: dict[str, list[float]] = {"full": [], "allow-all": [], "no-audit": []}
        async with httpx.AsyncClient(transport=transport, base_url="http://hub", headers=headers) as client:
            await drive(client, bodies, args.concurrency, 1.0)  # warm-up
            for n in range(1, args.rounds + 1):
                for name in results:
                    undo = variant(hub, name)
                    try:
                        rate = await drive(client, bodies, args.concurrency, args.duration)
                    finally:
                        undo()
                    results[name].append(rate)
                    print(f"  round {n} {name:<10} {rate:8.1f} req/s", flush=True)
        await hub.close()
    med = {name: statistics.median(v) for name, v in results.items()}
    print(f"\nmedians over {args.rounds} rounds (W1: 100 rows x 7 fields, owner, {args.concurrency} clients)")
    for name, rate in med.items():
        print(f"  {name:<10} {rate:8.1f} req/s")
    policy, audit = med["full"] / med["allow-all"], med["full"] / med["no-audit"]
    print(f"policies on / allow-all: {policy:.2f}  (target >= 0.90: {'met' if policy >= 0.9 else 'NOT met'})")
    print(f"audit on / audit off:    {audit:.2f}  (target >= 0.85: {'met' if audit >= 0.85 else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
