"""hub.catalog.yamlfile.read: PyYAML's safe loading, plus duplicate keys reported at their path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hub.catalog import CatalogError, load_catalog
from hub.catalog.yamlfile import Loader, read

DOCUMENTS = {
    "catalog shapes": "opd: {id: a, name: A}\nlist: [1, two, 3.5, true, null, ~, 0o17, 0x1F, 1_000]\n",
    "scalars": "d: 2024-01-31\nt: 2024-01-31T08:00:00Z\nyes_no: [yes, no, on, off]\nq: '007'\nf: .inf\nn: -0\n",
    "numbers as keys": "1: one\n2.5: two\ntrue: three\nnull: four\n",
    "anchors and aliases": "base: &b {type: string, classification: public}\nf1: *b\nf2: *b\nl: &l [1, 2]\nm: *l\n",
    "merge keys": "base: &b {type: string, classification: public}\nf: {<<: *b, classification: internal}\n",
    "tags of their own": "s: !!set {a, b}\nb: !!binary aGVsbG8=\np: !!pairs [a: 1, b: 2]\no: !!omap [a: 1]\n",
    "explicit str": "a: !!str 12\nb: !!int '12'\n",
    "empty values": "a:\nb: []\nc: {}\n",
    "nested lists": "a: [[1, [2, {x: y}]], {b: [c]}]\n",
    "multi-line strings": "a: |\n  line one\n  line two\nb: >\n  folded\n  text\n",
}


@pytest.mark.parametrize("text", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_the_data_is_what_pyyaml_safe_load_builds(text: str) -> None:
    data, duplicates = read(text)
    assert data == yaml.safe_load(text)
    assert duplicates == []


def test_an_empty_document_is_none() -> None:
    assert read("") == (None, [])
    assert read("# only a comment\n") == (None, [])


def test_duplicate_keys_are_reported_at_their_path_and_line_and_the_last_value_wins() -> None:
    text = "a:\n  b: 1\n  b: 2\nl:\n  - {x: 1, x: 2}\na2: {c: 1}\n"
    data, duplicates = read(text)
    assert data == yaml.safe_load(text)
    assert duplicates == [("a.b", "duplicate key 'b' (line 3)"), ("l[0].x", "duplicate key 'x' (line 5)")]


def test_duplicates_are_found_where_pyyaml_builds_the_data_itself() -> None:
    text = "base: &b {k: 1}\nf: {<<: *b, k: 2, k: 3}\n"  # a merge key: PyYAML's constructor builds it
    data, duplicates = read(text)
    assert data == yaml.safe_load(text)
    assert duplicates == [("f.k", "duplicate key 'k' (line 2)")]


@pytest.mark.parametrize(
    "text",
    [
        "a: !unknown 1\n",  # a tag no safe constructor knows
        "? [1, 2]\n: x\n",  # a key that cannot be hashed
        "a: [1, 2\n",  # bad syntax
        "a: 1\n---\nb: 2\n",  # two documents
    ],
    ids=["unknown tag", "unhashable key", "syntax", "two documents"],
)
def test_broken_yaml_raises_what_pyyaml_raises(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as ours:
        read(text)
    with pytest.raises(yaml.YAMLError) as theirs:
        yaml.load(text, Loader=Loader)  # the safe loader read() builds on (libyaml when installed)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    "text", ["a: &a [1, *a]\n", "m: &m {k: *m}\n", "x: &x [[*x]]\n"], ids=["list", "mapping", "nested"]
)
def test_an_alias_into_its_own_parent_is_a_yaml_error_not_a_crash(text: str) -> None:
    with pytest.raises(yaml.YAMLError, match="an alias refers back to a node that contains it"):
        read(text)


def test_a_recursive_catalog_file_is_a_catalog_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("opd: {id: a, name: A}\nsources: &s [*s]\n")
    with pytest.raises(CatalogError) as e:
        load_catalog(tmp_path)
    assert [(p.file, p.path, p.message.splitlines()[0]) for p in e.value.problems] == [
        (
            str(tmp_path / "a.yaml"),
            "",
            "not valid YAML: at sources[0]: an alias refers back to a node that contains it",
        )
    ]
