"""hub/catalog and `hub check`: loading is all or nothing, and every problem names its
file and the dotted path inside it (docs/design.md §3). That the JSON Schema and
README.md keep up with the catalog's models is tests/test_docs_current.py's."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.catalog import CatalogError, FieldSpec, Problem, load_catalog
from hub.catalog.yamlfile import expand
from hub.gql.reserved import check_graphql_names
from tests.support.hubcli import Ran, run_hub
from tests.support.regency import write_policies

ALPHA = """\
opd: {id: alpha, name: Dinas Alpha, contact: alpha@example.go.id}
sources:
  main: {adapter: sql, url: "sqlite+aiosqlite:///alpha.db"}
datasets:
  orang:
    title: Orang
    source: main
    key: nik
    fields:
      nik: {type: string, classification: public}
      umur: {type: integer}
    relationships:
      bantuan: {to: beta.bantuan, join: {nik: nik}, many: true}
"""
BETA = """\
opd: {id: beta, name: Dinas Beta}
sources:
  main: {adapter: sql, url: "sqlite+aiosqlite:///beta.db", timeout: 2}
datasets:
  bantuan:
    source: main
    key: id
    fields:
      id: {type: integer}
      nik: {type: string}
"""
Files = dict[str, str]


def write(directory: Path, files: Files) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def valid() -> Files:
    return {"alpha.yaml": ALPHA, "beta.yaml": BETA}


def problems_of(directory: Path, env: dict[str, str] | None = None) -> list[Problem]:
    """What `hub check` reports: the catalog's own rules, then its GraphQL names."""
    try:
        catalog = load_catalog(directory, env or {})
    except CatalogError as caught:
        assert caught.problems, "a CatalogError without problems"
        return caught.problems
    problems = check_graphql_names(catalog)
    assert problems, "the catalog has no problem"
    return problems


# --- a valid catalog -------------------------------------------------------------------------


def test_a_valid_catalog_loads_with_its_defaults(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, valid()), {})
    assert set(catalog.datasets) == {"alpha.orang", "beta.bantuan"}
    assert catalog.paths == {"alpha": str(tmp_path / "alpha.yaml"), "beta": str(tmp_path / "beta.yaml")}
    orang = catalog.dataset("alpha.orang")
    assert (orang.opd, orang.name, orang.key, orang.source_name) == ("alpha", "orang", "nik", "main")
    assert orang.fields["nik"].classification == "public"
    assert orang.fields["umur"].classification == "confidential"  # the default
    assert orang.spec.min_group_size == 5
    assert orang.source.timeout == 5.0
    assert catalog.dataset("beta.bantuan").source.timeout == 2.0
    assert orang.spec.relationships["bantuan"].join == {"nik": "nik"}
    assert [(opd, name) for opd, name, _ in catalog.sources()] == [("alpha", "main"), ("beta", "main")]


MUTATIONS: list[tuple[str, Callable[..., None]]] = [
    ("dataset key", lambda c: setattr(c.dataset("alpha.orang").spec, "key", "umur")),
    ("field type", lambda c: setattr(c.dataset("alpha.orang").fields["umur"], "type", "string")),
    ("opd name", lambda c: setattr(c.files["alpha"].opd, "name", "x")),
    ("source url", lambda c: setattr(c.dataset("alpha.orang").source, "url", "x")),
    ("relationship target", lambda c: setattr(c.dataset("alpha.orang").spec.relationships["bantuan"], "to", "a.b")),
    ("resolved dataset", lambda c: setattr(c.dataset("alpha.orang"), "name", "x")),
    ("catalog", lambda c: setattr(c, "datasets", {})),
]  # fmt: skip


@pytest.mark.parametrize("mutate", [m for _, m in MUTATIONS], ids=[i for i, _ in MUTATIONS])
def test_a_loaded_catalog_is_frozen(tmp_path: Path, mutate: Callable[..., None]) -> None:
    catalog = load_catalog(write(tmp_path, valid()), {})
    with pytest.raises((ValidationError, dataclasses.FrozenInstanceError)):
        mutate(catalog)
    assert catalog.dataset("alpha.orang").key == "nik"


def test_the_mappings_inside_a_loaded_catalog_are_read_only(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, valid()), {})
    with pytest.raises(TypeError):
        catalog.dataset("alpha.orang").fields["secret"] = FieldSpec(type="string")  # type: ignore[index]


