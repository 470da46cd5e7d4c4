"""Settings from `HUB_*` environment variables; CLI flags override them.

Every setting is documented here and in README.md (a test checks that).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.filter_size import FilterLimits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", frozen=True, extra="ignore")

    schema_dir: Path = Field(Path("schema"), description="Directory of catalog YAML files.")
    policies_dir: Path = Field(Path("policies"), description="Directory of model.conf and policy.csv.")
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on.")
    default_first: int = Field(100, ge=1, description="Page size when `first` is not given.")
    max_first: int = Field(1000, ge=1, description="Largest `first` a caller may ask for.")
    download_page_rows: int = Field(
        5000,
        ge=1,
        description="Rows a download asks its source for at a time (at most the source's max_rows).",
    )
    max_groups: int = Field(
        10_000,
        ge=1,
        description="Most groups one request's aggregates may answer together (QUERY_TOO_COMPLEX past it).",
    )
    max_depth: int = Field(15, ge=2, description="Deepest field nesting a query may have.")
    max_aliases: int = Field(100, ge=1, description="Most aliased fields in one query.")
    max_fields: int = Field(
        500,
        ge=10,
        description="Most field selections in one query, fragments expanded; checked before "
        "validation, whose cost grows with the square of the fields of one selection set.",
    )
    max_tokens: int = Field(5000, ge=100, description="Most lexical tokens in one query.")
    max_filter_terms: int = Field(
        200,
        ge=1,
        description="Most comparisons, `and`, `or` and `not` in one `where` (QUERY_TOO_COMPLEX above).",
    )
    max_in_values: int = Field(
        1000, ge=1, description="Most values in all `in`/`nin` lists of one `where`, together."
    )
    max_like_terms: int = Field(
        10, ge=0, description="Most `like` comparisons in one request, all its `where` arguments together."
    )
    source_calls_per_request: int = Field(
        4, ge=1, description="Most calls one request runs on one source at a time; the rest wait their turn."
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Largest request body (HTTP 413 above).")
    cursor_secret: str = Field(
        "",
        description="Key that signs pagination cursors; set it when several hub processes "
        "serve one API, else each process draws a random one at start.",
    )
    database_url: str = Field(
        "sqlite+aiosqlite:///var/hub.db",
        description="The hub's own store (API clients, audit log); PostgreSQL when processes share it.",
    )
    audit_key: str = Field(
        "",
        description="Key of the audit log's query hashes (variables carry NIKs, so the hash is keyed); "
        "set it to recompute hashes later, else each process draws a random one.",
    )
    disclosure_key: str = Field(
        "",
        description="Secret of the record keys that perturb aggregates (cell-key method); unset, the hub "
        "draws one at its first start and keeps it in its store, for every later start and process.",
    )
    match_records_per_request: int = Field(
        1000, ge=1, description="Most records one request may compare: match records and rows named by "
        "key-anchored filters, over every field and alias together (BAD_USER_INPUT above).",
    )  # fmt: skip
    match_quota: int = Field(
        100_000, ge=0, description="Records one subject may have compared a day (UTC), unless its client "
        "has a quota of its own (`hub clients create --match-quota`); HTTP 429 above.",
    )  # fmt: skip
    redis_url: str = Field(
        "",
        description="Redis for the match guess budgets, quotas and rate-limit counts "
        "(`redis://host:port/db`), shared by every process on it; unset: the hub store (and memory).",
    )
    rate_limit_public: str = Field(
        "600/minute",
        description="Requests one client address may make to the public routes (pages, downloads, "
        "DCAT, CKAN API, /public/graphql, /graphql without a key), e.g. `10/second;600/minute`; "
        "empty: no limit. HTTP 429 above.",
    )
    rate_limit_key: str = Field(
        "6000/minute",
        description="Requests one API key may make to /graphql; empty: no limit. HTTP 429 above.",
    )
    public_url: str = Field(
        "",
        description="Address the public reaches the hub at (`https://data.example.go.id`), for the "
        "links of the open-data pages, DCAT and the CKAN API; unset: each request's own origin.",
    )
    portal_title: str = Field(
        "Data Terbuka", description="Title of the open-data pages and of the DCAT catalog (/catalog.jsonld)."
    )
    portal_publisher: str = Field(
        "Pemerintah Daerah",
        description="Who publishes the catalog as a whole (DCAT's dct:publisher): `Pemerintah Kabupaten …`.",
    )
    log_level: str = Field(
        "INFO", description="Python logging level; above INFO (WARNING) switches the access records off."
    )
    drain_seconds: float = Field(
        0,
        ge=0,
        le=600,
        description="On SIGTERM, seconds /readyz answers 503 while every request is still served, "
        "before the graceful shutdown: time for a load balancer's health check to take the process "
        "out (deploy/ sets 5). 0: shut down at once.",
    )
    log_format: Literal["json", "text"] = Field(
        "json",
        description="json: every log record one JSON object per line (access records included); "
        "text: `time LEVEL logger: message key=value …` for a terminal.",
    )

    @field_validator("rate_limit_public", "rate_limit_key")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse_many

        if value.strip():
            try:
                items = parse_many(value)
            except ValueError:
                items = []
            if not items or any(item.amount < 1 for item in items):  # 0/minute would refuse everything
                raise ValueError(
                    f"{value!r} is not a rate limit: write `<count>/<second|minute|hour|day>` with a "
                    "count of at least 1, several joined by `;` (`10/second;600/minute`), or leave it "
                    "empty for none"
                )
        return value

    def filter_limits(self) -> FilterLimits:
        return FilterLimits(self.max_filter_terms, self.max_in_values, self.max_like_terms)
