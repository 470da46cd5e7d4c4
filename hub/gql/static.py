"""The hand-written Query fields: `catalog`, `me` and, for callers with a key,
`myAccesses` and `accessesToMyData`. Every schema has them beside the OPD namespaces;
hub/gql/reserved.py keeps a catalog from generating their names."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLField, GraphQLNonNull

from hub.gql.catalog_types import Subject, catalog_type, subject_type
from hub.gql.transparency import transparency_fields


def static_fields(listing: Any, with_transparency: bool) -> dict[str, GraphQLField]:
    """The fields, `catalog` answering with `listing` (what the audience may see)."""
    fields = {
        "catalog": GraphQLField(
            GraphQLNonNull(catalog_type()),  # type: ignore[arg-type]
            resolve=lambda *_: listing,
            description="The OPDs, their datasets and fields, and what you may do with each.",
        ),
        "me": GraphQLField(
            GraphQLNonNull(subject_type()),  # type: ignore[arg-type]
            resolve=lambda _s, info: Subject(id=info.context.subject),
            description="Who the hub takes you for.",
        ),
    }
    if with_transparency:
        fields |= transparency_fields()
    return fields
