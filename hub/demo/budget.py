"""BPKAD's budget lines (belanja): what each spending agency buys, priced against the SSH.

Each line buys one SSH item; its unit price is usually the SSH price or somewhat below,
but about 8 % of lines are priced above their SSH item, the lines an auditor flags.
Agencies (OPD) carry short codes `urusan.bidang.unit` in the Permendagri 90/2019 spirit;
the codes are illustrative.
"""

from __future__ import annotations

import math
import random

from hub.demo.prices import KELOMPOK, TRAVEL, Ssh
from hub.demo.regions import KECAMATAN
from hub.demo.tables import Row, Table

LINES = 20_000
ABOVE_SSH = 0.08
YEARS = ((2025, 45), (2026, 55))

# code, name, relative number of lines, weights over (ATK, TIK, construction, meals, travel)
Unit = tuple[str, str, float, tuple[float, float, float, float, float]]
UNITS: tuple[Unit, ...] = (
    ("1.01.01", "Dinas Pendidikan", 14, (3, 2, 3, 3, 2)),
    ("1.02.01", "Dinas Kesehatan", 14, (3, 2, 2, 4, 2)),
    ("1.03.01", "Dinas Pekerjaan Umum dan Penataan Ruang", 14, (2, 1, 8, 2, 2)),
    ("1.04.01", "Dinas Perumahan Rakyat dan Kawasan Permukiman", 6, (2, 1, 6, 2, 2)),
    ("1.05.01", "Satuan Polisi Pamong Praja", 4, (3, 1, 0.5, 3, 2)),
    ("1.05.02", "Badan Penanggulangan Bencana Daerah", 4, (2, 1, 3, 3, 2)),
    ("1.06.01", "Dinas Sosial", 6, (3, 1, 1, 4, 2)),
    ("2.09.01", "Dinas Ketahanan Pangan dan Pertanian", 5, (3, 1, 1, 3, 2)),
    ("2.11.01", "Dinas Lingkungan Hidup", 5, (2, 1, 2, 2, 2)),
    ("2.12.01", "Dinas Kependudukan dan Pencatatan Sipil", 5, (4, 3, 0.3, 2, 2)),
    ("2.13.01", "Dinas Pemberdayaan Masyarakat dan Desa", 4, (3, 1, 0.5, 3, 3)),
    ("2.15.01", "Dinas Perhubungan", 5, (2, 1, 3, 2, 2)),
    ("2.16.01", "Dinas Komunikasi dan Informatika", 5, (3, 6, 0.3, 2, 2)),
    ("3.25.01", "Dinas Perikanan", 5, (2, 1, 2, 2, 3)),
    ("3.26.01", "Dinas Pariwisata dan Kebudayaan", 4, (2, 1, 1, 4, 3)),
    ("4.01.01", "Sekretariat Daerah", 10, (4, 2, 0.5, 5, 5)),
    ("5.01.01", "Badan Perencanaan Pembangunan Daerah", 5, (4, 2, 0.2, 4, 4)),
    ("5.02.01", "Badan Pengelolaan Keuangan dan Aset Daerah", 6, (4, 3, 0.2, 3, 4)),
    *((f"7.01.{k.code[-2:]}", f"Kecamatan {k.name}", 1.5, (3, 1, 1, 3, 2)) for k in KECAMATAN),
)
PURPOSES: dict[str, tuple[str, ...]] = {
    "Alat Tulis Kantor": (
        "penunjang administrasi perkantoran", "penyusunan laporan keuangan", "pelayanan publik",
        "kegiatan sosialisasi", "penyusunan dokumen perencanaan",
    ),
    "Peralatan Teknologi Informasi": (
        "penunjang administrasi perkantoran", "pelayanan publik berbasis elektronik", "ruang rapat",
        "pengelolaan data dan statistik sektoral",
    ),
    "Bahan Bangunan dan Konstruksi": (
        "pemeliharaan gedung kantor", "rehabilitasi sarana prasarana", "pemeliharaan jalan lingkungan",
        "perbaikan pelantar dan dermaga",
    ),
    "Makanan dan Minuman": (
        "rapat koordinasi", "kegiatan sosialisasi", "bimbingan teknis", "musyawarah perencanaan",
        "penerimaan tamu dinas",
    ),
    TRAVEL: (
        "koordinasi dan konsultasi", "monitoring dan evaluasi", "bimbingan teknis", "pendampingan kegiatan",
    ),
}  # fmt: skip


def _volume(rng: random.Random, item: Ssh) -> int:
    """Lines cost a few million rupiah to a few hundred million; volume follows from the price."""
    target = rng.lognormvariate(math.log(12_000_000), 1.1)
    cap = 60 if item.kelompok == TRAVEL else 5_000
    return max(1, min(cap, round(target / item.harga)))


def _unit_price(rng: random.Random, ssh: int, above: bool) -> int:
    """The SSH price, a little below it, or (when `above`) strictly above it; in hundreds of rupiah."""
    if above:
        return max(ssh + 100, round(ssh * rng.uniform(1.03, 1.6) / 100) * 100)
    if rng.random() < 0.45:
        return ssh
    return max(50, min(ssh, round(ssh * rng.uniform(0.8, 1.0) / 100) * 100))


def belanja_table(rng: random.Random, items: list[Ssh], lines: int = LINES) -> Table:
    by_group: dict[str, list[Ssh]] = {g: [] for g in KELOMPOK}
    for item in items:
        by_group[item.kelompok].append(item)
    above = set(rng.sample(range(lines), round(lines * ABOVE_SSH)))
    years, year_weights = [y for y, _ in YEARS], [w for _, w in YEARS]
    rows: list[Row] = []
    for n in range(lines):
        code, _, _, profile = rng.choices(UNITS, [u[2] for u in UNITS])[0]
        item = rng.choice(by_group[rng.choices(KELOMPOK, profile)[0]])
        volume = _volume(rng, item)
        harga = _unit_price(rng, item.harga, n in above)
        uraian = f"{item.uraian} ({item.spesifikasi}) untuk {rng.choice(PURPOSES[item.kelompok])}"
        tahun = rng.choices(years, year_weights)[0]
        rekening = item.rekening[0]
        rows.append(
            (
                f"BL-{n + 1:06d}",
                tahun,
                code,
                rekening,
                uraian,
                item.kode,
                volume,
                item.satuan,
                harga,
                volume * harga,
            )
        )
    text, number = "TEXT NOT NULL", "INTEGER NOT NULL"
    return Table(
        name="belanja",
        columns=(
            ("id", text),
            ("tahun", number),
            ("opd", text),
            ("kode_rekening", text),
            ("uraian", text),
            ("kode_ssh", text),
            ("volume", number),
            ("satuan", text),
            ("harga_satuan", number),
            ("jumlah", number),
        ),
        key="id",
        indexes=("tahun", "opd", "kode_rekening", "kode_ssh"),
        rows=rows,
    )
