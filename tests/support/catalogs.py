"""The test regency's catalog, written once: Dukcapil's residents (`penduduk`) and Dinsos's
welfare recipients (`penerima_bansos`), as the mappings a catalog file holds.

`penduduk()` and `penerima_bansos()` give a dataset with the standard fields, the
standard relationship between the two, and what a test changes, so that the change is
what its call says:

    penduduk("berkas", relationships={})                 # served alone, by a file source
    penduduk(require_purpose=True)                       # a dataset option
    penduduk(fields={"status_hidup": {"column": None}})  # a source that names it so

`fields` maps a field's name to the keys to change (a key given None is removed);
`opd_file` puts datasets and their sources in an OPD's file and `write_opd` writes it;
`write_catalog` writes the regency's two files over two SQL sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Spec = dict[str, Any]

DUKCAPIL = {"id": "dukcapil", "name": "Dinas Kependudukan dan Pencatatan Sipil"}
DINSOS = {"id": "dinsos", "name": "Dinas Sosial"}

# status_hidup is stored as is_alive: in tests/support/regency.py's tables and in the test files
PENDUDUK_FIELDS: dict[str, Spec] = {
    "nik": {"type": "string", "classification": "confidential"},
    "nama": {"type": "string", "classification": "confidential"},
    "kecamatan": {"type": "string", "classification": "public"},
    "tanggal_lahir": {"type": "date", "classification": "internal"},
    "status_hidup": {"type": "boolean", "classification": "internal", "column": "is_alive"},
    "tinggi": {"type": "float", "classification": "internal"},
    "saldo": {"type": "decimal", "classification": "confidential"},
    "anak": {"type": "integer", "classification": "internal"},
}
PENERIMA_FIELDS: dict[str, Spec] = {
    "id": {"type": "integer", "classification": "internal"},
    "nik": {"type": "string", "classification": "confidential"},
    "program": {"type": "string", "classification": "public"},
    "nominal": {"type": "integer", "classification": "internal"},
    "tahun": {"type": "integer", "classification": "public"},
}
TO_PENERIMA = {"penerima_bansos": {"to": "dinsos.penerima_bansos", "join": {"nik": "nik"}, "many": True}}
TO_PENDUDUK = {"penduduk": {"to": "dukcapil.penduduk", "join": {"nik": "nik"}}}


def changed(standard: dict[str, Spec], changes: dict[str, Spec]) -> dict[str, Spec]:
    """`standard` with each field's keys updated from `changes` (None removes a key)."""
    unknown = set(changes) - set(standard)
    assert not unknown, f"no such standard field: {sorted(unknown)}"
    out = {}
    for name, spec in standard.items():
        merged = {**spec, **changes.get(name, {})}
        out[name] = {k: v for k, v in merged.items() if v is not None}
    return out


def penduduk(
    source: str = "main",
    *,
    fields: dict[str, Spec] | None = None,
    relationships: dict[str, Spec] = TO_PENERIMA,
    **options: Any,
) -> Spec:
    """The residents on `source`, keyed by nik; `relationships` replace the one to Dinsos's
    recipients; `options` are further dataset keys (`table`, `path`, `require_purpose`)."""
    return _dataset(source, "nik", changed(PENDUDUK_FIELDS, fields or {}), relationships, options)


def penerima_bansos(
    source: str = "main",
    *,
    fields: dict[str, Spec] | None = None,
    relationships: dict[str, Spec] = TO_PENDUDUK,
    **options: Any,
) -> Spec:
    """The welfare recipients on `source`, keyed by id, each joined to a resident by nik."""
    return _dataset(source, "id", changed(PENERIMA_FIELDS, fields or {}), relationships, options)


def _dataset(
    source: str, key: str, fields: dict[str, Spec], relationships: dict[str, Spec], options: dict[str, Any]
) -> Spec:
    spec = {"source": source, "key": key, **options, "fields": fields}
    return spec | ({"relationships": relationships} if relationships else {})


def opd_file(opd: dict[str, str], sources: dict[str, Spec], datasets: dict[str, Spec]) -> Spec:
    return {"opd": opd, "sources": sources, "datasets": datasets}


class _Dumper(yaml.SafeDumper):
    """Writes a mapping used twice out twice, as a person would, not as an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_opd(directory: Path, content: Spec) -> Path:
    """`content` as `directory/<opd id>.yaml`, its keys in the order given."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{content['opd']['id']}.yaml"
    path.write_text(yaml.dump(content, Dumper=_Dumper, sort_keys=False))
    return path


def sql_source(url: str, timeout: float = 5, **options: Any) -> Spec:
    return {"adapter": "sql", "url": url, "timeout": timeout, **options}


def write_catalog(
    directory: Path,
    residents_url: str,
    recipients_url: str,
    *,
    timeout: float = 5,
    residents: Spec | None = None,
    recipients_source: Spec | None = None,
) -> None:
    """The regency's catalog: Dukcapil's `residents` (standard: `penduduk()`) on the SQL
    database at `residents_url`, Dinsos's recipients on the one at `recipients_url`
    (`recipients_source` adds source options, such as the breaker's)."""
    dukcapil = {"main": sql_source(residents_url, timeout)}
    dinsos = {"main": sql_source(recipients_url, timeout, **(recipients_source or {}))}
    write_opd(directory, opd_file(DUKCAPIL, dukcapil, {"penduduk": residents or penduduk()}))
    write_opd(directory, opd_file(DINSOS, dinsos, {"penerima_bansos": penerima_bansos()}))
