"""OpenTelemetry tracing of every HTTP request, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

The ASGI middleware of OpenTelemetry's Starlette instrumentation wraps the whole app,
outside `RequestMetrics` (hub/http/app.py), so that the GraphQL POSTs, which FrontDoor
hands to their handler past Starlette's own middleware, are traced like every other
route. Each request is one server span, named by method and route template (`POST
/graphql`, `GET /public/datasets/{opd}/{file}`), with what its access record says
(hub/access.py) as `hub.request_id`, `hub.subject`, `hub.operation`, `hub.outcome` and
`hub.source_calls`. Spans go in batches to the collector by OTLP over HTTP
(`{endpoint}/v1/traces`), under the service name `OTEL_SERVICE_NAME` (default
`opd-hub`); the other `OTEL_*` settings of the exporter and batch processor apply.

A span never carries a value: before export, every attribute not in `KEPT` is dropped
(the URL, its path and query string, client addresses, any header an `OTEL_*` setting
captures), so is an error's description, every event attribute but the exception's
type and every link's attributes. Example, the span of a confidential read as the
collector gets it:

    name "POST /graphql", kind SERVER, attributes {http.method: POST, http.route: /graphql,
    http.status_code: 200, hub.request_id: 9f1c2ab4d3e07781, hub.subject: opd:dinsos,
    hub.operation: CekPenerima, hub.outcome: ok, hub.source_calls: 2, …}

This module is imported only when tracing is on (its packages are the `tracing` extra):
without the setting the hub loads none of OpenTelemetry.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache, partial
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status
from opentelemetry.util.http import get_excluded_urls
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.access import Access, settled

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE = "opd-hub"
# the span attributes that leave the hub (old and new HTTP semantic conventions alike)
KEPT = frozenset({
    "http.method", "http.request.method", "http.route", "http.status_code", "http.response.status_code",
    "http.scheme", "url.scheme", "http.flavor", "network.protocol.version", "http.host", "http.server_name",
    "net.host.name", "net.host.port", "server.address", "server.port", "http.user_agent",
    "user_agent.original", "error.type",
})  # fmt: skip
HUB = "hub."


def traced(app: ASGIApp, routes: Sequence[BaseRoute]) -> ASGIApp:
    """`app` inside OpenTelemetry's ASGI middleware; `routes` name the spans."""
    return OpenTelemetryMiddleware(
        Noted(app),
        excluded_urls=get_excluded_urls("ASGI"),  # OTEL_PYTHON_EXCLUDED_URLS=healthz,metrics
        default_span_details=partial(span_details, routes),
        tracer_provider=provider(),
        exclude_spans=["receive", "send"],  # one span per request, not one per body chunk
    )


@cache
def provider() -> TracerProvider:
    """The process's tracer provider: one batch exporter to the collector, values dropped."""
    service = os.environ.get("OTEL_SERVICE_NAME") or SERVICE
    tracers = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    tracers.add_span_processor(BatchSpanProcessor(Scrubbed(OTLPSpanExporter())))
    return tracers


def span_details(routes: Sequence[BaseRoute], scope: Scope) -> tuple[str, dict[str, Any]]:
    """The span's name and `http.route`: the route's template, never the path itself."""
    template = next(
        (r.path for r in routes if isinstance(r, Route) and r.matches(scope)[0] != Match.NONE), None
    )
    template = template or "unknown"
    return f"{scope.get('method', '')} {template}", {"http.route": template}


class Noted:
    """Puts the access record's names and counts on the request's span as the last of the
    response goes out (the middleware ends the span there, before the request's layers
    have returned)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                seen: Access | None = scope.get("hub.access")
                if seen is not None:
                    trace.get_current_span().set_attributes(attributes(seen, status))
            await send(message)

        await self.app(scope, receive, noting)


def attributes(seen: Access, status: int) -> dict[str, str | int]:
    found = {
        "hub.request_id": seen.request_id, "hub.subject": seen.subject, "hub.operation": seen.operation,
        "hub.outcome": settled(seen, status), "hub.source_calls": seen.source_calls,
    }  # fmt: skip
    return {k: v for k, v in found.items() if v is not None}


class Scrubbed(SpanExporter):
    """Exports through `inner` each span with only the attributes in `KEPT` and `hub.*`."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([scrubbed(s) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def scrubbed(span: ReadableSpan) -> ReadableSpan:
    """`span` with the attributes in `KEPT` and `hub.*` only, of its events the exception's
    type only, and its links without attributes."""
    kept = {k: v for k, v in (span.attributes or {}).items() if k in KEPT or k.startswith(HUB)}
    events = [
        Event(e.name, {k: v for k, v in (e.attributes or {}).items() if k == "exception.type"}, e.timestamp)
        for e in span.events
    ]
    return ReadableSpan(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource, attributes=kept,
        events=events, links=[Link(link.context) for link in span.links], kind=span.kind,
        status=Status(span.status.status_code), start_time=span.start_time, end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )  # fmt: skip
