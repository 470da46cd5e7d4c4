"""The floor: the hub's work with nothing but the driver and a JSON encoder.

A raw ASGI app under uvicorn (same server stack as the hub: uvloop, httptools). For
every POST it reads the GraphQL request's variables `k` and `n`, runs the SQL the hub
runs for that query through an asyncpg pool (statements are prepared once per
connection by asyncpg's statement cache), and answers with the rows shaped like the
hub's GraphQL answer, serialised by orjson (dates as ISO 8601 strings). No GraphQL,
no auth, no policy, no audit. GET /healthz answers 200.

    python bench/floor_app.py --port 8101 --dsn postgresql://postgres@127.0.0.1:5432/hub_bench
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import asyncpg
import orjson
import uvicorn

SQL = (
    "SELECT nik, nama, jenis_kelamin, tanggal_lahir, kecamatan, kelurahan, pekerjaan"
    " FROM penduduk WHERE kecamatan = $1 ORDER BY nik LIMIT $2"
)
KEYS = ("nik", "nama", "jenisKelamin", "tanggalLahir", "kecamatan", "kelurahan", "pekerjaan")
# SQLAlchemy's default pool for the hub's source: 5 kept, 10 more on demand.
POOL_MIN, POOL_MAX = 5, 15
JSON_HEADERS = [(b"content-type", b"application/json")]

Scope = dict[str, Any]
Message = dict[str, Any]


class Floor:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.http(scope, receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(self.dsn, min_size=POOL_MIN, max_size=POOL_MAX)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["method"] != "POST":
            await respond(send, 200, b'{"status":"ok"}')
            return
        body = await read_body(receive)
        variables = orjson.loads(body)["variables"]
        answer = await self.penduduk(str(variables["k"]), int(variables["n"]))
        await respond(send, 200, answer)

    async def penduduk(self, kecamatan: str, first: int) -> bytes:
        assert self.pool is not None
        rows = await self.pool.fetch(SQL, kecamatan, first + 1)  # one more: "is there a next page"
        nodes = [dict(zip(KEYS, row, strict=True)) for row in rows[:first]]
        return orjson.dumps({"data": {"dukcapil": {"penduduk": {"nodes": nodes}}}})


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


app = Floor(os.environ.get("FLOOR_DSN", "postgresql://postgres@127.0.0.1:5432/hub_bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--dsn", default=app.dsn)
    args = parser.parse_args()
    app.dsn = args.dsn
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
