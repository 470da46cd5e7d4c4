"""Dinsos's welfare recipients (penerima bansos), with the flaws a data audit looks for.

About 5.5 % of residents receive aid; one in ten of them from two programmes, so the table
holds about 6 % as many rows as there are residents. Of the recipients' NIKs about 3 % do
not exist in Dukcapil (valid-looking numbers), about 2 % belong to residents recorded as
deceased, and about 2 % of names are spelled differently from Dukcapil: half only in case
and spacing (a normalised match agrees), half genuinely (it does not).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date
from typing import TypeVar

from hub.demo.namepool import GROUPS, cosmetic_variant, family_surname, person_name, spelling_variant
from hub.demo.people import Person
from hub.demo.regions import KECAMATAN, REFERENCE_DATE
from hub.demo.tables import Row, Table

T = TypeVar("T")

RECIPIENT_SHARE = 0.055
SECOND_PROGRAMME = 0.10
UNKNOWN_NIK, DECEASED, RENAMED = 0.03, 0.02, 0.02

PROGRAMMES = (("PKH", 30), ("BPNT", 35), ("BLT-DD", 15), ("PBI-JK", 20))
NOMINAL: dict[str, tuple[int, ...]] = {  # rupiah per year
    "PKH": (900_000, 1_500_000, 2_000_000, 2_400_000, 3_000_000),
    "BPNT": (2_400_000,),
    "BLT-DD": (3_600_000,),
    "PBI-JK": (504_000,),
}
YEARS = ((2024, 20), (2025, 35), (2026, 45))
ACTIVE = {2024: 0.15, 2025: 0.5, 2026: 0.92}
NEED: dict[str, float] = {
    "Nelayan/Perikanan": 3, "Buruh Harian Lepas": 3, "Belum/Tidak Bekerja": 3, "Petani/Pekebun": 2.5,
    "Mengurus Rumah Tangga": 2, "Pedagang": 1, "Wiraswasta": 1, "Tukang Kayu": 1.5, "Tukang Batu": 1.5,
    "Pegawai Negeri Sipil": 0.05, "Guru": 0.1, "TNI": 0.05, "POLRI": 0.05, "Karyawan BUMN": 0.05,
}  # fmt: skip


def weighted_sample(rng: random.Random, items: Sequence[T], weight: Callable[[T], float], k: int) -> list[T]:
    """`k` distinct items, each drawn with probability proportional to `weight` (Efraimidis-Spirakis)."""
    keyed = sorted(((rng.random() ** (1 / weight(x)), i) for i, x in enumerate(items)), reverse=True)
    return [items[i] for _, i in keyed[:k]]


def _unknown_nik(rng: random.Random, taken: set[str]) -> tuple[str, str, str]:
    """A NIK that looks valid but is in nobody's register, with a name and kecamatan."""
    while True:
        kec = rng.choices(KECAMATAN, [k.weight for k in KECAMATAN])[0]
        sex = rng.choice("LP")
        age = rng.randint(20, 80)
        birth = date(REFERENCE_DATE.year - age, rng.randint(1, 12), rng.randint(1, 28))
        nik = (
            f"{kec.code}{birth.day + (40 if sex == 'P' else 0):02d}{birth.month:02d}"
            f"{birth.year % 100:02d}{rng.randint(1, 40):04d}"
        )
        if nik not in taken:
            taken.add(nik)
            group = rng.choices([g for g, _ in GROUPS], [w for _, w in GROUPS])[0]
            return nik, person_name(rng, group, sex, age, family_surname(rng, group)), kec.name


def penerima_bansos_table(rng: random.Random, people: list[Person], share: float = RECIPIENT_SHARE) -> Table:
    """The recipients: `share` of the residents (the demo's 5.5 % unless a benchmark
    asks for more), with the flaws the module describes."""
    persons = round(len(people) * share)
    n_unknown = max(1, round(persons * UNKNOWN_NIK))
    n_dead = max(1, round(persons * DECEASED))
    n_renamed = max(2, round(persons * RENAMED))
    adults = [p for p in people if p.age >= 18]
    alive = weighted_sample(
        rng,
        [p for p in adults if p.alive],
        lambda p: NEED.get(p.pekerjaan, 0.3),
        persons - n_unknown - n_dead,
    )
    dead = weighted_sample(rng, [p for p in adults if not p.alive], lambda p: 1.0, n_dead)
    entries: list[tuple[str, str, str, bool]] = []  # nik, nama, kecamatan, flagged (always active)
    for i, p in enumerate(alive):
        nama = p.nama
        if i < n_renamed:
            nama = (cosmetic_variant if i % 2 == 0 else spelling_variant)(rng, p.nama)
        entries.append((p.nik, nama, p.kec.name, False))
    entries += [(p.nik, p.nama, p.kec.name, True) for p in dead]
    taken = {p.nik for p in people}
    entries += [(*_unknown_nik(rng, taken), True) for _ in range(n_unknown)]
    rng.shuffle(entries)

    rows: list[Row] = []
    programmes, weights = [p for p, _ in PROGRAMMES], [w for _, w in PROGRAMMES]
    for nik, nama, kecamatan, flagged in entries:
        chosen = rng.choices(programmes, weights)[0]
        received = [chosen]
        if rng.random() < SECOND_PROGRAMME:
            received.append(rng.choice([p for p in programmes if p != chosen]))
        for programme in received:
            tahun = 2026 if flagged else rng.choices([y for y, _ in YEARS], [w for _, w in YEARS])[0]
            status = "aktif" if flagged or rng.random() < ACTIVE[tahun] else "nonaktif"
            nominal = rng.choice(NOMINAL[programme])
            rows.append((f"PB-{len(rows) + 1:06d}", nik, nama, programme, kecamatan, nominal, tahun, status))
    text, number = "TEXT NOT NULL", "INTEGER NOT NULL"
    return Table(
        name="penerima_bansos",
        columns=(
            ("id", text),
            ("nik", text),
            ("nama", text),
            ("program", text),
            ("kecamatan", text),
            ("nominal", number),
            ("tahun", number),
            ("status", text),
        ),
        key="id",
        indexes=("nik", "program", "kecamatan", "tahun"),
        rows=rows,
    )