# --- environment expansion -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${DB}", {"DB": "postgresql://h/db"}, "postgresql://h/db"),
        ("${DB}", {"DB": ""}, ""),  # set, even to "", is used
        ("x${A}y${B}z", {"A": "1", "B": "2"}, "x1y2z"),
        ("${DB:-sqlite:///d.db}", {}, "sqlite:///d.db"),
        ("${DB:-sqlite:///d.db}", {"DB": ""}, "sqlite:///d.db"),  # empty takes the default
        ("${DB:-sqlite:///d.db}", {"DB": "pg"}, "pg"),
        ("${DB:-}", {}, ""),
        ("pa$$word", {}, "pa$word"),
        ("$${DB}", {"DB": "no"}, "${DB}"),  # `$$` escapes what follows
        ("$$$${DB}", {"DB": "x"}, "$${DB}"),
        ("cost $5 and $HOME", {"HOME": "/root"}, "cost $5 and $HOME"),  # only ${...} expands
        ("${A}${A}", {"A": "ab"}, "abab"),
    ],
)
def test_expand(text: str, env: dict[str, str], expected: str) -> None:
    assert expand(text, env) == expected


def test_expand_an_unset_variable_without_default_is_a_key_error() -> None:
    with pytest.raises(KeyError) as caught:
        expand("Bearer ${API_TOKEN}", {"OTHER": "1"})
    assert caught.value.args == ("API_TOKEN",)


def test_values_are_expanded_when_loading(tmp_path: Path) -> None:
    alpha = ALPHA.replace('"sqlite+aiosqlite:///alpha.db"', '"${ALPHA_URL}"').replace(
        "main: {adapter: sql,", 'main: {headers: {Authorization: "Bearer ${TOKEN:-none}"}, adapter: sql,'
    )
    alpha = alpha.replace("umur: {type: integer}", "umur: {type: '${UMUR_TYPE:-integer}'}")
    catalog = load_catalog(
        write(tmp_path, {**valid(), "alpha.yaml": alpha}), {"ALPHA_URL": "sqlite:///a$.db"}
    )
    source = catalog.dataset("alpha.orang").source
    assert source.url == "sqlite:///a$.db"  # the expanded value is not expanded again
    assert source.headers == {"Authorization": "Bearer none"}
    assert catalog.dataset("alpha.orang").fields["umur"].type == "integer"


def test_loading_reads_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_TEST_ALPHA_URL", "sqlite+aiosqlite:///from-env.db")
    alpha = ALPHA.replace('"sqlite+aiosqlite:///alpha.db"', '"${HUB_TEST_ALPHA_URL}"')
    catalog = load_catalog(write(tmp_path, {**valid(), "alpha.yaml": alpha}))
    assert catalog.dataset("alpha.orang").source.url == "sqlite+aiosqlite:///from-env.db"


def test_an_unset_variable_is_a_problem_naming_it_and_where_it_is(tmp_path: Path) -> None:
    alpha = ALPHA.replace('"sqlite+aiosqlite:///alpha.db"', '"${ALPHA_DB_URL}"').replace(
        "umur: {type: integer}", "umur: {type: integer, column: 'umur_${SUFFIX}'}"
    )
    problems = problems_of(write(tmp_path, {**valid(), "alpha.yaml": alpha}), {"UNRELATED": "1"})
    assert [(Path(p.file).name, p.path, p.message) for p in problems] == [
        ("alpha.yaml", "sources.main.url", "environment variable ALPHA_DB_URL is not set and has no default"),
        (
            "alpha.yaml",
            "datasets.orang.fields.umur.column",
            "environment variable SUFFIX is not set and has no default",
        ),
    ]


def test_an_unset_variable_inside_a_list_is_located_by_index(tmp_path: Path) -> None:
    alpha = ALPHA.replace("umur: {type: integer}", "umur: {type: integer, normalize: [trim, '${NORM}']}")
    problems = problems_of(write(tmp_path, {**valid(), "alpha.yaml": alpha}))
    # the unexpanded '${NORM}' is also no normalizer: that second problem is not this test's
    unset = [p for p in problems if "not set" in p.message]
    assert [(p.path, p.message) for p in unset] == [
        ("datasets.orang.fields.umur.normalize[1]", "environment variable NORM is not set and has no default")
    ]


# --- broken catalogs: one problem each, at the right file and path ---------------------------


