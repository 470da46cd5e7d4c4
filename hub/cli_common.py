"""What every `hub` command shares: options, settings, and loading with clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hub.catalog import Catalog, CatalogError, Problem, load_catalog
from hub.policy import Policy, PolicyError
from hub.settings import Settings
from hub.sources import Sources, check_adapters

err = Console(stderr=True, soft_wrap=True)  # problems stay one line each, whatever the width
REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "var" / "demo"

SchemaOpt = Annotated[Path | None, typer.Option("--schema", help="Catalog directory [env HUB_SCHEMA_DIR].")]
PoliciesOpt = Annotated[
    Path | None, typer.Option("--policies", help="Policy directory [env HUB_POLICIES_DIR].")
]
HostOpt = Annotated[str | None, typer.Option("--host", help="Address to listen on [env HUB_HOST].")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port to listen on [env HUB_PORT].")]


def settings_with(**overrides: Any) -> Settings:
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)


def check_policy(settings: Settings, catalog: Catalog) -> Policy:
    try:
        return Policy(settings.policies_dir, catalog)
    except PolicyError as e:
        err.print(f"[bold red]The policy has {len(e.problems)} problem(s):[/]")
        for p in e.problems:
            err.print(f"  [cyan]{p.file}[/]:{p.line}: {p.message}", highlight=False)
        raise typer.Exit(1) from None


def check_catalog(settings: Settings) -> Catalog:
    """Load the catalog and check what it needs from this installation; exit 1 on problems."""
    catalog, sources = open_catalog(settings)
    asyncio.run(sources.close())
    return catalog


def open_catalog(settings: Settings) -> tuple[Catalog, Sources]:
    """Load the catalog and build its sources (each adapter checks its own configuration
    when it is built; none connects yet); exit 1 on problems. `hub serve` keeps the sources."""
    try:
        catalog = load_catalog(settings.schema_dir)
    except CatalogError as e:
        report(e.problems)
        raise typer.Exit(1) from None
    problems = check_adapters(catalog)
    if not problems:
        try:
            return catalog, Sources(catalog)
        except CatalogError as e:
            problems = e.problems
    report(problems)
    raise typer.Exit(1)


def report(problems: list[Problem]) -> None:
    err.print(f"[bold red]The catalog has {len(problems)} problem(s):[/]")
    for p in problems:
        err.print(f"  [cyan]{p.file}[/]: [yellow]{p.path or '(top)'}[/]: {p.message}", highlight=False)
