"""Closed-loop HTTP load: N workers, each sending its next request when the last
answered, for a fixed time. A process of its own, so it shares an event loop with
neither server.

Reads one JSON spec on stdin, writes one JSON result on stdout:

    {"url": "...", "headers": {...}, "bodies": ["...", ...], "concurrency": 8,
     "warmup": 1.0, "duration": 8.0, "max_requests": 1000000}

Worker i sends bodies i, i+1, i+2, … (cyclically), so the rotation is the same for
every target. Requests that start during the warm-up or end after the deadline are
not counted. An answer counts as an error unless it is HTTP 200 and a body that
begins with `{"data":` (the hub puts `errors` first when there are any).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

OK_PREFIX = b'{"data":'


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    sent: int = 0
    answered: int = 0  # every answer, warm-up and late ones included
    first_error: str | None = None


@dataclass(frozen=True)
class Spec:
    url: str
    headers: dict[str, str]
    bodies: list[bytes]
    concurrency: int
    warmup: float
    duration: float
    max_requests: int

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Spec:
        return cls(
            url=str(raw["url"]),
            headers={"content-type": "application/json", **raw.get("headers", {})},
            bodies=[b.encode() for b in raw["bodies"]],
            concurrency=int(raw.get("concurrency", 8)),
            warmup=float(raw.get("warmup", 1.0)),
            duration=float(raw["duration"]),
            max_requests=int(raw.get("max_requests", 1_000_000)),
        )


async def worker(
    index: int, client: httpx.AsyncClient, spec: Spec, window: tuple[float, float], tally: Tally
) -> None:
    measure_from, until = window
    turn = index
    while tally.sent < spec.max_requests:
        started = time.perf_counter()
        if started >= until:
            return
        body = spec.bodies[turn % len(spec.bodies)]
        turn += 1
        tally.sent += 1
        response = await client.post(spec.url, content=body, headers=spec.headers)
        ended = time.perf_counter()
        tally.answered += 1
        if started < measure_from or ended > until:
            continue
        if response.status_code == 200 and response.content.startswith(OK_PREFIX):
            tally.latencies.append(ended - started)
        else:
            tally.errors += 1
            tally.first_error = tally.first_error or f"HTTP {response.status_code}: {response.text[:300]}"


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
    limits = httpx.Limits(max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency)
    tally = Tally()
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        cpu_before = cpu_seconds()
        start = time.perf_counter()
        window = (start + spec.warmup, start + spec.warmup + spec.duration)
        workers = [worker(i, client, spec, window, tally) for i in range(spec.concurrency)]
        async with asyncio.timeout(spec.warmup + spec.duration + 60):
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