def edit(name: str, old: str, new: str) -> Callable[[Files], Files]:
    def change(files: Files) -> Files:
        assert old in files[name], f"{old!r} not in {name}"
        return {**files, name: files[name].replace(old, new)}

    return change


def add(name: str, text: str) -> Callable[[Files], Files]:
    return lambda files: {**files, name: text}


REL = "bantuan: {to: beta.bantuan, join: {nik: nik}, many: true}"
BROKEN: list[tuple[str, Callable[[Files], Files], str, str, str]] = [
    # (id, change, file, path, a phrase of the message)
    ("unknown field type", edit("alpha.yaml", "umur: {type: integer}", "umur: {type: int}"),
     "alpha.yaml", "datasets.orang.fields.umur.type", "'integer'"),
    ("unknown classification shape", edit("alpha.yaml", "classification: public", "classification: Public!"),
     "alpha.yaml", "datasets.orang.fields.nik.classification", "pattern"),
    ("unknown normalizer", edit("alpha.yaml", "umur: {type: integer}", "umur: {type: integer, normalize: [upper]}"),
     "alpha.yaml", "datasets.orang.fields.umur.normalize[0]", "casefold"),
    ("relationship to a missing dataset", edit("alpha.yaml", "to: beta.bantuan", "to: beta.nope"),
     "alpha.yaml", "datasets.orang.relationships.bantuan.to", "beta.nope"),
    ("relationship to a missing OPD", edit("alpha.yaml", "to: beta.bantuan", "to: gamma.bantuan"),
     "alpha.yaml", "datasets.orang.relationships.bantuan.to", "gamma.bantuan"),
    ("relationship target not opd.dataset", edit("alpha.yaml", "to: beta.bantuan", "to: bantuan"),
     "alpha.yaml", "datasets.orang.relationships.bantuan.to", "pattern"),
    ("join field missing here", edit("alpha.yaml", "join: {nik: nik}", "join: {nomor: nik}"),
     "alpha.yaml", "datasets.orang.relationships.bantuan.join", "'nomor' is not a field of orang"),
    ("join field missing there", edit("alpha.yaml", "join: {nik: nik}", "join: {nik: nomor}"),
     "alpha.yaml", "datasets.orang.relationships.bantuan.join", "'nomor' is not a field of beta.bantuan"),
    ("join type mismatch", edit("alpha.yaml", "join: {nik: nik}", "join: {umur: nik}"),
     "alpha.yaml", "datasets.orang.relationships.bantuan.join", "'umur' is integer but beta.bantuan.nik is string"),
    ("join of two pairs", edit("alpha.yaml", "join: {nik: nik}", "join: {nik: nik, umur: id}"),
     "alpha.yaml", "datasets.orang.relationships.bantuan.join", "exactly one"),
    ("key not a field", edit("beta.yaml", "key: id", "key: kode"),
     "beta.yaml", "datasets.bantuan.key", "'kode' is not a field"),
    ("key missing", edit("beta.yaml", "    key: id\n", ""),
     "beta.yaml", "datasets.bantuan.key", "required"),
    ("unknown source", edit("beta.yaml", "source: main", "source: mian"),
     "beta.yaml", "datasets.bantuan.source", "unknown source 'mian' (known: main)"),
    ("no sources", edit("beta.yaml", '  main: {adapter: sql, url: "sqlite+aiosqlite:///beta.db", timeout: 2}\n', ""),
     "beta.yaml", "sources", "dictionary"),
    ("misspelt key", edit("beta.yaml", "source: main", "source: main\n    tabel: bantuan"),
     "beta.yaml", "datasets.bantuan.tabel", "Extra inputs"),
    ("timeout out of range", edit("beta.yaml", "timeout: 2", "timeout: 0"),
     "beta.yaml", "sources.main.timeout", "greater than 0"),
    ("dataset without fields", edit("beta.yaml", "      id: {type: integer}\n      nik: {type: string}\n", "      {}\n"),
     "beta.yaml", "datasets.bantuan.fields", "at least 1"),
    ("duplicate OPD id", add("gamma.yaml", BETA.replace("Dinas Beta", "Dinas Gamma")),
     "gamma.yaml", "opd.id", "'beta' is already defined in"),
    ("GraphQL clash of two fields", edit("alpha.yaml", "umur: {type: integer}", "x_1: {type: integer}\n      x1: {type: integer}"),
     "alpha.yaml", "datasets.orang.fields.x1", "'x1' clashes with datasets.orang.fields.x_1"),
    ("GraphQL clash of a field and a relationship",
     edit("alpha.yaml", "umur: {type: integer}\n    relationships:\n      bantuan:",
          "x_1: {type: integer}\n    relationships:\n      x_1:"),
     "alpha.yaml", "datasets.orang.relationships.x_1", "'x1' clashes with datasets.orang.fields.x_1"),
    ("GraphQL clash of two datasets", edit("beta.yaml", "datasets:\n", "datasets:\n  bantuan_match: {source: main, key: a, fields: {a: {type: string}}}\n"),
     "beta.yaml", "datasets.bantuan", "'bantuanMatch' clashes with datasets.bantuan_match"),
    ("invalid OPD id", edit("alpha.yaml", "id: alpha", "id: Alpha"),
     "alpha.yaml", "opd.id", "pattern"),
    ("reserved OPD id catalog", edit("alpha.yaml", "id: alpha", "id: catalog"),
     "alpha.yaml", "opd.id", "'catalog' is reserved"),
    ("reserved OPD id me", edit("alpha.yaml", "id: alpha", "id: me"),
     "alpha.yaml", "opd.id", "'me' is reserved"),
    ("invalid table name", edit("beta.yaml", "source: main", "source: main\n    table: 'bantuan; drop table x'"),
     "beta.yaml", "datasets.bantuan.table", "pattern"),
    ("YAML syntax error", add("beta.yaml", "opd: {id: beta\nsources: [\n"),
     "beta.yaml", "", "not valid YAML"),
    ("not a mapping", add("beta.yaml", "- opd\n- sources\n"),
     "beta.yaml", "", "expected a mapping"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "file", "path", "phrase"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN]
)
def test_a_broken_catalog_names_the_file_and_the_path(
    tmp_path: Path, change: Callable[[Files], Files], file: str, path: str, phrase: str
) -> None:
    problems = problems_of(write(tmp_path, change(valid())))
    mine = [p for p in problems if Path(p.file).name == file]
    assert [p.path for p in mine] == [path], problems
    assert phrase in mine[0].message
    assert str(mine[0]).startswith(f"{tmp_path / file}: {path or '(top)'}: ")
    # a file that cannot be read at all hides its datasets: alpha's relationship into beta fails too
    others = [(Path(p.file).name, p.path) for p in problems if p not in mine]
    assert others == ([("alpha.yaml", "datasets.orang.relationships.bantuan.to")] if path == "" else [])


