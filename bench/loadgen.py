"""Closed-loop HTTP load: N workers, each sending its next request when the last
answered, for a fixed time. A process of its own, so it shares an event loop with
none of the servers.

Reads one JSON spec on stdin, writes one JSON result on stdout:

    {"url": "...", "headers": {...}, "bodies": ["...", ...], "concurrency": 8,
     "warmup": 1.0, "duration": 8.0, "max_requests": 1000000, "ok_prefix": "{\\"data\\":"}

Worker i sends bodies i, i+1, i+2, … (cyclically), so the rotation is the same for
every target. Requests that start during the warm-up or end after the deadline are
not counted. An answer counts as an error unless it is HTTP 200 and its body begins
with `ok_prefix` (default `{"data":`; the hub puts `errors` first when there are any).

The client is meant to cost the servers' machine as little as possible: plain
asyncio protocols (on uvloop when installed), one keep-alive HTTP/1.1 connection per
worker, every request's bytes built once before the run, and answers parsed only as
far as the status line, the framing headers (Content-Length, or chunked transfer
encoding) and the first bytes of the body.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

OK_PREFIX = '{"data":'
HEAD_END = b"\r\n\r\n"
UNTIL_CLOSE = -1  # a response framed by closing the connection
CHUNKED = -2


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    sent: int = 0
    answered: int = 0  # every answer, warm-up and late ones included
    first_error: str | None = None

    def error(self, text: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or text


@dataclass(frozen=True)
class Spec:
    host: str
    port: int
    requests: list[bytes]  # complete HTTP requests, head and body
    concurrency: int
    warmup: float
    duration: float
    max_requests: int
    ok_prefix: bytes

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Spec:
        url = urlsplit(str(raw["url"]))
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"only http:// URLs: {raw['url']!r}")
        port = url.port or 80
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        headers = {"content-type": "application/json", **raw.get("headers", {})}
        head = f"POST {path} HTTP/1.1\r\nhost: {url.hostname}:{port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        requests = []
        for b in raw["bodies"]:
            body = b.encode()
            requests.append(f"{head}content-length: {len(body)}\r\n\r\n".encode() + body)
        return cls(
            host=url.hostname,
            port=port,
            requests=requests,
            concurrency=int(raw.get("concurrency", 8)),
            warmup=float(raw.get("warmup", 1.0)),
            duration=float(raw["duration"]),
            max_requests=int(raw.get("max_requests", 1_000_000)),
            ok_prefix=str(raw.get("ok_prefix", OK_PREFIX)).encode(),
        )


class Answer:
    """One response: its status, whether the body starts as it should, and (only when
    it does not) the body's first bytes, for the error message."""

    __slots__ = ("ok", "sample", "status")

    def __init__(self, status: int, ok: bool, sample: bytes) -> None:
        self.status, self.ok, self.sample = status, ok, sample


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self, ok_prefix: bytes) -> None:
        self.ok_prefix = ok_prefix
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Answer] | None = None
        self.closed = False
        self.keep_alive = True
        # The response being read: status, where its body starts, its length (or framing).
        self.status = 0
        self.body_at = 0
        self.length = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.status and self.length == UNTIL_CLOSE:
            self._finish(len(self.buf))
        else:
            waiter.set_exception(ConnectionError(f"connection closed mid-response ({exc})"))

    def request(self, raw: bytes) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.status = 0
        self.transport.write(raw)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None or self.waiter.done():
            return
        if not self.status and not self._head():
            return
        if self.length >= 0:
            end = self.body_at + self.length
            if len(self.buf) >= end:
                self._finish(end)
        elif self.length == CHUNKED:
            chunked_end = self._chunked_end()
            if chunked_end is not None:
                self._finish(chunked_end)

    def _head(self) -> bool:
        at = self.buf.find(HEAD_END)
        if at < 0:
            return False
        lines = bytes(self.buf[:at]).split(b"\r\n")
        self.status = int(lines[0].split(b" ", 2)[1])
        self.body_at = at + 4
        self.length = UNTIL_CLOSE
        self.keep_alive = not lines[0].startswith(b"HTTP/1.0")
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                self.length = int(value)
            elif name == b"transfer-encoding" and value.endswith(b"chunked"):
                self.length = CHUNKED
            elif name == b"connection":
                self.keep_alive = value != b"close"
        return True

    def _chunked_end(self) -> int | None:
        """Where the chunked body ends, or None if it has not all arrived. Rewrites the
        buffer's body into plain bytes so the prefix check sees the content."""
        pos, content = self.body_at, bytearray()
        while True:
            line_end = self.buf.find(b"\r\n", pos)
            if line_end < 0:
                return None
            size = int(bytes(self.buf[pos:line_end]).split(b";")[0], 16)
            start = line_end + 2
            if size == 0:  # last chunk, then (no) trailers and an empty line
                trailer_end = self.buf.find(b"\r\n\r\n", line_end)
                if self.buf[start : start + 2] == b"\r\n":
                    end = start + 2
                elif trailer_end >= 0:
                    end = trailer_end + 4
                else:
                    return None
                self.buf[self.body_at : end] = content
                return self.body_at + len(content)
            if len(self.buf) < start + size + 2:
                return None
            content += self.buf[start : start + size]
            pos = start + size + 2

    def _finish(self, end: int) -> None:
        ok = self.status == 200 and self.buf.startswith(self.ok_prefix, self.body_at)
        sample = b"" if ok else bytes(self.buf[self.body_at : min(end, self.body_at + 300)])
        answer = Answer(self.status, ok, sample)
        del self.buf[:end]
        assert self.waiter is not None
        self.waiter.set_result(answer)
        if not self.keep_alive and self.transport is not None:
            self.transport.close()


