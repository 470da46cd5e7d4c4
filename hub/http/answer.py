"""One GraphQL request run for a caller, as every route runs it (/graphql,
/public/graphql and the open-data pages): the result, and the audit record that must be
durable before any non-public value of it is released.

Example:
    >>> answered = await answer(hub, hub.public_graphql(), Caller(PUBLIC, None), rid, None, q, None, None)
    >>> result, entry = answered  # else a HubError that refuses it whole
    >>> refused = await recorded(hub, entry) if entry else None
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub import access
from hub.access import Access
from hub.audit.ledger import Ledger
from hub.audit.log import Entry, query_hash
from hub.errors import AuditUnavailable, AuditWriteFailed, HubError
from hub.filter_size import FilterBudget
from hub.gql.groups import GroupBudget
from hub.gql.pipeline import MatchLimits
from hub.gql.service import GraphQLService, RequestContext
from hub.http.hub import Hub
from hub.sources import Lanes
from hub.store.clients import Caller


async def answer(
    hub: Hub, service: GraphQLService, who: Caller, request_id: str, purpose: str | None,
    query: str, variables: dict[str, Any] | None, name: str | None,
) -> tuple[dict[str, Any], Entry | None] | HubError:  # fmt: skip
    """Run one GraphQL request: its result, and the audit entry that must be recorded
    before any of it is released (None when it releases only public values); or the
    error that refuses it whole."""
    ledger = Ledger(hub.catalog, purpose)
    ctx = RequestContext(
        request_id,
        Lanes(hub.sources, hub.settings.source_calls_per_request),
        hub.cursors,
        hub.settings.max_first,
        who.subject,
        hub.policy,
        ledger,
        hub.store,
        FilterBudget(hub.filter_limits),
        hub.guesses,
        hub.digests,
        hub.quotas,
        MatchLimits(
            hub.settings.match_records_per_request,
            hub.settings.match_quota if who.match_quota is None else who.match_quota,
        ),
        hub.disclosure_key,
        GroupBudget(hub.settings.max_groups),
    )
    ran = await service.run(ctx, query, variables, name)
    seen = access.current()
    if seen is not None:
        _noted(seen, who, request_id, ran.operation, ledger, ran.answer)
    if ledger.over_quota is not None:  # refused whole: nothing of it leaves
        return ledger.over_quota
    if ledger.limited:
        hub.metrics.child(hub.metrics.match_limited, who.subject).inc(ledger.limited)
    if not ledger.non_public:
        return ran.answer, None
    return ran.answer, audit_entry(hub, ctx, who, ran.operation, query, variables, ran.answer)


async def recorded(hub: Hub, entry: Entry) -> HubError | None:
    """Record the entry; the error to answer instead when the audit log cannot be written."""
    try:
        await hub.audit.record(entry)
    except AuditWriteFailed:
        message = "the audit log cannot be written, so no non-public data is released; try again shortly"
        return AuditUnavailable(message)
    return None


def outcome(ledger: Ledger, result: dict[str, Any]) -> str:
    """`limited` when a guess budget withheld or refused something, `partial` for any other
    error, else `ok`."""
    if ledger.limited:
        return "limited"
    return "partial" if result.get("errors") else "ok"


def _noted(
    seen: Access, who: Caller, request_id: str, operation: str | None, ledger: Ledger, result: dict[str, Any]
) -> None:
    """What the access record says of the request: the first error's code when nothing
    ran (the document did not parse or validate, the variables did not coerce), else its
    `outcome`. Each route runs one request (an open-data page too), so the request id is
    this one's unless a refusal set it first (`access.failed`)."""
    seen.subject = who.subject
    seen.request_id = seen.request_id or request_id
    if operation is not None:
        seen.operation = operation
    errors: list[dict[str, Any]] = result.get("errors") or []
    ran = not errors or "data" in result
    seen.outcome = outcome(ledger, result) if ran else errors[0]["extensions"]["code"]


def audit_entry(
    hub: Hub, ctx: RequestContext, who: Caller, operation: str | None,
    query: str, variables: dict[str, Any] | None, result: dict[str, Any],
) -> Entry:  # fmt: skip
    ledger = ctx.ledger
    return Entry(
        at=dt.datetime.now(dt.UTC), request_id=ctx.request_id, subject=who.subject, client_id=who.client_id,
        operation=operation, query_hash=query_hash(hub.audit_key, query, variables), purpose=ledger.purpose,
        pairs=tuple(sorted(f"{obj}:{action}" for obj, action in ledger.pairs)), datasets=ledger.datasets(),
        rows=ledger.rows, records=ledger.records, outcome=outcome(ledger, result),
        disclosure=tuple(sorted(ledger.disclosure)),
    )  # fmt: skip
