"""Source adapters, one module per kind, all behind `adapters.base.Adapter`.

Built-in kinds are listed in `BUILTIN`; third-party kinds register a factory
`(name, config, bindings) -> Adapter` under the entry-point group `opd_hub.adapters`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from adapters.base import Adapter, Binding

Factory = Callable[[str, Mapping[str, Any], Sequence[Binding]], Adapter]

BUILTIN: dict[str, str] = {
    "sql": "adapters.sql:SqlAdapter",
    "graphql": "adapters.graphql:GraphQLAdapter",
    "file": "adapters.files:FileAdapter",
    "rest": "adapters.rest:RestAdapter",
}


def _load(target: str) -> Factory:
    module, _, attr = target.partition(":")
    factory: Factory = getattr(importlib.import_module(module), attr)
    return factory


def available() -> dict[str, str]:
    """Adapter kind -> `module:factory`, built-in and registered."""
    kinds = dict(BUILTIN)
    for ep in entry_points(group="opd_hub.adapters"):
        kinds.setdefault(ep.name, ep.value)
    return kinds


def create(
    kind: str,
    name: str,
    config: Mapping[str, Any],
    bindings: Sequence[Binding],
    kinds: Mapping[str, str] | None = None,
) -> Adapter:
    """Build the adapter of `kind` for source `name`; KeyError for an unknown kind.

    Pass `kinds` (from `available()`) when building many: reading the installed
    packages' entry points costs milliseconds each time."""
    return _load((available() if kinds is None else kinds)[kind])(name, config, bindings)
