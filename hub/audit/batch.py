"""A batch of audit entries waiting for one commit, and how its waiters are answered.
Every appender (hub/audit/sqlite.py, pg.py, sa.py) commits in batches and settles
them here."""

from __future__ import annotations

import asyncio
import logging

from hub.audit.chain import Entry
from hub.errors import AuditWriteFailed

log = logging.getLogger("hub.audit")

Batch = list[tuple[Entry, "asyncio.Future[int]"]]
Outcome = list[int] | Exception  # the batch's sequence numbers, or why it failed


def settle(batch: Batch, outcome: Outcome) -> None:
    """Answer a batch's waiters: each its sequence number, or all AuditWriteFailed (logged
    once, by the exception's type only: its message might quote a value)."""
    if isinstance(outcome, Exception):
        why = type(outcome).__name__
        log.error("audit store unavailable (%s); %d request(s) refused", why, len(batch))
    for i, (_, done) in enumerate(batch):
        if done.done():
            continue
        if isinstance(outcome, Exception):
            done.set_exception(AuditWriteFailed(type(outcome).__name__))
        else:
            done.set_result(outcome[i])
