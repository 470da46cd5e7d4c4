"""The catalog's models: one file per OPD (frozen, validated pydantic models), and the
loaded `Catalog` with each dataset's names resolved (hub/catalog/loading.py builds it).

Example:
    >>> catalog = load_catalog(Path("schema"))
    >>> catalog.dataset("dukcapil.penduduk").key
    'nik'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

FieldType = Literal["string", "integer", "float", "decimal", "boolean", "date", "datetime"]
Normalizer = Literal["trim", "casefold", "collapse_spaces", "digits"]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
NUMERIC_TYPES: frozenset[str] = frozenset({"integer", "float", "decimal"})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpdInfo(_Frozen):
    """Who owns the file: `id` becomes the GraphQL namespace."""

    id: Identifier
    name: str
    contact: str | None = None


class FieldSpec(_Frozen):
    """One field of a dataset."""

    type: FieldType
    classification: Identifier = Field(
        "confidential", description="public, internal, confidential (or a label of your own)"
    )
    column: str | None = Field(None, description="sql/file: the column, when it differs")
    path: str | None = Field(None, description="rest/graphql: dotted path in a record")
    normalize: tuple[Normalizer, ...] = Field((), description="applied before match")
    description: str | None = None


class RelationshipSpec(_Frozen):
    """A field added to a dataset's node that points at rows of another dataset."""

    to: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", description="opd.dataset")
    join: dict[Identifier, Identifier] = Field(description="this field -> target field")
    many: bool = False
    description: str | None = None


class Pagination(_Frozen):
    style: Literal["page", "offset", "next"]
    page_param: str = "page"
    size_param: str = "size"
    offset_param: str = "offset"
    limit_param: str = "limit"
    next: str | None = None
    size: int = Field(100, ge=1, le=10_000)


class SourceSpec(_Frozen):
    """Where data lives; `adapter` picks the module in `adapters/`."""

    adapter: Identifier
    url: str | None = None
    path: str | None = None
    sheet: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(5.0, gt=0, le=600, description="seconds; every adapter accepts it")
    pool_size: int = Field(5, ge=1, le=100)
    idle_timeout: float = Field(
        300.0, gt=0, le=86_400, description="sql: seconds a pooled connection may stay unused (see README)"
    )
    retries: int = Field(2, ge=0, le=10, description="rest/graphql: retries of idempotent requests")
    breaker_failures: int = Field(5, ge=1, description="consecutive failures that open the circuit breaker")
    breaker_reset: float = Field(10.0, gt=0, description="seconds the breaker stays open before a probe")
    max_rows: int = Field(
        50_000,
        ge=1,
        description="rows the hub may fetch to answer what the source cannot do itself, and rows a "
        "to-many relationship to its datasets may bring one page",
    )


class Disclosure(_Frozen):
    """How aggregates are protected for callers who may not read every field they use
    (hub/disclosure): `cell_key` perturbs every count and sum consistently (the same
    records always get the same noise); `suppress` hides groups below min_group_size,
    for datasets whose aggregates carry no risk across answers."""

    method: Literal["cell_key", "suppress"] = "cell_key"
    max_noise: int = Field(2, ge=1, le=10, description="cell_key: largest noise added to a count (D)")
    variance: float = Field(1.5, gt=0, description="cell_key: variance of the noise added to a count")
    sum_noise: float = Field(
        0.5,
        ge=0.05,
        le=2,
        description="cell_key: largest noise on a sum, as a share of the group's largest value",
    )


class DatasetSpec(_Frozen):
    title: str | None = None
    description: str | None = None
    source: Identifier
    table: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
    path: str | None = None
    records: str | None = None
    pagination: Pagination | None = None
    params: dict[Identifier, str] = Field(
        default_factory=dict, description="rest: field -> query parameter for pushing down `eq` filters"
    )
    key: Identifier
    license: str = "internal"
    modified: dt.date | None = Field(None, description="when the data last changed (pages, DCAT, CKAN)")
    keywords: tuple[str, ...] = Field((), description="words to find it by (DCAT keywords, CKAN tags)")
    min_group_size: int = Field(5, ge=1)
    disclosure: Disclosure = Field(default_factory=Disclosure)
    match_guesses: int = Field(
        3, ge=1, description="distinct values one caller may compare per key and match-only field in a window"
    )
    match_window_hours: float = Field(
        24.0, gt=0, le=24 * 366, description="the window of match_guesses, in hours"
    )
    require_purpose: bool = False
    fields: dict[Identifier, FieldSpec] = Field(min_length=1)
    relationships: dict[Identifier, RelationshipSpec] = Field(default_factory=dict)


class CatalogFile(_Frozen):
    """The content of one `schema/<opd>.yaml`."""

    opd: OpdInfo
    sources: dict[Identifier, SourceSpec] = Field(min_length=1)
    datasets: dict[Identifier, DatasetSpec] = Field(default_factory=dict)


@dataclass(frozen=True)
class Dataset:
    """A dataset with the names around it resolved: what the rest of the hub works with."""

    opd: str
    name: str
    spec: DatasetSpec
    source: SourceSpec
    source_name: str

    @property
    def qualified(self) -> str:
        return f"{self.opd}.{self.name}"

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def fields(self) -> Mapping[str, FieldSpec]:
        return MappingProxyType(self.spec.fields)


@dataclass(frozen=True)
class Catalog:
    files: Mapping[str, CatalogFile]  # opd id -> file content
    paths: Mapping[str, str]  # opd id -> the file it came from
    datasets: Mapping[str, Dataset]  # "opd.dataset" -> Dataset

    def dataset(self, qualified: str) -> Dataset:
        return self.datasets[qualified]

    @cached_property
    def classification(self) -> dict[str, str]:
        """`opd.dataset.field` -> the field's classification, for every field (looked up on
        every release a request notes)."""
        return {
            f"{qualified}.{name}": spec.classification
            for qualified, d in self.datasets.items()
            for name, spec in d.spec.fields.items()
        }

    def of_opd(self, opd: str) -> Iterator[Dataset]:
        return (d for d in self.datasets.values() if d.opd == opd)

    def sources(self) -> Iterator[tuple[str, str, SourceSpec]]:
        """(opd, source name, spec) for every source."""
        for opd, file in self.files.items():
            for name, spec in file.sources.items():
                yield opd, name, spec


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one catalog file (written to `schema/catalog.schema.json`)."""
    schema = CatalogFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "OPD Hub catalog file"
    return schema
