"""The reference documents keep up with the code: schema/catalog.schema.json is what
`hub catalog-schema` prints and describes every key of the catalog's models, and
README.md documents every catalog key, every setting (HUB_*) and every `hub` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer.main
from pydantic import BaseModel

from hub.catalog import DatasetSpec, FieldSpec, OpdInfo, Pagination, RelationshipSpec, SourceSpec, json_schema
from hub.cli.main import app
from hub.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def test_catalog_schema_json_is_current() -> None:
    written = (REPO / "schema" / "catalog.schema.json").read_text(encoding="utf-8")
    assert written == json.dumps(json_schema(), indent=2, sort_keys=True) + "\n", (
        "regenerate it: hub catalog-schema > schema/catalog.schema.json"
    )


def test_the_json_schema_describes_every_model_key() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == {"opd", "sources", "datasets"}
    defs = schema["$defs"]
    for model in (FieldSpec, RelationshipSpec, SourceSpec, DatasetSpec, OpdInfo, Pagination):
        assert set(defs[model.__name__]["properties"]) == set(model.model_fields)
    assert defs["FieldSpec"]["properties"]["type"]["enum"] == [
        "string", "integer", "float", "decimal", "boolean", "date", "datetime",
    ]  # fmt: skip


README = (REPO / "README.md").read_text(encoding="utf-8")

# Rows of README's catalog table that document a model: those whose first cell begins
# with this prefix. Bare names in a row (`path`, `sheet`) belong to the row's prefix.
DOC_PREFIXES: dict[type[BaseModel], str] = {
    OpdInfo: "opd.",
    SourceSpec: "sources.<name>.",
    DatasetSpec: "datasets.<name>.",
    FieldSpec: "fields.<name>.",
    RelationshipSpec: "relationships.<name>.",
    Pagination: "pagination.",
}


def documented_catalog_keys() -> dict[str, set[str]]:
    """First backticked name of each README table row -> every key the row's first cell names."""
    rows: dict[str, set[str]] = {}
    for line in README.splitlines():
        if not line.startswith("| `"):
            continue
        names = re.findall(r"`([^`]+)`", line.split("|")[1])
        rows.setdefault(names[0], set()).update(n.rsplit(".", 1)[-1] for n in names)
    return rows


def undocumented_keys(model: type[BaseModel]) -> set[str]:
    rows = documented_catalog_keys()
    prefix = DOC_PREFIXES[model]
    documented = set().union(*(keys for first, keys in rows.items() if prefix in first))
    # A key holding a nested model is documented by that model's own rows (`fields.<name>.type`).
    nested = {first.split(".", 1)[0] for first in rows if "." in first}
    return set(model.model_fields) - documented - nested


KNOWN_UNDOCUMENTED: dict[type[BaseModel], str] = {}


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(
            m,
            marks=pytest.mark.xfail(
                strict=True, reason=f"README.md does not document {KNOWN_UNDOCUMENTED[m]}"
            ),
        )
        if m in KNOWN_UNDOCUMENTED
        else m
        for m in DOC_PREFIXES
    ],
    ids=[m.__name__ for m in DOC_PREFIXES],
)
def test_every_catalog_key_is_documented_in_the_readme(model: type[BaseModel]) -> None:
    assert undocumented_keys(model) == set()


def test_the_readme_key_check_can_fail() -> None:
    class Probe(BaseModel):
        adapter: str
        no_such_key: str

    DOC_PREFIXES[Probe] = "sources.<name>."
    try:
        assert undocumented_keys(Probe) == {"no_such_key"}
    finally:
        del DOC_PREFIXES[Probe]


@pytest.mark.parametrize(
    "name",
    list(Settings.model_fields),
)
def test_every_setting_is_documented_in_the_readme(name: str) -> None:
    assert re.search(rf"^\| `HUB_{name.upper()}` \|", README, re.MULTILINE)


def cli_commands() -> list[str]:
    def walk(group: object, prefix: str) -> list[str]:
        out = []
        for name, command in group.commands.items():  # type: ignore[attr-defined]
            if hasattr(command, "commands"):
                out += walk(command, f"{prefix}{name} ")
            else:
                out.append(f"{prefix}{name}")
        return out

    return walk(typer.main.get_command(app), "hub ")


UNDOCUMENTED_COMMANDS: set[str] = set()


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(
            c,
            marks=pytest.mark.xfail(strict=True, reason=f"README.md does not document `{c}`"),
        )
        if c.split()[1] in UNDOCUMENTED_COMMANDS
        else c
        for c in cli_commands()
    ],
)
def test_every_command_is_documented_in_the_readme(command: str) -> None:
    assert f"`{command}" in README
