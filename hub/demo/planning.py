"""BAPPEDA's development activities (kegiatan), from proposal to completion, 2024-2027.

Each activity belongs to an agency's programme, usually takes place in one kecamatan
(regency-wide ones have none) and has a ceiling (pagu). Its status follows its year as
seen from REFERENCE_DATE: past years are finished, the current one is under way, next
year's are still proposals.
"""

from __future__ import annotations

import random

from hub.demo.budget import UNITS
from hub.demo.regions import KECAMATAN
from hub.demo.tables import Row, Table

ROWS = 2_000
YEARS = (2024, 2025, 2026, 2027)
STATUS: dict[int, tuple[tuple[str, int], ...]] = {
    2024: (("selesai", 97), ("berjalan", 3)),
    2025: (("selesai", 80), ("berjalan", 20)),
    2026: (("berjalan", 60), ("disetujui", 30), ("selesai", 10)),
    2027: (("usulan", 85), ("disetujui", 15)),
}
# agency code -> (programme, ((activity template, pagu range in million rupiah), ...))
Activity = tuple[str, int, int]
PLANS: dict[str, tuple[tuple[str, tuple[Activity, ...]], ...]] = {
    "1.01.01": (
        ("Program Pengelolaan Pendidikan", (
            ("Rehabilitasi Ruang Kelas SD Negeri {n} {kec}", 150, 600),
            ("Pembangunan Ruang Kelas Baru SMP Negeri {n} {kec}", 400, 1_200),
            ("Pengadaan Meubelair SD Negeri {n} {kec}", 50, 250),
            ("Pembangunan Toilet Sekolah SD Negeri {n} {kec}", 80, 200),
        )),
        ("Program Pendidik dan Tenaga Kependidikan", (
            ("Pelatihan Guru Kurikulum Merdeka", 100, 400),
            ("Pemerataan Guru di Pulau-pulau Terluar", 200, 800),
        )),
    ),
    "1.02.01": (
        ("Program Pemenuhan Upaya Kesehatan Perorangan dan Masyarakat", (
            ("Pembangunan Puskesmas Pembantu {desa}", 500, 1_500),
            ("Rehabilitasi Puskesmas {kec}", 300, 1_200),
            ("Pengadaan Alat Kesehatan Puskesmas {kec}", 200, 900),
            ("Pelaksanaan Imunisasi Rutin di Kecamatan {kec}", 50, 200),
            ("Penanganan Stunting di {desa}", 40, 150),
        )),
        ("Program Peningkatan Kapasitas Sumber Daya Manusia Kesehatan", (
            ("Pelatihan Kader Posyandu Kecamatan {kec}", 30, 120),
        )),
    ),
    "1.03.01": (
        ("Program Penyelenggaraan Jalan", (
            ("Pembangunan Jalan Lingkungan {desa}", 300, 1_500),
            ("Peningkatan Jalan Poros {desa}", 1_000, 5_000),
            ("Rehabilitasi Jembatan {desa}", 500, 2_500),
            ("Pemeliharaan Rutin Jalan Kabupaten di Kecamatan {kec}", 200, 900),
        )),
        ("Program Pengelolaan Sumber Daya Air", (
            ("Normalisasi Saluran Drainase {desa}", 150, 700),
            ("Pembangunan Turap Pantai {desa}", 800, 3_500),
        )),
        ("Program Pengembangan Sistem Penyediaan Air Minum", (
            ("Pembangunan SPAM Perdesaan {desa}", 400, 2_000),
        )),
    ),
    "1.04.01": (
        ("Program Kawasan Permukiman", (
            ("Rehabilitasi Rumah Tidak Layak Huni {desa}", 200, 900),
            ("Penataan Kawasan Kumuh {desa}", 500, 2_000),
        )),
    ),
    "1.05.02": (
        ("Program Penanggulangan Bencana", (("Pembangunan Tanggul Penahan Abrasi {desa}", 600, 3_000),)),
    ),
    "1.06.01": (
        ("Program Rehabilitasi Sosial", (
            ("Bantuan Sosial bagi Lansia Terlantar Kecamatan {kec}", 50, 250),
            ("Pendataan dan Verifikasi DTKS Kecamatan {kec}", 40, 150),
        )),
    ),
    "2.09.01": (
        ("Program Penyediaan dan Pengembangan Sarana Pertanian", (
            ("Bantuan Bibit dan Pupuk Kelompok Tani {desa}", 50, 300),
            ("Pengembangan Kebun Sayur Hidroponik {desa}", 40, 200),
        )),
    ),
    "2.11.01": (
        ("Program Pengelolaan Persampahan", (
            ("Pembangunan TPS3R {desa}", 300, 900),
            ("Pengadaan Tempat Sampah Terpilah {desa}", 30, 120),
        )),
    ),
    "2.12.01": (
        ("Program Pendaftaran Penduduk", (
            ("Pelayanan Jemput Bola Perekaman KTP-el Kecamatan {kec}", 30, 120),
            ("Integrasi Data Kependudukan dengan OPD Pengguna", 100, 400),
        )),
    ),
    "2.13.01": (
        ("Program Pemberdayaan Lembaga Kemasyarakatan", (("Pelatihan Aparatur Desa {desa}", 30, 150),)),
    ),
    "2.15.01": (
        ("Program Penyelenggaraan Lalu Lintas dan Angkutan", (
            ("Pembangunan Pelantar {desa}", 400, 2_000),
            ("Rehabilitasi Pelabuhan Rakyat {desa}", 500, 2_500),
            ("Pemasangan Penerangan Jalan Umum {desa}", 100, 600),
        )),
    ),
    "2.16.01": (
        ("Program Aplikasi Informatika", (
            ("Pemasangan Jaringan Internet Kantor Desa {desa}", 50, 250),
            ("Pengembangan Portal Satu Data Kabupaten Karimun", 200, 800),
            ("Pengembangan Hub Pertukaran Data antar OPD", 300, 1_200),
        )),
    ),
    "3.25.01": (
        ("Program Pengelolaan Perikanan Tangkap", (
            ("Bantuan Alat Tangkap Nelayan {desa}", 50, 300),
            ("Bantuan Mesin Pompong Nelayan {desa}", 100, 500),
            ("Pembangunan Cold Storage Kecamatan {kec}", 800, 3_000),
        )),
    ),
    "3.26.01": (
        ("Program Pengembangan Destinasi Pariwisata", (
            ("Penataan Kawasan Wisata Pantai {desa}", 200, 1_500),
            ("Festival Budaya Melayu Kecamatan {kec}", 100, 500),
        )),
    ),
    "5.01.01": (
        ("Program Perencanaan, Pengendalian dan Evaluasi Pembangunan Daerah", (
            ("Musrenbang Kecamatan {kec}", 30, 100),
            ("Penyusunan RKPD Kabupaten Karimun", 150, 500),
        )),
    ),
}  # fmt: skip
NAMES = {code: name for code, name, _, _ in UNITS}


