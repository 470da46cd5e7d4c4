"""The access record: what the log says of one HTTP request answered, never a value.

The outermost ASGI layer (`RequestMetrics` in hub/http/app.py) opens an `Access` per
request and makes it current; whoever learns something of the request notes it there
(the GraphQL route its request id, subject and operation, `answer` its outcome, every
call to a source its count), and the layer writes it once the response is sent, at INFO
under the logger `hub.access`:

    {"time": "2026-05-04T08:12:09.331Z", "level": "INFO", "logger": "hub.access",
     "message": "POST /graphql 200", "request_id": "9f1c2ab4d3e07781", "subject": "opd:dinsos",
     "operation": "CekPenerima", "route": "/graphql", "method": "POST", "status": 200,
     "duration_ms": 12.4, "outcome": "ok", "source_calls": 2}

It holds names and counts only: no query text, variables, query string, header or
answer. Routes that run no GraphQL have no request id (null) and their route as the
operation; a request refused before its key was checked has no subject.
`HUB_LOG_LEVEL=WARNING` (or the `hub.access` logger set above INFO) switches it off.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass

log = logging.getLogger("hub.access")


@dataclass(slots=True)
class Access:
    route: str  # a label of few values (hub/http/app.py `route_label`), never the raw path
    operation: str | None = None
    request_id: str | None = None
    subject: str | None = None
    outcome: str | None = None  # ok, partial, limited or an error code; unnoted: ok below 400, else error
    source_calls: int = 0


CURRENT: ContextVar[Access | None] = ContextVar("hub_access", default=None)


def current() -> Access | None:
    """The access record of the request being answered (None outside one)."""
    return CURRENT.get()


def source_called() -> None:
    """One more call to a source for the current request."""
    seen = CURRENT.get()
    if seen is not None:
        seen.source_calls += 1


def failed(code: str, request_id: str | None = None) -> None:
    """The request ends with the error `code` (and the request id its answer carries)."""
    seen = CURRENT.get()
    if seen is not None:
        seen.outcome = code
        if request_id is not None:
            seen.request_id = request_id


def settled(seen: Access, status: int) -> str:
    """The outcome noted, else `ok` below HTTP 400 and `error` from there."""
    return seen.outcome or ("ok" if status < 400 else "error")


def write(seen: Access, method: str, status: int, seconds: float) -> None:
    """The access record, once the response is sent (cheap to skip: check `enabled` first)."""
    fields = {
        "request_id": seen.request_id, "subject": seen.subject, "operation": seen.operation,
        "route": seen.route, "method": method, "status": status,
        "duration_ms": round(seconds * 1000, 2), "outcome": seen.outcome, "source_calls": seen.source_calls,
    }  # fmt: skip
    # made and handled here: `log.info` would also walk the stack for the caller's line
    args = (method, seen.route, status)
    log.handle(
        log.makeRecord(log.name, logging.INFO, __file__, 0, "%s %s %s", args, None, extra={"fields": fields})
    )


def enabled() -> bool:
    return log.isEnabledFor(logging.INFO)
