"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): what a request
must carry, which media type the answer takes, and its status code.

- A POST body is `application/json` in UTF-8. Any other Content-Type, or none, is 415:
  a form or `text/plain` post, which a browser sends cross-site without asking, never
  runs a query.
- The answer is `application/graphql-response+json` when the Accept header prefers it,
  else `application/json`: also without Accept and for `*/*`, so that clients written
  before the spec keep their answers (and as graphql-http's audit expects). An Accept
  header that allows neither is 406.
- With `application/json` a GraphQL answer is 200 whatever errors it holds. With
  `application/graphql-response+json` an answer without `data` (the document does not
  parse or validate, the variables do not coerce, no such operation) is 400, or 500
  for an INTERNAL error.
- A request that is not a GraphQL request at all (body not JSON, `query` not a
  string, `variables` not an object, …) is 400 with either media type; a body over the
  limit 413; a mutation sent by GET 405.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import orjson
from graphql import GraphQLSyntaxError, OperationType, get_operation_ast, parse
from starlette.requests import Request
from starlette.responses import Response

from hub import access
from hub.errors import (
    BadUserInput,
    BodyTooLarge,
    HubError,
    MethodNotAllowed,
    NotAcceptable,
    QuotaExceeded,
    UnsupportedMediaType,
)

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
_CONTENT_TYPE = {JSON: JSON, GRAPHQL_RESPONSE: GRAPHQL_RESPONSE + "; charset=utf-8"}
# Accept headers as clients usually send them; anything else is negotiated in full.
_USUAL_ACCEPT = {"": JSON, "*/*": JSON, JSON: JSON, GRAPHQL_RESPONSE: GRAPHQL_RESPONSE}


def response_type(accept: str) -> str:
    """The media type to answer in, from the request's Accept header (NotAcceptable
    when it allows neither)."""
    found = _USUAL_ACCEPT.get(accept) or _negotiate(accept)
    if found is None:
        raise NotAcceptable(f"the Accept header allows neither {GRAPHQL_RESPONSE} nor {JSON}")
    return found


@lru_cache(maxsize=256)  # clients send a handful of distinct headers
def _negotiate(accept: str) -> str | None:
    # each type's (quality, -position): its own entry, else the best wildcard's
    ranked: dict[str, tuple[float, int]] = {}
    wildcard = (0.0, 0)
    for position, item in enumerate(accept.split(",")):
        media, _, params = item.partition(";")
        media = media.strip().lower()
        rank = (_quality(params), -position)
        if media in _CONTENT_TYPE:
            ranked.setdefault(media, rank)
        elif media in ("*/*", "application/*"):
            wildcard = max(wildcard, rank)
    # on a tie (both through one wildcard), application/json, as for `*/*`
    best = max((JSON, GRAPHQL_RESPONSE), key=lambda t: (*ranked.get(t, wildcard), t == JSON))
    return best if ranked.get(best, wildcard)[0] > 0 else None


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value)
            except ValueError:
                return 1.0
            return q if 0 <= q <= 1 else 1.0
    return 1.0


def check_content_type(content_type: str) -> None:
    """A POST body must be JSON in UTF-8 (a charset, when given, must say so)."""
    if content_type != JSON and not _is_json(content_type):
        raise UnsupportedMediaType(
            f"send the request as JSON in UTF-8: `Content-Type: {JSON}` (was {content_type or 'none'})"
        )


@lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    media, _, params = content_type.partition(";")
    if media.strip().lower() != JSON:
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() in ("utf-8", "utf8")
    return True


def answer_status(result: dict[str, Any], media_type: str) -> int:
    """200, except an answer without `data` in `application/graphql-response+json`."""
    if media_type == JSON or "data" in result:
        return 200
    internal = any(e["extensions"]["code"] == "INTERNAL" for e in result.get("errors", ()))
    return 500 if internal else 400


def json_response(
    body: Any, status: int = 200, request_id: str | None = None, media_type: str = JSON
) -> Response:
    headers = {"X-Request-Id": request_id} if request_id else None
    return Response(orjson.dumps(body), status, headers, media_type=_CONTENT_TYPE[media_type])


def error_response(error: HubError, request_id: str, media_type: str = JSON) -> Response:
    access.failed(error.code, request_id)
    ext = {**error.extensions, "code": error.code, "requestId": request_id}
    response = json_response(
        {"errors": [{"message": error.message, "extensions": ext}]}, error.status, request_id, media_type
    )
    if isinstance(error, MethodNotAllowed):
        response.headers["Allow"] = "POST"
    if isinstance(error, QuotaExceeded):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"request body is larger than {limit} bytes")
    return bytes(body)


def parse_payload(raw: bytes | dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    try:
        payload = orjson.loads(raw) if isinstance(raw, bytes) else raw
    except orjson.JSONDecodeError:
        raise BadUserInput("the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadUserInput('the body must be a JSON object: {"query": ..., "variables": {...}}')
    query, variables, name = payload.get("query"), payload.get("variables"), payload.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise BadUserInput("`query` must be a non-empty string")
    if variables is not None and not isinstance(variables, dict):
        raise BadUserInput("`variables` must be a JSON object")
    if name is not None and not isinstance(name, str):
        raise BadUserInput("`operationName` must be a string")
    extensions = payload.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadUserInput("`extensions` must be a JSON object")
    return query, variables, name or None


async def read_request(
    request: Request, limit: int, max_tokens: int
) -> tuple[str, dict[str, Any] | None, str | None]:
    """The GraphQL payload of a POST body (JSON, at most `limit` bytes) or of GET query
    parameters (not a mutation)."""
    if request.method != "GET":
        check_content_type(request.headers.get("content-type", ""))
        return parse_payload(await read_body(request, limit))
    params: dict[str, Any] = dict(request.query_params)
    for key in ("variables", "extensions"):
        if key in params:
            try:
                params[key] = orjson.loads(params[key])
            except orjson.JSONDecodeError:
                raise BadUserInput(f"`{key}` is not valid JSON") from None
    query, variables, name = parse_payload(params)
    if _is_mutation(query, name, max_tokens):
        raise MethodNotAllowed("a mutation must be sent by POST")
    return query, variables, name


def _is_mutation(query: str, name: str | None, max_tokens: int) -> bool:
    try:
        operation = get_operation_ast(parse(query, max_lexical_tokens=max_tokens), name)
    except GraphQLSyntaxError:
        return False  # reported as the request runs
    return operation is not None and operation.operation == OperationType.MUTATION


def new_request_id() -> str:
    """16 random hex digits (64 bits), as `uuid4().hex[:16]` gave, without building a UUID."""
    return os.urandom(8).hex()
