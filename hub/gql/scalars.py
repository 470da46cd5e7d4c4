"""Scalars for the catalog's field types, and how each type's values are written out."""

from __future__ import annotations

import datetime as dt
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


def _decimal(value: str) -> Decimal:
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
DecimalScalar = _scalar("Decimal", "An exact decimal number, written as a string.", _decimal)


# GraphQL's Int is 32-bit; budgets in rupiah are not, so catalog integers are `BigInt`.
def _parse_bigint(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GraphQLError("BigInt must be an integer")
    return value


def _literal_bigint(node: ValueNode, _vars: Any = None) -> int:
    if not isinstance(node, IntValueNode):
        raise GraphQLError("BigInt must be an integer")
    return int(node.value)


BigInt = GraphQLScalarType(
    "BigInt",
    description="A whole number of any size (rupiah amounts do not fit GraphQL's 32-bit Int).",
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
# (hub/gql/shape.py) test the class inline and call the converter only for the rest.
UNCHANGED: dict[Callable[[Any], Any], type] = {_int: int, _float: float, _bool: bool}
