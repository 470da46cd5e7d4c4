"""The GraphQL schema of a catalog: the `Query` root, one namespace per OPD, and the
hub's own fields (hub/gql/static.py). Dataset fields resolve through the steps of
hub/gql/pipeline.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema

from hub.catalog import Catalog, CatalogError
from hub.gql import pipeline
from hub.gql.catalog_types import build_listing
from hub.gql.dataset_types import Audience, DatasetTypes, build_dataset_types
from hub.gql.namespaces import Resolver, Resolvers, build_namespaces
from hub.gql.reserved import check_graphql_names
from hub.gql.static import static_fields


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
        return lambda _source, info, **args: pipeline.read(types, t, info, args)

    def match(t: DatasetTypes) -> Resolver:
        return lambda _source, info, records: pipeline.match(t, info, records)

    def aggregate(t: DatasetTypes) -> Resolver:
        return lambda _source, info, **args: pipeline.aggregate(types, t, info, args)

    listing = build_listing(catalog, audience)
    resolvers = Resolvers(read, match, aggregate)
    fields: dict[str, GraphQLField] = build_namespaces(catalog, types, resolvers, default_first)
    # the public holds no key: it has no accesses to list
    fields |= static_fields(listing, with_transparency=audience is None)
    query = GraphQLObjectType("Query", fields)
    return HubSchema(GraphQLSchema(query), types)
