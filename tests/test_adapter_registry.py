"""Adapter kinds: the built-in ones, and third-party ones registered as entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

import adapters
from adapters.base import Binding
from adapters.memory import MemoryAdapter


def test_a_registered_entry_point_becomes_an_adapter_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A package that declares `[project.entry-points."opd_hub.adapters"] kv = "pkg:Factory"`
    adds the kind `kv`; here the in-memory adapter plays that package."""
    registered = [EntryPoint("kv", "adapters.memory:MemoryAdapter", "opd_hub.adapters")]

    def entry_points(*, group: str) -> list[EntryPoint]:
        return registered if group == "opd_hub.adapters" else []

    monkeypatch.setattr(adapters, "entry_points", entry_points)
    assert adapters.available()["kv"] == "adapters.memory:MemoryAdapter"
    binding = Binding("x.y", "id", {"id": "integer"}, {"id": "id"})
    made: Any = adapters.create("kv", "x.main", {"rows": {"x.y": [{"id": 1}]}}, [binding])
    assert isinstance(made, MemoryAdapter) and made.rows["x.y"] == [{"id": 1}]


def test_a_registered_kind_cannot_replace_a_built_in_one(monkeypatch: pytest.MonkeyPatch) -> None:
    def entry_points(*, group: str) -> list[EntryPoint]:
        return [EntryPoint("sql", "adapters.memory:MemoryAdapter", group)]

    monkeypatch.setattr(adapters, "entry_points", entry_points)
    assert adapters.available()["sql"] == adapters.BUILTIN["sql"]


def test_an_unknown_kind_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        adapters.create("nope", "x.main", {}, [])
