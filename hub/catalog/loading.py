"""Loading the catalog, all or nothing.

`load_catalog(dir)` reads every `*.yaml` file, expands `${VAR}` / `${VAR:-default}`
from the environment, validates each file against the models of hub/catalog/model.py
and then checks what spans files (relationship targets, duplicate OPD ids). Every
problem found is reported at once, each naming the file, the path inside it and what
is wrong; nothing is half-loaded. The GraphQL names the catalog generates are checked
against the hub's own by hub/gql/reserved.py (`hub check` reports both; a schema is
never built over a clash).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import yaml
from pydantic import ValidationError

from hub.catalog import yamlfile
from hub.catalog.checks import check_file, check_links
from hub.catalog.model import Catalog, CatalogFile, Dataset
from hub.errors import CatalogError, Problem


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
