"""Catalog rules the models cannot express: inside one file, and across files.

Inside a file the generated GraphQL names must be unique: the fields of a namespace
(per dataset: `x`, `xMatch`, `xAggregate`) and node fields. Namespaces and type names,
which meet the hub's own names and other files', are checked by hub/gql/reserved.py.
"""

from __future__ import annotations

from hub.catalog.model import CatalogFile
from hub.catalog.names import camel
from hub.disclosure.ptable import PTableError, table_for
from hub.errors import Problem

RESERVED_FIELDS = frozenset({"and", "or", "not"})  # the combinators of every Where input


def check_file(name: str, f: CatalogFile) -> list[Problem]:
    """Rules inside one file that the models cannot express."""
    problems: list[Problem] = []
    generated: dict[str, str] = {}  # GraphQL field name in the namespace -> its origin
    for ds_name, ds in f.datasets.items():
        where = f"datasets.{ds_name}"
        if ds.source not in f.sources:
            known = ", ".join(sorted(f.sources))
            problems.append(
                Problem(name, f"{where}.source", f"unknown source {ds.source!r} (known: {known})")
            )
        for field_name in ds.fields:
            if field_name in RESERVED_FIELDS:
                problems.append(
                    Problem(name, f"{where}.fields.{field_name}",
                             f"{field_name!r} is reserved (a filter combinator); use `column: {field_name}` "
                             "with another field name")
                )  # fmt: skip
        if ds.key not in ds.fields:
            problems.append(Problem(name, f"{where}.key", f"key {ds.key!r} is not a field of the dataset"))
        if ds.disclosure.method == "cell_key":
            try:
                table_for(ds.disclosure.max_noise, ds.disclosure.variance, ds.min_group_size)
            except PTableError as e:
                problems.append(Problem(name, f"{where}.disclosure", f"no perturbation table: {e}"))
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


def check_links(files: dict[str, tuple[str, CatalogFile]], broken: set[str]) -> list[Problem]:
    """Rules that span files: relationship targets and the fields they join on."""
    problems: list[Problem] = []
    for _opd, (name, f) in files.items():
        for ds_name, ds in f.datasets.items():
            for rel_name, rel in ds.relationships.items():
                rpath = f"datasets.{ds_name}.relationships.{rel_name}"
                t_opd, t_ds = rel.to.split(".")
                target = files.get(t_opd, ("", None))[1]
                if target is None and t_opd in broken:
                    continue  # its own file's problems are reported; this one would mislead
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
