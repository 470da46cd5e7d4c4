"""The audit log on a SQLite store (hub/audit/sqlite.py) and the chain's canonical form
(hub/audit/chain.py), against real SQLite files.

The appender writes on the event loop and commits on a thread of its own; these tests
hold SQLite's write lock from another connection, break the store under it and close
it with entries in flight, and check each time that every answered entry is in a log
that verifies, and that a refused one is not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.audit import sqlite as audit_sqlite
from hub.audit.chain import GENESIS, Entry, canonical, chain_hash, fields_of
from hub.audit.log import AuditLog, _entry, records, verify
from hub.errors import AuditWriteFailed
from hub.store.db import migrate, store_engine
from tests.support.hubcli import hub_env, run_hub


def entry(n: int, datasets: tuple[str, ...] = ("dukcapil.penduduk",)) -> Entry:
    return Entry(
        at=dt.datetime(2026, 11, 28, 10, 0, n % 60, n, tzinfo=dt.UTC), request_id=f"req{n:05d}",
        subject="opd:dinsos", client_id="c1", operation="Check", query_hash=f"{n:064x}",
        purpose="verifikasi bansos", pairs=("dukcapil.penduduk.nama:read",), datasets=datasets,
        rows=n, records=0, outcome="ok",
    )  # fmt: skip


@asynccontextmanager
async def sqlite_log(tmp: Path) -> AsyncIterator[tuple[AuditLog, str]]:
    path = str(tmp / "hub.db")
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate, url)
    engine = store_engine(url)
    log = AuditLog(engine)
    try:
        yield log, path
    finally:
        await log.close()
        await engine.dispose()


def stored(path: str) -> list[tuple[int, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT seq, request_id FROM audit_log ORDER BY seq").fetchall()
    finally:
        conn.close()


async def test_concurrent_entries_get_consecutive_places_in_a_chain_that_verifies(tmp_path: Path) -> None:
    async with sqlite_log(tmp_path) as (log, path):
        seqs = await asyncio.gather(*(log.record(entry(n)) for n in range(300)))
        assert sorted(seqs) == list(range(1, 301))
        more = await asyncio.gather(*(log.record(entry(n, ("a.x", "b.y"))) for n in range(300, 310)))
        assert sorted(more) == list(range(301, 311))
        verdict = await verify(log.engine)
        assert verdict.ok and verdict.checked == 310, verdict
        assert sorted(r for _, r in stored(path)) == sorted(f"req{n:05d}" for n in range(310))


async def test_a_write_lock_held_elsewhere_delays_answers_without_blocking_the_loop(tmp_path: Path) -> None:
    async with sqlite_log(tmp_path) as (log, path):
        assert await log.record(entry(0)) == 1  # the appender has its connection now
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
            waiting = [asyncio.ensure_future(log.record(entry(n))) for n in range(1, 6)]
            started = time.monotonic()
            for _ in range(20):  # the loop keeps turning while the appender waits
                await asyncio.sleep(0.01)
            assert time.monotonic() - started < 2
            assert not any(w.done() for w in waiting)
            other.execute("COMMIT")
        finally:
            other.close()
        assert sorted(await asyncio.wait_for(asyncio.gather(*waiting), 10)) == [2, 3, 4, 5, 6]
        assert (await verify(log.engine)).ok


async def test_a_lock_held_too_long_refuses_the_entries_and_the_next_ones_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(audit_sqlite, "LOCK_WAIT_MS", 200)
    async with sqlite_log(tmp_path) as (log, path):
        assert await log.record(entry(0)) == 1
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(AuditWriteFailed):
                await asyncio.wait_for(log.record(entry(1)), 10)
            other.execute("COMMIT")
        finally:
            other.close()
        assert any("audit store unavailable" in r.getMessage() for r in caplog.records)
        assert await log.record(entry(2)) == 2  # the refused entry took no place
        assert [r for _, r in stored(path)] == ["req00000", "req00002"]
        assert (await verify(log.engine)).ok


async def test_a_broken_store_refuses_entries_until_it_is_repaired(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with sqlite_log(tmp_path) as (log, path):
        assert await log.record(entry(0)) == 1
        fixer = sqlite3.connect(path, isolation_level=None)
        try:
            fixer.execute("ALTER TABLE audit_head RENAME TO audit_head_away")
            with caplog.at_level(logging.ERROR, logger="hub.audit"):
                refused = await asyncio.gather(
                    *(log.record(entry(n)) for n in (1, 2)), return_exceptions=True
                )
            assert all(isinstance(r, AuditWriteFailed) for r in refused), refused
            assert any("audit store unavailable" in r.getMessage() for r in caplog.records)
            fixer.execute("ALTER TABLE audit_head_away RENAME TO audit_head")
        finally:
            fixer.close()
        assert await log.record(entry(3)) == 2
        assert [r for _, r in stored(path)] == ["req00000", "req00003"]
        assert (await verify(log.engine)).ok


async def test_closing_waits_for_entries_in_flight(tmp_path: Path) -> None:
    async with sqlite_log(tmp_path) as (log, path):
        waiting = [asyncio.ensure_future(log.record(entry(n))) for n in range(50)]
        await asyncio.sleep(0)  # handed over, not yet committed
        await log.close()
        assert sorted(w.result() for w in waiting) == list(range(1, 51))
        assert len(stored(path)) == 50


# --- the canonical form ---------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8"), max_size=20) | st.sampled_from(["", "\x7f", "é", '\x00\n\t"\\/'])


@settings(max_examples=400, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["request_id", "subject", "operation", "purpose", "pairs", "rows", "seq"]),
        text | st.none() | st.integers() | st.lists(text, max_size=4).map(tuple),
        max_size=7,
    )
)
def test_canonical_is_what_json_dumps_writes(fields: dict[str, object]) -> None:
    expected = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=list).encode()
    assert canonical(fields) == expected


def test_chain_hash_is_sha256_of_the_previous_hash_and_the_json_dumps_form() -> None:
    import hashlib

    e = entry(7)
    fields = fields_of(e) | {"seq": 9, "at": e.at.isoformat()}
    text_form = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=list)
    assert chain_hash("ab" * 32, 9, e) == hashlib.sha256(("ab" * 32 + text_form).encode()).hexdigest()


async def test_two_logs_on_one_file_append_in_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As two hub processes on one SQLite store: each takes the lock in turn (the one
    that finds it taken hands its batch to its thread, which waits), one chain."""
    whole = audit_sqlite.SqliteAppender._whole
    handed_over: list[int] = []

    def counted(self: audit_sqlite.SqliteAppender, entries: list[Entry]) -> list[int]:
        handed_over.append(len(entries))
        return whole(self, entries)

    monkeypatch.setattr(audit_sqlite.SqliteAppender, "_whole", counted)
    async with sqlite_log(tmp_path) as (first, path):
        second = AuditLog(store_engine(f"sqlite+aiosqlite:///{path}"))
        seqs: list[int] = []
        try:
            for start in (0, 100):  # the first round connects, the second finds the lock taken
                seqs += await asyncio.wait_for(
                    asyncio.gather(
                        *(log.record(entry(n)) for n in range(start, start + 100) for log in (first, second))
                    ),
                    60,
                )
        finally:
            await second.close()
            await second.engine.dispose()
        assert sorted(seqs) == list(range(1, 401))
        verdict = await verify(first.engine)
        assert verdict.ok and verdict.checked == 400, verdict
        assert len(handed_over) > 2  # not only each log's first batch (no connection yet): a lock found taken


