"""The root of the generated schema: one namespace field per OPD (`dukcapil:
DukcapilQuery!`), holding each of its datasets' fields as its audience may use them,
`penduduk`, `pendudukMatch` and `pendudukAggregate`, wired to their resolvers.

Example:
    >>> fields = build_namespaces(catalog, build_dataset_types(catalog), resolvers, 100)
    >>> sorted(fields)[:2]
    ['bappeda', 'bpkad']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from hub.catalog import Catalog
from hub.catalog.names import camel, pascal
from hub.gql.dataset_types import DatasetTypes, disclosure_text

Resolver = Callable[..., Any]


@dataclass(frozen=True)
class Resolvers:
    read: Callable[[DatasetTypes], Resolver]
    match: Callable[[DatasetTypes], Resolver]
    aggregate: Callable[[DatasetTypes], Resolver]


def _dataset_fields(t: DatasetTypes, resolvers: Resolvers, default_first: int) -> dict[str, GraphQLField]:
    ds = t.dataset
    out: dict[str, GraphQLField] = {}
    if t.connection is not None and t.order_by is not None and t.where is not None:
        out[camel(ds.name)] = GraphQLField(
            t.connection,
            args={
                "where": GraphQLArgument(t.where),
                "orderBy": GraphQLArgument(GraphQLList(GraphQLNonNull(t.order_by))),
                "first": GraphQLArgument(GraphQLInt, default_value=default_first),
                "after": GraphQLArgument(GraphQLString),
            },
            resolve=resolvers.read(t),
            description=ds.spec.title or ds.spec.description,
        )
    if t.match_input is not None and t.match_result is not None:
        out[camel(ds.name) + "Match"] = GraphQLField(
            GraphQLList(GraphQLNonNull(t.match_result)),
            args={"records": GraphQLArgument(GraphQLNonNull(GraphQLList(GraphQLNonNull(t.match_input))))},
            resolve=resolvers.match(t),
            description=f"Verify records against {ds.qualified}; returns only whether each record's "
            "values agree (a request compares at most HUB_MATCH_RECORDS_PER_REQUEST records, "
            "across aliases).",
        )
    if t.group is not None and t.field_enum is not None and t.aggregate_where is not None:
        out[camel(ds.name) + "Aggregate"] = GraphQLField(
            GraphQLList(GraphQLNonNull(t.group)),
            args={
                "where": GraphQLArgument(t.aggregate_where),
                "groupBy": GraphQLArgument(GraphQLList(GraphQLNonNull(t.field_enum))),
                **(
                    {"groupByRelated": GraphQLArgument(t.group_by_related)}
                    if t.group_by_related is not None
                    else {}
                ),
            },
            resolve=resolvers.aggregate(t),
            description=f"Counts and measures of {ds.qualified} (a request's aggregates answer at most "
            f"HUB_MAX_GROUPS groups together). {disclosure_text(ds)}",
        )
    return out


def build_namespaces(
    catalog: Catalog, types: dict[str, DatasetTypes], resolvers: Resolvers, default_first: int
) -> dict[str, GraphQLField]:
    """One namespace field per OPD with anything to show (`dukcapil: DukcapilQuery!`)."""
    out: dict[str, GraphQLField] = {}
    for opd, f in catalog.files.items():
        fields: dict[str, GraphQLField] = {}
        for ds in catalog.of_opd(opd):
            if ds.qualified in types:
                fields |= _dataset_fields(types[ds.qualified], resolvers, default_first)
        if fields:
            namespace = GraphQLObjectType(pascal(opd) + "Query", fields, description=f.opd.name)
            out[camel(opd)] = GraphQLField(
                GraphQLNonNull(namespace), resolve=lambda *_: True, description=f.opd.name
            )
    return out