def kegiatan_table(rng: random.Random, count: int = ROWS) -> Table:
    codes = list(PLANS)
    weights = [len(PLANS[c]) + 1 for c in codes]
    kec_weights = [k.weight for k in KECAMATAN]
    serials: dict[str, int] = {}
    rows: list[Row] = []
    for n in range(count):
        tahun = YEARS[n * len(YEARS) // count]
        code = rng.choices(codes, weights)[0]
        p, (programme, activities) = rng.choice(list(enumerate(PLANS[code], 1)))
        template, lo, hi = rng.choice(activities)
        kec = rng.choices(KECAMATAN, kec_weights)[0]
        located = "{" in template
        name = template.format(kec=kec.name, desa=rng.choice(kec.kelurahan), n=rng.randint(1, 40))
        pagu = round(rng.uniform(lo, hi) * 10) * 100_000
        serials[code] = serials.get(code, 0) + 1
        status = rng.choices([s for s, _ in STATUS[tahun]], [w for _, w in STATUS[tahun]])[0]
        kode = f"{code}.{p:02d}.{serials[code]:04d}"
        rows.append((kode, name, programme, NAMES[code], kec.name if located else None, pagu, tahun, status))
    text, number = "TEXT NOT NULL", "INTEGER NOT NULL"
    return Table(
        name="kegiatan",
        columns=(
            ("kode", text),
            ("nama_kegiatan", text),
            ("program", text),
            ("opd_pelaksana", text),
            ("kecamatan", "TEXT"),
            ("pagu", number),
            ("tahun", number),
            ("status", text),
        ),
        key="kode",
        indexes=("program", "opd_pelaksana", "kecamatan", "tahun", "status"),
        rows=rows,
    )