def test_a_broken_file_does_not_make_relationships_into_it_problems(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, {**valid(), "beta.yaml": BETA.replace("key: id", "key: kode")}))
    assert [(Path(p.file).name, p.path, p.message) for p in problems] == [
        ("beta.yaml", "datasets.bantuan.key", "key 'kode' is not a field of the dataset")
    ]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (edit("alpha.yaml", "umur: {type", "Umur: {type"), "datasets.orang.fields.Umur"),
        (edit("alpha.yaml", "  orang:", "  1orang:"), "datasets.1orang"),
        (edit("beta.yaml", "  main: {adapter", "  Main: {adapter"), "sources.Main"),
        (
            edit("alpha.yaml", "      bantuan: {to", "      bantuan-x: {to"),
            "datasets.orang.relationships.bantuan-x",
        ),
    ],
    ids=["field", "dataset", "source", "relationship"],
)
def test_an_invalid_identifier_is_a_problem_at_its_name(
    tmp_path: Path, change: Callable[[Files], Files], path: str
) -> None:
    problems = problems_of(write(tmp_path, change(valid())))
    assert [(p.path, p.message) for p in problems] == [
        (f"{path}.[key]", "String should match pattern '^[a-z][a-z0-9_]*$'")
    ]


def test_a_duplicate_yaml_key_is_a_problem_with_its_line(tmp_path: Path) -> None:
    alpha = ALPHA.replace("umur: {type: integer}", "umur: {type: integer}\n      umur: {type: string}")
    (problem,) = problems_of(write(tmp_path, {**valid(), "alpha.yaml": alpha}))
    assert (Path(problem.file).name, problem.message) == ("alpha.yaml", "duplicate key 'umur' (line 12)")


def test_a_duplicate_yaml_key_is_a_problem_at_its_path(tmp_path: Path) -> None:
    alpha = ALPHA.replace("umur: {type: integer}", "umur: {type: integer}\n      umur: {type: string}")
    (problem,) = problems_of(write(tmp_path, {**valid(), "alpha.yaml": alpha}))
    assert problem.path == "datasets.orang.fields.umur"


