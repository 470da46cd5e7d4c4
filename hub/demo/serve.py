"""`hub demo`: the demo regency's keys and example requests, printed before serving.

Demo keys are made once per data directory and kept in `keys.json` beside the data
(readable by the owner only) so that a restarted demo prints the same keys. Real
deployments never keep keys: `hub clients create` shows a key once. The key of the
audit log's query hashes is kept the same way, in `audit.key`.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

from hub.store import clients
from hub.store.db import migrate, store_engine
from hub.store.keycheck import KeyStore

DEMO_SUBJECTS = {
    "DINSOS_KEY": ("opd:dinsos", "Dinsos welfare system: verifies recipients against Dukcapil"),
    "DUKCAPIL_KEY": ("opd:dukcapil", "Dukcapil: owns the residents' register"),
    "ANALYST_KEY": ("user:rina", "Rina, analyst at BAPPEDA (role:analyst)"),
}


def demo_keys(data_dir: Path, database_url: str) -> dict[str, str]:
    """The demo's keys by variable name, created on first use."""
    path = data_dir / "keys.json"
    migrate(database_url)
    if path.exists():
        keys: dict[str, str] = json.loads(path.read_text())
        if asyncio.run(_all_valid(database_url, keys.values())):
            return keys

    async def make() -> dict[str, str]:
        engine = store_engine(database_url)
        try:
            return {
                var: (await clients.create(engine, subject, name=f"demo: {label}")).key
                for var, (subject, label) in DEMO_SUBJECTS.items()
            }
        finally:
            await engine.dispose()

    keys = asyncio.run(make())
    path.touch(mode=0o600)
    path.write_text(json.dumps(keys, indent=2))
    return keys


def demo_audit_key(data_dir: Path) -> str:
    """The demo's HUB_AUDIT_KEY, drawn on first use and kept in `audit.key` (owner only)."""
    path = data_dir / "audit.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        kept = path.read_text(encoding="ascii").strip()
        if kept:
            return kept
        path.unlink()  # an empty file left by an interrupted first start
        return demo_audit_key(data_dir)
    key = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key + "\n")
    return key


def hub_command() -> str:
    """How to run this `hub` from the current directory: `hub` when that is on PATH,
    else its path (`.venv/bin/hub` in a clone)."""
    exe = Path(sys.executable).parent / "hub"
    if not exe.is_file():
        return "hub"
    found = shutil.which("hub")
    if found and Path(found).resolve() == exe.resolve():
        return "hub"
    cwd = Path.cwd()
    return shlex.quote(str(exe.relative_to(cwd) if exe.is_relative_to(cwd) else exe))


async def _all_valid(database_url: str, keys: Any) -> bool:
    engine = store_engine(database_url)
    store = KeyStore(engine)
    try:
        return all([await clients.authenticate(store, k) is not None for k in keys])
    finally:
        await store.close()
        await engine.dispose()


def sample_recipients(data_dir: Path, n: int = 3) -> list[dict[str, Any]]:
    """A few Dinsos recipients (NIK and name as Dinsos holds them) for the match example."""
    with sqlite3.connect(data_dir / "dinsos.db") as conn:
        rows = conn.execute("SELECT nik, nama FROM penerima_bansos ORDER BY id LIMIT ?", (n,)).fetchall()
    return [{"nik": nik, "nama": nama, "statusHidup": True} for nik, nama in rows]


def examples(base: str, data_dir: Path) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(title, path, key variable or None for public, GraphQL payload)."""
    match_query = (
        "query($r: [DukcapilPendudukMatchInput!]!) { dukcapil { pendudukMatch(records: $r) "
        "{ index found nama statusHidup } } }"
    )
    return [
        ("Public: residents per kecamatan and sex (counts carry noise), no key", "/public/graphql", None,
         {"query": "{ dukcapil { pendudukAggregate(groupBy: [kecamatan, jenisKelamin]) "
                   "{ group { kecamatan jenisKelamin } count perturbed } } }"}),
        ("Dinsos verifies recipients against Dukcapil: alive and named as Dinsos has them?", "/graphql",
         "DINSOS_KEY", {"query": match_query, "variables": {"r": sample_recipients(data_dir)}}),
        ("Analyst: the biggest budget lines with their standard unit price (SSH)", "/graphql", "ANALYST_KEY",
         {"query": "{ bpkad { belanja(first: 5, orderBy: [{jumlah: DESC}]) { nodes { uraian volume "
                   "hargaSatuan ssh { uraian harga } } } } }"}),
        ("Dinsos asks which of its 2026 PKH recipients Dukcapil does not know or lists as dead; "
         "it reads none of Dukcapil's register", "/graphql", "DINSOS_KEY",
         {"query": '{ dinsos { penerimaBansos(where: {program: {eq: "PKH"}, tahun: {eq: 2026}, '
                   "or: [{penduduk: {exists: false}}, {penduduk: {statusHidup: {eq: false}}}]}) "
                   "{ totalCount nodes { id nik nama kecamatan } } } }"}),
        ("Analyst: recipients per programme and whether Dukcapil lists them alive (null: a NIK "
         "Dukcapil does not know); counts carry noise, the analyst sees no one", "/graphql", "ANALYST_KEY",
         {"query": "{ dinsos { penerimaBansosAggregate(groupBy: [program], groupByRelated: "
                   "{penduduk: [statusHidup]}) { group { program penduduk { statusHidup } } "
                   "count perturbed } } }"}),
        ("Analyst: budget lines priced above their standard unit price (SSH), in one query",
         "/graphql", "ANALYST_KEY",
         {"query": '{ bpkad { belanja(where: {hargaSatuan: {gtField: "ssh.harga"}}, first: 5, '
                   "orderBy: [{jumlah: DESC}]) { totalCount nodes { uraian hargaSatuan "
                   "ssh { harga } } } } }"}),
        ("Dukcapil reads its own register: residents of Meral born since 2000", "/graphql", "DUKCAPIL_KEY",
         {"query": '{ dukcapil { penduduk(where: {kecamatan: {eq: "Meral"}, '
                   'tanggalLahir: {gte: "2000-01-01"}}, orderBy: [{tanggalLahir: DESC}], first: 5) '
                   "{ totalCount nodes { nik nama tanggalLahir } "
                   "pageInfo { hasNextPage endCursor } } } }"}),
    ]  # fmt: skip


def curl(base: str, path: str, key_var: str | None, payload: dict[str, Any]) -> str:
    auth = f'-H "Authorization: Bearer ${key_var}" ' if key_var else ""
    body = json.dumps(payload).replace("'", "'\\''")
    return f"curl -s {base}{path} {auth}-H 'Content-Type: application/json' -d '{body}'"
