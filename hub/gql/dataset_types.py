"""GraphQL types generated from the catalog (docs/design.md §4), built once per catalog load.

Generated types are plain graphql-core objects: building them costs microseconds,
where strawberry's `create_type` costs milliseconds per type, and a regency's catalog
has hundreds of datasets. Hand-written types (the catalog listing) are strawberry's.

Each schema is built for an audience: the private schema shows every field (the
policy decides per request), the public one only what `public` may read, match or
aggregate, so that no other field's name appears in its introspection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)
from graphql.type import definition

from hub.catalog import NUMERIC_TYPES, Catalog, Dataset, FieldSpec, RelationshipSpec
from hub.catalog.names import camel, pascal
from hub.gql.scalars import SCALARS
from hub.gql.shared_types import FILTERS, MATCH_FILTERS, PageInfo, SortDirection


def _check_each_name_once() -> None:
    """graphql-core checks every type, field and argument name character by character in
    Python each time one is defined: 120,000 checks of ~100 distinct names for a
    500-dataset catalog, a third of the time to build its schema. Remember the names
    that passed; any other name (or a non-string) still goes through graphql-core's check
    and fails as it would."""
    check = definition.assert_name  # type: ignore[attr-defined]  # what definition.py calls
    passed: set[str] = set()

    def assert_name(name: str) -> str:
        if type(name) is str and name in passed:
            return name
        passed.add(check(name))
        return name

    if getattr(check, "__module__", "") == "graphql.type.assert_name":  # not wrapped yet
        definition.assert_name = assert_name  # type: ignore[attr-defined]


_check_each_name_once()

FLOAT = SCALARS["float"]
ORDERED_TYPES = frozenset({*NUMERIC_TYPES, "date", "datetime", "string"})  # what min and max take


@dataclass(frozen=True)
class Access:
    """The fields of one dataset an audience may read, match and aggregate."""

    read: frozenset[str]
    match: frozenset[str]
    aggregate: frozenset[str]

    @classmethod
    def everything(cls, ds: Dataset) -> Access:
        names = frozenset(ds.fields)
        return cls(names, names, names)

    def filterable(self) -> frozenset[str]:
        return self.read | self.match


Audience = Mapping[str, Access] | None  # None: every field of every dataset


@dataclass
class DatasetTypes:
    """The generated types of one dataset and the GraphQL -> catalog name maps."""

    dataset: Dataset
    access: Access
    node: GraphQLObjectType
    where: GraphQLInputObjectType | None = None
    order_by: GraphQLInputObjectType | None = None
    connection: GraphQLObjectType | None = None
    match_input: GraphQLInputObjectType | None = None
    match_result: GraphQLObjectType | None = None
    field_enum: GraphQLEnumType | None = None
    group: GraphQLObjectType | None = None
    group_key: GraphQLObjectType | None = None  # the `group` of a group
    group_by_related: GraphQLInputObjectType | None = None  # groupByRelated: to-one relationships
    aggregate_where: GraphQLInputObjectType | None = None
    related_one: GraphQLInputObjectType | None = None  # filters through a to-one relationship
    related_list: GraphQLInputObjectType | None = None  # ... through a to-many relationship
    fields: dict[str, str] = field(default_factory=dict)  # gql name -> catalog field
    relationships: dict[str, tuple[str, RelationshipSpec]] = field(default_factory=dict)


def _describe(spec: FieldSpec) -> str:
    text = f"[{spec.classification}]"
    return f"{text} {spec.description}" if spec.description else text


def _scalars(
    ds: Dataset, names: frozenset[str], as_type: Callable[[FieldSpec], Any]
) -> dict[str, GraphQLField]:
    return {
        camel(f): GraphQLField(as_type(spec), description=_describe(spec))
        for f, spec in ds.fields.items()
        if f in names
    }


def _node(ds: Dataset, name: str, access: Access, types: dict[str, DatasetTypes]) -> GraphQLObjectType:
    def thunk() -> dict[str, GraphQLField]:
        out = _scalars(ds, access.read, lambda s: SCALARS[s.type])
        for rel_name, rel in ds.spec.relationships.items():
            if rel.to in types and _joinable(ds, rel, access, types[rel.to].access):
                target = types[rel.to].node
                gql_type = GraphQLList(GraphQLNonNull(target)) if rel.many else target
                out[camel(rel_name)] = GraphQLField(
                    gql_type, description=rel.description or f"Rows of {rel.to}."
                )
        return out

    return GraphQLObjectType(name, thunk, description=ds.spec.description)


def _joinable(ds: Dataset, rel: RelationshipSpec, own: Access, target: Access) -> bool:
    return _join_usable(rel, own, target) and bool(target.read)


def _join_usable(rel: RelationshipSpec, own: Access, target: Access) -> bool:
    """Whether the audience may use both join fields (compare or read them)."""
    ((mine, theirs),) = rel.join.items()
    return mine in own.filterable() and theirs in target.filterable()


def _where(
    ds: Dataset,
    name: str,
    full: frozenset[str],
    equality: frozenset[str],
    related: Callable[[], dict[str, GraphQLInputField]] = dict,
) -> GraphQLInputObjectType:
    """Filters on `full` fields with every operator and on `equality` fields with eq/in,
    and the `related` relationship filters."""
    where: GraphQLInputObjectType

    def where_fields() -> dict[str, GraphQLInputField]:
        out = {
            camel(f): GraphQLInputField((FILTERS if f in full else MATCH_FILTERS)[s.type])
            for f, s in ds.fields.items()
            if f in full or f in equality
        }
        out |= related()
        out["and"] = GraphQLInputField(GraphQLList(GraphQLNonNull(where)), description="All must hold.")
        out["or"] = GraphQLInputField(GraphQLList(GraphQLNonNull(where)), description="Any must hold.")
        out["not"] = GraphQLInputField(where, description="Must not hold.")
        return out

    where = GraphQLInputObjectType(name, where_fields)
    return where


def _joined(
    t: DatasetTypes, types: Mapping[str, DatasetTypes]
) -> Iterator[tuple[str, RelationshipSpec, DatasetTypes]]:
    """(gql name, relationship, target) of each relationship whose target the audience
    sees and whose join fields it may use."""
    for gql_name, (_, rel) in t.relationships.items():
        target = types.get(rel.to)
        if target is not None and _join_usable(rel, t.access, target.access):
            yield gql_name, rel, target


def _relationship_filters(t: DatasetTypes, types: Mapping[str, DatasetTypes]) -> dict[str, GraphQLInputField]:
    """A filter field per relationship whose join the audience may use and whose target
    it may filter: to-one `{exists, <the target's where>}`, to-many `{some, none, every}`."""
    return {
        gql_name: GraphQLInputField(
            _related_list(target) if rel.many else _related_one(target),
            description=f"Rows by their related rows of {rel.to} (join {' = '.join(*rel.join.items())}).",
        )
        for gql_name, rel, target in _joined(t, types)
        if target.where is not None
    }


def _related_one(target: DatasetTypes) -> GraphQLInputObjectType:
    if target.related_one is None:
        assert target.where is not None
        where = target.where
        target.related_one = GraphQLInputObjectType(
            f"{where.name}Related",
            lambda: {
                "exists": GraphQLInputField(
                    GraphQLBoolean,
                    description="true (the default): there is a related row; false: there is none.",
                ),
                **where.fields,
            },
            description="The related row: whether there is one, and what holds for it.",
        )
    return target.related_one


def _related_list(target: DatasetTypes) -> GraphQLInputObjectType:
    if target.related_list is None:
        assert target.where is not None
        where = target.where
        target.related_list = GraphQLInputObjectType(
            f"{where.name}RelatedList",
            {
                "some": GraphQLInputField(where, description="At least one related row matches."),
                "none": GraphQLInputField(where, description="No related row matches."),
                "every": GraphQLInputField(
                    where, description="Every related row matches (true when there is none)."
                ),
            },
            description="The related rows: whether some, none or every one of them matches.",
        )
    return target.related_list


def _read_types(t: DatasetTypes, name: str, types: Mapping[str, DatasetTypes]) -> None:
    ds, access = t.dataset, t.access
    if access.filterable():
        t.where = _where(
            ds, f"{name}Where", access.read, access.match, lambda: _relationship_filters(t, types)
        )
    if not access.read:
        return
    t.order_by = GraphQLInputObjectType(
        f"{name}OrderBy",
        {camel(f): GraphQLInputField(SortDirection) for f in ds.fields if f in access.read},
        description="Exactly one field per object; list several objects to sort by several fields.",
    )
    edge = GraphQLObjectType(
        f"{name}Edge",
        {"cursor": GraphQLField(GraphQLNonNull(GraphQLString)), "node": GraphQLField(GraphQLNonNull(t.node))},
    )
    t.connection = GraphQLObjectType(
        f"{name}Connection",
        {
            "nodes": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(t.node)))),
            "edges": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(edge)))),
            "pageInfo": GraphQLField(GraphQLNonNull(PageInfo)),
            "totalCount": GraphQLField(GraphQLNonNull(GraphQLInt), description="Rows matching `where`."),
        },
    )


def _match_types(t: DatasetTypes, name: str) -> None:
    ds, matchable = t.dataset, t.access.filterable()
    if ds.key not in matchable:
        return
    inputs = {
        camel(f): GraphQLInputField(GraphQLNonNull(SCALARS[s.type]) if f == ds.key else SCALARS[s.type])
        for f, s in ds.fields.items()
        if f in matchable
    }
    t.match_input = GraphQLInputObjectType(f"{name}MatchInput", inputs, description="One record to verify.")
    result = {
        "index": GraphQLField(GraphQLNonNull(GraphQLInt), description="Position in `records`, from 0."),
        "found": GraphQLField(GraphQLNonNull(GraphQLBoolean), description="The key exists."),
    }
    result |= {
        camel(f): GraphQLField(
            GraphQLBoolean, description="Agrees (after normalize); null if not given/found."
        )
        for f in ds.fields
        if f in matchable and f != ds.key
    }
    t.match_result = GraphQLObjectType(f"{name}Match", result)


def _aggregate_types(t: DatasetTypes, name: str, types: Mapping[str, DatasetTypes]) -> None:
    ds, names = t.dataset, t.access.aggregate | t.access.read
    if not names:
        return
    t.field_enum = GraphQLEnumType(
        f"{name}Field", {camel(f): GraphQLEnumValue(f) for f in ds.fields if f in names}
    )
    own_keys = _scalars(ds, names, lambda s: SCALARS[s.type])
    related = _groupable(t, types)
    t.group_key = GraphQLObjectType(
        f"{name}GroupKey",
        lambda: {
            **own_keys,
            **{
                gql: GraphQLField(
                    target.group_key, description=f"The group's {target.dataset.qualified} values."
                )
                for gql, target in related.items()
                if target.group_key is not None
            },
        },
    )
    if related:
        t.group_by_related = GraphQLInputObjectType(
            f"{name}GroupByRelated",
            lambda: {
                gql: GraphQLInputField(
                    GraphQLList(GraphQLNonNull(target.field_enum)),
                    description=f"Group by these fields of the related {target.dataset.qualified} row "
                    "(null for a row without one).",
                )
                for gql, target in related.items()
                if target.field_enum is not None
            },
            description="Group by fields of the rows to-one relationships lead to.",
        )
    group: dict[str, GraphQLField] = {
        "group": GraphQLField(GraphQLNonNull(t.group_key)),
        "count": GraphQLField(
            GraphQLInt,
            description="Rows in the group: exact unless `perturbed`; null when suppressed.",
        ),
        "suppressed": GraphQLField(
            GraphQLNonNull(GraphQLBoolean), description="Below the dataset's min_group_size: measures hidden."
        ),
        "perturbed": GraphQLField(
            GraphQLNonNull(GraphQLBoolean),
            description="Count and measures carry the dataset's cell-key noise (see the aggregate field).",
        ),
    }
    numeric = frozenset(f for f in names if ds.fields[f].type in NUMERIC_TYPES)
    # min and max are one record's value: offered only on fields the audience may read
    ordered = frozenset(f for f in t.access.read if ds.fields[f].type in ORDERED_TYPES)
    for measure, members, as_type in (
        ("sum", numeric, lambda s: FLOAT if s.type == "float" else SCALARS[s.type]),
        ("avg", numeric, lambda s: FLOAT),
        ("min", ordered, lambda s: SCALARS[s.type]),
        ("max", ordered, lambda s: SCALARS[s.type]),
    ):
        if members:
            measure_type = GraphQLObjectType(f"{name}{measure.title()}", _scalars(ds, members, as_type))
            group[measure] = GraphQLField(measure_type)
    t.group = GraphQLObjectType(f"{name}Group", group)
    t.aggregate_where = _where(
        ds, f"{name}AggregateWhere", names, frozenset(), lambda: _relationship_filters(t, types)
    )


def _groupable(t: DatasetTypes, types: Mapping[str, DatasetTypes]) -> dict[str, DatasetTypes]:
    """The to-one relationships a group may take keys from (gql name -> target): each
    leads to its target's key, which the audience may count by, and joins on fields
    the audience may use."""
    return {
        gql_name: target
        for gql_name, rel, target in _joined(t, types)
        if not rel.many
        and (target.access.aggregate | target.access.read)
        and next(iter(rel.join.values())) == target.dataset.key
    }


def disclosure_text(ds: Dataset) -> str:
    """What a caller who may not read every field it uses gets, in plain words."""
    spec, d = ds.spec, ds.spec.disclosure
    if d.method == "suppress":
        return (
            f"Unless you may read every field you use, groups smaller than {spec.min_group_size} are "
            "suppressed (count and measures null)."
        )
    return (
        f"Unless you may read every field you use, answers are perturbed by the cell-key method: each "
        f"count carries noise of at most {d.max_noise} either way (mean 0, variance {d.variance}), the same "
        "noise for the same records however the question is put; no count from 1 to "
        f"{spec.min_group_size - 1} is published as itself, and groups published as 0 are left out. Each "
        f"sum carries noise of {d.sum_noise / 2:g} to {d.sum_noise:g} times the group's largest value, "
        "either way; avg is the published sum over the published count; min and max are not offered."
    )


def build_dataset_types(catalog: Catalog, audience: Audience = None) -> dict[str, DatasetTypes]:
    """Types for every dataset the audience may see anything of, keyed by `opd.dataset`."""
    types: dict[str, DatasetTypes] = {}
    for qualified, ds in catalog.datasets.items():
        access = Access.everything(ds) if audience is None else audience.get(qualified)
        if access is None or not (access.read or access.match or access.aggregate):
            continue
        name = pascal(ds.opd, ds.name)
        types[qualified] = DatasetTypes(
            dataset=ds,
            access=access,
            node=_node(ds, name, access, types),
            fields={camel(f): f for f in ds.fields},
            relationships={camel(r): (r, spec) for r, spec in ds.spec.relationships.items()},
        )
    for t in types.values():
        name = pascal(t.dataset.opd, t.dataset.name)
        _read_types(t, name, types)
        _match_types(t, name)
        _aggregate_types(t, name, types)
    return types
