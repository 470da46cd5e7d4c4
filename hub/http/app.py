"""The Starlette application: routes, request limits, and the hub's life cycle.

POST /graphql         GraphQL over HTTP, with an API key (hub/http/graphql_http.py; GET serves
                      GraphiQL to a browser)
POST /public/graphql  the same without a key, for what `public` may see
GET  /healthz         the process answers (200 even while a source is down)
GET  /readyz          every source answers (503 naming those that do not; 503 draining
                      after SIGTERM with HUB_DRAIN_SECONDS, hub/http/drain.py)
GET  /public/datasets/<opd>/<dataset>.csv|.ndjson|.json  what the public may read, streamed
                      (hub/http/downloads.py)
GET  /, /public/, /public/<opd>/<dataset>[/agregat]  the open-data pages: the catalog, a
                      dataset's fields, preview and downloads, counts per group
                      (hub/http/pages.py; /static/portal.css their stylesheet)
GET|POST /api/3/action/<action>, /api/action/<action>  CKAN's action API, read-only, over
                      what the public may see of the catalog (hub/http/ckan.py)
GET  /catalog.jsonld, /catalog.ttl, /catalog  the open catalog as DCAT-AP 3 (hub/http/dcat.py)
GET  /static/graphiql/<version>/<file>  GraphiQL's scripts and styles, shipped with the hub
                      (hub/http/ide.py)

Every route but /healthz, /readyz, /metrics and /static/* is rate limited first
(hub/http/ratelimit.py): per API key on /graphql, per client address elsewhere.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub import access
from hub.access import Access
from hub.catalog import Catalog
from hub.errors import (
    AuditUnavailable,
    BadUserInput,
    HubError,
    Internal,
    StoreUnavailable,
    Unauthenticated,
)
from hub.gql.service import GraphQLService
from hub.http.answer import answer, recorded
from hub.http.ckan import action as ckan_action
from hub.http.dcat import catalog_jsonld, catalog_negotiated, catalog_turtle
from hub.http.downloads import download
from hub.http.drain import drain_on_sigterm
from hub.http.graphql_http import (
    JSON,
    answer_status,
    error_response,
    json_response,
    new_request_id,
    read_request,
    response_type,
)
from hub.http.hub import PUBLIC, Hub
from hub.http.ide import asset, ide_page
from hub.http.pages import aggregate_page, catalog_page, dataset_page, home, no_page, opd_page, portal_css
from hub.http.ratelimit import RateLimit
from hub.logs import keep_values_out
from hub.metrics import CONTENT_TYPE
from hub.policy.decisions import Policy
from hub.settings import Settings
from hub.sources import Sources
from hub.store.clients import Caller, authenticate

log = logging.getLogger("hub.app")
TRACING = "OTEL_EXPORTER_OTLP_ENDPOINT"  # set: every request traced (hub/http/tracing.py)
keep_values_out()


async def caller(hub: Hub, request: Request) -> Caller:
    """The subject behind the request's API key; UNAUTHENTICATED without a valid one."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Unauthenticated("send an API key: `Authorization: Bearer <key>` (or use /public/graphql)")
    try:
        found = await authenticate(hub.keys, key.strip())
    except StoreUnavailable as e:
        log.error("hub store unavailable while checking a key: %s", e)
        raise AuditUnavailable(
            "the hub's store is unavailable, so keys cannot be checked; try again shortly"
        ) from None
    if found is None:
        raise Unauthenticated("the API key is unknown, revoked or expired")
    return found


async def serve_graphql(request: Request, service: GraphQLService, public: bool) -> Response:
    """limits -> auth -> GraphQL (parse, validate, plan, policy, execute) -> JSON."""
    hub: Hub = request.app.state.hub
    request_id = new_request_id()
    # a browser opening the endpoint gets the IDE (the query string is parsed for GETs only)
    accept = request.headers.get("accept", "")
    if request.method == "GET" and "text/html" in accept and "query" not in request.query_params:
        return ide_page()
    media_type = JSON
    try:
        media_type = response_type(accept)
        query, variables, name = await read_request(
            request, hub.settings.max_body_bytes, hub.settings.max_tokens
        )
        who = Caller(PUBLIC, None) if public else await caller(hub, request)
        seen = access.current()
        if seen is not None:
            seen.request_id, seen.subject = request_id, who.subject
        purpose = read_purpose(request)
    except HubError as e:
        return error_response(e, request_id, media_type)
    except ClientDisconnect:
        return Response(status_code=400)
    answered = await answer(hub, service, who, request_id, purpose, query, variables, name)
    if isinstance(answered, HubError):
        return error_response(answered, request_id, media_type)
    result, entry = answered
    status = answer_status(result, media_type)
    if entry is None:
        return json_response(result, status, request_id, media_type)
    # Serialised now, while the rows are still in the CPU's caches, and only sent once the
    # record is durable: no byte of the answer leaves before its audit record.
    response = json_response(result, status, request_id, media_type)
    del result, answered
    refused = await recorded(hub, entry)
    return response if refused is None else error_response(refused, request_id, media_type)


def read_purpose(request: Request) -> str | None:
    purpose = request.headers.get("x-hub-purpose", "").strip()
    if len(purpose) > 200 or any(ord(c) < 32 for c in purpose):
        raise BadUserInput("X-Hub-Purpose must be one line of at most 200 characters")
    return purpose or None


