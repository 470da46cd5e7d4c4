"""The `hub` command: demo, serve, check.

Settings come from `HUB_*` environment variables (see `hub.settings`); flags given
here override them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from hub.catalog import Catalog, json_schema
from hub.cli.admin import audit_app, clients_app, migrate_app, policy_app
from hub.cli.collector import collect_from_now_on, collector_paused
from hub.cli.common import (
    DEMO_DIR,
    HostOpt,
    PoliciesOpt,
    PortOpt,
    SchemaOpt,
    check_catalog,
    check_policy,
    err,
    find_store,
    listen,
    new_store_note,
    open_catalog,
    settings_with,
    sqlite_file,
)
from hub.cli.workers import PortShare
from hub.cli.workers import problems as workers_problems
from hub.cli.workers import serve as serve_workers
from hub.cli.workers import warnings as workers_warnings
from hub.demo import DEMO_POLICIES, DEMO_SCHEMA
from hub.logs import announce
from hub.logs import configure as configure_logging
from hub.policy.decisions import Policy
from hub.settings import Settings
from hub.sources import Sources

app = typer.Typer(help="OPD Hub: a regency's data-exchange hub.", no_args_is_help=True, add_completion=False)


@app.command()
def check(
    schema: SchemaOpt = None,
    policies: PoliciesOpt = None,
    sources: Annotated[
        bool, typer.Option("--sources", help="Also ask every source whether it answers.")
    ] = False,
) -> None:
    """Validate catalog and policy: print every problem and exit 1, or a summary and exit 0."""
    settings = settings_with(schema_dir=schema, policies_dir=policies)
    catalog = check_catalog(settings)
    policy = check_policy(settings, catalog)
    n_fields = sum(len(d.fields) for d in catalog.datasets.values())
    n_sources = sum(1 for _ in catalog.sources())
    print(
        f"catalog OK: {len(catalog.files)} OPDs, {n_sources} sources, "
        f"{len(catalog.datasets)} datasets, {n_fields} fields ({settings.schema_dir})"
    )
    print(f"policy OK: {len(policy.rules().p)} rules ({settings.policies_dir})")
    if sources and not asyncio.run(_check_sources(catalog)):
        raise typer.Exit(1)


async def _check_sources(catalog: Catalog) -> bool:
    live = Sources(catalog)
    try:
        states = await live.health()
    finally:
        await live.close()
    for source_id, state in states.items():
        print(f"source {source_id}: {state['state']}")
    return all(s["state"] == "ok" for s in states.values())


@app.command()
def serve(
    schema: SchemaOpt = None,
    policies: PoliciesOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Processes serving the port; more than 1 needs a PostgreSQL store and "
            "HUB_CURSOR_SECRET, HUB_AUDIT_KEY and HUB_DISCLOSURE_KEY set.",
        ),
    ] = 1,
) -> None:
    """Serve the catalog's GraphQL API."""
    with collector_paused():
        settings = settings_with(schema_dir=schema, policies_dir=policies, host=host, port=port)
        configure_logging(settings.log_level, settings.log_format)
        with _start_up_logged(settings):
            refused = workers_problems(settings, workers)
            for problem in refused:
                err.print(f"[red]--workers {workers}[/]: {problem}", highlight=False)
            if refused:
                raise typer.Exit(2)
            _check_tracing()
            for warning in workers_warnings(settings, workers):
                _tell(settings, f"[yellow]--workers {workers}[/]: {warning}", logging.WARNING)
            sock = listen(settings.host, settings.port, "serve", PortShare if workers > 1 else socket.socket)
            catalog, sources = open_catalog(settings)
            policy = check_policy(settings, catalog)
        store = sqlite_file(settings.database_url)
        if store is not None and not store.exists():
            _tell(settings, new_store_note(store), logging.WARNING)
        if workers > 1:
            asyncio.run(sources.close())  # each worker opens its own
            _tell(settings, f"OPD Hub on [bold]{_base(settings, sock)}/graphql[/] ({workers} workers)")
            serve_workers(settings, workers, sock)
            return
        _run(settings, catalog, policy, sources, sock)


@contextmanager
def _start_up_logged(settings: Settings) -> Iterator[None]:
    """With HUB_LOG_FORMAT=json, what start-up would print for a person (a refusal, a busy
    port, the catalog's or the policy's problems) becomes one log record, ERROR when
    `hub serve` stops on it: a log pipeline reading JSON lines gets why."""
    if settings.log_format == "text":
        yield
        return
    level = logging.WARNING
    try:
        with err.capture() as printed:
            try:
                yield
            except typer.Exit:
                level = logging.ERROR
                raise
    finally:
        text = Text.from_ansi(printed.get()).plain.strip()
        if text:
            announce(text, level)


