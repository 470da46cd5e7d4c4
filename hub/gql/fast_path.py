"""Straight-line execution of the hub's everyday document shape:

    query { <opd> { <dataset field>(args) { ... } ... } ... }

For such documents graphql-core's executor only walks the root and namespace
levels, builds resolve infos and completes the values the dataset resolvers have
already written (`executor.Precompleted`): about 8% of a 100-row answer's CPU. Here
the hub calls the dataset resolvers itself, concurrently as graphql-core does, and
assembles the answer and the located errors the same way.

A document qualifies when its operation is a query whose root and namespace levels
hold plain fields only (no fragments, no directives; `__typename` allowed) and whose
root fields are OPD namespaces. Everything else (catalog, me, transparency, any
fragment or directive at those levels) runs through graphql-core unchanged; the
dataset resolvers see the same infos either way (tests/test_fast_path.py). Only
graphql-core's public functions are used here (`get_argument_values`, `located_error`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
    located_error,
)
from graphql.execution.values import VariableValues, get_argument_values

from hub.gql.executor import Precompleted, coerce_variables
from hub.gql.step_cache import StepMemo
from hub.gql.variables import Plain, plain_signatures, quick_scalars


@dataclass(frozen=True)
class Step:
    """One dataset field under a namespace."""

    path: tuple[str, str]  # (namespace key, field key)
    field: GraphQLField
    nodes: list[FieldNode]
    memo: StepMemo  # what its selection yields, kept across requests (hub/gql/step_cache.py)


@dataclass(frozen=True)
class Layout:
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    # namespace key -> (type name, [(key, Step or None for __typename)])
    namespaces: dict[str, tuple[str, list[tuple[str, Step | None]]]]
    root_typenames: tuple[str, ...]  # keys of `__typename` at the root
    keys: tuple[str, ...]  # root keys in order
    plain: Plain | None  # the variables' signatures when all are plain scalars (hub/gql/variables.py)


@dataclass(frozen=True)
class Info:
    """What the dataset resolvers read of graphql-core's GraphQLResolveInfo."""

    context: Any
    fragments: dict[str, FragmentDefinitionNode]
    variable_values: VariableValues
    field_nodes: list[FieldNode]
    memo: StepMemo


def layout(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> Layout | None:
    """The document's plan when it has the everyday shape; None otherwise."""
    operation = get_operation_ast(document, operation_name)
    query = schema.query_type
    if operation is None or operation.operation != OperationType.QUERY or operation.directives or not query:
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    grouped = _plain_fields(operation.selection_set.selections)
    if grouped is None:
        return None
    namespaces: dict[str, tuple[str, list[tuple[str, Step | None]]]] = {}
    root_typenames = []
    for key, nodes in grouped.items():
        name = nodes[0].name.value
        if name == "__typename":
            root_typenames.append(key)
            continue
        field = query.fields.get(name)
        namespace = field.type.of_type if field and isinstance(field.type, GraphQLNonNull) else None
        if not isinstance(namespace, GraphQLObjectType) or not namespace.name.endswith("Query") or field.args:
            return None
        inner = _plain_fields(
            [s for n in nodes for s in (n.selection_set.selections if n.selection_set else ())]
        )
        if inner is None:
            return None
        entries: list[tuple[str, Step | None]] = []
        for sub_key, sub_nodes in inner.items():
            sub_name = sub_nodes[0].name.value
            if sub_name == "__typename":
                entries.append((sub_key, None))
                continue
            sub_field = namespace.fields.get(sub_name)
            if sub_field is None or sub_field.resolve is None or isinstance(sub_field.type, GraphQLNonNull):
                return None
            entries.append(
                (sub_key, Step((key, sub_key), sub_field, sub_nodes, StepMemo.of(sub_nodes, fragments)))
            )
        namespaces[key] = (namespace.name, entries)
    plain = plain_signatures(schema, operation)
    return Layout(operation, fragments, namespaces, tuple(root_typenames), tuple(grouped), plain)


def _plain_fields(selections: Any) -> dict[str, list[FieldNode]] | None:
    out: dict[str, list[FieldNode]] = {}
    for sel in selections:
        if not isinstance(sel, FieldNode) or sel.directives:
            return None
        out.setdefault(sel.alias.value if sel.alias else sel.name.value, []).append(sel)
    return out


async def execute(
    schema: GraphQLSchema, plan: Layout, context: Any, raw_variables: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
    """(data, errors) as graphql-core's execute would give them."""
    variables: VariableValues | list[GraphQLError] | None = None
    if plan.plain is not None:
        variables = quick_scalars(plan.plain, raw_variables)
    if variables is None:
        variables = coerce_variables(schema, plan.operation, raw_variables)
    if isinstance(variables, list):
        return None, variables
    steps = [step for _, entries in plan.namespaces.values() for _, step in entries if step is not None]
    infos = [Info(context, plan.fragments, variables, step.nodes, step.memo) for step in steps]
    outcomes: list[Any]
    if len(steps) == 1:  # the usual case: no task to schedule
        try:
            outcomes = [await _resolve(steps[0], infos[0])]
        except Exception as e:
            outcomes = [e]
    else:
        outcomes = await asyncio.gather(*map(_resolve, steps, infos), return_exceptions=True)
    errors: list[GraphQLError] = []
    values: dict[tuple[str, str], Any] = {}
    for step, outcome in zip(steps, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, Exception):
                raise outcome  # cancellation and the like are not field errors
            errors.append(located_error(outcome, step.nodes, list(step.path)))
            values[step.path] = None
            continue
        values[step.path] = outcome.value
        for below, error, nodes in outcome.errors or ():
            errors.append(located_error(error, nodes, [*step.path, *below]))
    data: dict[str, Any] = {}
    for key in plan.keys:
        if key in plan.root_typenames:
            data[key] = "Query"
            continue
        typename, entries = plan.namespaces[key]
        data[key] = {k: typename if step is None else values[step.path] for k, step in entries}
    return data, errors


async def _resolve(step: Step, info: Info) -> Precompleted:
    args = get_argument_values(step.field, step.nodes[0], info.variable_values)
    resolve = step.field.resolve
    assert resolve is not None  # checked by `layout`
    result: Precompleted = await resolve(None, info, **args)
    return result
