"""Compiled node writers give exactly what the reference `write_node` gives."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hub.gql.answer import CONSTANT, MANY, ONE, SCALAR, NodeShape
from hub.gql.scalars import OUTPUT, decimal_text

PERSON = NodeShape((("nik", SCALAR, 0, None), ("umur", SCALAR, 2, int), ("__typename", CONSTANT, -1, "P")))
RECIPIENT = NodeShape(
    (
        ("id", SCALAR, 0, None),
        ("nominal", SCALAR, 1, decimal_text),
        ("who", ONE, 3, PERSON),
        ("family", MANY, 4, PERSON),
        ("again", SCALAR, 0, None),
    )
)


def write_node(shape: NodeShape, row: tuple[Any, ...]) -> dict[str, Any]:
    """The reference: the entries walked one by one, as NodeShape.write must behave."""
    out: dict[str, Any] = {}
    for key, kind, at, payload in shape.entries:
        if kind == SCALAR:
            v = row[at]
            out[key] = v if payload is None or v is None else payload(v)
        elif kind == CONSTANT:
            out[key] = payload
        elif kind == ONE:
            v = row[at]
            out[key] = None if v is None else write_node(payload, v)
        else:
            out[key] = [write_node(payload, r) for r in row[at]]
    return out


people = st.tuples(st.text(max_size=3), st.none(), st.one_of(st.none(), st.integers()))
recipients = st.tuples(
    st.integers(),
    st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=2)),
    st.dates(),
    st.one_of(st.none(), people),
    st.lists(people, max_size=3),
)


@given(row=recipients)
def test_compiled_writer_equals_the_reference(row: tuple[object, ...]) -> None:
    assert RECIPIENT.write(row) == write_node(RECIPIENT, row)
    assert list(RECIPIENT.write(row)) == ["id", "nominal", "who", "family", "again"]


def test_keys_are_data_not_code() -> None:
    odd = NodeShape((("a'}; import os #", SCALAR, 0, None), ("b", SCALAR, 1, None)))
    assert odd.write((1, dt.date(2020, 1, 1))) == {"a'}; import os #": 1, "b": dt.date(2020, 1, 1)}


NUMBERS = NodeShape(
    (
        ("i", SCALAR, 0, OUTPUT["integer"]),
        ("f", SCALAR, 1, OUTPUT["float"]),
        ("b", SCALAR, 2, OUTPUT["boolean"]),
    )
)
# what sources hand over: the converter's own class, a neighbour (SQLite's 0/1 for
# booleans, an integer for a float, a bool for an integer), a decimal, or NULL
anything = st.one_of(
    st.none(),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False),
)


@given(row=st.tuples(anything, anything, anything))
def test_converted_scalars_equal_the_reference_with_their_classes(row: tuple[object, ...]) -> None:
    written, expected = NUMBERS.write(row), write_node(NUMBERS, row)
    assert written == expected
    assert [type(v) for v in written.values()] == [type(v) for v in expected.values()]
