"""Scalars for the catalog's field types, and how each type's values are written out."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLError,
    GraphQLFloat,
    GraphQLScalarType,
    GraphQLString,
    IntValueNode,
    StringValueNode,
    ValueNode,
)


def _literal_str(node: ValueNode, _vars: Any = None) -> str:
    if not isinstance(node, StringValueNode):
        raise GraphQLError("expected a string")
    return node.value


def _parser(kind: str, parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def parse_value(value: Any) -> Any:
        if not isinstance(value, str):
            raise GraphQLError(f"{kind} must be a string, e.g. {EXAMPLES[kind]}")
        try:
            return parse(value)
        except (ValueError, InvalidOperation):
            raise GraphQLError(f"{value!r} is not a valid {kind}, e.g. {EXAMPLES[kind]}") from None

    return parse_value


def finite_decimal(value: str) -> Decimal:
    """A decimal from its text; ValueError for NaN and the infinities."""
    d = Decimal(value)
    if not d.is_finite():
        raise ValueError(value)
    return d


EXAMPLES = {"Date": '"2024-01-31"', "DateTime": '"2024-01-31T08:00:00"', "Decimal": '"12500.50"'}


def _scalar(name: str, description: str, parse: Callable[[str], Any]) -> GraphQLScalarType:
    parse_value = _parser(name, parse)

    def parse_literal(node: ValueNode, _vars: Any = None) -> Any:
        return parse_value(_literal_str(node))

    def serialize(v: Any) -> str:
        return v.isoformat() if hasattr(v, "isoformat") else str(v)

    return GraphQLScalarType(
        name,
        description=description,
        serialize=serialize,
        parse_value=parse_value,
        parse_literal=parse_literal,
    )


Date = _scalar("Date", "A calendar date, ISO 8601 (`2024-01-31`).", dt.date.fromisoformat)
DateTime = _scalar("DateTime", "A date and time, ISO 8601.", dt.datetime.fromisoformat)
DecimalScalar = _scalar("Decimal", "An exact decimal number, written as a string.", finite_decimal)


# GraphQL's Int is 32-bit; budgets in rupiah are not, so catalog integers are `BigInt`:
# 64-bit, as sources store them (BIGINT). Input may be a number or, since JavaScript
# cannot hold integers above 2^53 exactly, a string of digits; output is a number.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
_DIGITS = re.compile(r"-?[0-9]+")
_BIGINT_EXAMPLE = 'a whole number, as a number or a string of digits: 1000000000 or "1000000000"'
_BIGINT_RANGE = f"BigInt must be from {BIGINT_MIN} to {BIGINT_MAX} (64 bits)"


def _in_range(number: int) -> int:
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise GraphQLError(_BIGINT_RANGE)
    return number


def _from_digits(text: str) -> int:
    if len(text.lstrip("-").lstrip("0")) > 19:  # out of range, and not worth converting
        raise GraphQLError(_BIGINT_RANGE)
    return _in_range(int(text))


def _parse_bigint(value: Any) -> int:
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return _from_digits(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _in_range(value)
    if isinstance(value, float) and value.is_integer() and not BIGINT_MIN < value < 2**63:
        raise GraphQLError(_BIGINT_RANGE)  # JSON's integers beyond 64 bits arrive as floats
    raise GraphQLError(f"BigInt must be {_BIGINT_EXAMPLE}")


def _literal_bigint(node: ValueNode, _vars: Any = None) -> int:
    try:
        if isinstance(node, IntValueNode):
            return _from_digits(node.value)
        if isinstance(node, StringValueNode):
            return _parse_bigint(node.value)
    except GraphQLError as e:
        raise GraphQLError(e.message, node) from None
    raise GraphQLError(f"BigInt must be {_BIGINT_EXAMPLE}", node)


BigInt = GraphQLScalarType(
    "BigInt",
    description="A whole number from -2^63 to 2^63-1 (rupiah amounts do not fit GraphQL's 32-bit "
    'Int). Input may be a number or a string of digits (`"9007199254740993"`, for JavaScript, '
    "which cannot hold integers above 2^53 exactly); output is a number.",
    serialize=int,
    parse_value=_parse_bigint,
    parse_literal=_literal_bigint,
)

SCALARS: dict[str, GraphQLScalarType] = {
    "string": GraphQLString,
    "integer": BigInt,
    "float": GraphQLFloat,
    "decimal": DecimalScalar,
    "boolean": GraphQLBoolean,
    "date": Date,
    "datetime": DateTime,
}


def decimal_text(v: Any) -> Any:
    """Canonical text of a decimal, the same whatever scale the source reports."""
    if v is None:
        return None
    text = format(v, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _float(v: Any) -> Any:
    return None if v is None else float(v)


def _int(v: Any) -> Any:
    return None if v is None else int(v)


def _bool(v: Any) -> Any:
    return None if v is None else bool(v)


# How a value from a source becomes JSON; None means "already JSON-ready".
OUTPUT: dict[str, Callable[[Any], Any] | None] = {
    "string": None,
    "integer": _int,
    "float": _float,
    "decimal": decimal_text,
    "boolean": _bool,
    "date": None,  # orjson writes dates and datetimes as ISO 8601 itself
    "datetime": None,
}
# Converters that return a value of exactly this class unchanged: compiled writers
# (hub/gql/answer.py) test the class inline and call the converter only for the rest.
UNCHANGED: dict[Callable[[Any], Any], type] = {_int: int, _float: float, _bool: bool}
