"""graphql-core's executor, taught to accept values the hub has already completed.

A dataset field's resolver plans, fetches and writes its whole subtree itself and
returns it wrapped in `Precompleted`, with any field errors inside that subtree (a
forbidden field, say); the executor takes the value as it is instead of walking it
value by value, and records the errors under the field's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import FieldNode, GraphQLOutputType, GraphQLResolveInfo, located_error
from graphql.execution import Executor
from graphql.pyutils import Path

SubError = tuple[tuple[str, ...], Exception, list[FieldNode]]  # (path below the field, error, nodes)


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
