"""HTTP caching of the catalog's pages and documents: a strong `ETag` from the body,
`Cache-Control`, and `304 Not Modified` when the client already holds that body.

Example:
    >>> return cached(request, html.encode(), "text/html; charset=utf-8")
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType

from starlette.requests import Request
from starlette.responses import Response

NONE: Mapping[str, str] = MappingProxyType({})
MAX_AGE = 300  # seconds a client or proxy may reuse a catalog page without asking again


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def cached(
    request: Request, body: bytes, media_type: str, max_age: int = MAX_AGE, extra: Mapping[str, str] = NONE
) -> Response:
    """The response, or 304 without a body when `If-None-Match` names its ETag; `extra`
    headers go on both."""
    tag = etag(body)
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={max_age}", "Vary": "Accept", **extra}
    if _matches(request.headers.get("if-none-match", ""), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _matches(header: str, tag: str) -> bool:
    """RFC 9110 weak comparison: `*`, or any listed tag equal to ours with or without W/."""
    if header.strip() == "*":
        return True
    return any(t.strip().removeprefix("W/") == tag for t in header.split(","))
