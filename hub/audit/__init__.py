"""The audit log: one hash-chained record per request that released non-public data,
durable before the answer leaves; never the values.

`ledger` notes during a request what it released; `log` builds the entry, hands it to
an `AuditSink` (`sink`) and verifies or reads the chain; `chain` is the chain's
canonical form and hash. The sinks append in batches (`batch`) on their own connections:
`sqlite` to a SQLite file, `pg` to PostgreSQL through asyncpg, `sa` to any other store
through SQLAlchemy.
"""