def opd(opd_id: str, *datasets: str, fields: str = "") -> str:
    body = "".join(
        f"\n  {d}:\n    source: main\n    key: id\n    fields:\n      id: {{type: integer}}{fields}"
        for d in datasets
    )
    return f'opd: {{id: {opd_id}, name: X}}\nsources:\n  main: {{adapter: sql, url: "sqlite:///x.db"}}\ndatasets:{body}\n'


def test_opd_ids_that_clash_in_graphql_are_a_problem(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, {"a.yaml": opd("x_1", "p"), "b.yaml": opd("x1", "q")}))
    assert [(Path(p.file).name, p.path, p.message) for p in problems] == [
        ("b.yaml", "opd.id", f"namespace 'x1' clashes with OPD 'x_1' in {tmp_path / 'a.yaml'}")
    ]


@dataclasses.dataclass(frozen=True)
class Clash:
    files: Files
    file: str  # the problems' file and path
    path: str
    types: list[str]  # the generated types that clash, in the order they are reported
    other: str  # what they clash with, and in which file
    other_file: str


# every type generated for a dataset, in the order they are checked: two datasets whose
# type names are one clash in all of them
GENERATED = ["", "Where", "AggregateWhere", "OrderBy", "Edge", "Connection", "MatchInput", "Match", "Field",
             "Group", "GroupKey", "Sum", "Avg", "Min", "Max"]  # fmt: skip
TYPE_CLASHES = {
    "opd a_b dataset c vs opd a dataset b_c (type ABC)": Clash(
        {"a.yaml": opd("a_b", "c"), "b.yaml": opd("a", "b_c")},
        "b.yaml", "datasets.b_c", [f"ABC{suffix}" for suffix in GENERATED], "datasets.c", "a.yaml",
    ),
    "dataset query (type XQuery, the namespace's)": Clash(
        {"a.yaml": opd("x", "query")}, "a.yaml", "datasets.query", ["XQuery"], "opd.id", "a.yaml"
    ),
    "datasets p and p_edge (type XPEdge)": Clash(
        {"a.yaml": opd("x", "p", "p_edge")}, "a.yaml", "datasets.p_edge", ["XPEdge"], "datasets.p", "a.yaml"
    ),
}  # fmt: skip


@pytest.mark.parametrize("clash", list(TYPE_CLASHES.values()), ids=list(TYPE_CLASHES))
def test_generated_type_names_that_clash_are_a_problem(tmp_path: Path, clash: Clash) -> None:
    problems = problems_of(write(tmp_path, clash.files))
    assert [(Path(p.file).name, p.path, p.message) for p in problems] == [
        (
            clash.file,
            clash.path,
            f"generated GraphQL type '{t}' clashes with {clash.other} in {tmp_path / clash.other_file}",
        )
        for t in clash.types
    ]


@pytest.mark.parametrize("name", ["and", "or", "not"])
def test_a_field_named_like_a_where_combinator_is_a_problem(tmp_path: Path, name: str) -> None:
    problems = problems_of(
        write(tmp_path, {"a.yaml": opd("x", "p", fields=f"\n      {name}: {{type: string}}")})
    )
    assert [(Path(p.file).name, p.path, p.message) for p in problems] == [
        (
            "a.yaml",
            f"datasets.p.fields.{name}",
            f"'{name}' is reserved (a filter combinator); use `column: {name}` with another field name",
        )
    ]


def test_disclosure_parameters_that_admit_no_perturbation_table_are_a_problem(tmp_path: Path) -> None:
    """Noise of at most 1 either way cannot have variance 1.5; the default loads."""
    text = ALPHA.replace("    key: nik\n", "    key: nik\n    disclosure: {max_noise: 1}\n")
    (problem,) = problems_of(write(tmp_path, {"alpha.yaml": text}))
    assert (problem.path, problem.message) == (
        "datasets.orang.disclosure",
        "no perturbation table: count 1: [-1, 1] cannot carry mean 0 and variance 1.5",
    )
    assert (
        load_catalog(write(tmp_path / "ok", valid()), {}).dataset("alpha.orang").spec.disclosure.method
        == "cell_key"
    )


def test_an_empty_directory_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a catalog")
    (problem,) = problems_of(tmp_path)
    assert (problem.file, problem.path, problem.message) == (
        str(tmp_path),
        "",
        "no *.yaml catalog files found",
    )


