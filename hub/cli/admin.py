"""Administration commands: `hub migrate`, `hub clients …`, `hub policy …`, `hub audit …`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.log import Verdict, Volume, describe, read_anchors, records, verify
from hub.audit.log import volumes as audit_volumes
from hub.cli.common import PoliciesOpt, SchemaOpt, check_catalog, check_policy, err, open_store, settings_with
from hub.policy.decisions import ACTIONS
from hub.store import clients
from hub.store.db import AuditHead, AuditRecord, store_engine

migrate_app = typer.Typer()
clients_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
policy_app = typer.Typer(help="Inspect access decisions.", no_args_is_help=True)


@migrate_app.command("migrate")
def migrate_command() -> None:
    """Bring the hub store (HUB_DATABASE_URL) to the newest schema."""
    open_store(create=True)
    err.print("store migrated")


@clients_app.command("create")
def clients_create(
    subject: Annotated[str, typer.Argument(help="opd:<id> or user:<name>")],
    name: Annotated[str | None, typer.Option(help="A label for people reading `hub clients list`.")] = None,
    expires_days: Annotated[float | None, typer.Option(help="Days until the key stops working.")] = None,
    match_quota: Annotated[
        int | None,
        typer.Option(
            help="Records this client may have compared a day (match, key filters); default HUB_MATCH_QUOTA."
        ),
    ] = None,
) -> None:
    """Create an API key: the key alone on stdout (shown once), its id on stderr."""

    url = open_store(create=True)

    async def go() -> clients.Issued:
        engine = store_engine(url)
        try:
            return await clients.create(engine, subject, name, expires_days, match_quota)
        finally:
            await engine.dispose()

    try:
        issued = asyncio.run(go())
    except ValueError as e:
        err.print(f"[red]{e}[/]")
        raise typer.Exit(2) from None
    sys.stdout.write(issued.key + "\n")
    err.print(f"id: {issued.id}", highlight=False)


@clients_app.command("list")
def clients_list() -> None:
    """One client per line: id, subject, name, created, expires, match quota, state."""

    url = open_store(create=False)

    async def go() -> list[clients.Client]:
        engine = store_engine(url)
        try:
            return await clients.listing(engine)
        finally:
            await engine.dispose()

    now = clients.now()
    for c in asyncio.run(go()):
        expires = clients.aware(c.expires_at)
        state = "revoked" if c.revoked_at else ("expired" if expires and expires <= now else "active")
        when = expires.date().isoformat() if expires else "never"
        created = c.created_at.date().isoformat()
        quota = "default" if c.match_quota is None else f"{c.match_quota}/day"
        print(
            f"{c.id}\t{c.subject}\t{c.name or '-'}\tcreated {created}\texpires {when}\tmatch {quota}\t{state}"
        )


@clients_app.command("revoke")
def clients_revoke(client_id: Annotated[str, typer.Argument(help="The id from `hub clients list`.")]) -> None:
    """Revoke a key; it stops working at once."""

    url = open_store(create=False)

    async def go() -> bool:
        engine = store_engine(url)
        try:
            return await clients.revoke(engine, client_id)
        finally:
            await engine.dispose()

    if not asyncio.run(go()):
        err.print(f"[red]no active client {client_id!r}[/]")
        raise typer.Exit(1)
    err.print(f"revoked {client_id}")


@policy_app.command("explain")
def policy_explain(
    subject: str, obj: Annotated[str, typer.Argument(metavar="OBJECT")], action: str,
    schema: SchemaOpt = None, policies: PoliciesOpt = None,
) -> None:  # fmt: skip
    """The decision for SUBJECT OBJECT ACTION and the rule that made it: exit 0 ALLOW,
    1 DENY, 2 when there is no decision to give (bad catalog, policy or action)."""
    if action not in ACTIONS:
        err.print(f"[red]ACTION must be one of {', '.join(ACTIONS)}, not {action!r}[/]")
        raise typer.Exit(2)
    settings = settings_with(schema_dir=schema, policies_dir=policies)
    try:
        policy = check_policy(settings, check_catalog(settings))
    except typer.Exit:  # the problems are printed; 1 would read as DENY
        raise typer.Exit(2) from None
    casbin_says, rule = policy.explain(subject, obj, action)
    allowed = policy.allows(subject, obj, action)
    print(f"{'ALLOW' if allowed else 'DENY'} {subject} {obj} {action}")
    if rule:
        print(f"rule: p, {', '.join(rule)}")
    elif not casbin_says and allowed:
        # join: implied by match, which a rule names or read implies
        via = "match" if action == "join" and policy.explain(subject, obj, "match")[1] else "read"
        print(f"rule: {via} implies {action}: p, {', '.join(policy.explain(subject, obj, via)[1] or [])}")
    else:
        print("rule: none matched (no rule means deny)")
    sys.exit(0 if allowed else 1)


@policy_app.command("matrix")
def policy_matrix(
    subject: str,
    schema: SchemaOpt = None,
    policies: PoliciesOpt = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='One JSON object instead of the table, for programs: {"subject": S, "fields": '
            '{"opd.dataset.field": {"class": C, "read": true, ...}}}.',
        ),
    ] = False,
) -> None:
    """What SUBJECT may do with every dataset field."""
    settings = settings_with(schema_dir=schema, policies_dir=policies)
    catalog = check_catalog(settings)
    policy = check_policy(settings, catalog)
    rows = {}  # field -> (classification, allowed per action)
    for ds in catalog.datasets.values():
        for name, spec in ds.fields.items():
            obj = f"{ds.qualified}.{name}"
            rows[obj] = (spec.classification, [policy.allows(subject, obj, a) for a in ACTIONS])
    if as_json:
        fields = {o: {"class": c, **dict(zip(ACTIONS, marks, strict=True))} for o, (c, marks) in rows.items()}
        print(json.dumps({"subject": subject, "fields": fields}, indent=2))
        return
    table = Table("field", "class", *ACTIONS, title=f"What {subject} may do")
    for obj, (classification, marks) in rows.items():
        table.add_row(obj, classification, *("yes" if m else "-" for m in marks))
    from rich.console import Console

    Console(width=200).print(table)


audit_app = typer.Typer(help="The audit log: verify the hash chain, read it.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    anchors: Annotated[
        Path | None,
        typer.Option(
            help="A file of anchors from `hub audit head` (one `SEQ HASH` per line), kept outside the "
            "store: each anchored record must still have its hash, which a log rewritten with "
            "recomputed hashes cannot.",
        ),
    ] = None,
) -> None:
    """Recompute the hash chain: exit 0 if intact, 1 naming the first bad record, 2 if
    the anchors file cannot be read."""

    url = open_store(create=False)
    anchored: dict[int, str] = {}
    if anchors is not None:
        try:
            anchored = read_anchors(anchors.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            err.print(f"anchors {anchors}: {e}", markup=False, highlight=False)
            raise typer.Exit(2) from None

    async def go() -> Verdict:
        engine = store_engine(url)
        try:
            return await verify(engine, anchored)
        finally:
            await engine.dispose()

    verdict = asyncio.run(go())
    if verdict.ok:
        print(f"audit log intact: {verdict.checked} records")
        if anchored:
            print(f"anchors held: {len(anchored)}")
        return
    print(f"audit log BROKEN at record {verdict.first_bad}: {verdict.reason}")
    raise typer.Exit(1)


@audit_app.command("head")
def audit_head() -> None:
    """Print the latest record as an anchor, `SEQ HASH  # time`: append it to a file kept
    outside the store (another machine, a signed mail, paper) and pass that file to
    `hub audit verify --anchors`."""

    url = open_store(create=False)

    async def go() -> tuple[int, str, str]:
        engine = store_engine(url)
        try:
            async with engine.connect() as conn:
                head = (await conn.execute(sa.select(AuditHead.seq, AuditHead.hash))).one()
                last = sa.select(AuditRecord.at).where(AuditRecord.seq == head.seq)
                at = (await conn.execute(last)).scalar()
        finally:
            await engine.dispose()
        if at is None:
            return int(head.seq), str(head.hash), "empty log"
        utc = at if at.tzinfo else at.replace(tzinfo=dt.UTC)  # SQLite gives UTC without its zone
        return int(head.seq), str(head.hash), utc.isoformat(timespec="seconds")

    seq, digest, when = asyncio.run(go())
    print(f"{seq} {digest}  # {when}")


@audit_app.command("tail")
def audit_tail(
    lines: Annotated[int, typer.Option("-n", help="How many of the latest records.")] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new records.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between checks with --follow.")] = 1.0,
    volumes: Annotated[
        bool, typer.Option("--volumes", help="Per subject and day: requests, rows, records compared.")
    ] = False,
    days: Annotated[int, typer.Option(help="With --volumes: how many days back (default 7).", min=1)] = 7,
) -> None:
    """Print the latest records, one per line (never values: who, what, how many, why);
    with --volumes, each subject's daily volumes instead."""

    url = open_store(create=False)
    if volumes:
        print_volumes(url, days)
        return

    async def go() -> None:
        engine = store_engine(url)
        try:
            last = max(0, await _head(engine) - lines)
            while True:
                async for row in records(engine, after=last):
                    print(describe(row), flush=True)
                    last = row.seq
                if not follow:
                    return
                await asyncio.sleep(interval)
        finally:
            await engine.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())


def print_volumes(url: str, days: int) -> None:
    """One line per day and subject: requests, rows released, records compared, and the
    requests a guess budget limited (for the data owner's review)."""

    async def go() -> list[Volume]:
        engine = store_engine(url)
        try:
            since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
            return await audit_volumes(engine, since)
        finally:
            await engine.dispose()

    print("day\tsubject\trequests\trows\trecords\tlimited")
    for v in asyncio.run(go()):
        print(f"{v.day}\t{v.subject}\t{v.requests}\t{v.rows}\t{v.records}\t{v.limited}")


async def _head(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(AuditHead.seq).where(AuditHead.id == 1))).scalar_one())
