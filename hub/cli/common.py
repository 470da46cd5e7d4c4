"""What every `hub` command shares: options, settings, the store, the listening socket,
and loading with clear errors."""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.engine import make_url

from hub.catalog import Catalog, CatalogError, Problem, load_catalog
from hub.errors import PolicyError
from hub.policy.decisions import Policy
from hub.settings import Settings
from hub.sources import Sources, check_adapters

err = Console(stderr=True, soft_wrap=True)  # problems stay one line each, whatever the width
DEMO_DIR = Path("var/demo")  # the demo's files, relative to where `hub` runs, as var/hub.db is
DEMO_STORE = DEMO_DIR / "hub.db"

SchemaOpt = Annotated[Path | None, typer.Option("--schema", help="Catalog directory [env HUB_SCHEMA_DIR].")]
PoliciesOpt = Annotated[
    Path | None, typer.Option("--policies", help="Policy directory [env HUB_POLICIES_DIR].")
]
HostOpt = Annotated[str | None, typer.Option("--host", help="Address to listen on [env HUB_HOST].")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port to listen on [env HUB_PORT].")]


def settings_with(**overrides: Any) -> Settings:
    """The settings, or exit 2 naming each bad one (`HUB_PORT: Input should be …`)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as e:
        for problem in e.errors():
            name = "HUB_" + "_".join(str(part) for part in problem["loc"]).upper()
            err.print(f"{name}: {problem['msg'].removeprefix('Value error, ')}", markup=False)
        raise typer.Exit(2) from None


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite store URL; None for other stores and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def find_store(given: str | None) -> tuple[str, str | None]:
    """The store the admin commands use, given HUB_DATABASE_URL (None when it is not
    set), and why when it is not the one the settings name.

    HUB_DATABASE_URL when it is set. Otherwise the default store (var/hub.db), unless
    that does not exist and the demo's (var/demo/hub.db) does: `hub demo`, started in
    the same directory, serves that one, and a key made elsewhere would not work."""
    if given is not None:
        return given, None
    url: str = Settings.model_fields["database_url"].default
    default = sqlite_file(url)
    if default is None or default.exists() or not DEMO_STORE.is_file():
        return url, None
    why = f"HUB_DATABASE_URL is not set and {default} does not exist: using the demo's store {DEMO_STORE}"
    return f"sqlite+aiosqlite:///{DEMO_STORE.resolve()}", why


def open_store(*, create: bool) -> str:
    """The store for an admin command, migrated. A SQLite store that does not exist is
    created only by commands that write (`create`), and never silently; the others
    stop with exit 1 instead of reporting on a new, empty store."""
    from hub.store.db import migrate

    settings = settings_with()
    url, why = find_store(settings.database_url if "database_url" in settings.model_fields_set else None)
    if why:
        err.print(why, highlight=False)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        if not create:
            err.print(
                f"[red]no hub store at {path}[/]: set HUB_DATABASE_URL to the store your hub serves "
                "(`hub demo` keeps its own in var/demo/hub.db)",
                highlight=False,
            )
            raise typer.Exit(1)
        err.print(new_store_note(path), highlight=False)
    migrate(url)
    return url


def new_store_note(path: Path) -> str:
    return (
        f"creating a new, empty hub store at {path}: a hub serving another store will not "
        "know what is kept here (set HUB_DATABASE_URL to choose the store)"
    )


def listen(host: str, port: int, command: str, kind: type[socket.socket] = socket.socket) -> socket.socket:
    """Bind the socket the hub will serve on, before anything else is done or printed;
    exit 1 naming the address (and the option to change it) when it cannot be had.
    `kind` may be a socket class of its own (`hub serve --workers`: one per worker)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = kind(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        options = "--port" if command == "demo" else "--port or HUB_PORT"
        if e.errno == errno.EADDRINUSE:
            err.print(
                f"[red]port {port} on {host} is in use[/] (another hub or demo still running?): "
                f"choose another with {options}, e.g. --port {port + 1 if port < 65535 else 8000}",
                highlight=False,
            )
        else:
            hosts = "--host" if command == "demo" else "--host or HUB_HOST"
            err.print(
                f"[red]cannot listen on {host}:{port}[/]: {e.strerror or e}; choose another address "
                f"with {hosts} or port with {options}",
                highlight=False,
            )
        raise typer.Exit(1) from None
    return sock


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
    from hub.gql.reserved import check_graphql_names  # GraphQL is imported by the commands that need it

    try:
        catalog = load_catalog(settings.schema_dir)
    except CatalogError as e:
        report(e.problems)
        raise typer.Exit(1) from None
    problems = check_graphql_names(catalog) + check_adapters(catalog)
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
