"""The GraphQL schema of a catalog: the `Query` root, one namespace per OPD, `catalog`.

Dataset fields resolve through the hub's own pipeline: translate the selection and
arguments into a plan, run it, write the subtree (see `executor.Precompleted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from graphql import GraphQLField, GraphQLNonNull, GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

from hub.access import pairs, restrict
from hub.catalog import Catalog
from hub.cursor import Cursors
from hub.errors import Forbidden
from hub.execute import run_read
from hub.gql.catalog_types import build_listing, catalog_type
from hub.gql.executor import Precompleted
from hub.gql.selection import collect
from hub.gql.shape import shape_connection
from hub.gql.translate import Query, read_plan
from hub.gql.types import DatasetTypes, Resolver, build_dataset_types, build_namespaces
from hub.policy import Policy
from hub.sources import Sources


class Context(Protocol):
    """What resolvers need from a request (see `hub.gql.run.RequestContext`)."""

    @property
    def sources(self) -> Sources: ...
    @property
    def cursors(self) -> Cursors: ...
    @property
    def max_first(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def policy(self) -> Policy: ...


@dataclass(frozen=True)
class HubSchema:
    schema: GraphQLSchema
    types: dict[str, DatasetTypes]


def build_schema(catalog: Catalog, default_first: int = 100) -> HubSchema:
    types = build_dataset_types(catalog)

    def read_resolver(t: DatasetTypes) -> Resolver:
        async def resolve(_source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Precompleted:
            ctx: Context = info.context
            q = Query(info.fragments, info.variable_values, ctx.max_first)
            sel = collect(info.field_nodes, q.fragments, q.variables)
            plan = read_plan(types, t, sel, args, q, ctx.cursors)
            plan = restrict(plan, ctx.policy.decide(ctx.subject, pairs(plan)))
            shape = shape_connection(types, t, sel, q.fragments, q.variables, ctx.cursors, plan)
            result = await run_read(ctx.sources, plan)
            denied = [(d.path, Forbidden(d.message), d.nodes) for d in shape.denied]
            return Precompleted(shape.write(result), denied)

        return resolve

    listing = build_listing(catalog)
    fields: dict[str, GraphQLField] = build_namespaces(catalog, types, read_resolver, default_first)
    fields["catalog"] = GraphQLField(
        GraphQLNonNull(catalog_type()),  # type: ignore[arg-type]
        resolve=lambda *_: listing,
        description="The OPDs, their datasets and fields.",
    )
    query = GraphQLObjectType("Query", fields)
    return HubSchema(GraphQLSchema(query), types)
