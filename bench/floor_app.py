"""The floor: the hub's work with nothing but the driver and a JSON encoder.

A raw ASGI app under uvicorn (same server stack as the hub: uvloop, httptools). For
every POST it looks up the request's GraphQL text among the benchmark's workloads
(bench/workloads.py; the text itself is not parsed), takes the variables, runs the
SQL the hub runs for that query through asyncpg pools (statements are prepared once
per connection by asyncpg's statement cache), and answers with the hub's answer
shape, serialised by orjson (dates as ISO 8601 strings). No GraphQL, no auth, no
policy, no audit. GET /healthz answers 200.

- W1/W2 `penduduk`: `WHERE kecamatan = $1 ORDER BY nik LIMIT n + 1` (the hub's extra row).
- W3 `penerima` with `penduduk`: one page query on the Dinsos database, then one
  `nik = ANY(…)` lookup on the Dukcapil database (the NIKs as one JSON text, as the
  hub sends them), joined in Python.
- W4 `pendudukMatch`: one `nik = ANY(…)` lookup (the same), then per record `found` and whether
  the name agrees after the catalog's normalisation (trim, collapse spaces, casefold).
- W5 `pendudukAggregate`: `SELECT kecamatan, count(*) … GROUP BY kecamatan`.

    python bench/floor_app.py --port 8101 --dsn postgresql://postgres@127.0.0.1:5432/hub_bench \
        --dinsos-dsn postgresql://postgres@127.0.0.1:5432/hub_bench_dinsos
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson
import uvicorn
from workloads import COUNT, MATCH, READ, RECIPIENTS

READ_SQL = (
    "SELECT nik, nama, jenis_kelamin, tanggal_lahir, kecamatan, kelurahan, pekerjaan"
    " FROM penduduk WHERE kecamatan = $1 ORDER BY nik LIMIT $2"
)
READ_KEYS = ("nik", "nama", "jenisKelamin", "tanggalLahir", "kecamatan", "kelurahan", "pekerjaan")
RECIPIENTS_SQL = (
    "SELECT id, nik, program, nominal, tahun FROM penerima"
    " WHERE program = $1 AND tahun = $2 ORDER BY id LIMIT $3"
)
RECIPIENT_KEYS = ("id", "nik", "program", "nominal", "tahun")
# The NIK list travels as the hub sends it (adapters/sql_pg.py): one JSON text that
# PostgreSQL unnests into the array, which orjson writes in microseconds where
# asyncpg's text[] encoder spends ~0.7 µs a key.
ANY_NIK = "nik = ANY(ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)))"
RESIDENTS_SQL = f"SELECT nik, nama, kecamatan FROM penduduk WHERE {ANY_NIK}"
MATCH_SQL = f"SELECT nik, nama FROM penduduk WHERE {ANY_NIK}"
COUNT_SQL = "SELECT kecamatan, count(*) FROM penduduk GROUP BY kecamatan ORDER BY kecamatan"
# SQLAlchemy's default pool for each of the hub's sources: 5 kept, 10 more on demand.
POOL_MIN, POOL_MAX = 5, 15
JSON_HEADERS = [(b"content-type", b"application/json")]

Scope = dict[str, Any]
Message = dict[str, Any]


def same_name(value: str) -> str:
    """The catalog's `normalize: [trim, collapse_spaces, casefold]` for `nama`."""
    return " ".join(value.split()).casefold()


