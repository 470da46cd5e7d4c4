"""The demo regency (hub/demo): structure, deliberate flaws, determinism, and the catalog.

Everything is checked by querying the generated SQLite files directly.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from hub.catalog import load_catalog
from hub.demo.generate import MARKER, generate
from hub.demo.regions import BY_NAME, REFERENCE_DATE

RESIDENTS = 3_000
SEED = 7
SCHEMA = Path(__file__).resolve().parents[1] / "schema"
DEMO_DATASETS = {
    "dukcapil.penduduk",
    "dinsos.penerima_bansos",
    "bpkad.ssh",
    "bpkad.belanja",
    "bappeda.kegiatan",
    "dinkes.puskesmas",
    "dinkes.imunisasi",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    generate(data_dir, residents=RESIDENTS, seed=SEED, progress=False)
    return data_dir


def query(data_dir: Path, opd: str, sql: str, *attach: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(data_dir / f"{opd}.db")
    try:
        for other in attach:
            con.execute(f"ATTACH DATABASE ? AS {other}", (str(data_dir / f"{other}.db"),))
        return con.execute(sql).fetchall()
    finally:
        con.close()


def table_contents(data_dir: Path) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    for db in sorted(data_dir.glob("*.db")):
        con = sqlite3.connect(db)
        try:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for t in sorted(tables):
                yield f"{db.stem}.{t}", con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
        finally:
            con.close()


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


# --- Dukcapil ---------------------------------------------------------------------------


def test_every_nik_encodes_kecamatan_birth_date_and_sex(demo: Path) -> None:
    rows = query(demo, "dukcapil", "SELECT nik, jenis_kelamin, tanggal_lahir, kecamatan FROM penduduk")
    assert len(rows) == RESIDENTS
    codes: dict[str, set[str]] = defaultdict(set)
    for nik, sex, born_iso, kecamatan in rows:
        assert re.fullmatch(r"2102\d{12}", nik), nik
        born = date.fromisoformat(born_iso)
        day = int(nik[6:8])
        assert sex in ("L", "P")
        assert (day - 40 if sex == "P" else day) == born.day, nik
        assert 1 <= day <= 31 or 41 <= day <= 71
        assert (int(nik[8:10]), int(nik[10:12])) == (born.month, born.year % 100), nik
        assert nik[12:] != "0000"
        assert nik[:6] == BY_NAME[kecamatan].code
        codes[kecamatan].add(nik[:6])
    assert len(codes) == 14, "every kecamatan has residents"
    assert all(len(c) == 1 for c in codes.values())


def test_niks_are_unique_and_the_primary_key(demo: Path) -> None:
    [(count, distinct)] = query(demo, "dukcapil", "SELECT count(*), count(DISTINCT nik) FROM penduduk")
    assert count == distinct == RESIDENTS
    pk = [r[1] for r in query(demo, "dukcapil", "PRAGMA table_info(penduduk)") if r[5]]
    assert pk == ["nik"]


def test_families_share_a_kk_and_an_address(demo: Path) -> None:
    rows = query(demo, "dukcapil", "SELECT no_kk, nik, kecamatan, kelurahan, alamat FROM penduduk")
    families: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
    for no_kk, nik, *place in rows:
        assert re.fullmatch(r"\d{16}", no_kk)
        assert no_kk[:6] == nik[:6], "a KK is issued in the family's kecamatan"
        families[no_kk].append((nik, *place))
    sizes = [len(members) for members in families.values()]
    assert len(families) < RESIDENTS / 2
    assert max(sizes) >= 5
    for members in families.values():
        assert len({tuple(m[1:]) for m in members}) == 1, "members live at one address"


def test_ages_form_a_plausible_pyramid(demo: Path) -> None:
    born = [date.fromisoformat(r[0]) for r in query(demo, "dukcapil", "SELECT tanggal_lahir FROM penduduk")]
    ages = [age_on(b, REFERENCE_DATE) for b in born]
    assert min(ages) == 0
    assert 80 <= max(ages) <= 95
    children = sum(a < 15 for a in ages) / len(ages)
    elderly = sum(a >= 65 for a in ages) / len(ages)
    assert 0.15 < children < 0.35
    assert 0.02 < elderly < children


def test_about_three_percent_are_deceased_with_a_consistent_date(demo: Path) -> None:
    rows = query(demo, "dukcapil", "SELECT is_alive, tanggal_lahir, tanggal_meninggal FROM penduduk")
    assert {r[0] for r in rows} == {0, 1}
    dead = [r for r in rows if r[0] == 0]
    assert 0.02 <= len(dead) / len(rows) <= 0.04
    assert all(r[2] is None for r in rows if r[0] == 1)
    for _, born, died in dead:
        assert date.fromisoformat(born) <= date.fromisoformat(died) <= REFERENCE_DATE


# --- Dinsos ------------------------------------------------------------------------------


def test_recipients_include_unknown_and_deceased_niks(demo: Path) -> None:
    rows = query(
        demo,
        "dinsos",
        "SELECT b.nik, p.nik IS NULL, p.is_alive FROM penerima_bansos b "
        "LEFT JOIN dukcapil.penduduk p ON p.nik = b.nik GROUP BY b.nik",
        "dukcapil",
    )
    recipients = len(rows)
    unknown = [nik for nik, missing, _ in rows if missing]
    deceased = [nik for nik, missing, alive in rows if not missing and alive == 0]
    assert 0.04 <= recipients / RESIDENTS <= 0.07
    assert 0.015 <= len(unknown) / recipients <= 0.05
    assert 0.01 <= len(deceased) / recipients <= 0.04
    for nik in unknown:  # valid-looking: region, date and serial all plausible
        assert re.fullmatch(r"2102\d{12}", nik)
        assert nik[:6] in {k.code for k in BY_NAME.values()}
        assert 1 <= int(nik[6:8]) % 40 <= 31 and 1 <= int(nik[8:10]) <= 12


def test_some_names_differ_cosmetically_and_some_genuinely(demo: Path) -> None:
    rows = query(
        demo,
        "dinsos",
        "SELECT DISTINCT b.nama, p.nama FROM penerima_bansos b "
        "JOIN dukcapil.penduduk p ON p.nik = b.nik WHERE b.nama <> p.nama",
        "dukcapil",
    )

    def normal(name: str) -> str:
        return " ".join(name.split()).casefold()

    cosmetic = [r for r in rows if normal(r[0]) == normal(r[1])]
    genuine = [r for r in rows if normal(r[0]) != normal(r[1])]
    assert cosmetic and genuine
    [(recipients,)] = query(demo, "dinsos", "SELECT count(DISTINCT nik) FROM penerima_bansos")
    assert len(rows) / recipients <= 0.04


def test_recipient_rows_are_well_formed(demo: Path) -> None:
    rows = query(demo, "dinsos", "SELECT id, program, nominal, tahun, status, kecamatan FROM penerima_bansos")
    assert all(re.fullmatch(r"PB-\d{6}", r[0]) for r in rows)
    assert {r[1] for r in rows} == {"PKH", "BPNT", "BLT-DD", "PBI-JK"}
    assert all(isinstance(r[2], int) and r[2] > 0 for r in rows)
    assert {r[3] for r in rows} <= {2024, 2025, 2026}
    assert {r[4] for r in rows} == {"aktif", "nonaktif"}
    assert {r[5] for r in rows} <= set(BY_NAME)
    [(multi,)] = query(
        demo,
        "dinsos",
        "SELECT count(*) FROM (SELECT nik FROM penerima_bansos GROUP BY nik HAVING count(*) > 1)",
    )
    assert multi > 0, "some recipients receive two programmes"


# --- BPKAD -------------------------------------------------------------------------------


def test_ssh_has_realistic_size_codes_and_prices(demo: Path) -> None:
    rows = query(demo, "bpkad", "SELECT kode, harga, kelompok FROM ssh")
    assert 1_300 <= len(rows) <= 1_700
    assert all(re.fullmatch(r"1\.1\.12\.\d{2}\.\d{2}\.\d{4}", r[0]) for r in rows)
    assert all(isinstance(r[1], int) and r[1] > 0 for r in rows)
    assert len({r[2] for r in rows}) == 5


def test_budget_lines_refer_to_ssh_and_some_exceed_it(demo: Path) -> None:
    rows = query(
        demo,
        "bpkad",
        "SELECT b.kode_ssh, s.kode, b.volume, b.harga_satuan, b.jumlah, s.harga, b.satuan, s.satuan "
        "FROM belanja b LEFT JOIN ssh s ON s.kode = b.kode_ssh",
    )
    assert len(rows) == 20_000
    assert all(r[1] is not None for r in rows), "every kode_ssh exists in ssh"
    assert all(r[4] == r[2] * r[3] and r[2] >= 1 for r in rows)
    assert all(r[6] == r[7] for r in rows)
    above = sum(r[3] > r[5] for r in rows) / len(rows)
    assert 0.06 <= above <= 0.10


# --- Dinkes and BAPPEDA --------------------------------------------------------------------


def test_every_kecamatan_has_one_or_two_puskesmas(demo: Path) -> None:
    rows = query(demo, "dinkes", "SELECT kecamatan, count(*) FROM puskesmas GROUP BY kecamatan")
    assert {r[0] for r in rows} == set(BY_NAME)
    assert all(1 <= r[1] <= 2 for r in rows)


def test_vaccinations_are_for_resident_children_under_five(demo: Path) -> None:
    rows = query(
        demo,
        "dinkes",
        "SELECT i.nik_anak, p.tanggal_lahir, i.tanggal, i.kecamatan, p.kecamatan, k.kecamatan "
        "FROM imunisasi i LEFT JOIN dukcapil.penduduk p ON p.nik = i.nik_anak "
        "LEFT JOIN puskesmas k ON k.kode = i.puskesmas",
        "dukcapil",
    )
    assert 0.05 <= len(rows) / RESIDENTS <= 0.15
    for _nik, born, given, kecamatan, home, clinic in rows:
        assert born is not None, "the child is a Dukcapil resident"
        assert date.fromisoformat(born) <= date.fromisoformat(given) <= REFERENCE_DATE
        assert age_on(date.fromisoformat(born), date.fromisoformat(given)) < 5
        assert kecamatan == home == clinic


def test_activity_statuses_follow_their_year(demo: Path) -> None:
    rows = query(demo, "bappeda", "SELECT tahun, status, count(*) FROM kegiatan GROUP BY 1, 2")
    statuses = {(t, s) for t, s, _ in rows}
    assert {s for _, s in statuses} == {"usulan", "disetujui", "berjalan", "selesai"}
    assert all(s == "usulan" or t >= 2026 for t, s in statuses if s in ("usulan", "disetujui"))
    assert all(t <= 2026 for t, s in statuses if s == "selesai")
    assert sum(n for *_, n in rows) == 2_000


# --- generation: determinism, idempotence, atomicity ---------------------------------------


def test_same_seed_and_count_give_identical_tables(demo: Path, tmp_path: Path) -> None:
    generate(tmp_path, residents=RESIDENTS, seed=SEED, progress=False)
    assert dict(table_contents(tmp_path)) == dict(table_contents(demo))


def test_another_seed_gives_another_regency(demo: Path, tmp_path: Path) -> None:
    generate(tmp_path, residents=RESIDENTS, seed=SEED + 1, progress=False)
    ours, theirs = dict(table_contents(demo)), dict(table_contents(tmp_path))
    assert ours.keys() == theirs.keys()
    assert ours["dukcapil.penduduk"] != theirs["dukcapil.penduduk"]
    assert ours["bpkad.belanja"] != theirs["bpkad.belanja"]


def test_a_second_call_does_not_rewrite_and_a_new_request_does(tmp_path: Path) -> None:
    paths = generate(tmp_path, residents=1_000, seed=SEED, progress=False)
    assert set(paths) == {"dukcapil", "dinsos", "bpkad", "bappeda", "dinkes"}
    files = [*paths.values(), tmp_path / MARKER]
    before = {p: p.stat().st_mtime_ns for p in files}
    assert generate(tmp_path, residents=1_000, seed=SEED, progress=False) == paths
    assert {p: p.stat().st_mtime_ns for p in files} == before

    generate(tmp_path, residents=1_200, seed=SEED, progress=False)
    assert query(tmp_path, "dukcapil", "SELECT count(*) FROM penduduk") == [(1_200,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [MARKER, "bappeda.db", "bpkad.db", "dinkes.db", "dinsos.db", "dukcapil.db"]
    ), "no temporary files are left behind"


def test_a_missing_file_or_a_broken_marker_triggers_regeneration(tmp_path: Path) -> None:
    paths = generate(tmp_path, residents=1_000, seed=SEED, progress=False)
    paths["dinsos"].unlink()
    generate(tmp_path, residents=1_000, seed=SEED, progress=False)
    assert query(tmp_path, "dinsos", "SELECT count(*) > 0 FROM penerima_bansos") == [(1,)]
    (tmp_path / MARKER).write_text("{not json")
    before = paths["dukcapil"].stat().st_mtime_ns
    generate(tmp_path, residents=1_000, seed=SEED, progress=False)
    assert paths["dukcapil"].stat().st_mtime_ns != before


def test_too_few_residents_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="residents"):
        generate(tmp_path, residents=10, progress=False)
    assert not list(tmp_path.glob("*.db"))


# --- the catalog (schema/*.yaml) against the files -----------------------------------------

SQLITE_TYPES = {"string": "text", "integer": "integer", "boolean": "integer", "date": "text"}


def test_catalog_loads_and_every_table_and_column_exists(demo: Path) -> None:
    catalog = load_catalog(SCHEMA, {**os.environ, "HUB_DEMO_DIR": str(demo)})
    assert set(catalog.datasets) >= DEMO_DATASETS
    for name in sorted(DEMO_DATASETS):
        ds = catalog.dataset(name)
        assert ds.source.adapter == "sql"
        db = Path(str(make_url(ds.source.url or "").database))
        assert db == demo / f"{ds.opd}.db", name
        table = ds.spec.table or ds.name
        con = sqlite3.connect(db)
        try:
            info = {r[1]: r for r in con.execute(f"PRAGMA table_info({table})")}
            assert info, f"{name}: no table {table}"
            key_column = ds.fields[ds.key].column or ds.key
            assert [c for c, r in info.items() if r[5]] == [key_column], f"{name}: key is the primary key"
            for field, spec in ds.fields.items():
                column = spec.column or field
                assert column in info, f"{name}.{field}: no column {column}"
                stored = {r[0] for r in con.execute(f"SELECT DISTINCT typeof({column}) FROM {table}")}
                assert stored - {"null"} == {SQLITE_TYPES[spec.type]}, f"{name}.{field}"
                if spec.type == "boolean":
                    values = {r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM {table}")}
                    assert values <= {0, 1}, f"{name}.{field}"
                if spec.type == "date":
                    for (value,) in con.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"):
                        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), f"{name}.{field}: {value}"
        finally:
            con.close()


def test_filtered_columns_are_indexed(demo: Path) -> None:
    def indexed(opd: str, table: str) -> set[str]:
        names = [r[1] for r in query(demo, opd, f"PRAGMA index_list({table})")]
        return {r[2] for n in names for r in query(demo, opd, f"PRAGMA index_info({n})")}

    assert {"kecamatan"} <= indexed("dukcapil", "penduduk")
    assert {"nik", "program", "kecamatan", "tahun"} <= indexed("dinsos", "penerima_bansos")
    assert {"kode_ssh", "tahun", "opd"} <= indexed("bpkad", "belanja")
    assert {"kecamatan", "tahun"} <= indexed("bappeda", "kegiatan")
    assert {"nik_anak", "kecamatan"} <= indexed("dinkes", "imunisasi")


def test_sqlalchemy_reads_dates_and_booleans_as_python_values(demo: Path) -> None:
    penduduk = sa.table(
        "penduduk",
        sa.column("nik", sa.String()),
        sa.column("tanggal_lahir", sa.Date()),
        sa.column("is_alive", sa.Boolean()),
        sa.column("tanggal_meninggal", sa.Date()),
    )
    engine = sa.create_engine(f"sqlite:///{demo / 'dukcapil.db'}")
    try:
        with engine.connect() as con:
            query_ = sa.select(penduduk).where(penduduk.c.is_alive.is_(False)).limit(5)
            rows = con.execute(query_).all()
            assert rows
            for _nik, born, alive, died in rows:
                assert alive is False
                assert isinstance(born, date) and isinstance(died, date) and born <= died
            since = date(2000, 1, 1)
            count = con.execute(
                sa.select(sa.func.count()).select_from(penduduk).where(penduduk.c.tanggal_lahir >= since)
            ).scalar_one()
        assert 0 < count < RESIDENTS
    finally:
        engine.dispose()
