"""Compiled node writers give exactly what the reference `write_node` gives."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from hub.gql.scalars import decimal_text
from hub.gql.shape import CONSTANT, MANY, ONE, SCALAR, NodeShape, write_node

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
