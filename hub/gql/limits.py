"""Query limits, checked on the parsed document before GraphQL validation: nesting
depth, aliases and field selections, fragments expanded.

All three are counted over each operation as it would execute, so a fragment spread
ten times counts ten times. Over a limit is `QUERY_TOO_COMPLEX`, and the document is
not validated: validation's rule for overlapping fields compares the fields of one
name in a selection set pairwise. 500 `__typename`s take ~40 ms to validate, 2,000
fields of a dataset ~175 ms; graphql-core gives up on its own only after 0.1-0.25 s.

Each fragment is measured once, so fragments spreading fragments cost what they are
long, not what they expand to.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

TOO_COMPLEX = {"code": "QUERY_TOO_COMPLEX"}


@dataclass(frozen=True)
class Size:
    depth: int = 0
    aliases: int = 0
    fields: int = 0


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_fields: int

    def check(self, document: DocumentNode) -> list[GraphQLError]:
        """One error per limit an operation of `document` exceeds."""
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        measured: dict[str, Size] = {}
        errors = []
        for node in document.definitions:
            if not isinstance(node, OperationDefinitionNode):
                continue
            try:
                size = measure(node.selection_set, fragments, measured)
            except RecursionError:
                message = "Query nests fields and fragments too deeply to measure."
                return [GraphQLError(message, node, extensions=TOO_COMPLEX)]
            for found, limit, what in (
                (size.depth, self.max_depth, f"Query is nested {size.depth} deep"),
                (size.aliases, self.max_aliases, f"Query uses {size.aliases} aliases"),
                (size.fields, self.max_fields, f"Query asks for {size.fields} fields"),
            ):
                if found > limit:
                    errors.append(
                        GraphQLError(f"{what}; the limit is {limit}.", node, extensions=TOO_COMPLEX)
                    )
        return errors


def measure(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    measured: dict[str, Size],
) -> Size:
    """The size of a selection set, fragments expanded; `measured` keeps each fragment's
    (an unknown fragment, or one spread inside itself, counts nothing: validation
    reports those)."""
    if selection_set is None:
        return Size()
    depth, aliases, fields = 0, 0, 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            inner = measure(sel.selection_set, fragments, measured)
            depth = max(depth, inner.depth + 1)
            aliases += inner.aliases + (1 if sel.alias else 0)
            fields += inner.fields + 1
            continue
        if isinstance(sel, InlineFragmentNode):
            inner = measure(sel.selection_set, fragments, measured)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            found = measured.get(name)
            if found is None:
                measured[name] = Size()  # while it is measured: a spread of itself counts nothing
                fragment = fragments.get(name)
                selection = fragment.selection_set if fragment else None
                found = measured[name] = measure(selection, fragments, measured)
            inner = found
        else:
            continue
        depth, aliases, fields = max(depth, inner.depth), aliases + inner.aliases, fields + inner.fields
    return Size(depth, aliases, fields)
