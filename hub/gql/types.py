"""GraphQL types generated from the catalog (DESIGN §4), built once per catalog load.

Generated types are plain graphql-core objects: building them costs microseconds,
where strawberry's `create_type` costs milliseconds per type, and a regency's catalog
has hundreds of datasets. Hand-written types (the catalog listing) are strawberry's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
)

from hub.catalog import Catalog, Dataset, FieldSpec, RelationshipSpec
from hub.gql.scalars import SCALARS
from hub.names import camel, pascal

SortDirection = GraphQLEnumType(
    "SortDirection", {"ASC": "ASC", "DESC": "DESC"}, description="Sort order of one field."
)

PageInfo = GraphQLObjectType(
    "PageInfo",
    {
        "hasNextPage": GraphQLField(GraphQLNonNull(GraphQLBoolean)),
        "endCursor": GraphQLField(GraphQLString, description="Pass as `after` for the next page."),
    },
)

_COMPARABLE = ("lt", "lte", "gt", "gte")


def _filter_input(type_: str, scalar: GraphQLScalarType) -> GraphQLInputObjectType:
    one = GraphQLInputField(scalar)
    many = GraphQLInputField(GraphQLList(GraphQLNonNull(scalar)))
    fields: dict[str, GraphQLInputField] = {"eq": one, "neq": one}
    if type_ != "boolean":
        fields |= {"in": many, "nin": many}
        fields |= {op: one for op in _COMPARABLE}
    fields["isNull"] = GraphQLInputField(GraphQLBoolean, description="true: only nulls; false: no nulls")
    if type_ == "string":
        fields["like"] = GraphQLInputField(
            GraphQLString, description="Case-insensitive pattern: `%` any run, `_` one character."
        )
    return GraphQLInputObjectType(f"{scalar.name}Filter", fields)


FILTERS: dict[str, GraphQLInputObjectType] = {t: _filter_input(t, s) for t, s in SCALARS.items()}


@dataclass
class DatasetTypes:
    """The generated types of one dataset and the GraphQL -> catalog name maps."""

    dataset: Dataset
    node: GraphQLObjectType
    where: GraphQLInputObjectType
    order_by: GraphQLInputObjectType
    connection: GraphQLObjectType
    fields: dict[str, str] = field(default_factory=dict)  # gql name -> catalog field
    relationships: dict[str, tuple[str, RelationshipSpec]] = field(default_factory=dict)


Resolver = Callable[..., Any]


def _node_fields(ds: Dataset, types: dict[str, DatasetTypes]) -> Callable[[], dict[str, GraphQLField]]:
    def thunk() -> dict[str, GraphQLField]:
        out: dict[str, GraphQLField] = {}
        for name, spec in ds.fields.items():
            out[camel(name)] = GraphQLField(SCALARS[spec.type], description=_describe(spec))
        for name, rel in ds.spec.relationships.items():
            target = types[rel.to].node
            gql_type = GraphQLList(GraphQLNonNull(target)) if rel.many else target
            out[camel(name)] = GraphQLField(gql_type, description=rel.description or f"Rows of {rel.to}.")
        return out

    return thunk


def _describe(spec: FieldSpec) -> str:
    text = f"[{spec.classification}]"
    return f"{text} {spec.description}" if spec.description else text


def _dataset_types(ds: Dataset, types: dict[str, DatasetTypes]) -> DatasetTypes:
    name = pascal(ds.opd, ds.name)
    node = GraphQLObjectType(name, _node_fields(ds, types), description=ds.spec.description)
    where: GraphQLInputObjectType

    def where_fields() -> dict[str, GraphQLInputField]:
        out = {camel(f): GraphQLInputField(FILTERS[s.type]) for f, s in ds.fields.items()}
        out["and"] = GraphQLInputField(GraphQLList(GraphQLNonNull(where)), description="All must hold.")
        out["or"] = GraphQLInputField(GraphQLList(GraphQLNonNull(where)), description="Any must hold.")
        out["not"] = GraphQLInputField(where, description="Must not hold.")
        return out

    where = GraphQLInputObjectType(f"{name}Where", where_fields)
    order_by = GraphQLInputObjectType(
        f"{name}OrderBy",
        {camel(f): GraphQLInputField(SortDirection) for f in ds.fields},
        description="Exactly one field per object; list several objects to sort by several fields.",
    )
    edge = GraphQLObjectType(
        f"{name}Edge",
        {"cursor": GraphQLField(GraphQLNonNull(GraphQLString)), "node": GraphQLField(GraphQLNonNull(node))},
    )
    connection = GraphQLObjectType(
        f"{name}Connection",
        {
            "nodes": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(node)))),
            "edges": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(edge)))),
            "pageInfo": GraphQLField(GraphQLNonNull(PageInfo)),
            "totalCount": GraphQLField(GraphQLNonNull(GraphQLInt), description="Rows matching `where`."),
        },
    )
    return DatasetTypes(
        dataset=ds,
        node=node,
        where=where,
        order_by=order_by,
        connection=connection,
        fields={camel(f): f for f in ds.fields},
        relationships={camel(r): (r, spec) for r, spec in ds.spec.relationships.items()},
    )


def build_dataset_types(catalog: Catalog) -> dict[str, DatasetTypes]:
    """Types for every dataset, keyed by `opd.dataset`."""
    types: dict[str, DatasetTypes] = {}
    for qualified, ds in catalog.datasets.items():
        types[qualified] = _dataset_types(ds, types)
    return types


def build_namespaces(
    catalog: Catalog,
    types: dict[str, DatasetTypes],
    read_resolver: Callable[[DatasetTypes], Resolver],
    default_first: int,
) -> dict[str, GraphQLField]:
    """One namespace field per OPD (`dukcapil: DukcapilQuery!`)."""
    out: dict[str, GraphQLField] = {}
    for opd, f in catalog.files.items():
        fields: dict[str, GraphQLField] = {}
        for ds in catalog.of_opd(opd):
            t = types[ds.qualified]
            fields[camel(ds.name)] = GraphQLField(
                t.connection,
                args={
                    "where": GraphQLArgument(t.where),
                    "orderBy": GraphQLArgument(GraphQLList(GraphQLNonNull(t.order_by))),
                    "first": GraphQLArgument(GraphQLInt, default_value=default_first),
                    "after": GraphQLArgument(GraphQLString),
                },
                resolve=read_resolver(t),
                description=ds.spec.title or ds.spec.description,
            )
        if not fields:
            continue
        namespace = GraphQLObjectType(pascal(opd) + "Query", fields, description=f.opd.name)
        out[camel(opd)] = GraphQLField(
            GraphQLNonNull(namespace), resolve=lambda *_: True, description=f.opd.name
        )
    return out
