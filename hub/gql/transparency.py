"""Transparency: who accessed an OPD's data, and what a caller itself accessed.

    myAccesses(dataset, since, until, first, after)        every subject: its own records
    accessesToMyData(dataset, since, until, first, after)  an OPD: records touching its
                                                            datasets, showing only the
                                                            pairs on those datasets
Newest first; `after` is the `endCursor` of the previous page.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
import strawberry
from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInt,
    GraphQLResolveInfo,
    GraphQLString,
)

from hub.errors import BadUserInput, Forbidden
from hub.gql.scalars import DateTime
from hub.store.db import AuditAccess, AuditRecord

MAX_PAGE = 500


@strawberry.type(description="One (object, action) pair an access used.")
class AccessPair:
    object: str
    action: str


@strawberry.type(description="One audited request: who, when, what, why; never the values.")
class AccessRecord:
    seq: int
    at: str = strawberry.field(description="ISO 8601, UTC")
    subject: str
    operation: str | None
    purpose: str | None
    datasets: list[str]
    pairs: list[AccessPair]
    rows: int
    records: int
    outcome: str


@strawberry.type
class AccessPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A page of audit records, newest first.")
class AccessPage:
    nodes: list[AccessRecord]
    page_info: AccessPageInfo


@strawberry.type
class _Root:
    page: AccessPage


def _record(row: Any, only_opd: str | None) -> AccessRecord:
    pairs = [p.rsplit(":", 1) for p in json.loads(row.pairs)]
    datasets = json.loads(row.datasets)
    if only_opd is not None:
        pairs = [p for p in pairs if p[0].split(".", 1)[0] == only_opd]
        datasets = [d for d in datasets if d.split(".", 1)[0] == only_opd]
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=dt.UTC)
    return AccessRecord(
        seq=row.seq, at=at.isoformat(), subject=row.subject, operation=row.operation, purpose=row.purpose,
        datasets=datasets, pairs=[AccessPair(object=o, action=a) for o, a in pairs],
        rows=row.rows, records=row.records, outcome=row.outcome,
    )  # fmt: skip


async def _page(info: GraphQLResolveInfo[Any], args: dict[str, Any], mine: bool) -> AccessPage:
    ctx = info.context
    first = args.get("first", 50)
    if first is None or not 0 <= first <= MAX_PAGE:
        raise BadUserInput(f"`first` must be between 0 and {MAX_PAGE}")
    dataset = args.get("dataset")
    if dataset is not None and (len(dataset) > 200 or any(ord(c) < 32 for c in dataset)):
        # a NUL made the PostgreSQL store refuse the statement: INTERNAL (found by the soak)
        raise BadUserInput("`dataset` must be a dataset's name, `opd.dataset`")
    log = AuditRecord.__table__
    stmt = sa.select(log)
    only_opd = None
    if mine:
        stmt = stmt.where(log.c.subject == ctx.subject)
    else:
        if not ctx.subject.startswith("opd:"):
            raise Forbidden("only an OPD's own systems may list accesses to its data")
        only_opd = ctx.subject.removeprefix("opd:")
        touched = sa.select(AuditAccess.seq).where(AuditAccess.opd == only_opd)
        if dataset:
            touched = touched.where(AuditAccess.dataset == dataset)
        stmt = stmt.where(log.c.seq.in_(touched))
    if mine and dataset:
        stmt = stmt.where(log.c.seq.in_(sa.select(AuditAccess.seq).where(AuditAccess.dataset == dataset)))
    if args.get("since") is not None:
        stmt = stmt.where(log.c.at >= _utc(args["since"], "since"))
    if args.get("until") is not None:
        stmt = stmt.where(log.c.at < _utc(args["until"], "until"))
    if args.get("after") is not None:
        after = args["after"]
        if not (after.isascii() and after.isdigit() and len(after) <= 18):
            raise BadUserInput("`after` must be an endCursor from a previous page")
        stmt = stmt.where(log.c.seq < int(after))
    async with ctx.store.connect() as conn:
        rows = (await conn.execute(stmt.order_by(log.c.seq.desc()).limit(first + 1))).all()
    nodes = [_record(r, only_opd) for r in rows[:first]]
    end = str(nodes[-1].seq) if nodes else None
    return AccessPage(nodes=nodes, page_info=AccessPageInfo(has_next_page=len(rows) > first, end_cursor=end))


def _utc(t: dt.datetime, name: str) -> dt.datetime:
    """The store keeps UTC; a time without an offset is taken as UTC. A time whose offset
    moves it past year 1 or 9999 (`0001-01-01T00:00:00+14:00`) has no UTC form."""
    try:
        return t.astimezone(dt.UTC) if t.tzinfo else t.replace(tzinfo=dt.UTC)
    except OverflowError:
        raise BadUserInput(f"`{name}` lies outside the years 1 to 9999 in UTC") from None


def transparency_fields() -> dict[str, GraphQLField]:
    page_type = strawberry.Schema(query=_Root)._schema.type_map["AccessPage"]
    args = {
        "dataset": GraphQLArgument(GraphQLString, description="`opd.dataset`"),
        "since": GraphQLArgument(DateTime),
        "until": GraphQLArgument(DateTime),
        "first": GraphQLArgument(GraphQLInt, default_value=50),
        "after": GraphQLArgument(GraphQLString),
    }

    async def mine(_source: Any, info: GraphQLResolveInfo[Any], **kw: Any) -> AccessPage:
        return await _page(info, kw, mine=True)

    async def to_my_data(_source: Any, info: GraphQLResolveInfo[Any], **kw: Any) -> AccessPage:
        return await _page(info, kw, mine=False)

    return {
        # Nullable, so that a refusal nulls this field alone and the rest of the answer stands.
        "myAccesses": GraphQLField(
            page_type, args=args, resolve=mine,  # type: ignore[arg-type]
            description="Your own audited requests, newest first.",
        ),
        "accessesToMyData": GraphQLField(
            page_type, args=args, resolve=to_my_data,  # type: ignore[arg-type]
            description="An OPD's systems only: audited requests that touched your datasets, newest first.",
        ),
    }  # fmt: skip
