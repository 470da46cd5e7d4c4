"""Fuzzing a hub with the queries hypothesis-graphql derives from each endpoint's own schema.

The demo regency (hub/demo, SQLite) is served on a loopback port with the project's
policy plus two subjects of its own, so that four callers meet it:

    public    /public/graphql, no key
    owner     opd:dukcapil: everything of its own register, open data of the others
    matcher   user:verifier: may only match Dukcapil's NIK, name and birth date
    counter   user:counter: may only count welfare recipients and residents

Each caller's endpoint is introspected with its own key and hypothesis-graphql generates
queries from that schema: valid ones (`Mode.POSITIVE`) and ones with a single schema
violation (`Mode.NEGATIVE`), with custom scalars drawn from both sides of their parsers.
Every answer is held to the hub's promises (`Target.problems`):

- no 5xx, and a JSON body with `data` or `errors`;
- every error carries a code, never `INTERNAL`, and never a source failure: the demo's
  sources are healthy, so `SOURCE_UNAVAILABLE`/`SOURCE_TIMEOUT` would be the hub's doing;
- no value the caller may not read (policies/policy.csv, decided by the plain-Python
  oracle) appears anywhere in the body;
- every source's circuit breaker is still closed afterwards.

`tests/test_fuzz.py` runs a short, derandomized profile; `bench/fuzz.py` a long one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as with_seed
from hypothesis import strategies as st
from hypothesis_graphql import Mode, queries

from hub.breaker import State
from hub.catalog import Catalog, load_catalog
from hub.http.app import Hub
from hub.settings import Settings
from hub.store import clients
from tests.support.answers import strings_in
from tests.support.policy_oracle import Oracle, RuleSet

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schema"
POLICIES_DIR = ROOT / "policies"

SUBJECTS: dict[str, str] = {
    "public": "public",
    "owner": "opd:dukcapil",
    "matcher": "user:verifier",
    "counter": "user:counter",
}
EXTRA_RULES = """
# tests/support/fuzz.py: a match-only and an aggregate-only subject
p, user:verifier, dukcapil.penduduk.nik, match, allow
p, user:verifier, dukcapil.penduduk.nama, match, allow
p, user:verifier, dukcapil.penduduk.tanggal_lahir, match, allow
p, user:counter, dinsos.penerima_bansos.program, aggregate, allow
p, user:counter, dinsos.penerima_bansos.tahun, aggregate, allow
p, user:counter, dukcapil.penduduk.kecamatan, aggregate, allow
p, user:counter, dukcapil.penduduk.jenis_kelamin, aggregate, allow
"""
# the codes a healthy hub may answer a keyed or public caller with (hub/errors.py): a
# refusal of the question, never a failure of the hub, its store or a source (the demo's
# SQLite files are healthy) and never a refused key; MATCH_LIMIT when generated records
# guess more values for one key than the dataset's budget allows
CODES = frozenset({"BAD_USER_INPUT", "QUERY_TOO_COMPLEX", "FORBIDDEN", "PURPOSE_REQUIRED", "MATCH_LIMIT"})
SHORTEST_SECRET = 8  # shorter strings ("Meral", "L") are not distinctive enough to look for
NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")

# --- values for the custom scalars, from inside and outside what each parser accepts --------


def _string(values: st.SearchStrategy[str]) -> st.SearchStrategy[graphql.ValueNode]:
    return values.map(lambda v: graphql.StringValueNode(value=v))


def _mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` nine times in ten: a query carries many scalars, and one odd value refuses it
    all before the hub's deeper paths are reached."""
    return st.sampled_from(range(10)).flatmap(lambda i: odd if i == 9 else good)


_ODD_TEXT = st.text(max_size=30)
_OFFSETS = st.timedeltas(
    min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59)
)
_ZONES = st.none() | _OFFSETS.map(dt.timezone)
_INT = st.integers().map(lambda i: graphql.IntValueNode(value=str(i)))
SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "Date": _string(_mostly(st.dates().map(dt.date.isoformat), _ODD_TEXT)),
    "DateTime": _string(_mostly(st.datetimes(timezones=_ZONES).map(dt.datetime.isoformat), _ODD_TEXT)),
    "Decimal": _string(_mostly(st.decimals(places=4, allow_nan=False, allow_infinity=False).map(str),
                               st.decimals().map(str) | _ODD_TEXT)),
    "BigInt": _mostly(st.integers(-(2**63), 2**63 - 1).map(lambda i: graphql.IntValueNode(value=str(i))),
                      _INT | _string(st.integers().map(str) | _ODD_TEXT)),
}  # fmt: skip


