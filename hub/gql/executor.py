"""graphql-core's executor, taught to accept values the hub has already completed.

A dataset field's resolver plans, fetches and writes its whole subtree itself and
returns it wrapped in `Precompleted`; the executor then takes the value as it is
instead of walking it value by value.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLOutputType, GraphQLResolveInfo
from graphql.execution import Executor
from graphql.pyutils import Path


class Precompleted:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


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
            return result.value
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)
