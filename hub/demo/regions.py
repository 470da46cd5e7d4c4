"""The demo regency's geography: Kabupaten Karimun (Kepulauan Riau, region code 21.02).

The fourteen kecamatan are real. Their 6-digit codes (`2102xx`) are illustrative: they
follow the Kemendagri layout (province 21, regency 02, kecamatan xx) but are numbered in
the order listed here, not copied from the official register. Kelurahan/desa names are
plausible local names, some real and some invented; none is authoritative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

REGION_CODE = "2102"
"""Province 21 (Kepulauan Riau), regency 02 (Karimun)."""

REFERENCE_DATE = date(2026, 10, 31)
"""'Today' in the demo: ages, deaths, vaccinations and budget statuses are as of this date."""


@dataclass(frozen=True, kw_only=True)
class Kecamatan:
    code: str  # 6 digits: 2102xx
    name: str
    weight: int  # relative population
    island: str  # the SSH price zone it lies in
    kelurahan: tuple[str, ...]
    puskesmas: int  # how many puskesmas it has (1 or 2)


def _kec(n: int, name: str, weight: int, island: str, puskesmas: int, *kelurahan: str) -> Kecamatan:
    return Kecamatan(
        code=f"{REGION_CODE}{n:02d}",
        name=name,
        weight=weight,
        island=island,
        kelurahan=kelurahan,
        puskesmas=puskesmas,
    )


KARIMUN, KUNDUR, OUTER = "Pulau Karimun Besar", "Pulau Kundur", "Pulau-pulau"
ZONES: tuple[str, ...] = (KARIMUN, KUNDUR, OUTER)

KECAMATAN: tuple[Kecamatan, ...] = (
    _kec(1, "Moro", 17, OUTER, 2, "Moro", "Moro Timur", "Pauh", "Niur Permai", "Keban", "Jang"),
    _kec(2, "Kundur", 25, KUNDUR, 2, "Tanjung Batu Kota", "Tanjung Batu Barat", "Sei Sebesi", "Lubuk"),
    _kec(3, "Karimun", 44, KARIMUN, 2, "Tanjung Balai", "Tanjung Balai Kota", "Teluk Air",
         "Sungai Lakam Timur", "Sungai Lakam Barat", "Parit"),
    _kec(4, "Meral", 50, KARIMUN, 2, "Meral Kota", "Sungai Raya", "Sungai Pasir", "Baran Timur",
         "Baran Barat", "Parit Benut"),
    _kec(5, "Tebing", 40, KARIMUN, 2, "Tebing", "Pamak", "Harjosari", "Kapling", "Teluk Uma", "Pongkar"),
    _kec(6, "Buru", 8, OUTER, 1, "Buru", "Lubuk Puding", "Tanjung Hutan", "Batu Limau"),
    _kec(7, "Kundur Utara", 11, KUNDUR, 1, "Tanjung Berlian Kota", "Tanjung Berlian Barat", "Perayun",
         "Sungai Ungar Utara", "Teluk Radang"),
    _kec(8, "Kundur Barat", 13, KUNDUR, 1, "Sawang", "Sawang Selatan", "Gemuruh", "Kundur", "Sawang Laut"),
    _kec(9, "Durai", 6, OUTER, 1, "Tanjung Kilang", "Durai", "Semembang", "Telaga Tujuh"),
    _kec(10, "Meral Barat", 12, KARIMUN, 1, "Darussalam", "Pasir Panjang", "Pangke", "Pangke Barat"),
    _kec(11, "Ungar", 6, OUTER, 1, "Ungar", "Sungai Buluh", "Alai", "Batu Berlian"),
    _kec(12, "Belat", 5, OUTER, 1, "Tebias", "Penarah", "Sebesi", "Belat", "Lebuh"),
    _kec(13, "Sugie Besar", 6, OUTER, 1, "Sugie", "Tanjung Pelanduk", "Sebele", "Sugie Barat"),
    _kec(14, "Selat Gelam", 5, OUTER, 1, "Selat Gelam", "Parit Lapis", "Pulau Asam", "Tanjung Pasir"),
)  # fmt: skip

BY_NAME: dict[str, Kecamatan] = {k.name: k for k in KECAMATAN}

STREETS: tuple[str, ...] = (
    "Jl. Nusantara", "Jl. Pertambangan", "Jl. Ahmad Yani", "Jl. Raja Usman", "Jl. Teuku Umar",
    "Jl. Trikora", "Jl. Telaga Tujuh", "Jl. Pelabuhan", "Jl. Poros", "Jl. Canggai Putri",
    "Jl. Sudirman", "Jl. Diponegoro", "Jl. Hang Tuah", "Jl. Hang Jebat", "Jl. Kartini",
    "Jl. Pramuka", "Jl. Bukit Tembak", "Jl. Lingkar", "Jl. Pasar", "Jl. Masjid",
    "Gg. Melati", "Gg. Kenanga", "Gg. Mawar", "Gg. Seroja", "Gg. Keluarga", "Gg. Bakti",
    "Kampung Baru", "Kampung Tengah", "Kampung Nelayan", "Perumahan Griya Karimun",
)  # fmt: skip
