"""The GraphQL types every dataset's types share: the comparison filters of each scalar
(`StringFilter` for reads, `StringMatchFilter` with `eq` and `in` only for match-only
fields), the sort direction and the page info of connections.

Example:
    >>> FILTERS["date"].name, MATCH_FILTERS["string"].name
    ('DateFilter', 'StringMatchFilter')
"""

from __future__ import annotations

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
)

from hub.gql.scalars import SCALARS

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


def _filter_input(type_: str, scalar: GraphQLScalarType, equality_only: bool) -> GraphQLInputObjectType:
    one = GraphQLInputField(scalar)
    many = GraphQLInputField(GraphQLList(GraphQLNonNull(scalar)))
    if equality_only:
        return GraphQLInputObjectType(f"{scalar.name}MatchFilter", {"eq": one, "in": many})
    fields: dict[str, GraphQLInputField] = {"eq": one, "neq": one}
    if type_ != "boolean":
        fields |= {"in": many, "nin": many}
        fields |= {op: one for op in _COMPARABLE}
    # the same comparisons with another field: of this row (`hargaSatuan`), or of the row a
    # to-one relationship leads to (`ssh.harga`)
    compared = ("eq", "neq") if type_ == "boolean" else ("eq", "neq", *_COMPARABLE)
    fields |= {
        f"{op}Field": GraphQLInputField(
            GraphQLString, description=f'`{op}` another field: "name", or "relationship.name" (to-one).'
        )
        for op in compared
    }
    fields["isNull"] = GraphQLInputField(GraphQLBoolean, description="true: only nulls; false: no nulls")
    if type_ == "string":
        fields["like"] = GraphQLInputField(
            GraphQLString, description="Case-insensitive pattern: `%` any run, `_` one character."
        )
    return GraphQLInputObjectType(f"{scalar.name}Filter", fields)


FILTERS: dict[str, GraphQLInputObjectType] = {t: _filter_input(t, s, False) for t, s in SCALARS.items()}
MATCH_FILTERS: dict[str, GraphQLInputObjectType] = {t: _filter_input(t, s, True) for t, s in SCALARS.items()}
