"""hub/cursor.py: cursors round-trip every field type, and anything but a cursor this
hub issued for this dataset and this order is BAD_USER_INPUT."""

from __future__ import annotations

import base64
import datetime as dt
import string
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import And, Cmp, Order
from hub.cursor import Cursors, filter_scope
from hub.errors import BadUserInput

DATASET = "dukcapil.penduduk"
ORDER = (Order("kecamatan"), Order("tanggal_lahir", descending=True), Order("nik"))
TYPES = ("string", "date", "string")
VALUES = ("Meral", dt.date(1990, 1, 31), "2102000000000001")
ALPHABET = string.ascii_letters + string.digits + "-_"
CURSORS = Cursors("test secret")

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
VALUES_OF: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(),
    "integer": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False),
    "boolean": st.booleans(),
    "date": st.dates(),
    "datetime": st.datetimes(timezones=st.none() | offsets),
}


def raw(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def rejected(cursor: str, dataset: str = DATASET, order: Sequence[Order] = ORDER,
             types: Sequence[str] = TYPES, cursors: Cursors = CURSORS) -> bool:  # fmt: skip
    try:
        cursors.decode(cursor, dataset, order, types)
    except BadUserInput as e:
        assert e.code == "BAD_USER_INPUT"
        assert "cursor" in e.message
        return True
    return False


# --- round trips -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_field_type_round_trips(data: st.DataObject) -> None:
    types = data.draw(st.lists(st.sampled_from(sorted(VALUES_OF)), min_size=1, max_size=6), label="types")
    values = [data.draw(st.none() | VALUES_OF[t], label=t) for t in types]
    order = [Order(f"f{i}", data.draw(st.booleans())) for i in range(len(types))]
    decoded = CURSORS.decode(CURSORS.encode(DATASET, order, values), DATASET, order, types)
    assert decoded == tuple(values)
    for t, before, after in zip(types, values, decoded, strict=True):
        assert type(after) is type(before), t
        if t == "decimal" and before is not None:
            assert str(after) == str(before)  # exactly, scale included: 1.10 stays 1.10
        if t == "datetime" and before is not None:
            assert after.utcoffset() == before.utcoffset()


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("string", ""),
        ("string", "Tan Mei Ling — 陈美玲 ' OR 1=1 --"),
        ("integer", 3_000_000_123),
        ("integer", -(2**63)),
        ("float", -0.0),
        ("float", 170.55),
        ("decimal", Decimal("12500.50")),
        ("decimal", Decimal("-0.0001")),
        ("decimal", Decimal("1E+30")),
        ("boolean", False),
        ("date", dt.date(1, 1, 1)),
        ("datetime", dt.datetime(2024, 1, 31, 8, 0, 0, 123456)),
        ("datetime", dt.datetime(2024, 1, 31, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))),
        ("string", None),
        ("date", None),
        ("decimal", None),
    ],
)
def test_values_round_trip_exactly(type_: str, value: Any) -> None:
    order = [Order("f", descending=True), Order("nik")]
    cursor = CURSORS.encode(DATASET, order, [value, "k"])
    (back, key) = CURSORS.decode(cursor, DATASET, order, [type_, "string"])
    assert (back, key) == (value, "k")
    assert repr(back) == repr(value)


def test_a_cursor_is_url_safe_and_hides_its_values() -> None:
    cursor = CURSORS.encode(DATASET, ORDER, VALUES)
    assert set(cursor) <= set(ALPHABET)
    sealed = raw(cursor)
    assert b"2102000000000001" not in sealed
    assert b"Meral" not in sealed
    assert b"1990" not in sealed


def test_the_same_position_gives_the_same_cursor_and_others_differ() -> None:
    a = CURSORS.encode(DATASET, ORDER, VALUES)
    assert CURSORS.encode(DATASET, ORDER, VALUES) == a
    assert CURSORS.encode(DATASET, ORDER, (*VALUES[:2], "2102000000000002")) != a


def test_hubs_sharing_a_secret_accept_each_others_cursors() -> None:
    one, two = Cursors("shared"), Cursors("shared")
    assert two.decode(one.encode(DATASET, ORDER, VALUES), DATASET, ORDER, TYPES) == VALUES
    assert one.decode(two.encode(DATASET, ORDER, VALUES), DATASET, ORDER, TYPES) == VALUES


# --- rejections ------------------------------------------------------------------------------

GOOD = CURSORS.encode(DATASET, ORDER, VALUES)


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!!", "not a cursor", "é" * 8, GOOD + "!", "a", "abcde", "=" * 8, "%2F" + GOOD, "null"],
)
def test_what_is_not_base64_of_a_sealed_cursor_is_rejected(cursor: str) -> None:
    assert rejected(cursor)


def test_base64_of_something_else_is_rejected() -> None:
    for payload in (b"", b"x" * 12, b'["00000000", ["Meral"]]', b"\0" * 64, raw(GOOD)[:12]):
        assert rejected(base64.urlsafe_b64encode(payload).decode().rstrip("="))


