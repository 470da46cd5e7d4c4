"""Reading catalog YAML strictly: duplicate keys are errors reported at their path, and
`${VAR}` / `${VAR:-default}` are expanded in string values (never in keys or structure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(value: str, env: Mapping[str, str]) -> str:
    """Expand `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`.

    Raises KeyError(name) for a variable that is unset and has no default.
    """

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        if default is None:  # ${VAR}: set (even to "") or an error
            if name in env:
                return env[name]
            raise KeyError(name)
        return env.get(name) or default  # ${VAR:-d}: d when unset or empty

    return _VAR.sub(sub, value)


def expand_tree(node: Any, env: Mapping[str, str], path: str, out: list[tuple[str, str]]) -> Any:
    """`node` with every string expanded; problems go to `out` as (path, message)."""
    if isinstance(node, str):
        try:
            return expand(node, env)
        except KeyError as e:
            out.append((path, f"environment variable {e.args[0]} is not set and has no default"))
            return node
    if isinstance(node, dict):
        return {k: expand_tree(v, env, f"{path}.{k}" if path else str(k), out) for k, v in node.items()}
    if isinstance(node, list):
        return [expand_tree(v, env, f"{path}[{i}]", out) for i, v in enumerate(node)]
    return node


Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~20x faster
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


class _Loader(Loader):  # type: ignore[valid-type,misc]  # the C or the Python one
    """Resolves each distinct plain scalar's tag once: a catalog says `string` and
    `public` thousands of times, and the resolver tries a row of regexes on each."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._tags: dict[tuple[Any, Any, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        key = (kind, value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag


class _Unusual(Exception):
    """A node `_build` leaves to PyYAML's own constructor: a tag of its own, a merge
    key (`<<`), a key that is not a scalar, or an alias back into its own parent."""


def _build(loader: yaml.SafeLoader, root: yaml.Node) -> tuple[Any, list[tuple[str, str]]]:
    """The data of plain mappings, lists and strings, and the duplicate keys, in one walk;
    every other scalar is built by PyYAML's constructor, as `construct_document` would."""
    found: list[tuple[str, str]] = []
    building: set[int] = set()

    def build(node: yaml.Node, path: str) -> Any:
        if type(node) is yaml.ScalarNode:
            return node.value if node.tag == _STR else loader.construct_object(node, deep=True)
        if id(node) in building:
            raise _Unusual
        building.add(id(node))
        out: Any
        if type(node) is yaml.MappingNode and node.tag == _MAP:
            out, seen = {}, set()
            for key_node, value in node.value:
                if type(key_node) is not yaml.ScalarNode or key_node.tag == _MERGE:
                    raise _Unusual
                key = str(key_node.value)
                at = f"{path}.{key}" if path else key
                if key in seen:
                    found.append((at, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})"))
                seen.add(key)
                out[build(key_node, at)] = build(value, at)
        elif type(node) is yaml.SequenceNode and node.tag == _SEQ:
            out = [build(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        else:
            raise _Unusual
        building.discard(id(node))
        return out

    return build(root, ""), found


def _duplicates(root: yaml.Node) -> list[tuple[str, str]]:
    """Duplicate keys anywhere under `root`; yaml.YAMLError for an alias that points
    back into a node containing it (recursive data: no catalog holds it, and walking
    or building it would never end)."""
    found: list[tuple[str, str]] = []
    inside: set[int] = set()

    def walk(node: yaml.Node, path: str) -> None:
        if id(node) in inside:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"at {path or 'the top'}: an alias refers back to a node that contains it",
                node.start_mark,
            )
        inside.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value in node.value:
                key = str(key_node.value)
                at = f"{path}.{key}" if path else key
                if key in seen:
                    found.append((at, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})"))
                seen.add(key)
                walk(value, at)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{path}[{i}]")
        inside.discard(id(node))

    walk(root, "")
    return found


def read(text: str) -> tuple[Any, list[tuple[str, str]]]:
    """Parse YAML safely in one pass: the data, and (path, message) for every mapping
    key that appears twice (YAML alone would keep the last). yaml.YAMLError on bad syntax."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, []
        try:
            return _build(loader, root)
        except Exception:  # _Unusual, or a bad value: PyYAML's constructor decides, and says why
            yaml.constructor.SafeConstructor.__init__(loader)  # forget the partial walk
            duplicates = _duplicates(root)
            return loader.construct_document(root), duplicates
    finally:
        loader.dispose()
