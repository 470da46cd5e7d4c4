"""graphql-core's executor, taught to accept values the hub has already completed,
and to coerce large lists of flat string records (match inputs) quickly.

A dataset field's resolver plans, fetches and writes its whole subtree itself and
returns it wrapped in `Precompleted`, with any field errors inside that subtree (a
forbidden field, say); the executor takes the value as it is instead of walking it
value by value, and records the errors under the field's path.

graphql-core (3.3) has no public hook for either, so `HubExecutor` subclasses its
`Executor` through the documented `execute(executor_class=...)`, overriding only
`complete_value` and `build`; a graphql-core upgrade must rerun tests/test_fast_path.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    Undefined,
    get_operation_ast,
    located_error,
    type_from_ast,
)
from graphql.execution import Executor
from graphql.execution.values import VariableValues, get_variable_values
from graphql.pyutils import Path

SubError = tuple[tuple[str | int, ...], Exception, list[FieldNode]]  # (path below the field, error, nodes)


class Precompleted:
    __slots__ = ("errors", "value")

    def __init__(self, value: Any, errors: Sequence[SubError] | None = None) -> None:
        self.value = value
        self.errors = errors


class HubExecutor(Executor[Any]):
    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        if type(result) is Precompleted:
            for below, error, nodes in result.errors or ():
                at = path
                for key in below:
                    at = at.add_key(key)
                self.collected_errors.add(located_error(error, nodes, at.as_list()), at)
            return result.value
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    @classmethod
    def build(
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> list[GraphQLError] | Executor[Any]:
        """As graphql-core's, with the quick coercion of record lists (`quick_records`)."""
        operation = get_operation_ast(document, operation_name) if raw_variable_values else None
        raw, quick = quick_records(schema, operation, raw_variable_values)
        built = super().build(
            schema, document, root_value, context_value, raw, operation_name, *args, **kwargs
        )
        if isinstance(built, Executor):
            _put_back(built.variable_values, quick, raw_variable_values)
        return built


def coerce_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, raw_variable_values: dict[str, Any] | None
) -> VariableValues | list[GraphQLError]:
    """graphql-core's `get_variable_values` for `operation`, with the quick coercion."""
    raw, quick = quick_records(schema, operation, raw_variable_values)
    values = get_variable_values(schema, operation.variable_definitions or (), raw or {}, max_errors=50)
    if not isinstance(values, list):
        _put_back(values, quick, raw_variable_values)
    return values


def quick_records(
    schema: GraphQLSchema, operation: OperationDefinitionNode | None, raw: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, list[dict[str, Any]]]]:
    """Variables holding a plainly valid list of flat records, coerced here in one pass
    (graphql-core's generic coercion walks every value of every record and would cost a
    large match more than its query), and the raw variables with those replaced by `[]` for
    graphql-core. Anything unusual stays with graphql-core, errors included."""
    quick: dict[str, list[dict[str, Any]]] = {}
    for definition in (operation.variable_definitions or ()) if operation and raw else ():
        name = definition.variable.name.value
        coerced = _string_records(type_from_ast(schema, definition.type), (raw or {}).get(name))
        if coerced is not None:
            quick[name] = coerced
    if not quick:
        return raw, quick
    return {**(raw or {}), **{name: [] for name in quick}}, quick


def _put_back(
    values: VariableValues, quick: dict[str, list[dict[str, Any]]], raw: dict[str, Any] | None
) -> None:
    for name, records in quick.items():
        values.coerced[name] = records
        values.sources[name] = values.sources[name]._replace(value=(raw or {})[name])


def _string_records(type_: Any, value: Any) -> list[dict[str, Any]] | None:
    """`value` coerced to `[Input!]` or `[Input!]!` of an input type whose fields are all
    scalars without defaults, when every value parses; None for anything else."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if not isinstance(type_, GraphQLList) or not isinstance(value, list) or not value:
        return None
    item = type_.of_type
    if not isinstance(item, GraphQLNonNull) or not isinstance(item.of_type, GraphQLInputObjectType):
        return None
    fields = _flat_fields(item.of_type)
    if fields is None:
        return None
    required = frozenset(name for name, (_, _, needed) in fields.items() if needed)
    strings = frozenset(name for name, (_, scalar, _) in fields.items() if scalar is GraphQLString)
    seen: dict[tuple[str, ...], bool] = {}  # key sequences: all String fields, in the type's order?
    out = []
    for record in value:
        if type(record) is not dict:
            return None
        names = tuple(record)
        plain = seen.get(names)
        if plain is None:
            if not required <= record.keys() or not record.keys() <= fields.keys():
                return None
            spots = [fields[name][0] for name in names]
            plain = seen[names] = record.keys() <= strings and spots == sorted(spots)
        if plain and _STR.issuperset(map(type, record.values())):
            out.append(record)  # all strings, in order: as graphql-core would copy it
            continue
        coerced, last, ordered = {}, -1, True
        for name, v in record.items():
            spec = fields.get(name)
            if spec is None:
                return None
            at, scalar, needed = spec
            if v is None:
                if needed:
                    return None
            elif scalar is GraphQLString:
                if type(v) is not str:
                    return None
            else:
                try:
                    v = scalar.parse_value(v)
                except Exception:  # graphql-core words the error
                    return None
                if v is Undefined:
                    return None
            coerced[name] = v
            ordered, last = ordered and at > last, at
        if not ordered:  # graphql-core's order: the type's
            coerced = dict(sorted(coerced.items(), key=lambda kv: fields[kv[0]][0]))
        out.append(coerced)
    return out


_STR = frozenset({str})


def _flat_fields(t: GraphQLInputObjectType) -> dict[str, tuple[int, GraphQLScalarType, bool]] | None:
    """name -> (position, scalar, required) when every field is a scalar without
    default or renaming; None otherwise."""
    if t.is_one_of or t.out_type is not GraphQLInputObjectType.out_type:
        return None
    out = {}
    for at, (name, f) in enumerate(t.fields.items()):
        needed = isinstance(f.type, GraphQLNonNull)
        inner = f.type.of_type if needed else f.type
        if not isinstance(inner, GraphQLScalarType) or f.default_value is not Undefined or f.out_name:
            return None
        out[name] = (at, inner, needed)
    return out
