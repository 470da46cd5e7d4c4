"""The executor's quick coercion of record lists (match inputs) agrees with graphql-core's
on every input: the same coerced values when valid, the same errors when not."""

from __future__ import annotations

import datetime as dt
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    parse,
)
from graphql.execution import Executor
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.gql.executor import HubExecutor, _string_records
from hub.gql.scalars import BigInt, Date

RECORD = GraphQLInputObjectType(
    "Record",
    {
        "nik": GraphQLInputField(GraphQLNonNull(GraphQLString)),
        "nama": GraphQLInputField(GraphQLString),
        "alamat": GraphQLInputField(GraphQLString),
        "lahir": GraphQLInputField(Date),
        "umur": GraphQLInputField(BigInt),
        "hidup": GraphQLInputField(GraphQLBoolean),
    },
)
MIXED = GraphQLInputObjectType(  # not all strings: never takes the quick path
    "Mixed", {"nik": GraphQLInputField(GraphQLNonNull(GraphQLString)), "n": GraphQLInputField(GraphQLInt)}
)
SCHEMA = GraphQLSchema(
    GraphQLObjectType(
        "Query",
        {
            "match": GraphQLField(
                GraphQLInt,
                args={
                    "records": GraphQLArgument(GraphQLNonNull(GraphQLList(GraphQLNonNull(RECORD)))),
                    "mixed": GraphQLArgument(GraphQLList(GraphQLNonNull(MIXED))),
                },
            )
        },
    )
)
DOCUMENT = parse("query($r: [Record!]!, $m: [Mixed!]) { match(records: $r, mixed: $m) }")

dates = st.sampled_from(["2020-01-31", "2020-02-30", "31-01-2020", "2020-1-1"])
digits = st.from_regex(r"[-+ ]?[0-9]{1,20}[ .]?", fullmatch=True)  # BigInt takes plain digit strings
values = st.one_of(
    st.text(max_size=3),
    dates,
    digits,
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(st.text(), max_size=1),
)
keys = st.sampled_from(["nik", "nama", "alamat", "lahir", "umur", "hidup", "other"])
plausible = st.fixed_dictionaries(  # mostly valid: the quick path's own ground
    {"nik": st.text(max_size=3)},
    optional={
        "nama": st.one_of(st.text(max_size=3), st.none()),
        "lahir": st.one_of(dates, st.none()),
        "umur": st.one_of(st.integers(), digits, st.text(max_size=2), st.none()),
        "hidup": st.one_of(st.booleans(), st.none()),
    },
)
records = st.one_of(plausible, plausible, st.dictionaries(keys, values, max_size=4), values)
inputs = st.one_of(st.lists(plausible, max_size=4), st.lists(records, max_size=6), records)


def outcome(executor_class: type[Executor[Any]], variables: dict[str, Any]) -> Any:
    built = executor_class.build(SCHEMA, DOCUMENT, raw_variable_values=variables)
    if isinstance(built, list):
        return ("errors", [e.message for e in built])
    return (
        "ok",
        built.variable_values.coerced,
        {k: s.value for k, s in built.variable_values.sources.items()},
    )


@settings(max_examples=600, deadline=None)
@given(r=inputs, m=st.one_of(st.none(), st.lists(st.dictionaries(keys, values, max_size=2), max_size=2)))
def test_quick_coercion_agrees_with_graphql_core(r: Any, m: Any) -> None:
    variables = {"r": r, "m": m}
    assert outcome(HubExecutor, variables) == outcome(Executor, variables)


def test_valid_records_take_the_quick_path_and_keep_graphql_cores_field_order() -> None:
    variables = {"r": [{"nama": "A", "nik": "1"}, {"nik": "2", "alamat": None, "lahir": "2020-01-31"}]}
    record_list = GraphQLNonNull(GraphQLList(GraphQLNonNull(RECORD)))
    assert _string_records(record_list, variables["r"]) is not None  # the quick path
    assert _string_records(record_list, [{"nik": 1}]) is None  # graphql-core's path
    kind, coerced, _ = outcome(HubExecutor, variables)
    assert kind == "ok"
    assert coerced["r"] == [
        {"nik": "1", "nama": "A"},
        {"nik": "2", "alamat": None, "lahir": dt.date(2020, 1, 31)},
    ]
    assert [list(r) for r in coerced["r"]] == [["nik", "nama"], ["nik", "alamat", "lahir"]]
    assert outcome(HubExecutor, variables) == outcome(Executor, variables)
