"""HTTP caching of the catalog's pages and documents: a strong `ETag` from the body,
`Cache-Control`, and `304 Not Modified` when the client already holds that body.

Example:
    >>> return cached(request, html.encode(), "text/html; charset=utf-8")
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

MAX_AGE = 300  # seconds a client or proxy may reuse a catalog page without asking again


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def cached(
    request: Request, body: bytes, media_type: str, max_age: int = MAX_AGE, status_code: int = 200
) -> Response:
    """The response, or 304 without a body when `If-None-Match` names its ETag."""
    tag = etag(body)
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={max_age}", "Vary": "Accept"}
    if status_code == 200 and _matches(request.headers.get("if-none-match", ""), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)


def _matches(header: str, tag: str) -> bool:
    """RFC 9110 weak comparison: `*`, or any listed tag equal to ours with or without W/."""
    if header.strip() == "*":
        return True
    return any(t.strip().removeprefix("W/") == tag for t in header.split(","))
