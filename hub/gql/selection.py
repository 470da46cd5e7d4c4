"""Collect a field's sub-selection: fragments expanded, @skip/@include applied.

Fields of the same response key are merged (validation guarantees they agree), so
a selection is a mapping `response key -> Selected`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution.values import get_directive_values


@dataclass
class Selected:
    name: str  # the schema field name
    nodes: list[FieldNode] = field(default_factory=list)


def _included(node: Any, variables: Any) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip and skip.get("if") is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include and include.get("if") is False)


def collect(
    nodes: Iterable[FieldNode],
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Any,
) -> dict[str, Selected]:
    """The merged sub-selection of `nodes` (all fields of one response key)."""
    out: dict[str, Selected] = {}

    def visit(selection_set: SelectionSetNode | None, seen: frozenset[str]) -> None:
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if sel.directives and not _included(sel, variables):
                continue
            if isinstance(sel, FieldNode):
                key = sel.alias.value if sel.alias else sel.name.value
                out.setdefault(key, Selected(sel.name.value)).nodes.append(sel)
            elif isinstance(sel, InlineFragmentNode):
                visit(sel.selection_set, seen)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                if name not in seen and name in fragments:
                    visit(fragments[name].selection_set, seen | {name})

    for node in nodes:
        visit(node.selection_set, frozenset())
    return out
