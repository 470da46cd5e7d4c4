"""A small regency for the open-data pages' tests (tests/test_pages.py), and the rows in
Python as their oracle:

    bpkad.ssh           70 price lines; the public reads kode, uraian, satuan, harga,
                        berlaku and aktif, may only count by kategori (suppressed small groups), and
                        sees nothing of penyusun and catatan
    dukcapil.penduduk   57 residents; the public may only count them by kecamatan,
                        jenis_kelamin, pekerjaan and agama (cell-key noise)
    dukcapil.kematian   the public sees nothing of it
    dinkes.puskesmas    readable, on a source that is down (a closed port)

Values that must never reach a page are unmistakable (`Warga Rahasia 007`,
`catatan-007-tersembunyi`); a title and a row value carry HTML to be escaped.

Example:
    >>> portal = await start_portal(tmp)
    >>> await portal.client.get("/public/bpkad/ssh")
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from hub.http.app import Hub
from tests.support.catalogs import opd_file, sql_source, write_opd
from tests.support.databases import ScratchDatabase
from tests.support.proxy import closed_port
from tests.support.regency import http_client, load, start_hub, write_policies

SCRIPT = "<script>alert(1)</script>"
BOLD = "<b>Kertas</b> HVS A4"
ODD_PLACE = "A&B <Pulau>"
HIDDEN_TITLE = "Register Kematian Tersembunyi"
RULES = """p, public, bpkad.ssh.kode, read, allow
p, public, bpkad.ssh.uraian, read, allow
p, public, bpkad.ssh.satuan, read, allow
p, public, bpkad.ssh.harga, read, allow
p, public, bpkad.ssh.berlaku, read, allow
p, public, bpkad.ssh.aktif, read, allow
p, public, bpkad.ssh.kategori, aggregate, allow
p, public, dukcapil.penduduk.kecamatan, aggregate, allow
p, public, dukcapil.penduduk.jenis_kelamin, aggregate, allow
p, public, dukcapil.penduduk.pekerjaan, aggregate, allow
p, public, dukcapil.penduduk.agama, aggregate, allow
p, public, dinkes.puskesmas.kode, read, allow
p, public, dinkes.puskesmas.nama, read, allow
"""

meta = sa.MetaData()
SSH = sa.Table(
    "ssh",
    meta,
    sa.Column("kode", sa.String(10), primary_key=True),
    sa.Column("uraian", sa.String(100)),
    sa.Column("satuan", sa.String(20)),
    sa.Column("harga", sa.Integer),
    sa.Column("berlaku", sa.Date),
    sa.Column("aktif", sa.Boolean),
    sa.Column("kategori", sa.String(20)),
    sa.Column("penyusun", sa.String(50)),
    sa.Column("catatan", sa.String(50)),
)
PENDUDUK = sa.Table(
    "penduduk",
    meta,
    sa.Column("nik", sa.String(16), primary_key=True),
    sa.Column("nama", sa.String(50)),
    sa.Column("kecamatan", sa.String(20)),
    sa.Column("jenis_kelamin", sa.String(1)),
    sa.Column("pekerjaan", sa.String(20)),
    sa.Column("agama", sa.String(20)),
    sa.Column("tanggal_lahir", sa.Date),
)
KEMATIAN = sa.Table(
    "kematian", meta, sa.Column("nik", sa.String(16), primary_key=True), sa.Column("sebab", sa.String(50))
)


def ssh_rows() -> list[dict[str, Any]]:
    """70 lines, in no particular order; kategori Langka has 3 (below min_group_size 5)."""
    rnd = random.Random(20)
    kinds = ["ATK"] * 30 + ["Elektronik"] * 25 + ["Perabot"] * 12 + ["Langka"] * 3
    rows = [
        {
            "kode": f"SSH-{i:03d}",
            "uraian": BOLD if i == 3 else f"Barang nomor {i}",
            "satuan": None if i % 9 == 0 else rnd.choice(["rim", "buah", "unit"]),
            "harga": 1_000 * i + 500,
            "berlaku": dt.date(2026, 1, 1) + dt.timedelta(days=i),
            "aktif": None if i % 13 == 0 else i % 4 != 0,
            "kategori": kinds[i - 1],
            "penyusun": f"Penyusun Rahasia {i:03d}",
            "catatan": f"catatan-{i:03d}-tersembunyi",
        }
        for i in range(1, 71)
    ]
    rnd.shuffle(rows)
    return rows


def penduduk_rows() -> list[dict[str, Any]]:
    rnd = random.Random(57)
    return [
        {
            "nik": f"2101{rnd.randrange(10**12):012d}",
            "nama": f"Warga Rahasia {i:03d}",
            "kecamatan": rnd.choice(["Meral", "Karimun", "Tebing", ODD_PLACE]),
            "jenis_kelamin": rnd.choice("LP"),
            "pekerjaan": rnd.choice(["Petani", "Nelayan", "PNS", "Pedagang"]),
            "agama": rnd.choice(["Islam", "Kristen", "Buddha"]),
            "tanggal_lahir": dt.date(1950, 1, 1) + dt.timedelta(days=rnd.randrange(20_000)),
        }
        for i in range(57)
    ]


def field(type_: str, classification: str, description: str | None = None) -> dict[str, Any]:
    return {"type": type_, "classification": classification} | (
        {"description": description} if description else {}
    )


def about(title: str, description: str, **more: Any) -> dict[str, Any]:
    return {"title": title, "description": description, "source": "main", "license": "CC-BY-4.0", **more}


SSH_SPEC = about(
    f'Standar "Satuan" Harga {SCRIPT}',
    f"Harga satuan barang tahun 2026 {SCRIPT}",
    key="kode",
    modified="2026-11-30",
    keywords=["harga", "belanja"],
    disclosure={"method": "suppress"},
    fields={
        "kode": field("string", "public", "Kode barang"),
        "uraian": field("string", "public", "Nama barang"),
        "satuan": field("string", "public"),
        "harga": field("integer", "internal", "Harga dalam rupiah"),
        "berlaku": field("date", "public", "Berlaku sejak"),
        "aktif": field("boolean", "public", "Masih dibeli"),
        "kategori": field("string", "internal", "Golongan barang"),
        "penyusun": field("string", "confidential"),
        "catatan": field("string", "internal"),
    },
)
PENDUDUK_SPEC = about(
    "Jumlah Penduduk",
    "Penduduk per kecamatan, jenis kelamin, pekerjaan dan agama",
    key="nik",
    license="CC0-1.0",
    modified="2026-10-01",
    fields={
        "nik": field("string", "confidential"),
        "nama": field("string", "confidential"),
        "kecamatan": field("string", "public", "Kecamatan tempat tinggal"),
        "jenis_kelamin": field("string", "internal"),
        "pekerjaan": field("string", "internal"),
        "agama": field("string", "internal"),
        "tanggal_lahir": field("date", "confidential"),
    },
)
KEMATIAN_SPEC = about(HIDDEN_TITLE, "Sebab kematian per NIK", key="nik", fields={
    "nik": field("string", "confidential"), "sebab": field("string", "confidential"),
})  # fmt: skip
PUSKESMAS_SPEC = about("Puskesmas", "Pusat kesehatan masyarakat", key="kode", fields={
    "kode": field("string", "public"), "nama": field("string", "public"),
})  # fmt: skip


@dataclass
class Portal:
    hub: Hub
    client: httpx.AsyncClient  # a public caller: no key
    store_url: str
    ssh: list[dict[str, Any]]
    penduduk: list[dict[str, Any]]

    async def close(self) -> None:
        await self.client.aclose()
        await self.hub.close()


async def start_portal(tmp: Path) -> Portal:
    db = await ScratchDatabase("sqlite", tmp).create()
    ssh, penduduk = ssh_rows(), penduduk_rows()
    await load(db.url, SSH, ssh)
    await load(db.url, PENDUDUK, penduduk)
    await load(
        db.url,
        KEMATIAN,
        [{"nik": p["nik"], "sebab": f"Sebab-Rahasia-{i}"} for i, p in enumerate(penduduk[:9])],
    )
    down = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/nothing"
    schema = tmp / "schema"
    write_opd(schema, opd_file({"id": "bpkad", "name": "Badan Keuangan Daerah", "contact": "bpkad@example.id"},
                               {"main": sql_source(db.url)}, {"ssh": SSH_SPEC}))  # fmt: skip
    write_opd(schema, opd_file({"id": "dukcapil", "name": "Dinas Kependudukan"}, {"main": sql_source(db.url)},
                               {"penduduk": PENDUDUK_SPEC, "kematian": KEMATIAN_SPEC}))  # fmt: skip
    write_opd(schema, opd_file({"id": "dinkes", "name": "Dinas Kesehatan"}, {"main": sql_source(down, 2)},
                               {"puskesmas": PUSKESMAS_SPEC}))  # fmt: skip
    write_policies(tmp / "policies", RULES)
    store_url = f"sqlite+aiosqlite:///{tmp / 'hub.db'}"
    hub, keyed = await start_hub(tmp, database_url=store_url)
    await keyed.aclose()
    return Portal(hub, http_client(hub), store_url, ssh, penduduk)
