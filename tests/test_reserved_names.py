"""The GraphQL names the hub defines itself are reserved.

The static part of the schema (the Query fields `catalog`, `me`, `myAccesses`,
`accessesToMyData`; types such as `PageInfo`, `AccessPage`, `StringFilter`) is found
here by building the schema of a one-OPD catalog and taking away that OPD's names. An
OPD whose namespace field or generated types would take one of them is a catalog error
naming the file and the path, both for `hub check` and when a schema is built; without
the check, `fields |= transparency_fields()` silently replaced the OPD's namespace.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.catalog import CatalogError, Problem, load_catalog
from hub.gql.dataset_types import Access
from hub.gql.reserved import check_graphql_names
from hub.gql.schema import build_schema

ONE_OPD = """\
opd: {{id: {opd}, name: Dinas Uji}}
sources:
  main: {{adapter: sql, url: "sqlite+aiosqlite:///uji.db"}}
datasets:
  {dataset}:
    source: main
    key: kode
    fields:
      kode: {{type: string}}
      jumlah: {{type: integer}}
      rasio: {{type: float}}
      harga: {{type: decimal}}
      aktif: {{type: boolean}}
      tanggal: {{type: date}}
      waktu: {{type: datetime}}
"""


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def catalog_dir(tmp: Path, opd: str, dataset: str) -> Path:
    directory = tmp / f"{opd}-{dataset}"
    directory.mkdir()
    (directory / "uji.yaml").write_text(ONE_OPD.format(opd=opd, dataset=dataset))
    return directory


def static_names(tmp: Path) -> tuple[set[str], set[str]]:
    """Query fields and types of the built schemas that the catalog did not generate: the
    schema of every field, and that of an audience which may only match them (whose
    filters are the `…MatchFilter` types)."""
    catalog = load_catalog(catalog_dir(tmp, "alpha", "orang"), {})
    names = set(catalog.dataset("alpha.orang").fields)
    matching = {
        "alpha.orang": Access(read=frozenset({"kode"}), match=frozenset(names), aggregate=frozenset())
    }
    fields: set[str] = set()
    types: set[str] = set()
    for audience in (None, matching):
        schema = build_schema(catalog, audience=audience).schema
        assert schema.query_type is not None
        fields |= set(schema.query_type.fields) - {"alpha"}
        types |= {n for n in schema.type_map if not n.startswith(("__", "Alpha"))}
    return fields, types


def problems(directory: Path) -> list[Problem]:
    """What `hub check` reports: the catalog's own rules, then its GraphQL names."""
    try:
        catalog = load_catalog(directory, {})
    except CatalogError as e:
        return e.problems
    return check_graphql_names(catalog)


def reserved(opd: str, field: str) -> str:
    return f"'{opd}' is reserved: its namespace '{field}' is a built-in Query field"


def test_the_static_schema_is_found(tmp_path: Path) -> None:
    fields, types = static_names(tmp_path)
    assert {"catalog", "me", "myAccesses", "accessesToMyData"} <= fields
    assert {"PageInfo", "AccessPage", "AccessRecord", "StringFilter", "DateTimeMatchFilter"} <= types


def test_an_opd_id_taking_a_static_query_field_is_a_catalog_error(tmp_path: Path) -> None:
    fields, _ = static_names(tmp_path)
    missed = []
    for field in sorted(fields):
        opd = snake(field)
        found = [(p.path, p.message) for p in problems(catalog_dir(tmp_path, opd, "orang"))]
        if found != [("opd.id", reserved(opd, field))]:
            missed.append((field, found))
    assert not missed


def test_a_dataset_type_taking_a_static_type_name_is_a_catalog_error(tmp_path: Path) -> None:
    fields, types = static_names(tmp_path)
    tried, missed = 0, []
    for name in sorted(types):
        head, *rest = re.findall(r"[A-Z][a-z0-9]*", name)
        if not rest:
            continue  # one word: a generated type has an OPD's and a dataset's
        opd, dataset = head.lower(), snake("".join(rest))
        tried += 1
        found = [(p.path, p.message) for p in problems(catalog_dir(tmp_path, opd, dataset))]
        # an OPD id that is a static field itself (catalog) is the one problem; else the dataset's type
        expected = (
            ("opd.id", reserved(opd, opd))
            if opd in fields
            else (f"datasets.{dataset}", f"generated GraphQL type '{name}' clashes with a built-in type")
        )
        if found != [expected]:
            missed.append((name, found))
    assert tried >= 20, tried
    assert not missed


def test_a_schema_is_not_built_over_a_static_name(tmp_path: Path) -> None:
    catalog = load_catalog(catalog_dir(tmp_path, "my_accesses", "orang"), {})  # names are not its rules
    with pytest.raises(CatalogError) as caught:
        build_schema(catalog)
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("opd.id", reserved("my_accesses", "myAccesses"))
    ]
