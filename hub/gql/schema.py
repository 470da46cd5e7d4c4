"""The GraphQL schema of a catalog: the `Query` root, one namespace per OPD, `catalog`.

Dataset fields resolve through the hub's own pipeline: translate the selection and
arguments into a plan, run it, write the subtree (see `executor.Precompleted`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

from hub.audit.ledger import Ledger, count_rows
from hub.catalog import Catalog, CatalogError
from hub.cursor import Cursors
from hub.errors import Forbidden
from hub.execute import run_aggregate, run_match, run_read
from hub.filter_size import FilterBudget
from hub.gql.catalog_types import build_listing
from hub.gql.executor import Precompleted
from hub.gql.memo import NEVER, StepMemo
from hub.gql.ops import aggregate_plan, match_plan, write_groups, write_matches
from hub.gql.reserved import check_graphql_names
from hub.gql.selection import collect
from hub.gql.shape import shape_connection
from hub.gql.static import static_fields
from hub.gql.translate import Query, read_plan
from hub.gql.types import Audience, DatasetTypes, Resolver, Resolvers, build_dataset_types, build_namespaces
from hub.plan import NodePlan, ReadPlan
from hub.policy.access import (
    aggregate_pairs,
    aggregate_used,
    check_aggregate,
    check_match,
    count_pairs,
    filter_shape,
    match_pairs,
    pairs,
    restrict,
)
from hub.policy.decisions import Pair, Policy
from hub.sources import Calls


class Context(Protocol):
    """What resolvers need from a request (see `hub.gql.run.RequestContext`)."""

    @property
    def sources(self) -> Calls: ...
    @property
    def cursors(self) -> Cursors: ...
    @property
    def max_first(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def policy(self) -> Policy: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def filters(self) -> FilterBudget: ...


def restrict_for(
    ctx: Context, plan: ReadPlan, t: DatasetTypes, memo: StepMemo
) -> tuple[ReadPlan, frozenset[Pair]]:
    """The plan the caller's decisions leave (FORBIDDEN for a filter or sort it may not
    use), and the pairs that plan uses. The outcome depends on the policy in force, the
    subject and the plan's structure, never on filter values: a cached document's step
    keeps it under exactly those, so that no decision is reused for another policy version
    or subject."""
    policy = ctx.policy
    key = (policy, policy.current_version(), ctx.subject, plan.node, plan.sort, filter_shape(plan.where))

    def decide() -> tuple[NodePlan, frozenset[Pair]]:
        asked = pairs(plan) | count_pairs(plan.dataset, t.dataset.fields)
        restricted = restrict(plan, policy.decide(ctx.subject, asked))
        return restricted.node, frozenset(pairs(restricted))

    node, used = memo.decided(key, decide)
    return replace(plan, node=node), used


@dataclass(frozen=True)
class HubSchema:
    schema: GraphQLSchema
    types: dict[str, DatasetTypes]


def build_schema(catalog: Catalog, default_first: int = 100, audience: Audience = None) -> HubSchema:
    """The schema for an audience (None: every field; the policy decides per request).
    Raises CatalogError where the catalog's names would take the hub's own."""
    if problems := check_graphql_names(catalog):
        raise CatalogError(problems)
    types = build_dataset_types(catalog, audience)

    def read(t: DatasetTypes) -> Resolver:
        async def resolve(_source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Precompleted:
            ctx: Context = info.context
            q = Query(info.fragments, info.variable_values, ctx.max_first)
            memo: StepMemo = getattr(info, "memo", NEVER)  # set on the fast path (hub/gql/fast.py)
            sel = memo.get("selection", lambda: collect(info.field_nodes, q.fragments, q.variables))
            plan = read_plan(types, t, sel, args, q, ctx.cursors, memo)
            ctx.filters.check(plan.where, plan.dataset)
            plan, used = restrict_for(ctx, plan, t, memo)
            ctx.ledger.require_purpose(used)
            shape = memo.get(
                ("shape", plan.node, plan.order),
                lambda: shape_connection(types, t, sel, q.fragments, q.variables, ctx.cursors, plan),
            )
            result = await run_read(ctx.sources, plan)
            ctx.ledger.note(used, rows=count_rows(plan.node, result.rows))
            denied = [(d.path, Forbidden(d.message), d.nodes) for d in shape.denied]
            return Precompleted(shape.write(result, plan.where), denied)

        return resolve

    def match(t: DatasetTypes) -> Resolver:
        async def resolve(_source: Any, info: GraphQLResolveInfo[Any], records: list[Any]) -> Precompleted:
            ctx: Context = info.context
            plan = match_plan(t, records)
            used = match_pairs(plan)
            check_match(plan, ctx.policy.decide(ctx.subject, used))
            ctx.ledger.require_purpose(used)
            answers = await run_match(ctx.sources, plan)
            ctx.ledger.note(used, records=len(plan.records))
            sel = collect(info.field_nodes, info.fragments, info.variable_values)
            return Precompleted(write_matches(t, sel, answers))

        return resolve

    def aggregate(t: DatasetTypes) -> Resolver:
        async def resolve(_source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Precompleted:
            ctx: Context = info.context
            q = Query(info.fragments, info.variable_values, ctx.max_first)
            sel = collect(info.field_nodes, q.fragments, q.variables)
            plan = aggregate_plan(t, args, sel, q)
            ctx.filters.check(plan.where, plan.dataset)
            fields = list(t.dataset.fields)
            allowed = ctx.policy.decide(ctx.subject, aggregate_pairs(plan, fields))
            exempt = check_aggregate(plan, fields, allowed)
            used = {(f"{plan.dataset}.{f}", "aggregate") for f in aggregate_used(plan)}
            ctx.ledger.require_purpose(used)
            rows = await run_aggregate(ctx.sources, plan)
            at, threshold = len(plan.group_by), t.dataset.spec.min_group_size
            shown = [int(r[at]) for r in rows if exempt or int(r[at]) >= threshold]
            ctx.ledger.note(used, rows=sum(shown), released=bool(shown))
            return Precompleted(write_groups(t, plan, sel, rows, exempt, q))

        return resolve

    listing = build_listing(catalog, audience)
    resolvers = Resolvers(read, match, aggregate)
    fields: dict[str, GraphQLField] = build_namespaces(catalog, types, resolvers, default_first)
    # the public holds no key: it has no accesses to list
    fields |= static_fields(listing, with_transparency=audience is None)
    query = GraphQLObjectType("Query", fields)
    return HubSchema(GraphQLSchema(query), types)