class Floor:
    def __init__(self, dsn: str, dinsos_dsn: str) -> None:
        self.dsn, self.dinsos_dsn = dsn, dinsos_dsn
        self.pool: asyncpg.Pool | None = None
        self.dinsos: asyncpg.Pool | None = None
        self.handlers: dict[str, Callable[[dict[str, Any]], Awaitable[bytes]]] = {
            READ: self.penduduk,
            RECIPIENTS: self.penerima,
            MATCH: self.match,
            COUNT: self.count,
        }

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.http(scope, receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                sizes = {"min_size": POOL_MIN, "max_size": POOL_MAX, "reset": keep_session}
                self.pool = await asyncpg.create_pool(self.dsn, **sizes)
                self.dinsos = await asyncpg.create_pool(self.dinsos_dsn, **sizes)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for pool in (self.pool, self.dinsos):
                    if pool is not None:
                        await pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["method"] != "POST":
            await respond(send, 200, b'{"status":"ok"}')
            return
        request = orjson.loads(await read_body(receive))
        handler = self.handlers.get(request.get("query"))
        if handler is None:
            await respond(send, 400, b'{"errors":[{"message":"not a benchmark query"}]}')
            return
        await respond(send, 200, await handler(request.get("variables") or {}))

    async def penduduk(self, variables: dict[str, Any]) -> bytes:
        assert self.pool is not None
        first = int(variables["n"])
        rows = await self.pool.fetch(READ_SQL, str(variables["k"]), first + 1)  # +1: "is there a next page"
        nodes = [dict(zip(READ_KEYS, row, strict=True)) for row in rows[:first]]
        return orjson.dumps({"data": {"dukcapil": {"penduduk": {"nodes": nodes}}}})

    async def penerima(self, variables: dict[str, Any]) -> bytes:
        assert self.pool is not None and self.dinsos is not None
        first = int(variables["n"])
        args = (str(variables["p"]), int(variables["t"]), first + 1)
        rows = (await self.dinsos.fetch(RECIPIENTS_SQL, *args))[:first]
        niks = list(dict.fromkeys(row[1] for row in rows))
        residents = {
            r[0]: {"nik": r[0], "nama": r[1], "kecamatan": r[2]}
            for r in await self.pool.fetch(RESIDENTS_SQL, orjson.dumps(niks).decode())
        }
        nodes = []
        for row in rows:
            node = dict(zip(RECIPIENT_KEYS, row, strict=True))
            node["penduduk"] = residents.get(row[1])
            nodes.append(node)
        return orjson.dumps({"data": {"dinsos": {"penerima": {"nodes": nodes}}}})

    async def match(self, variables: dict[str, Any]) -> bytes:
        assert self.pool is not None
        records = variables["r"]
        niks = list(dict.fromkeys(r["nik"] for r in records))
        names = {nik: nama for nik, nama in await self.pool.fetch(MATCH_SQL, orjson.dumps(niks).decode())}
        answers = []
        for i, record in enumerate(records):
            nik = record["nik"]
            found = nik in names
            given = record.get("nama")
            if not found or given is None:
                agrees = None
            else:
                stored = names[nik]
                agrees = stored is not None and same_name(stored) == same_name(given)
            answers.append({"index": i, "found": found, "nama": agrees})
        return orjson.dumps({"data": {"dukcapil": {"pendudukMatch": answers}}})

    async def count(self, _variables: dict[str, Any]) -> bytes:
        assert self.pool is not None
        groups = [{"group": {"kecamatan": k}, "count": n} for k, n in await self.pool.fetch(COUNT_SQL)]
        return orjson.dumps({"data": {"dukcapil": {"pendudukAggregate": groups}}})


async def keep_session(conn: asyncpg.Connection) -> None:
    """Connections go back to the pool without asyncpg's session reset (a round trip per
    release), as the hub returns them: the floor is what the queries cost, no more."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def read_body(receive: Any) -> bytes:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def respond(send: Any, status: int, body: bytes) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


app = Floor(
    os.environ.get("FLOOR_DSN", "postgresql://postgres@127.0.0.1:5432/hub_bench"),
    os.environ.get("FLOOR_DINSOS_DSN", "postgresql://postgres@127.0.0.1:5432/hub_bench_dinsos"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--dsn", default=app.dsn, help="the residents' database (Dukcapil)")
    parser.add_argument("--dinsos-dsn", default=app.dinsos_dsn, help="the recipients' database (Dinsos)")
    args = parser.parse_args()
    app.dsn, app.dinsos_dsn = args.dsn, args.dinsos_dsn
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
