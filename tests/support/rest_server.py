"""A small REST API over the test regency's residents, for the rest adapter's tests.

Every listing route filters by the query parameters `kecamatan` and `nik` (push-down)
and counts the requests and records it served, so tests can see what crossed the wire.
Record shapes:
- flat: the resident's columns, `status_hidup` for `is_alive`, dates as ISO text, `saldo`
  as a string;
- nested (`/nested/page`): `alamat.kecamatan`, `lahir.tanggal`, `status.hidup` ("true" or
  "false"), `saldo` as a JSON number, inside `{"data": {"items": [...]}}`.

Misbehaving routes live under `/broken/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import Counter
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

HANG_SECONDS = 5.0  # a hanging request ends by itself after this, or at shutdown


def flat(p: dict[str, Any]) -> dict[str, Any]:
    born = p["tanggal_lahir"]
    return {
        "nik": p["nik"],
        "nama": p["nama"],
        "kecamatan": p["kecamatan"],
        "tanggal_lahir": born.isoformat() if born else None,
        "status_hidup": p["is_alive"],
        "tinggi": p["tinggi"],
        "saldo": str(p["saldo"]),
        "anak": p["anak"],
    }


def nested(p: dict[str, Any]) -> dict[str, Any]:
    born = p["tanggal_lahir"]
    return {
        "nik": p["nik"],
        "nama": p["nama"],
        "alamat": {"kecamatan": p["kecamatan"], "negara": "ID"},
        "lahir": {"tanggal": born.isoformat() if born else None},
        "status": {"hidup": "true" if p["is_alive"] else "false"},
        "tinggi": p["tinggi"],
        "saldo": float(p["saldo"]),
        "anak": p["anak"],
    }


class RestServer:
    """The app and what it has seen; `reset()` between tests."""

    def __init__(self, people: list[dict[str, Any]]) -> None:
        self.people = people
        self.requests: Counter[str] = Counter()  # route path -> requests
        self.served: Counter[str] = Counter()  # route path -> records sent
        self.stop = asyncio.Event()
        self.app = Starlette(
            routes=[
                Route("/", lambda _r: JSONResponse({"service": "kependudukan"})),
                Route("/flat/all", self.all),
                Route("/flat/page", self.page),
                Route("/flat/offset", self.offset),
                Route("/flat/next", self.next),
                Route("/nested/page", self.nested_page),
                Route("/broken/{what}", self.broken),
            ]
        )

    def reset(self) -> None:
        self.requests.clear()
        self.served.clear()

    def _select(self, request: Request, shape: Any = flat) -> list[dict[str, Any]]:
        self.requests[request.url.path] += 1
        q = request.query_params
        return [shape(p) for p in self.people if all(p[k] == q[k] for k in ("kecamatan", "nik") if k in q)]

    def _send(self, request: Request, items: list[dict[str, Any]], body: Any) -> Response:
        self.served[request.url.path] += len(items)
        return JSONResponse(body)

    async def all(self, request: Request) -> Response:
        items = self._select(request)
        return self._send(request, items, items)

    async def page(self, request: Request) -> Response:
        rows = self._select(request)
        page, size = int(request.query_params["page"]), int(request.query_params["size"])
        items = rows[(page - 1) * size : page * size]
        pages = math.ceil(len(rows) / size)
        return self._send(request, items, {"data": items, "meta": {"page": page, "pages": pages}})

    async def offset(self, request: Request) -> Response:
        rows = self._select(request)
        start, limit = int(request.query_params["offset"]), int(request.query_params["limit"])
        items = rows[start : start + limit]
        return self._send(request, items, {"results": items, "count": len(rows)})

    async def next(self, request: Request) -> Response:
        """Pages of 60 behind an opaque cursor; next links alternate absolute and relative."""
        rows = self._select(request)
        start = int(request.query_params.get("cursor", "0"))
        items = rows[start : start + 60]
        link: str | None = None
        if start + 60 < len(rows):
            query = f"cursor={start + 60}" + "".join(
                f"&{k}={v}" for k, v in request.query_params.items() if k != "cursor"
            )
            page = start // 60
            link = str(request.url.replace(query=query)) if page % 2 else f"next?{query}"
        return self._send(request, items, {"items": items, "links": {"next": link}})

    async def nested_page(self, request: Request) -> Response:
        rows = self._select(request, nested)
        page, size = int(request.query_params["page"]), int(request.query_params["size"])
        items = rows[(page - 1) * size : page * size]
        return self._send(request, items, {"data": {"items": items}})

    async def broken(self, request: Request) -> Response:
        what = request.path_params["what"]
        self.requests[request.url.path] += 1
        seen = self.requests[request.url.path]
        items = [flat(p) for p in self.people[:3]]
        match what:
            case "status":
                return PlainTextResponse("Traceback: secret-internal-detail", status_code=500)
            case "json":
                return Response(b'{"data": [{"nik": ', media_type="application/json")
            case "html":
                return Response(b"<html>secret-internal-detail</html>", media_type="text/html")
            case "hang":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), HANG_SECONDS)
                return JSONResponse({"data": []})
            case "flaky":
                if seen <= 2:
                    return PlainTextResponse("busy", status_code=503)
                return JSONResponse({"data": items})
            case "missing":
                return PlainTextResponse("no such thing", status_code=404)
            case "loop":  # the next link points back at the page itself
                return JSONResponse({"items": items, "links": {"next": "/broken/loop"}})
            case "same":  # ignores `page`: the same full page forever
                return JSONResponse({"data": [flat(p) for p in self.people[:10]]})
            case "elsewhere":  # a next link to another origin
                return JSONResponse({"items": items, "links": {"next": "http://127.0.0.1:1/steal"}})
            case "redirect":  # redirects are not followed: they could carry the headers elsewhere
                return Response(status_code=302, headers={"location": "/flat/all"})
            case "norecords":
                return JSONResponse({"rows": items})
            case "notlist":
                return JSONResponse({"data": {"nik": "1"}})
            case "notobject":
                return JSONResponse({"data": [items[0], "secret-internal-detail"]})
            case "badvalue":
                return JSONResponse({"data": [items[0], {**items[1], "anak": "secret-internal-detail"}]})
        return PlainTextResponse("unknown", status_code=404)