@pytest.mark.parametrize("keep", [0.0, 0.25, 0.5, 0.9])
def test_a_truncated_cursor_is_rejected(keep: float) -> None:
    assert rejected(GOOD[: int(len(GOOD) * keep)])


def test_a_cursor_missing_its_last_character_is_rejected() -> None:
    assert rejected(GOOD[:-1])
    assert rejected(GOOD[1:])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.data())
def test_one_changed_character_anywhere_is_rejected(data: st.DataObject) -> None:
    values = (data.draw(st.text(max_size=20)), VALUES[1], data.draw(st.text(min_size=1, max_size=20)))
    cursor = CURSORS.encode(DATASET, ORDER, values)
    at = data.draw(st.integers(0, len(cursor) - 1), label="position")
    char = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != cursor[at]), label="character")
    tampered = cursor[:at] + char + cursor[at + 1 :]
    assert rejected(tampered)  # even where base64 would decode it to the same bytes


@settings(max_examples=100, deadline=None)
@given(at=st.integers(0, len(raw(GOOD)) - 1), bit=st.integers(0, 7))
def test_one_flipped_bit_of_the_sealed_bytes_is_rejected(at: int, bit: int) -> None:
    sealed = bytearray(raw(GOOD))
    sealed[at] ^= 1 << bit
    assert rejected(base64.urlsafe_b64encode(bytes(sealed)).decode().rstrip("="))


def test_a_cursor_sealed_with_another_secret_is_rejected() -> None:
    assert rejected(Cursors("another secret").encode(DATASET, ORDER, VALUES))
    assert rejected(Cursors().encode(DATASET, ORDER, VALUES))  # a random secret per process
    assert rejected(GOOD, cursors=Cursors())


def test_a_cursor_for_another_dataset_is_rejected() -> None:
    assert rejected(GOOD, dataset="dinsos.penduduk")
    assert rejected(CURSORS.encode("dukcapil.penduduk_lama", ORDER, VALUES))


@pytest.mark.parametrize(
    "order",
    [
        (Order("kecamatan", descending=True), Order("tanggal_lahir", descending=True), Order("nik")),
        (Order("kecamatan"), Order("tanggal_lahir"), Order("nik")),
        (Order("tanggal_lahir", descending=True), Order("kecamatan"), Order("nik")),
        (Order("nama"), Order("tanggal_lahir", descending=True), Order("nik")),
        (Order("kecamatan"), Order("nik")),
        (*ORDER, Order("nama")),
    ],
    ids=["direction", "second direction", "swapped", "other field", "shorter", "longer"],
)
def test_a_cursor_for_another_order_is_rejected(order: tuple[Order, ...]) -> None:
    assert rejected(GOOD, order=order, types=["string"] * len(order))


def test_a_cursor_for_another_where_is_rejected() -> None:
    meral, moro = Cmp("kecamatan", "eq", "Meral"), Cmp("kecamatan", "eq", "Moro")
    cursor = CURSORS.encode(DATASET, ORDER, VALUES, filter_scope(meral))
    assert (
        CURSORS.decode(cursor, DATASET, ORDER, TYPES, filter_scope(Cmp("kecamatan", "eq", "Meral"))) == VALUES
    )
    assert rejected(cursor)  # no where
    for other in (moro, And((meral, Cmp("anak", "gte", 0))), Cmp("kecamatan", "in", ("Meral",))):
        with pytest.raises(BadUserInput):
            CURSORS.decode(cursor, DATASET, ORDER, TYPES, filter_scope(other))
    assert rejected(CURSORS.encode(DATASET, ORDER, VALUES, filter_scope(moro)))


def test_a_cursor_decoded_with_the_wrong_number_of_types_is_rejected() -> None:
    assert rejected(GOOD, types=TYPES[:2])


def test_rejection_says_what_to_do_instead() -> None:
    with pytest.raises(BadUserInput, match="endCursor"):
        CURSORS.decode("x", DATASET, ORDER, TYPES)


def variants_of_the_same_bytes(cursor: str) -> list[str]:
    """Other spellings of `cursor` that base64 decodes to the same bytes."""
    out = [cursor + "==", cursor + "===="]
    spare = (6 * len(cursor)) % 8  # low bits of the last character that carry nothing
    if spare:
        last = ALPHABET.index(cursor[-1])
        out.append(cursor[:-1] + ALPHABET[last ^ 1])
    return [v for v in out if raw(v) == raw(cursor)]


def test_only_the_issued_spelling_of_a_cursor_is_accepted() -> None:
    cursor = next(
        c for v in ("a", "ab", "abc") if len(c := CURSORS.encode(DATASET, ORDER, ("Meral", None, v))) % 4
    )
    variants = variants_of_the_same_bytes(cursor)
    assert len(variants) == 3
    assert [v for v in variants if not rejected(v, types=TYPES)] == []


@pytest.mark.parametrize("value", [float("inf"), float("-inf")])
def test_infinite_floats_round_trip(value: float) -> None:
    order = [Order("tinggi"), Order("nik")]
    cursor = CURSORS.encode(DATASET, order, [value, "k"])
    assert CURSORS.decode(cursor, DATASET, order, ["float", "string"]) == (value, "k")