async def connect(spec: Spec) -> Connection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: Connection(spec.ok_prefix), spec.host, spec.port)
    return conn


async def worker(index: int, spec: Spec, window: tuple[float, float], tally: Tally) -> None:
    measure_from, until = window
    turn = index
    requests, count = spec.requests, len(spec.requests)
    conn: Connection | None = None
    while tally.sent < spec.max_requests:
        started = time.perf_counter()
        if started >= until:
            break
        raw = requests[turn % count]
        turn += 1
        tally.sent += 1
        try:
            if conn is None or conn.closed:
                conn = await connect(spec)
            answer = await conn.request(raw)
        except OSError as e:  # ConnectionError included
            tally.answered += 1
            tally.error(f"{type(e).__name__}: {e}")
            conn = None
            continue
        ended = time.perf_counter()
        tally.answered += 1
        if started < measure_from or ended > until:
            continue
        if answer.ok:
            tally.latencies.append(ended - started)
        else:
            tally.error(f"HTTP {answer.status}: {answer.sample.decode(errors='replace')}")
    if conn is not None and conn.transport is not None:
        conn.transport.close()


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (0 when there are none)."""
    if not ordered:
        return 0.0
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(spec: Spec) -> dict[str, Any]:
    tally = Tally()
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    window = (start + spec.warmup, start + spec.warmup + spec.duration)
    workers = [worker(i, spec, window, tally) for i in range(spec.concurrency)]
    # A request still unanswered 30 s after the deadline: the server hangs; fail the run.
    async with asyncio.timeout(spec.warmup + spec.duration + 30):
        await asyncio.gather(*workers)
    cpu = cpu_seconds() - cpu_before
    wall = time.perf_counter() - start
    ordered = sorted(tally.latencies)
    return {
        "requests": len(ordered),
        "answered": tally.answered,
        "errors": tally.errors,
        "first_error": tally.first_error,
        "duration_s": spec.duration,
        "throughput": len(ordered) / spec.duration,
        "p50_ms": percentile(ordered, 50) * 1000,
        "p90_ms": percentile(ordered, 90) * 1000,
        "p99_ms": percentile(ordered, 99) * 1000,
        "max_ms": (ordered[-1] if ordered else 0.0) * 1000,
        "client_cpu": cpu / wall if wall else 0.0,
        "client_cpu_ms_per_req": cpu * 1000 / tally.answered if tally.answered else 0.0,
    }


def main() -> None:
    spec = Spec.parse(json.load(sys.stdin))
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