async def graphql_endpoint(request: Request) -> Response:
    return await serve_graphql(request, request.app.state.hub.graphql, public=False)


async def public_endpoint(request: Request) -> Response:
    return await serve_graphql(request, request.app.state.hub.public_graphql(), public=True)


async def metrics_endpoint(request: Request) -> Response:
    hub: Hub = request.app.state.hub  # in a thread: under workers, it may wait for a lock
    return Response(await run_in_threadpool(hub.metrics.render), media_type=CONTENT_TYPE)


async def healthz(_request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    if request.app.state.draining:  # SIGTERM came (hub/http/drain.py): out of the balancer
        return json_response({"status": "draining"}, 503)
    hub: Hub = request.app.state.hub
    sources = await hub.sources.health()
    ready = all(s["state"] == "ok" for s in sources.values())
    return json_response(
        {"status": "ok" if ready else "unavailable", "sources": sources}, 200 if ready else 503
    )


# the open-data routes, labelled by kind so that the label's values stay few
KINDS = (
    ("/public/datasets/", "/public/datasets"),
    ("/api/3/action/", "/api/action"),
    ("/api/action/", "/api/action"),
    ("/catalog", "/catalog"),
    ("/public/", "/public/pages"),
    ("/static/", "/static"),
)


def route_label(path: str, exact: frozenset[str]) -> str:
    if path in exact:
        return path
    return next((label for prefix, label in KINDS if path.startswith(prefix)), "other")


class RequestMetrics:
    """Counts and times every HTTP request by route and status, and writes its access
    record (hub/access.py), which it makes current for the layers below and keeps in the
    scope as `hub.access` for those above (pure ASGI, no buffering)."""

    ROUTES = frozenset({"/graphql", "/public/graphql", "/healthz", "/readyz", "/metrics"})
    GRAPHQL = frozenset({"/graphql", "/public/graphql"})  # their operation is the request's

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_label(scope["path"], self.ROUTES)
        seen = scope["hub.access"] = Access(route, None if route in self.GRAPHQL else route)
        noted = access.CURRENT.set(seen)
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            access.CURRENT.reset(noted)
            took = time.perf_counter() - started
            seen.outcome = access.settled(seen, status)
            hub: Hub | None = getattr(scope["app"].state, "hub", None)
            if hub is not None:
                m = hub.metrics
                m.child(m.requests, route, str(status)).inc()
                m.child(m.request_seconds, route).observe(took)
            if access.enabled():
                access.write(seen, scope["method"], status, took)


class FrontDoor:
    """GraphQL POSTs go straight to their handler; everything else (GET with GraphiQL,
    health, metrics, lifespan) through Starlette's router. Starlette's middleware,
    routing and handler wrapping cost about 5% of a 100-row answer's CPU."""

    LANES = {"/graphql": False, "/public/graphql": True}  # path -> public

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        public = self.LANES.get(scope["path"]) if scope["type"] == "http" else None
        if public is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app
        hub: Hub = self.app.state.hub
        try:
            service = hub.public_graphql() if public else hub.graphql
            response = await serve_graphql(Request(scope, receive), service, public)
        except Exception:
            request_id = new_request_id()
            log.exception("request %s: internal error", request_id)
            message = f"Internal error; quote request id {request_id} to the hub's operators."
            response = error_response(Internal(message), request_id)
        await response(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    hub: Hub | None = None,
    loaded: tuple[Catalog, Policy, Sources] | None = None,
    started: Callable[[], None] | None = None,
) -> ASGIApp:
    """The ASGI app. Give `hub` to serve one already started (tests); else it starts with
    the app, from `loaded` catalog, policy and sources when the caller has checked them
    already. `started` is called once the hub has started, before the first request."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.hub = hub or await Hub.start(settings, *(loaded or (None, None, None)))
        drain_on_sigterm(app.state, settings.drain_seconds)
        if started is not None:
            started()
        try:
            yield
        finally:
            if hub is None:
                await app.state.hub.close()

    app = Starlette(
        routes=[
            Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
            Route("/public/graphql", public_endpoint, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/static/graphiql/{version}/{name}", asset),
            Route("/public/datasets/{opd}/{file}", download),
            Route("/", home),
            Route("/public/", catalog_page),
            Route("/public/{opd}/{dataset}", dataset_page),
            Route("/public/{opd}/{dataset}/agregat", aggregate_page),
            Route("/public/{opd}", opd_page),
            Route("/public/{rest:path}", no_page),
            Route("/static/portal.css", portal_css),
            Route("/catalog.jsonld", catalog_jsonld),
            Route("/catalog.ttl", catalog_turtle),
            Route("/catalog", catalog_negotiated),
            Route("/api/3/action/{action}", ckan_action, methods=["GET", "POST"]),
            Route("/api/action/{action}", ckan_action, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.draining = False
    if hub is not None:
        app.state.hub = hub
    served = RequestMetrics(RateLimit(FrontDoor(app), app))
    if not os.environ.get(TRACING):
        return served
    from hub.http.tracing import traced  # only now: no OpenTelemetry loaded for who does not trace

    return traced(served, app.routes)