class _Tame(graphql.Visitor):
    """Keeps a generated query on the paths past argument checks: no `after` (a random
    string is never a cursor the hub issued) and a `first` of at most 100."""

    def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
        if node.name.value == "after":
            return graphql.REMOVE
        if node.name.value == "first" and isinstance(node.value, graphql.IntValueNode):
            first = graphql.IntValueNode(value=str(int(node.value.value) % 101))
            return graphql.ArgumentNode(name=node.name, value=first)
        return None


def _tame(document: graphql.DocumentNode) -> str:
    return graphql.print_ast(graphql.visit(document, _Tame()))


def strategy(schema: graphql.GraphQLSchema) -> st.SearchStrategy[str]:
    """Valid queries, tamed (`_Tame`) and as generated, and queries with one schema violation."""
    tamed = queries(schema, custom_scalars=SCALARS, allow_null=False, print_ast=_tame)
    valid = queries(schema, custom_scalars=SCALARS)
    broken = queries(schema, custom_scalars=SCALARS, mode=Mode.NEGATIVE)
    return st.one_of(tamed, valid, broken)


# --- what a caller may not see ----------------------------------------------------------------


def _column_values(data_dir: Path, catalog: Catalog, qualified: str, name: str) -> set[str]:
    opd, dataset = qualified.split(".")
    spec = catalog.datasets[qualified].spec
    column = spec.fields[name].column or name
    con = sqlite3.connect(f"file:{data_dir / f'{opd}.db'}?mode=ro", uri=True)
    try:
        rows = con.execute(f'SELECT DISTINCT "{column}" FROM "{spec.table or dataset}"').fetchall()
    finally:
        con.close()
    return {str(v) for (v,) in rows if v is not None}


def secrets_of(data_dir: Path, catalog: Catalog, oracle: Oracle, subject: str) -> frozenset[str]:
    """Distinctive string values of fields `subject` may neither read nor group by, less any
    value it may see in another field (a NIK Dukcapil owns is also a confidential NIK in
    Dinsos's list)."""
    hidden: set[str] = set()
    shown: set[str] = set()
    for qualified, ds in catalog.datasets.items():
        for name, spec in ds.spec.fields.items():
            if spec.type != "string":
                continue
            values = _column_values(data_dir, catalog, qualified, name)
            field = f"{qualified}.{name}"
            # a field the caller may group by shows its values as group keys
            released = oracle.allows(subject, field, "read") or oracle.allows(subject, field, "aggregate")
            (shown if released else hidden).update(values)
    return frozenset(v for v in hidden - shown if len(v) >= SHORTEST_SECRET)


# --- the hub under fuzzing ----------------------------------------------------------------------


