"""The hub's own store: its tables and migrations (`db`), the API clients and their
keys (`clients`), and the per-request key check by the cheapest route (`keycheck`).
A SQLite file by default, PostgreSQL when several hub processes share one store. The
audit log's tables live here too; writing them is hub/audit/'s business.
"""
