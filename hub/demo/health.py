"""Dinkes: the puskesmas of each kecamatan and the immunisation register of young children.

The register holds the doses of the last twelve months reported electronically for
children under five who live in the regency (Dukcapil residents), following the national
schedule; reporting is partial, so it holds about one row per ten residents.
"""

from __future__ import annotations

import random
from datetime import date

from hub.demo.people import Person
from hub.demo.regions import KECAMATAN, OUTER, REFERENCE_DATE, STREETS
from hub.demo.tables import Row, Table

REGISTER_SHARE = 0.10  # rows per resident
SCHEDULE: tuple[tuple[int, str], ...] = (  # (age in months, vaccine)
    (0, "HB-0"), (1, "BCG"), (1, "Polio 1"), (2, "DPT-HB-Hib 1"), (2, "Polio 2"), (2, "PCV 1"),
    (2, "Rotavirus 1"), (3, "DPT-HB-Hib 2"), (3, "Polio 3"), (3, "PCV 2"), (3, "Rotavirus 2"),
    (4, "DPT-HB-Hib 3"), (4, "Polio 4"), (4, "IPV 1"), (4, "Rotavirus 3"), (9, "Campak-Rubella 1"),
    (9, "IPV 2"), (12, "PCV 3"), (18, "DPT-HB-Hib 4"), (18, "Campak-Rubella 2"),
)  # fmt: skip

TEXT, NUMBER = "TEXT NOT NULL", "INTEGER NOT NULL"


def puskesmas_table(rng: random.Random) -> Table:
    rows: list[Row] = []
    for kec in KECAMATAN:
        for i in range(kec.puskesmas):
            place = kec.name if i == 0 else kec.kelurahan[1]
            inpatient = i == 0 and (kec.island == OUTER or kec.weight >= 25)
            staff = rng.randint(35, 70) if inpatient else rng.randint(14, 34)
            alamat = f"{rng.choice(STREETS)} No. {rng.randint(1, 99)}, {kec.kelurahan[i]}"
            jenis = "rawat inap" if inpatient else "non rawat inap"
            rows.append((f"P{kec.code}{i + 1:02d}", f"Puskesmas {place}", kec.name, alamat, jenis, staff))
    return Table(
        name="puskesmas",
        columns=(
            ("kode", TEXT),
            ("nama", TEXT),
            ("kecamatan", TEXT),
            ("alamat", TEXT),
            ("jenis", TEXT),
            ("jumlah_tenaga_kesehatan", NUMBER),
        ),
        key="kode",
        indexes=("kecamatan",),
        rows=rows,
    )


def imunisasi_table(rng: random.Random, people: list[Person], puskesmas: Table) -> Table:
    by_kec: dict[str, list[str]] = {}
    for row in puskesmas.rows:
        by_kec.setdefault(str(row[2]), []).append(str(row[0]))
    today = REFERENCE_DATE.toordinal()
    since = today - 365
    due: list[tuple[Person, str, int]] = []  # child, vaccine, day given
    for p in people:
        if p.alive and p.age < 5:
            for months, vaccine in SCHEDULE:
                day = p.birth.toordinal() + round(months * 30.4375)
                if since <= day <= today:
                    due.append((p, vaccine, day))
    keep = min(0.95, round(len(people) * REGISTER_SHARE) / max(1, len(due)))
    rows: list[Row] = []
    clinic: dict[str, str] = {}
    for p, vaccine, day in due:
        if rng.random() >= keep:
            continue
        if p.nik not in clinic:
            clinic[p.nik] = rng.choice(by_kec[p.kec.name])
        given = min(today, day + rng.randint(0, 21))
        rows.append(
            (
                f"IM-{len(rows) + 1:06d}",
                p.nik,
                p.kec.name,
                clinic[p.nik],
                vaccine,
                date.fromordinal(given).isoformat(),
            )
        )
    return Table(
        name="imunisasi",
        columns=(
            ("id", TEXT),
            ("nik_anak", TEXT),
            ("kecamatan", TEXT),
            ("puskesmas", TEXT),
            ("jenis_vaksin", TEXT),
            ("tanggal", TEXT),
        ),
        key="id",
        indexes=("nik_anak", "kecamatan", "puskesmas", "jenis_vaksin", "tanggal"),
        rows=rows,
    )
