"""What a dataset field's selection yields, kept from one request to the next.

A cached document's dataset field (hub/gql/fast_path.py's `Step`) is asked again and again
with new variables. Variables change the answer's values, never its selection, unless
a directive (@skip, @include) decides with them. So while a field's whole selection,
fragments included, holds no directive, what is derived from the selection alone is
the same for every request: the collected selection, the node plan, and per plan the
answer's shape. Planning them again cost ~5% of a 100-row answer's CPU.

Kept per step, a few entries each (a plan per distinct policy outcome and order).
What the policy leaves of a plan is kept apart (`decided`), per caller: a step asked by
every OPD of a regency must not push its selection out.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, SelectionSetNode

T = TypeVar("T")
MOST = 64  # entries per step; beyond that (a flood of orders) start afresh
MOST_DECIDED = 1024  # policy outcomes per step (callers x versions x plans), the same


class StepMemo:
    """Kept values, or none when `fixed` is false (a directive, or no step at all)."""

    def __init__(self, fixed: bool) -> None:
        self.fixed = fixed
        self._kept: dict[Hashable, Any] = {}
        self._decided: dict[Hashable, Any] = {}

    @classmethod
    def of(cls, nodes: Iterable[FieldNode], fragments: Mapping[str, FragmentDefinitionNode]) -> StepMemo:
        """The memo of a step whose field is selected by `nodes`."""
        return cls(not any(_directives(n.selection_set, fragments, frozenset()) for n in nodes))

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """`make()`, kept under `key` when the selection is fixed."""
        return _kept(self._kept, MOST, key, make) if self.fixed else make()

    def decided(self, key: Hashable, make: Callable[[], T]) -> T:
        """As `get`, for a policy outcome: `key` must hold everything the outcome
        depends on (the policy and its version, the subject, the plan's structure). An
        exception from `make` (FORBIDDEN) is raised each time, never kept."""
        return _kept(self._decided, MOST_DECIDED, key, make) if self.fixed else make()


def _kept(kept: dict[Hashable, Any], most: int, key: Hashable, make: Callable[[], T]) -> T:
    try:
        found: T = kept[key]
    except KeyError:
        if len(kept) >= most:
            kept.clear()
        found = kept[key] = make()
    return found


NEVER = StepMemo(fixed=False)  # for resolvers called by graphql-core (no step): made afresh


def _directives(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> bool:
    """Whether any selection below carries a directive (fragments followed once)."""
    if selection_set is None:
        return False
    for sel in selection_set.selections:
        if sel.directives:
            return True
        if isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            below = fragments[name].selection_set if name not in seen and name in fragments else None
            if _directives(below, fragments, seen | {name}):
                return True
        elif _directives(getattr(sel, "selection_set", None), fragments, seen):
            return True
    return False