async def test_under_load_a_batch_waits_for_the_commit_gap_and_collects_what_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_sqlite, "COMMIT_GAP", 0.3)
    stage = audit_sqlite._stage
    batches: list[int] = []

    def counted(conn: sqlite3.Connection, entries: list[Entry]) -> list[int]:
        batches.append(len(entries))
        return stage(conn, entries)

    monkeypatch.setattr(audit_sqlite, "_stage", counted)
    async with sqlite_log(tmp_path) as (log, _):
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await log.record(entry(0)) == 1  # connects on the thread (not staged on the loop)
        assert await log.record(entry(1)) == 2  # staged on the loop: the gap has not passed
        first = asyncio.ensure_future(log.record(entry(2)))
        await asyncio.sleep(0.1)  # still inside the gap: the next two join that batch
        rest = await asyncio.gather(first, log.record(entry(3)), log.record(entry(4)))
        assert (
            loop.time() - started >= 0.59
        )  # two gaps (less the loop's clock resolution): one before entry 1, one before entries 2-4
        assert sorted(rest) == [3, 4, 5]
        assert batches[-2:] == [1, 3]
        assert (await verify(log.engine)).ok


# --- anchors kept outside the store -------------------------------------------------------


async def rewrite_from(url: str, path: str, seq: int) -> None:
    """What someone with write access to the store could do: change record `seq` and
    recompute every hash from there, and the head, so that the chain verifies."""
    engine = store_engine(url)
    try:
        rows = [row async for row in records(engine)]
    finally:
        await engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        prev = rows[seq - 2].hash if seq > 1 else GENESIS
        for row in rows[seq - 1 :]:
            e = _entry(row)
            if row.seq == seq:
                e = replace(e, rows=e.rows + 1000)
            digest = chain_hash(prev, row.seq, e)
            conn.execute(
                "UPDATE audit_log SET rows = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (e.rows, prev, digest, row.seq),
            )
            prev = digest
        conn.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (prev,))
    finally:
        conn.close()


