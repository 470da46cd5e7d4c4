"""Query limits checked at validation: nesting depth and aliases, fragments expanded.

Both are counted over the operation as it would execute, so a fragment spread ten
times counts ten times. Over a limit is `QUERY_TOO_COMPLEX`.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation import ASTValidationContext

TOO_COMPLEX = {"code": "QUERY_TOO_COMPLEX"}


def measure(selection_set: SelectionSetNode | None, ctx: ASTValidationContext) -> tuple[int, int]:
    """(depth, aliases) of a selection set, following fragment spreads once per path."""

    def walk(ss: SelectionSetNode | None, trail: frozenset[str]) -> tuple[int, int]:
        if ss is None:
            return 0, 0
        depth, aliases = 0, 0
        for sel in ss.selections:
            if isinstance(sel, FieldNode):
                d, a = walk(sel.selection_set, trail)
                depth, aliases = max(depth, d + 1), aliases + a + (1 if sel.alias else 0)
            elif isinstance(sel, InlineFragmentNode):
                d, a = walk(sel.selection_set, trail)
                depth, aliases = max(depth, d), aliases + a
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                fragment = ctx.get_fragment(name)
                if fragment is None or name in trail:
                    continue  # reported by the standard rules
                d, a = walk(fragment.selection_set, trail | {name})
                depth, aliases = max(depth, d), aliases + a
        return depth, aliases

    return walk(selection_set, frozenset())


def limits_rule(max_depth: int, max_aliases: int) -> type[ASTValidationRule]:
    class QueryLimits(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth, aliases = measure(node.selection_set, self.context)
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"Query is nested {depth} deep; the limit is {max_depth}.",
                        node,
                        extensions=TOO_COMPLEX,
                    )
                )
            if aliases > max_aliases:
                self.report_error(
                    GraphQLError(
                        f"Query uses {aliases} aliases; the limit is {max_aliases}.",
                        node,
                        extensions=TOO_COMPLEX,
                    )
                )

    return QueryLimits
