"""The dataset catalog: one YAML file per OPD, loaded once into frozen, validated models.

Loading is all or nothing. `load_catalog(dir)` reads every `*.yaml` file, expands
`${VAR}` / `${VAR:-default}` from the environment, validates each file against the
models below and then checks what spans files (relationship targets, duplicate OPD
ids). Every problem found is reported at once, each naming the file, the path inside
it and what is wrong; nothing is half-loaded. The GraphQL names the catalog generates
are checked against the hub's own by hub/gql/reserved.py (`hub check` reports both;
a schema is never built over a clash).

Example:
    >>> catalog = load_catalog(Path("schema"))
    >>> catalog.dataset("dukcapil.penduduk").key
    'nik'
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from hub.catalog import yamlfile

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
        50_000, ge=1, description="rows the hub may fetch to answer what the source cannot do itself"
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
    min_group_size: int = Field(5, ge=1)
    require_purpose: bool = False
    fields: dict[Identifier, FieldSpec] = Field(min_length=1)
    relationships: dict[Identifier, RelationshipSpec] = Field(default_factory=dict)


class CatalogFile(_Frozen):
    """The content of one `schema/<opd>.yaml`."""

    opd: OpdInfo
    sources: dict[Identifier, SourceSpec] = Field(min_length=1)
    datasets: dict[Identifier, DatasetSpec] = Field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path or '(top)'}: {self.message}"


class CatalogError(Exception):
    """The catalog cannot be loaded; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


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


# --- loading -------------------------------------------------------------------------------


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_file(path: Path, env: Mapping[str, str]) -> tuple[CatalogFile | None, list[Problem]]:
    name = str(path)
    try:
        raw, duplicates = yamlfile.read(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        return None, [Problem(name, "", f"not valid YAML: {e}")]
    except (OSError, UnicodeDecodeError) as e:
        return None, [Problem(name, "", f"cannot read: {getattr(e, 'strerror', None) or e}")]
    if duplicates:
        return None, [Problem(name, at, message) for at, message in duplicates]
    if not isinstance(raw, dict):
        return None, [Problem(name, "", "expected a mapping with opd, sources and datasets")]
    env_problems: list[tuple[str, str]] = []
    raw = yamlfile.expand_tree(raw, env, "", env_problems)
    problems = [Problem(name, at, message) for at, message in env_problems]
    try:
        parsed = CatalogFile.model_validate(raw)
    except ValidationError as e:
        for err in e.errors():
            problems.append(Problem(name, _loc(err["loc"]), err["msg"]))
        return None, problems
    problems += check_file(name, parsed)
    return (None if problems else parsed), problems


def _raw_opd_id(path: Path) -> str:
    """The `opd.id` a broken file meant to define, if it can be read at all."""
    try:
        raw, _ = yamlfile.read(path.read_text(encoding="utf-8"))
        return str(raw["opd"]["id"])
    except Exception:
        return ""


def load_catalog(directory: Path, env: Mapping[str, str] | None = None) -> Catalog:
    """Load every `*.yaml` / `*.yml` file of `directory`; raise CatalogError listing all problems."""
    env = os.environ if env is None else env
    if not directory.is_dir():
        raise CatalogError([Problem(str(directory), "", "not a directory")])
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not paths:
        raise CatalogError([Problem(str(directory), "", "no *.yaml catalog files found")])
    problems: list[Problem] = []
    files: dict[str, tuple[str, CatalogFile]] = {}
    broken: set[str] = set()  # OPD ids of files that did not load
    for path in paths:
        parsed, found = load_file(path, env)
        problems += found
        if parsed is None:
            broken.add(_raw_opd_id(path))
            continue
        if parsed.opd.id in files:
            other = files[parsed.opd.id][0]
            problems.append(
                Problem(str(path), "opd.id", f"OPD {parsed.opd.id!r} is already defined in {other}")
            )
            continue
        files[parsed.opd.id] = (str(path), parsed)
    problems += check_links(files, broken)
    if problems:
        raise CatalogError(problems)
    datasets = {
        f"{opd}.{ds_name}": Dataset(opd, ds_name, ds, f.sources[ds.source], ds.source)
        for opd, (_, f) in files.items()
        for ds_name, ds in f.datasets.items()
    }
    return Catalog(
        files=MappingProxyType({opd: f for opd, (_, f) in files.items()}),
        paths=MappingProxyType({opd: path for opd, (path, _) in files.items()}),
        datasets=MappingProxyType(datasets),
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one catalog file (written to `schema/catalog.schema.json`)."""
    schema = CatalogFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "OPD Hub catalog file"
    return schema


from hub.catalog.checks import check_file, check_links  # noqa: E402 - they use the models above