async def test_anchors_kept_outside_the_store_catch_a_log_rewritten_with_recomputed_hashes(
    tmp_path: Path,
) -> None:
    async with sqlite_log(tmp_path) as (log, path):
        url = log.engine.url.render_as_string(hide_password=False)
        env = hub_env(HUB_DATABASE_URL=url)
        anchors = tmp_path / "anchors.txt"
        empty = await run_hub("audit", "head", cwd=tmp_path, env=env)
        assert empty.stdout == f"0 {GENESIS}  # empty log\n", empty
        anchors.write_text(empty.stdout)  # an anchor taken before the first record holds nothing
        for start in (0, 10):  # an anchor after 10 records, another after 30
            await asyncio.gather(*(log.record(entry(n)) for n in range(start, 30 if start else 10)))
            head = await run_hub("audit", "head", cwd=tmp_path, env=env)
            assert head.code == 0, head
            with anchors.open("a") as f:
                f.write(head.stdout)
    lines = anchors.read_text().splitlines()[1:]
    assert [line.split()[0] for line in lines] == ["10", "30"] and all(" # 2026-11-28T" in x for x in lines)

    held = await run_hub("audit", "verify", "--anchors", str(anchors), cwd=tmp_path, env=env)
    assert (held.code, held.stdout.splitlines()) == (0, ["audit log intact: 30 records", "anchors held: 2"])

    await rewrite_from(url, path, 12)
    plain = await run_hub("audit", "verify", cwd=tmp_path, env=env)
    assert (plain.code, plain.stdout.strip()) == (
        0,
        "audit log intact: 30 records",
    )  # the chain alone cannot tell
    caught = await run_hub("audit", "verify", "--anchors", str(anchors), cwd=tmp_path, env=env)
    assert caught.code == 1, caught
    assert (
        "BROKEN at record 30: record 30 is not the record anchored" in caught.stdout
    )  # anchor 10 still holds

    conn = sqlite3.connect(path, isolation_level=None)  # and cut the log back to record 25
    try:
        last = conn.execute("SELECT hash FROM audit_log WHERE seq = 25").fetchone()[0]
        conn.execute("DELETE FROM audit_log WHERE seq > 25")
        conn.execute("DELETE FROM audit_access WHERE seq > 25")
        conn.execute("UPDATE audit_head SET seq = 25, hash = ? WHERE id = 1", (last,))
    finally:
        conn.close()
    assert (await run_hub("audit", "verify", cwd=tmp_path, env=env)).code == 0
    caught = await run_hub("audit", "verify", "--anchors", str(anchors), cwd=tmp_path, env=env)
    assert caught.code == 1, caught
    assert "BROKEN at record 30: record 30 is anchored but the log ends at record 25" in caught.stdout

    for bad in ("30 xyz\n", "-1 " + "a" * 64 + "\n", f"{lines[0]}\n10 {'b' * 64}\n", f"0 {'a' * 64}\n"):
        anchors.write_text(bad)
        refused = await run_hub("audit", "verify", "--anchors", str(anchors), cwd=tmp_path, env=env)
        assert refused.code == 2 and "line " in refused.stderr and not refused.stdout, refused
    missing = await run_hub("audit", "verify", "--anchors", str(tmp_path / "nowhere"), cwd=tmp_path, env=env)
    assert missing.code == 2 and "nowhere" in missing.stderr, missing