def test_a_missing_directory_is_a_problem(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path / "nope")
    assert (problem.file, problem.path, problem.message) == (str(tmp_path / "nope"), "", "not a directory")


def test_every_problem_is_reported_at_once_and_nothing_loads(tmp_path: Path) -> None:
    files = {
        "alpha.yaml": ALPHA.replace('"sqlite+aiosqlite:///alpha.db"', '"${ALPHA_URL}"').replace(
            "umur: {type: integer}", "umur: {type: int}"
        ),
        "beta.yaml": BETA.replace("key: id", "key: kode"),
        "gamma.yaml": BETA.replace("id: beta", "id: gamma").replace("source: main", "source: other"),
        "delta.yaml": BETA,  # valid: takes the id `beta` that the broken beta.yaml could not
        "epsilon.yaml": "opd: [",
        "zeta.yml": BETA.replace("id: beta", "id: zeta"),  # valid: .yml files are read too
    }
    problems = problems_of(write(tmp_path, files))
    types = "'string', 'integer', 'float', 'decimal', 'boolean', 'date' or 'datetime'"
    # none in delta.yaml or zeta.yml
    assert [(Path(p.file).name, p.path, p.message.splitlines()[0]) for p in problems] == [
        ("alpha.yaml", "sources.main.url", "environment variable ALPHA_URL is not set and has no default"),
        ("alpha.yaml", "datasets.orang.fields.umur.type", f"Input should be {types}"),
        ("beta.yaml", "datasets.bantuan.key", "key 'kode' is not a field of the dataset"),
        ("epsilon.yaml", "", "not valid YAML: while parsing a flow node"),
        ("gamma.yaml", "datasets.bantuan.source", "unknown source 'other' (known: main)"),
    ]


def test_one_broken_file_stops_the_whole_catalog(tmp_path: Path) -> None:
    files = {**valid(), "gamma.yaml": BETA.replace("id: beta", "id: gamma").replace("key: id", "key: x")}
    problems = problems_of(write(tmp_path, files))
    assert [(Path(p.file).name, p.path, p.message) for p in problems] == [
        ("gamma.yaml", "datasets.bantuan.key", "key 'x' is not a field of the dataset")
    ]


# --- hub check ------------------------------------------------------------------------------


async def hub_check(schema: Path, policies: Path) -> Ran:
    return await run_hub("check", "--schema", str(schema), "--policies", str(policies), cwd=schema.parent)


async def test_hub_check_prints_a_summary_of_a_valid_catalog(tmp_path: Path) -> None:
    result = await hub_check(write(tmp_path / "schema", valid()), write_policies(tmp_path / "policies"))
    assert result.code == 0, result.stderr
    assert "catalog OK: 2 OPDs, 2 sources, 2 datasets, 4 fields" in result.stdout
    assert "policy OK: 1 rules" in result.stdout


async def test_hub_check_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    files = {
        "alpha.yaml": ALPHA.replace("to: beta.bantuan", "to: gamma.nope"),
        "beta.yaml": BETA.replace("key: id", "key: kode").replace(
            '"sqlite+aiosqlite:///beta.db"', '"${BETA_DB}"'
        ),
    }
    schema = write(tmp_path / "schema", files)
    result = await hub_check(schema, write_policies(tmp_path / "policies"))
    assert result.code == 1
    assert "catalog OK" not in result.stdout
    assert "The catalog has 3 problem(s)" in result.stderr
    for file, path, phrase in [
        ("alpha.yaml", "datasets.orang.relationships.bantuan.to", "no dataset 'gamma.nope'"),
        ("beta.yaml", "datasets.bantuan.key", "'kode' is not a field"),
        ("beta.yaml", "sources.main.url", "BETA_DB"),
    ]:
        line = next((ln for ln in result.stderr.splitlines() if f"{schema / file}: {path}: " in ln), None)
        assert line is not None, result.stderr
        assert phrase in line


async def test_hub_check_reports_an_adapter_this_installation_lacks(tmp_path: Path) -> None:
    schema = write(
        tmp_path / "schema", {**valid(), "beta.yaml": BETA.replace("adapter: sql", "adapter: ftp")}
    )
    result = await hub_check(schema, write_policies(tmp_path / "policies"))
    assert result.code == 1
    assert f"{schema / 'beta.yaml'}: sources.main.adapter: unknown adapter 'ftp'" in result.stderr