@dataclass
class Tally:
    """What the requests met: counts by HTTP status and by error code (`-`: an answer
    without errors)."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self, name: str) -> str:
        codes = ", ".join(f"{c} {n}" for c, n in sorted(self.codes.items()) if c != "-")
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{name}: {self.requests} requests in {self.seconds:.0f} s; HTTP {statuses}; "
            f"answers without errors: {self.codes['-']}; errors by code: {codes or 'none'}; "
            f"problems: {len(self.problems)}"
        )


@dataclass
class Caller:
    name: str
    subject: str
    path: str
    key: str | None
    secrets: frozenset[str]
    schema: graphql.GraphQLSchema | None = None


class Target:
    """A hub on the demo regency, with one `Caller` per subject. Send from one thread."""

    def __init__(self, hub: Hub, base_url: str, callers: dict[str, Caller]) -> None:
        self.hub = hub
        self.callers = callers
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.lock = threading.Lock()

    def post(self, caller: Caller, query: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {caller.key}"} if caller.key else {}
        return self.http.post(caller.path, json={"query": query}, headers=headers)

    def introspect(self) -> None:
        for caller in self.callers.values():
            r = self.post(caller, graphql.get_introspection_query())
            r.raise_for_status()
            caller.schema = graphql.build_client_schema(r.json()["data"])

    def send(self, caller: Caller, query: str, tally: Tally) -> list[str]:
        """Send `query` as `caller`; count the answer and return what it broke."""
        with self.lock:
            r = self.post(caller, query)
        tally.requests += 1
        tally.statuses[r.status_code] += 1
        problems = self.problems(caller, query, r, tally)
        tally.problems.extend(f"{caller.name}: {p}\n  query: {query}" for p in problems)
        return problems

    def problems(self, caller: Caller, query: str, r: httpx.Response, tally: Tally) -> list[str]:
        out = []
        if r.status_code >= 500:
            out.append(f"HTTP {r.status_code}: {r.text[:300]}")
        try:
            body = r.json()
        except json.JSONDecodeError:
            return [*out, f"HTTP {r.status_code} without a JSON body: {r.text[:300]}"]
        if not isinstance(body, dict) or not ({"data", "errors"} & body.keys()):
            out.append(f"neither data nor errors: {r.text[:300]}")
            body = {}
        errors = body.get("errors") or []
        if not errors:
            tally.codes["-"] += 1
        for e in errors:
            code = (e.get("extensions") or {}).get("code")
            tally.codes[str(code)] += 1
            if code not in CODES:
                out.append(f"error coded {code}: {e.get('message')}")
        leaked = {v for v in self.leaked(caller, body) if v not in query}  # not its own words
        if leaked:
            out.append(f"{len(leaked)} values {caller.subject} may not read: {sorted(leaked)[:3]}")
        opened = [s.id for s in self.hub.sources.by_id.values() if s.breaker.state is not State.CLOSED]
        if opened:
            out.append(f"breaker not closed on {opened}")
        return out

    @staticmethod
    def leaked(caller: Caller, body: dict[str, Any]) -> set[str]:
        found = {s for s in strings_in(body) if s in caller.secrets}
        text = json.dumps(body, ensure_ascii=False)
        found |= {n for n in NIK.findall(text) if n in caller.secrets}
        for e in body.get("errors") or []:
            message = str(e.get("message", ""))
            found |= {s for s in caller.secrets if s in message}
        return found

    def fuzz(
        self, caller: Caller, examples: int, tally: Tally, *, stop: bool, derandomize: bool,
        seed: int | None = None, progress: Callable[[Tally], None] | None = None,
    ) -> None:  # fmt: skip
        """Send `examples` generated queries as `caller`. With `stop`, the first problem fails
        (and Hypothesis shrinks the query); without it, problems are only counted."""
        assert caller.schema is not None, "introspect() first"
        started = time.monotonic()

        @settings(
            max_examples=examples, deadline=None, database=None, derandomize=derandomize,
            suppress_health_check=list(HealthCheck), print_blob=True,
        )  # fmt: skip
        @given(query=strategy(caller.schema))
        def one(query: str) -> None:
            problems = self.send(caller, query, tally)
            if progress is not None:
                progress(tally)
            assert not (stop and problems), "\n".join([*problems, f"query: {query}"])

        run = one if seed is None else with_seed(seed)(one)
        try:
            run()
        finally:
            tally.seconds += time.monotonic() - started

    def close(self) -> None:
        self.http.close()


async def start_demo_hub(data_dir: Path, work: Path, residents: int) -> tuple[Hub, dict[str, Caller]]:
    """Generate the demo regency into `data_dir` (HUB_DEMO_DIR must point there) and start a
    hub on it with the project's policy and EXTRA_RULES; one caller per SUBJECTS entry."""
    from hub.demo.generate import generate

    generate(data_dir, residents=residents, progress=False)
    policies = work / "policies"
    policies.mkdir(parents=True, exist_ok=True)
    rules = (POLICIES_DIR / "policy.csv").read_text() + EXTRA_RULES
    (policies / "model.conf").write_text((POLICIES_DIR / "model.conf").read_text())
    (policies / "policy.csv").write_text(rules)
    # no rate limits: the fuzzer is one client sending as fast as the hub answers (past
    # 600 requests a minute its public queries met only 429s); tests/test_rate_limits.py
    # holds the limits
    hub = await Hub.start(
        Settings(
            schema_dir=SCHEMA_DIR, policies_dir=policies,
            database_url=f"sqlite+aiosqlite:///{work / 'hub.db'}", rate_limit_public="", rate_limit_key="",
        )
    )  # fmt: skip
    catalog = load_catalog(SCHEMA_DIR)
    oracle = Oracle(RuleSet.parse(rules), catalog)
    callers = {}
    for name, subject in SUBJECTS.items():
        key = None if subject == "public" else (await clients.create(hub.store, subject)).key
        path = "/public/graphql" if key is None else "/graphql"
        callers[name] = Caller(name, subject, path, key, secrets_of(data_dir, catalog, oracle, subject))
    return hub, callers
