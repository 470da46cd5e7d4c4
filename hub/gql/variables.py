"""Variables of the everyday kind, coerced without graphql-core's generic machinery.

An OPD system's request usually declares a few `String`, `Int` or `Boolean` variables
(`$k: String!`, `$n: Int`) and sends values already of the right JSON type.
graphql-core coerces them through its generic input coercion: ~3.5% of a 100-row
answer's CPU. For a cached document whose variables are all such built-in scalars
(no defaults), the signatures are taken once; then a value of exactly the scalar's
Python class (an Int inside 32 bits) is taken as it is, as graphql-core would take
it. Anything else (a missing or null non-null variable, another type, a bool for an
Int) goes to graphql-core, which coerces it or words the error.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLError,
    GraphQLInt,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    Undefined,
)
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource

# each scalar and the exact class its values need no coercion in
_CLASS: dict[Any, type] = {GraphQLString: str, GraphQLInt: int, GraphQLBoolean: bool}
_INT_MIN: int = -(2**31)  # GraphQL's Int
_INT_MAX: int = 2**31 - 1

Plain = tuple[tuple[str, GraphQLVariableSignature, type, bool], ...]  # (name, signature, class, non-null)


def plain_signatures(schema: GraphQLSchema, operation: OperationDefinitionNode) -> Plain | None:
    """The operation's variables when every one is a String, Int or Boolean (nullable
    or not) without a default; None otherwise."""
    out = []
    for definition in operation.variable_definitions or ():
        signature = get_variable_signature(schema, definition)
        if isinstance(signature, GraphQLError) or definition.default_value is not None:
            return None
        type_: Any = signature.type
        non_null = isinstance(type_, GraphQLNonNull)
        cls = _CLASS.get(type_.of_type if non_null else type_)
        if cls is None:
            return None
        out.append((signature.name, signature, cls, non_null))
    return tuple(out)


def quick_scalars(plain: Plain, raw: dict[str, Any] | None) -> VariableValues | None:
    """graphql-core's coerced variables for `raw`, when every value is plainly valid;
    None to let graphql-core coerce (or reject) them."""
    sources: dict[str, VariableValueSource] = {}
    coerced: dict[str, Any] = {}
    for name, signature, cls, non_null in plain:
        value: Any = raw.get(name, Undefined) if raw else Undefined
        if value is Undefined:
            if non_null:
                return None
            sources[name] = VariableValueSource(signature)  # omitted, as graphql-core omits it
            continue
        if value is None:
            if non_null:
                return None
        elif value.__class__ is not cls or (cls is int and not _fits_int(value)):
            return None
        sources[name] = VariableValueSource(signature, value)
        coerced[name] = value
    return VariableValues(sources, coerced)


def _fits_int(value: Any) -> bool:
    return bool(_INT_MIN <= value <= _INT_MAX)
