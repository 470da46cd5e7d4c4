"""The audit log: one hash-chained record per request that released non-public data,
durable before the answer leaves; never the values.

`ledger` notes during a request what it released; `log` builds the entry, hands it to
the appender for the store and verifies or reads the chain; `chain` is the chain's
canonical form and hash; `sqlite` and `pg` append batches to a SQLite or PostgreSQL
store on their own connections.
"""
