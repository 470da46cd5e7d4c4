"""Dukcapil's residents: households (one Kartu Keluarga each), their members and NIKs.

Households are drawn first (head, spouse, children, now and then a grandparent), so ages
inside a family agree and the regency's age pyramid follows from them: a broad base that
narrows after 50. About 3 % of residents are recorded as deceased, older ones far more
often. Every NIK is `kecamatan code (6) + DDMMYY (DD + 40 for women) + serial (4)`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from hub.demo.namepool import GROUPS, MUSLIM_GROUPS, family_surname, person_name
from hub.demo.regions import KARIMUN, KECAMATAN, KUNDUR, REFERENCE_DATE, STREETS, Kecamatan
from hub.demo.tables import Row, Table

MAX_AGE = 95
DECEASED_SHARE = 0.03


@dataclass(slots=True, kw_only=True)
class Person:
    nik: str
    nama: str
    sex: str  # "L" or "P"
    birth: date
    age: int
    tempat_lahir: str
    kec: Kecamatan
    kelurahan: str
    alamat: str
    no_kk: str
    agama: str
    pekerjaan: str
    group: str
    alive: bool = True
    died: date | None = None


# Household heads by age band (lower bound, relative weight).
HEAD_AGES = (
    (20, 5), (25, 10), (30, 11), (35, 12), (40, 12), (45, 11), (50, 10), (55, 9), (60, 7),
    (65, 6), (70, 4), (75, 3), (80, 1.5), (85, 0.7), (90, 0.3),
)  # fmt: skip
HEAD_BANDS, HEAD_WEIGHTS = (tuple(x) for x in zip(*HEAD_AGES, strict=True))
CHILDREN = (10, 18, 30, 22, 11, 6, 3)  # weights for 0..6 children
RELIGION: dict[str, tuple[tuple[str, int], ...]] = {
    "melayu": (("Islam", 99), ("Kristen", 1)),
    "jawa": (("Islam", 94), ("Kristen", 4), ("Katolik", 2)),
    "minang": (("Islam", 100),),
    "bugis": (("Islam", 100),),
    "batak": (("Kristen", 68), ("Katolik", 20), ("Islam", 12)),
    "tionghoa": (("Buddha", 58), ("Kristen", 20), ("Katolik", 12), ("Konghucu", 10)),
}
TOWNS = {KARIMUN: "Tanjung Balai Karimun", KUNDUR: "Tanjung Batu"}  # where islanders are born
ORIGINS: dict[str, tuple[str, ...]] = {
    "melayu": ("Tanjung Pinang", "Batam", "Bengkalis", "Selat Panjang", "Pekanbaru", "Lingga"),
    "jawa": ("Semarang", "Surabaya", "Yogyakarta", "Surakarta", "Kediri", "Cilacap", "Jakarta"),
    "minang": ("Padang", "Bukittinggi", "Payakumbuh", "Pariaman", "Solok"),
    "batak": ("Medan", "Pematangsiantar", "Tarutung", "Balige", "Sibolga"),
    "bugis": ("Makassar", "Watampone", "Sinjai", "Parepare"),
    "tionghoa": ("Selat Panjang", "Bagansiapiapi", "Tanjung Pinang", "Pekanbaru", "Medan"),
}
JOBS_BY_ZONE: dict[str, tuple[tuple[str, int], ...]] = {
    KARIMUN: (
        ("Karyawan Swasta", 22), ("Wiraswasta", 20), ("Buruh Harian Lepas", 14), ("Pedagang", 10),
        ("Nelayan/Perikanan", 6), ("Pegawai Negeri Sipil", 7), ("Guru", 4), ("Sopir", 4),
        ("Tukang Batu", 3), ("Karyawan BUMN", 3), ("Perawat", 2), ("TNI", 2), ("POLRI", 2),
        ("Petani/Pekebun", 2),
    ),
    KUNDUR: (
        ("Petani/Pekebun", 18), ("Nelayan/Perikanan", 16), ("Wiraswasta", 16), ("Karyawan Swasta", 12),
        ("Buruh Harian Lepas", 14), ("Pedagang", 9), ("Pegawai Negeri Sipil", 6), ("Guru", 4),
        ("Tukang Kayu", 3), ("Perangkat Desa", 2),
    ),
    "": (
        ("Nelayan/Perikanan", 38), ("Petani/Pekebun", 14), ("Buruh Harian Lepas", 14),
        ("Wiraswasta", 10), ("Pedagang", 7), ("Pegawai Negeri Sipil", 4), ("Guru", 4),
        ("Tukang Kayu", 4), ("Perangkat Desa", 3),
    ),
}  # fmt: skip
TIONGHOA_JOBS = (("Wiraswasta", 40), ("Pedagang", 25), ("Karyawan Swasta", 30), ("Nelayan/Perikanan", 5))


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


class _Register:
    """Hands out unique NIK and KK serials: one counter per 12-digit prefix."""

    def __init__(self) -> None:
        self.serials: dict[str, int] = defaultdict(int)

    def number(self, code: str, day: date, plus: int = 0) -> str:
        prefix = f"{code}{day.day + plus:02d}{day.month:02d}{day.year % 100:02d}"
        self.serials[prefix] += 1
        return f"{prefix}{self.serials[prefix]:04d}"


def _birth_ranges() -> list[tuple[int, int]]:
    """Per age, the ordinals of the first and last birth date giving that age on REFERENCE_DATE."""
    ref = REFERENCE_DATE
    return [
        (ref.replace(year=ref.year - age - 1).toordinal() + 1, ref.replace(year=ref.year - age).toordinal())
        for age in range(MAX_AGE + 1)
    ]


class _Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.register = _Register()
        self.births = _birth_ranges()
        self.kec_weights = [k.weight for k in KECAMATAN]
        self.people: list[Person] = []

    def household(self, limit: int) -> None:
        rng = self.rng
        kec = rng.choices(KECAMATAN, self.kec_weights)[0]
        group = _pick(rng, GROUPS)
        head_age = min(MAX_AGE, rng.choices(HEAD_BANDS, HEAD_WEIGHTS)[0] + rng.randrange(5))
        married = rng.random() < (0.45 if head_age < 25 else 0.88 if head_age < 65 else 0.55)
        head_sex = "L" if married or rng.random() < (0.6 if head_age < 30 else 0.4) else "P"
        members: list[tuple[str, str, int]] = [("head", head_sex, head_age)]
        mother_age = head_age if head_sex == "P" else None
        if married:
            spouse_age = max(18, min(MAX_AGE, head_age - rng.randint(-2, 8)))
            members.append(("spouse", "P", spouse_age))
            mother_age = spouse_age
        if mother_age is not None:
            for _ in range(rng.choices(range(len(CHILDREN)), CHILDREN)[0]):
                age = mother_age - rng.randint(19, 42)
                if age >= 0 and (age < 20 or rng.random() < 0.6):
                    members.append(("child", rng.choice("LP"), age))
        if head_age < 55 and rng.random() < 0.07:
            elder = head_age + rng.randint(22, 35)
            if elder <= MAX_AGE:
                members.append(("elder", "P" if rng.random() < 0.7 else "L", elder))
        self._add(members[:limit], kec, group)

    def _add(self, members: list[tuple[str, str, int]], kec: Kecamatan, group: str) -> None:
        rng = self.rng
        kelurahan = rng.choice(kec.kelurahan)
        street = f"{rng.choice(STREETS)} No. {rng.randint(1, 180)}"
        alamat = f"{street}, RT {rng.randint(1, 9):03d}/RW {rng.randint(1, 6):03d}"
        agama = _pick(rng, RELIGION[group])
        surname = family_surname(rng, group)
        births = [date.fromordinal(rng.randint(*self.births[age])) for _, _, age in members]
        issued = date.fromordinal(
            rng.randint(max(date(2008, 1, 1), *births).toordinal(), REFERENCE_DATE.toordinal())
        )
        no_kk = self.register.number(kec.code, issued)
        local = TOWNS.get(kec.island, kec.name)
        for (role, sex, age), birth in zip(members, births, strict=True):
            who = group
            if role == "spouse" and group in MUSLIM_GROUPS and rng.random() < 0.15:
                who = rng.choice(MUSLIM_GROUPS)
            family = surname if role == "child" or (role in ("head", "elder") and sex == "L") else ""
            nama = person_name(rng, who, sex, age, family or family_surname(rng, who))
            born_here = age < 25 or rng.random() < 0.55
            self.people.append(
                Person(
                    nik=self.register.number(kec.code, birth, 40 if sex == "P" else 0),
                    nama=nama,
                    sex=sex,
                    birth=birth,
                    age=age,
                    tempat_lahir=local if born_here else rng.choice(ORIGINS[who]),
                    kec=kec,
                    kelurahan=kelurahan,
                    alamat=alamat,
                    no_kk=no_kk,
                    agama=agama,
                    pekerjaan=self._job(role, sex, age, kec, who),
                    group=who,
                )
            )

    def _job(self, role: str, sex: str, age: int, kec: Kecamatan, group: str) -> str:
        rng = self.rng
        if age < 5:
            return "Belum/Tidak Bekerja"
        if age < 18 or (age < 23 and rng.random() < 0.4):
            return "Pelajar/Mahasiswa" if age >= 6 or rng.random() < 0.5 else "Belum/Tidak Bekerja"
        if age >= 60 and rng.random() < 0.5:
            return "Pensiunan" if rng.random() < 0.3 else "Belum/Tidak Bekerja"
        if sex == "P" and role != "head" and rng.random() < 0.55:
            return "Mengurus Rumah Tangga"
        if rng.random() < 0.06:
            return "Belum/Tidak Bekerja"
        if group == "tionghoa":
            return _pick(rng, TIONGHOA_JOBS)
        return _pick(rng, JOBS_BY_ZONE.get(kec.island, JOBS_BY_ZONE[""]))

    def deaths(self) -> None:
        """Mark ~3 % as deceased, weighted towards the old (Efraimidis-Spirakis sampling)."""
        rng = self.rng
        count = round(len(self.people) * DECEASED_SHARE)
        keyed = sorted(
            ((rng.random() ** (1 / (0.2 + (p.age / 20) ** 3)), i) for i, p in enumerate(self.people)),
            reverse=True,
        )
        recent = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - 8).toordinal()
        for _, i in keyed[:count]:
            p = self.people[i]
            p.alive = False
            p.died = date.fromordinal(
                rng.randint(max(recent, p.birth.toordinal()), REFERENCE_DATE.toordinal())
            )


def residents(rng: random.Random, count: int) -> list[Person]:
    """`count` residents in households, about 3 % of them deceased."""
    builder = _Builder(rng)
    while len(builder.people) < count:
        builder.household(count - len(builder.people))
    builder.deaths()
    return builder.people


def penduduk_table(people: list[Person]) -> Table:
    rows: list[Row] = [
        (
            p.nik, p.nama, p.sex, p.birth.isoformat(), p.tempat_lahir, p.kec.name, p.kelurahan, p.alamat,
            p.no_kk, p.agama, p.pekerjaan, int(p.alive), p.died.isoformat() if p.died else None,
        )
        for p in people
    ]  # fmt: skip
    text, number = "TEXT NOT NULL", "INTEGER NOT NULL"
    return Table(
        name="penduduk",
        columns=(
            ("nik", text),
            ("nama", text),
            ("jenis_kelamin", text),
            ("tanggal_lahir", text),
            ("tempat_lahir", text),
            ("kecamatan", text),
            ("kelurahan", text),
            ("alamat", text),
            ("no_kk", text),
            ("agama", text),
            ("pekerjaan", text),
            ("is_alive", number),
            ("tanggal_meninggal", "TEXT"),
        ),
        key="nik",
        indexes=("kecamatan", "no_kk", "tanggal_lahir"),
        rows=rows,
    )
