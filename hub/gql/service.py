"""One GraphQL request: parse (cached), validate (cached, with limits), execute, and
turn every error into a coded one (docs/design.md §7)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    execute,
    parse,
    specified_rules,
    validate,
)
from graphql.validation.validate import ValidationAbortedError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.admission import Doorkeeper
from hub.audit.ledger import Ledger
from hub.cursor import Cursors
from hub.errors import HubError, Internal
from hub.filter_size import FilterBudget
from hub.gql import fast_path
from hub.gql.executor import HubExecutor
from hub.gql.groups import GroupBudget
from hub.gql.limits import TOO_COMPLEX, Limits
from hub.gql.pipeline import MatchLimits
from hub.gql.schema import HubSchema
from hub.policy.decisions import Policy
from hub.settings import Settings
from hub.sources import Calls
from hub.store.guesses import Digests, GuessBook
from hub.store.quotas import QuotaBook

log = logging.getLogger("hub.graphql")


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    sources: Calls
    cursors: Cursors
    max_first: int
    subject: str
    policy: Policy
    ledger: Ledger
    store: AsyncEngine
    filters: FilterBudget
    guesses: GuessBook
    digests: Digests
    quotas: QuotaBook
    limits: MatchLimits
    disclosure_key: str
    groups: GroupBudget


# Query text the caches may hold, counted in characters. A parsed document (or the errors
# that refused it, which point into it) holds about one object per character; 1,000 cached
# documents of 4,900 tokens were 890 MB and ~5 s of event-loop stop per full collection.
DOCUMENT_CACHE_CHARS = 250_000


class _Lru(OrderedDict[str, Any]):
    """The `size` most recently used entries, keyed by query text, whose keys together hold
    at most `chars` characters; a key longer than that is not kept at all."""

    def __init__(self, size: int, chars: int) -> None:
        super().__init__()
        self.size = size
        self.chars = chars
        self.held = 0
        self.evicted = 0  # entries dropped to stay within the bounds: > 0 once the cache is full
        self.report: Callable[[int], None] = _unwatched  # told of each change (hub/metrics.py)

    def put(self, key: str, value: Any) -> None:
        if len(key) > self.chars:
            return
        if key in self:
            self.held -= len(key)
        self[key] = value
        self.move_to_end(key)
        self.held += len(key)
        dropped = 0
        while len(self) > self.size or self.held > self.chars:
            old, _ = self.popitem(last=False)
            self.held -= len(old)
            dropped += 1
        self.evicted += dropped
        self.report(dropped)

    def unwatch(self) -> None:
        self.report = _unwatched


def _unwatched(dropped: int) -> None:
    pass


@dataclass(frozen=True)
class Ran:
    """A request's answer, and its operation's name as the caller gave it or as the
    document's only operation has it (for the audit record)."""

    answer: dict[str, Any]
    operation: str | None


class GraphQLService:
    """Runs requests against one schema; caches parsed and validated documents."""

    def __init__(self, schema: HubSchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
        self.limits = Limits(settings.max_depth, settings.max_aliases, settings.max_fields)
        self._documents = _Lru(1000, DOCUMENT_CACHE_CHARS)  # query text -> DocumentNode or list of errors
        self._layouts = _Lru(1000, DOCUMENT_CACHE_CHARS)  # (operation, query) -> fast_path.Layout or False
        self._seen = Doorkeeper()  # query texts asked before: only they are kept
        self.fast = True  # off: every document through graphql-core's executor (tests compare)

    def caches(self) -> dict[str, _Lru]:
        """The bounded caches by name, for /metrics."""
        return {"documents": self._documents, "layouts": self._layouts}

    def document(self, query: str) -> DocumentNode | list[GraphQLError]:
        cached = self._documents.get(query)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        result: DocumentNode | list[GraphQLError]
        try:
            document = parse(query, max_lexical_tokens=self.settings.max_tokens)
            errors = self.limits.check(document) or validate(self.schema.schema, document, specified_rules)
            result = [_coded(e) for e in errors] or document
        except GraphQLSyntaxError as e:
            if "tokens" in e.message and "more than" in e.message:
                e.extensions = TOO_COMPLEX
            result = [e]
        if self._seen.again(query):  # kept from its second request: see adapters/admission.py
            self._documents.put(query, result)
        return result

    async def run(
        self,
        ctx: RequestContext,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> Ran:
        document = self.document(query)
        if isinstance(document, list):
            refused = {"errors": [format_error(e, ctx.request_id) for e in document]}
            return Ran(refused, operation_name or None)
        operation = operation_name or _only_name(document)
        plan = self.layout(query, document, operation_name)
        if plan is not None:
            data, errors = await fast_path.execute(self.schema.schema, plan, ctx, variables)
            return Ran(_answer(data, errors, ctx.request_id), operation)
        outcome = execute(
            self.schema.schema,
            document,
            context_value=ctx,
            variable_values=variables,
            operation_name=operation_name,
            executor_class=HubExecutor,
        )
        result = await outcome if isawaitable(outcome) else outcome
        return Ran(_answer(result.data, result.errors or [], ctx.request_id), operation)

    def layout(
        self, query: str, document: DocumentNode, operation_name: str | None
    ) -> fast_path.Layout | None:
        if not self.fast:
            return None
        key = f"{operation_name or ''}\0{query}"
        found = self._layouts.get(key)
        if found is None:
            found = fast_path.layout(self.schema.schema, document, operation_name) or False
            if query in self._documents:  # asked before, as the document cache decided
                self._layouts.put(key, found)
        return found if isinstance(found, fast_path.Layout) else None


def _only_name(document: DocumentNode) -> str | None:
    names = [d.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode) and d.name]
    return names[0] if len(names) == 1 else None


def _coded(error: GraphQLError) -> GraphQLError:
    """graphql-core's bare "Validation aborted." (comparing the fields of one name in a
    selection set, pairwise, went over its budget; or fragments nest too deep for
    Python's recursion limit) as QUERY_TOO_COMPLEX, saying why."""
    if not isinstance(error, ValidationAbortedError) or error.message != "Validation aborted.":
        return error  # after 100 errors it aborts too, saying so
    message = (
        "Query is too complex to validate: fields of one name repeated too often in one "
        "set of braces, or fragments nested too deep."
    )
    return GraphQLError(message, extensions=TOO_COMPLEX)


def _answer(data: dict[str, Any] | None, errors: list[GraphQLError], request_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if errors:
        out["errors"] = [format_error(e, request_id) for e in errors]
    if data is not None or any(e.path for e in errors):
        out["data"] = data  # execution began: null when the root itself was nulled
    return out


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    original = error.original_error
    extensions: dict[str, Any]
    if isinstance(original, HubError):
        message, extensions = original.message, {**original.extensions, "code": original.code}
        if isinstance(original, Internal):
            log.error("request %s: internal error at %s: %s", request_id, error.path, original.detail)
    elif original is None or isinstance(original, GraphQLError):
        message = error.message
        extensions = {"code": (error.extensions or {}).get("code", "BAD_USER_INPUT")}
    else:
        log.error("request %s: internal error at %s", request_id, error.path, exc_info=original)
        message = f"Internal error; quote request id {request_id} to the hub's operators."
        extensions = {"code": "INTERNAL"}
    extensions["requestId"] = request_id
    out: dict[str, Any] = {"message": message, "extensions": extensions}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = error.path
    return out