def _check_tracing() -> None:
    """With OTEL_EXPORTER_OTLP_ENDPOINT set, the tracing extra must be installed."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return
    try:
        import hub.http.tracing  # noqa: F401
    except ImportError as e:
        err.print(
            f"[red]OTEL_EXPORTER_OTLP_ENDPOINT is set[/] but tracing is not installed ({e.name} is "
            "missing): `pip install 'opd-hub[tracing]'`, or unset it",
            highlight=False,
        )
        raise typer.Exit(2) from None


def _tell(settings: Settings, markup: str, level: int = logging.INFO) -> None:
    """A line of start-up, whatever the log level: printed as it is for a terminal
    (`HUB_LOG_FORMAT=text`), else a log record like every other line of the process."""
    if settings.log_format == "text":
        err.print(markup, highlight=False)
    else:
        announce(Text.from_markup(markup).plain, level)


def _run(settings: Settings, catalog: Catalog, policy: Policy, sources: Sources, sock: socket.socket) -> None:
    """Serve on `sock`, bound by `listen` before start-up began."""
    import uvicorn

    from hub.http.app import create_app

    configure_logging(settings.log_level, settings.log_format)
    _tell(settings, f"OPD Hub on [bold]{_base(settings, sock)}/graphql[/]")
    app = create_app(settings, loaded=(catalog, policy, sources), started=collect_from_now_on)
    # uvicorn installs no handler of its own (its records reach the hub's) and writes no
    # access log (its lines carry query strings); hub/access.py writes the hub's
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", log_config=None, access_log=False))
    with suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(3)  # start-up failed (uvicorn's own exit code for that); the log says why


def _base(settings: Settings, sock: socket.socket) -> str:
    """The URL to print: the port the socket has (`--port 0` asks for any free one)."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{sock.getsockname()[1]}"


@app.command()
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: Annotated[Path, typer.Option(help="Where the demo's files live.")] = DEMO_DIR,
    residents: Annotated[int, typer.Option(min=500, help="Residents to generate (first run only).")] = 50_000,
) -> None:
    """Generate the demo regency once (Kabupaten Karimun, synthetic), print keys and
    example requests, and serve it."""
    from hub.demo.generate import generate
    from hub.demo.serve import DEMO_SUBJECTS, curl, demo_audit_key, demo_keys, examples

    data_dir = data_dir.resolve()
    os.environ["HUB_DEMO_DIR"] = str(data_dir)
    os.environ.setdefault("HUB_LOG_FORMAT", "text")  # a person reads the demo's terminal
    os.environ.setdefault("HUB_DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'hub.db'}")
    settings = settings_with(schema_dir=DEMO_SCHEMA, policies_dir=DEMO_POLICIES, host=host, port=port)
    sock = listen(settings.host, settings.port, "demo")
    generate(data_dir, residents=residents)
    if not settings.audit_key:
        settings = settings.model_copy(update={"audit_key": demo_audit_key(data_dir)})
    catalog, sources = open_catalog(settings)
    policy = check_policy(settings, catalog)
    keys = demo_keys(data_dir, settings.database_url)
    base = _base(settings, sock)
    err.print(f"\n[bold]Demo regency ready[/] (data in {data_dir}).")
    err.print(
        f"Open data (pages, downloads, counts): {base}/public/\n"
        f"GraphiQL: {base}/graphql (send a key as `Authorization: Bearer …`); no key: {base}/public/graphql\n"
    )
    err.print("[bold]Demo keys[/] (paste into your shell):")
    for var, key in keys.items():
        err.print(f"export {var}={key}    # {DEMO_SUBJECTS[var][1]}", highlight=False, soft_wrap=True)
    err.print()
    for title, path, key_var, payload in examples(base, data_dir):
        err.print(f"[green]# {title}[/]", highlight=False, soft_wrap=True)
        err.print(curl(base, path, key_var, payload) + "\n", markup=False, highlight=False, soft_wrap=True)
    _print_admin(settings.database_url)
    _run(settings, catalog, policy, sources, sock)


def _print_admin(url: str) -> None:
    """How to reach this demo's store from another shell: the admin commands find it
    from this directory (`hub.cli.common.find_store`), else one `export` line points them."""
    from hub.demo.serve import hub_command

    hub = hub_command()
    err.print("[green]# More keys and the audit log, from another shell in this directory:[/]")
    here, found = sqlite_file(url), sqlite_file(find_store(None)[0])
    if here is None:  # the caller's own HUB_DATABASE_URL, not printed: it may hold a password
        err.print("# (with this demo's HUB_DATABASE_URL set there too)", markup=False, highlight=False)
    elif found is None or found.resolve() != here.resolve():
        err.print(f"export HUB_DATABASE_URL={shlex.quote(url)}", markup=False, highlight=False)
    err.print(f'{hub} clients create opd:dinkes --name "my script"', markup=False, highlight=False)
    err.print(f"{hub} audit tail -n 5\n", markup=False, highlight=False)


@app.command("catalog-schema")
def catalog_schema() -> None:
    """Print the JSON Schema of a catalog file (kept in schema/catalog.schema.json)."""
    sys.stdout.write(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")


app.add_typer(migrate_app)
app.add_typer(clients_app, name="clients")
app.add_typer(policy_app, name="policy")
app.add_typer(audit_app, name="audit")


def main() -> None:
    app()
