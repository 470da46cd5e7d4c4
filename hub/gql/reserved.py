"""The GraphQL names a catalog may not generate.

An OPD's namespace field (`camel(opd id)`) and its datasets' types (`pascal(opd,
dataset)` + a suffix) share one schema with the hub's own names and with each other's.
The hub's own names are read off its static schema: the Query fields of
hub/gql/static.py, every type they reach, and the shared types a dataset's fields use
(`PageInfo`, `SortDirection`, each scalar with its `…Filter` and `…MatchFilter`). A clash
is a catalog problem naming the file and the path; `build_schema` refuses to build over
one, so that no OPD silently replaces a field or a type.
"""

from __future__ import annotations

from functools import cache

from graphql import GraphQLObjectType, GraphQLSchema

from hub.catalog import Catalog, Problem
from hub.catalog.names import camel, pascal
from hub.gql.scalars import SCALARS
from hub.gql.shared_types import FILTERS, MATCH_FILTERS, PageInfo, SortDirection
from hub.gql.static import static_fields

# the types each dataset generates, after `pascal(opd, dataset)` (hub/gql/dataset_types.py)
TYPE_SUFFIXES = ("", "Where", "AggregateWhere", "OrderBy", "Edge", "Connection", "MatchInput", "Match",
                 "Field", "Group", "GroupKey", "Sum", "Avg", "Min", "Max")  # fmt: skip


@cache
def static_names() -> tuple[frozenset[str], frozenset[str]]:
    """(Query field names, type names) of the schema a catalog without OPDs would have,
    with the shared types that only datasets bring in."""
    shared = [PageInfo, SortDirection, *SCALARS.values(), *FILTERS.values(), *MATCH_FILTERS.values()]
    query = GraphQLObjectType("Query", static_fields(None, with_transparency=True))
    schema = GraphQLSchema(query, types=shared)
    types = frozenset(name for name in schema.type_map if not name.startswith("__"))
    return frozenset(query.fields), types


def check_graphql_names(catalog: Catalog) -> list[Problem]:
    """Problems where the catalog's generated names clash with the hub's or each other's."""
    fields, static_types = static_names()
    problems: list[Problem] = []
    namespaces: dict[str, str] = {}
    types = dict.fromkeys(static_types, "a built-in type")
    for opd, f in catalog.files.items():
        path = catalog.paths[opd]
        field = camel(opd)
        clash = (
            f"{opd!r} is reserved: its namespace {field!r} is a built-in Query field" if field in fields
            else f"namespace {field!r} clashes with OPD {namespaces[field]}" if field in namespaces
            else None
        )  # fmt: skip
        if clash:
            problems.append(Problem(path, "opd.id", clash))
            continue  # its types clash too; one problem says it
        namespaces[field] = f"{opd!r} in {path}"
        owners = [(pascal(opd) + "Query", "opd.id")]
        owners += [(pascal(opd, ds) + end, f"datasets.{ds}") for ds in f.datasets for end in TYPE_SUFFIXES]
        for name, where in owners:
            if name not in types:
                types[name] = f"{where} in {path}"
                continue
            problems.append(
                Problem(path, where, f"generated GraphQL type {name!r} clashes with {types[name]}")
            )
    return problems
