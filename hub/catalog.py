"""The dataset catalog: one YAML file per OPD, loaded once into frozen, validated models.

Loading is all or nothing. `load_catalog(dir)` reads every `*.yaml` file, expands
`${VAR}` / `${VAR:-default}` from the environment, validates each file against the
models below and then checks what spans files (relationship targets, duplicate OPD
ids, GraphQL name clashes). Every problem found is reported at once, each naming the
file, the path inside it and what is wrong; nothing is half-loaded.

Example:
    >>> catalog = load_catalog(Path("schema"))
    >>> catalog.dataset("dukcapil.penduduk").key
    'nik'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from hub.names import camel

FieldType = Literal["string", "integer", "float", "decimal", "boolean", "date", "datetime"]
Normalizer = Literal["trim", "casefold", "collapse_spaces", "digits"]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
NUMERIC_TYPES: frozenset[str] = frozenset({"integer", "float", "decimal"})
RESERVED_OPD_IDS = frozenset({"catalog", "me"})


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
        return self.spec.fields


@dataclass(frozen=True)
class Catalog:
    files: Mapping[str, CatalogFile]  # opd id -> file content
    paths: Mapping[str, str]  # opd id -> the file it came from
    datasets: Mapping[str, Dataset]  # "opd.dataset" -> Dataset

    def dataset(self, qualified: str) -> Dataset:
        return self.datasets[qualified]

    def of_opd(self, opd: str) -> Iterator[Dataset]:
        return (d for d in self.datasets.values() if d.opd == opd)

    def sources(self) -> Iterator[tuple[str, str, SourceSpec]]:
        """(opd, source name, spec) for every source."""
        for opd, file in self.files.items():
            for name, spec in file.sources.items():
                yield opd, name, spec


# --- environment expansion -------------------------------------------------------------

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


def _expand_tree(node: Any, env: Mapping[str, str], path: str, out: list[str]) -> Any:
    if isinstance(node, str):
        try:
            return expand(node, env)
        except KeyError as e:
            out.append(f"{path}: environment variable {e.args[0]} is not set and has no default")
            return node
    if isinstance(node, dict):
        return {k: _expand_tree(v, env, f"{path}.{k}" if path else str(k), out) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_tree(v, env, f"{path}[{i}]", out) for i, v in enumerate(node)]
    return node


# --- YAML with duplicate-key detection ---------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    pass


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


# --- loading -------------------------------------------------------------------------------


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_file(path: Path, env: Mapping[str, str]) -> tuple[CatalogFile | None, list[Problem]]:
    name = str(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506
    except yaml.YAMLError as e:
        return None, [Problem(name, "", f"not valid YAML: {e}")]
    except OSError as e:
        return None, [Problem(name, "", f"cannot read: {e.strerror}")]
    if not isinstance(raw, dict):
        return None, [Problem(name, "", "expected a mapping with opd, sources and datasets")]
    env_problems: list[str] = []
    raw = _expand_tree(raw, env, "", env_problems)
    problems = [Problem(name, *p.split(": ", 1)) for p in env_problems]
    try:
        parsed = CatalogFile.model_validate(raw)
    except ValidationError as e:
        for err in e.errors():
            problems.append(Problem(name, _loc(err["loc"]), err["msg"]))
        return None, problems
    problems += _check_file(name, parsed)
    return (None if problems else parsed), problems


def _check_file(name: str, f: CatalogFile) -> list[Problem]:
    """Rules inside one file that the models cannot express."""
    problems: list[Problem] = []
    if f.opd.id in RESERVED_OPD_IDS:
        problems.append(Problem(name, "opd.id", f"{f.opd.id!r} is reserved; choose another id"))
    generated: dict[str, str] = {}  # GraphQL field name in the namespace -> its origin
    for ds_name, ds in f.datasets.items():
        where = f"datasets.{ds_name}"
        if ds.source not in f.sources:
            known = ", ".join(sorted(f.sources))
            problems.append(
                Problem(name, f"{where}.source", f"unknown source {ds.source!r} (known: {known})")
            )
        if ds.key not in ds.fields:
            problems.append(Problem(name, f"{where}.key", f"key {ds.key!r} is not a field of the dataset"))
        for gql in (camel(ds_name), camel(ds_name) + "Match", camel(ds_name) + "Aggregate"):
            if gql in generated:
                problems.append(Problem(name, where, f"GraphQL name {gql!r} clashes with {generated[gql]}"))
            generated[gql] = where
        node_names: dict[str, str] = {}
        members = [(f"fields.{n}", n) for n in ds.fields] + [
            (f"relationships.{n}", n) for n in ds.relationships
        ]
        for member_path, member in members:
            gql = camel(member)
            if gql in node_names or gql == "__typename":
                problems.append(
                    Problem(
                        name,
                        f"{where}.{member_path}",
                        f"GraphQL name {gql!r} clashes with {node_names.get(gql, gql)}",
                    )
                )
            node_names[gql] = f"{where}.{member_path}"
        for rel_name, rel in ds.relationships.items():
            rpath = f"{where}.relationships.{rel_name}.join"
            if len(rel.join) != 1:
                problems.append(Problem(name, rpath, "exactly one `field: target_field` pair is supported"))
            for own in rel.join:
                if own not in ds.fields:
                    problems.append(Problem(name, rpath, f"{own!r} is not a field of {ds_name}"))
    return problems


def _check_links(files: dict[str, tuple[str, CatalogFile]]) -> list[Problem]:
    """Rules that span files: relationship targets and the fields they join on."""
    problems: list[Problem] = []
    for _opd, (name, f) in files.items():
        for ds_name, ds in f.datasets.items():
            for rel_name, rel in ds.relationships.items():
                rpath = f"datasets.{ds_name}.relationships.{rel_name}"
                t_opd, t_ds = rel.to.split(".")
                target = files.get(t_opd, ("", None))[1]
                if target is None or t_ds not in target.datasets:
                    problems.append(Problem(name, f"{rpath}.to", f"no dataset {rel.to!r} in the catalog"))
                    continue
                tspec = target.datasets[t_ds]
                for own, theirs in rel.join.items():
                    if theirs not in tspec.fields:
                        problems.append(
                            Problem(name, f"{rpath}.join", f"{theirs!r} is not a field of {rel.to}")
                        )
                    elif own in ds.fields and ds.fields[own].type != tspec.fields[theirs].type:
                        problems.append(
                            Problem(
                                name,
                                f"{rpath}.join",
                                f"{own!r} is {ds.fields[own].type} but "
                                f"{rel.to}.{theirs} is {tspec.fields[theirs].type}",
                            )
                        )
    return problems


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
    for path in paths:
        parsed, found = load_file(path, env)
        problems += found
        if parsed is None:
            continue
        if parsed.opd.id in files:
            other = files[parsed.opd.id][0]
            problems.append(
                Problem(str(path), "opd.id", f"OPD {parsed.opd.id!r} is already defined in {other}")
            )
            continue
        files[parsed.opd.id] = (str(path), parsed)
    problems += _check_links(files)
    if problems:
        raise CatalogError(problems)
    datasets = {
        f"{opd}.{ds_name}": Dataset(opd, ds_name, ds, f.sources[ds.source], ds.source)
        for opd, (_, f) in files.items()
        for ds_name, ds in f.datasets.items()
    }
    return Catalog(
        files={opd: f for opd, (_, f) in files.items()},
        paths={opd: path for opd, (path, _) in files.items()},
        datasets=datasets,
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one catalog file (written to `schema/catalog.schema.json`)."""
    schema = CatalogFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "OPD Hub catalog file"
    return schema
