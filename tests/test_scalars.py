"""The catalog's integers (`BigInt`, hub/gql/scalars.py): signed 64-bit, as sources
store them; given as a number or as a string of digits (JavaScript cannot hold
integers above 2^53 exactly), in a literal or a variable alike; answered as numbers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.regency import Regency

COUNT_LITERAL = "{ dinsos { penerimaBansos(where: {nominal: {eq: %s}}) { totalCount } } }"
COUNT_VARIABLE = "query($v: BigInt) { dinsos { penerimaBansos(where: {nominal: {eq: $v}}) { totalCount } } }"
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
RANGE = f"BigInt must be from {BIGINT_MIN} to {BIGINT_MAX} (64 bits)"
EXAMPLE = 'BigInt must be a whole number, as a number or a string of digits: 1000000000 or "1000000000"'


async def count_literal(regency: Regency, literal: str) -> dict[str, Any]:
    return await regency.gql(COUNT_LITERAL % literal)


async def count_variable(regency: Regency, value: Any) -> dict[str, Any]:
    return await regency.gql(COUNT_VARIABLE, {"v": value})


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    """The request's one error, for the whole request (nothing ran)."""
    assert "data" not in body, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["requestId"]
    return dict(error)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
async def test_a_bigint_outside_64_bits_is_bad_user_input_as_literal_string_or_variable(
    regency: Regency, value: int, caplog: pytest.LogCaptureFixture
) -> None:
    # a literal of 2^63 reached the source: SQLite's driver raised OverflowError (INTERNAL)
    for body in (
        await count_literal(regency, str(value)),
        await count_literal(regency, f'"{value}"'),
        await count_variable(regency, str(value)),
        await count_variable(regency, value),  # beyond 64 bits JSON's parser gives a float
    ):
        assert RANGE in only_error(body)["message"]
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("value", [BIGINT_MAX, BIGINT_MIN])
async def test_the_ends_of_the_64_bit_range_are_accepted(regency: Regency, value: int) -> None:
    zero = {"dinsos": {"penerimaBansos": {"totalCount": 0}}}
    assert await regency.data(COUNT_LITERAL % value) == zero
    assert await regency.data(COUNT_VARIABLE, {"v": str(value)}) == zero


async def test_a_bigint_may_be_a_string_of_digits_and_is_answered_as_a_number(regency: Regency) -> None:
    large = next(r for r in regency.recipients if r["nominal"] > 2**31)
    expected = sum(r["nominal"] == large["nominal"] for r in regency.recipients)
    as_number = {"dinsos": {"penerimaBansos": {"totalCount": expected}}}
    nominal = large["nominal"]
    assert await regency.data(COUNT_LITERAL % nominal) == as_number
    assert await regency.data(COUNT_LITERAL % f'"{nominal}"') == as_number
    assert await regency.data(COUNT_VARIABLE, {"v": str(nominal)}) == as_number
    assert await regency.data(COUNT_VARIABLE, {"v": nominal}) == as_number
    data = await regency.data(
        'query($ids: [BigInt!]) { dinsos { penerimaBansos(where: {id: {in: $ids}, tahun: {gte: "-0"}}) '
        "{ nodes { id nominal } } } }",
        {"ids": [str(large["id"]), "-5"]},
    )
    assert data["dinsos"]["penerimaBansos"]["nodes"] == [{"id": large["id"], "nominal": nominal}]


@pytest.mark.parametrize("text", ["", " 1", "1 ", "+1", "1.0", "1e3", "0x10", "1_000", "١٢", "--1", "-"])
async def test_a_string_that_is_not_plain_digits_is_bad_user_input(
    sqlite_regency: Regency, text: str
) -> None:
    assert only_error(await count_literal(sqlite_regency, f'"{text}"'))["message"] == EXAMPLE
    error = only_error(await count_variable(sqlite_regency, text))
    assert error["message"] == f"Variable '$v' has invalid value: {EXAMPLE}"


@pytest.mark.parametrize("value", [1.5, 2.0, True, [1], {"a": 1}])
async def test_other_json_values_are_bad_user_input(sqlite_regency: Regency, value: Any) -> None:
    error = only_error(await count_variable(sqlite_regency, value))
    assert error["message"].endswith(EXAMPLE), error


async def test_literal_errors_point_at_the_value(sqlite_regency: Regency) -> None:
    error = only_error(await count_literal(sqlite_regency, "9223372036854775808"))
    assert error["locations"] == [{"line": 1, "column": COUNT_LITERAL.index("%s") + 1}]


MATCH = """query($r: [DinsosPenerimaBansosMatchInput!]!) {
  dinsos { penerimaBansosMatch(records: $r) { index found nominal tahun } } }"""


async def test_match_records_take_bigints_as_strings_too(sqlite_regency: Regency) -> None:
    # record lists are coerced on a quick path of their own (hub/gql/executor.py)
    r = sqlite_regency.recipients[3]
    as_numbers = [{"id": r["id"], "nominal": r["nominal"], "tahun": 1999}, {"id": 10**9}]
    as_strings = [{"id": str(r["id"]), "nominal": str(r["nominal"]), "tahun": "1999"}, {"id": "1000000000"}]
    answer = await sqlite_regency.data(MATCH, {"r": as_numbers})
    assert answer["dinsos"]["penerimaBansosMatch"] == [
        {"index": 0, "found": True, "nominal": True, "tahun": False},
        {"index": 1, "found": False, "nominal": None, "tahun": None},
    ]
    assert await sqlite_regency.data(MATCH, {"r": as_strings}) == answer
    for bad, message in (("9223372036854775808", RANGE), ("1.5", EXAMPLE)):
        body = await sqlite_regency.gql(MATCH, {"r": [*as_strings, {"id": bad}]})
        assert message in only_error(body)["message"]
