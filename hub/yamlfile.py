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


def _duplicates(root: yaml.Node | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(node: yaml.Node, path: str) -> None:
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

    if root is not None:
        walk(root, "")
    return found


def read(text: str) -> tuple[Any, list[tuple[str, str]]]:
    """Parse YAML safely in one pass: the data, and (path, message) for every mapping
    key that appears twice (YAML alone would keep the last). yaml.YAMLError on bad syntax."""
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        duplicates = _duplicates(root)
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return data, duplicates
