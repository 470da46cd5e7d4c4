"""The soak's mixed workload and what every answer is held to.

Five callers, each a subject of its own, send requests in a fixed mix through the load
balancer; every answer is recorded (`Seen`) and checked at once (`Rules.problems`):

    opd:dukcapil   reads 20 of its residents with confidential fields       audited
    opd:dinsos     20 recipients with their resident (across two sources)  audited
    user:verifier  matches 5 NIK + name pairs against Dukcapil             audited
    user:counter   counts recipients per program, with their total nominal  audited
    public         public fields of residents, and counts per kecamatan    not audited

An answer may carry only the documented error codes (hub/errors.py) but INTERNAL, no 5xx but
AUDIT_UNAVAILABLE while the store is down, and no value of a field its subject may not
read (from `hub policy matrix --json`): each hidden string of the sources (names,
addresses) and each hidden NIK is looked for in the whole body, less the caller's own
words (a verifier's NIKs).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from hub import errors
from tests.support.answers import strings_in

NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
SHORTEST_SECRET = 8  # shorter strings ("Meral", "L") are not distinctive enough to look for
CODES = frozenset(
    c.code for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.HubError) and c.code
)


@dataclass(frozen=True)
class Template:
    name: str
    subject: str
    path: str
    query: str
    root: tuple[str, str]  # (opd, field) of the answer's data
    audited: bool  # its answer releases non-public values whenever its root is not null
    weight: int


TEMPLATES = (
    Template(
        "read", "opd:dukcapil", "/graphql",
        "query($k: String) { dukcapil { penduduk(where: {kecamatan: {eq: $k}}, first: 20) "
        "{ nodes { nik nama tanggalLahir kecamatan alamat } } } }",
        ("dukcapil", "penduduk"), True, 4,
    ),
    Template(
        "join", "opd:dinsos", "/graphql",
        "query($p: String, $t: BigInt) { dinsos { penerima(where: {program: {eq: $p}, tahun: {eq: $t}}, "
        "first: 20) { nodes { id nik program nominal penduduk { nik nama statusHidup } } } } }",
        ("dinsos", "penerima"), True, 3,
    ),
    Template(
        "match", "user:verifier", "/graphql",
        "query($r: [DukcapilPendudukMatchInput!]!) "
        "{ dukcapil { pendudukMatch(records: $r) { index found nama } } }",
        ("dukcapil", "pendudukMatch"), True, 2,
    ),
    Template(
        "aggregate", "user:counter", "/graphql",
        "{ dinsos { penerimaAggregate(groupBy: [program]) { group { program } count sum { nominal } } } }",
        ("dinsos", "penerimaAggregate"), True, 1,
    ),
    Template(
        "public", "public", "/public/graphql",
        "query($k: String) { dukcapil { penduduk(where: {kecamatan: {eq: $k}}, first: 20) "
        "{ nodes { kecamatan kelurahan jenisKelamin } } } }",
        ("dukcapil", "penduduk"), False, 2,
    ),
    Template(
        "public_count", "public", "/public/graphql",
        "{ dukcapil { pendudukAggregate(groupBy: [kecamatan, jenisKelamin]) "
        "{ group { kecamatan jenisKelamin } count } } }",
        ("dukcapil", "pendudukAggregate"), False, 1,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Data:
    """What the variables are drawn from."""

    kecamatan: list[str]
    programs: list[tuple[str, int]]  # (program, year) pairs that have recipients
    people: list[tuple[str, str]]  # (nik, nama)

    def variables(self, t: Template, rnd: random.Random) -> dict[str, Any]:
        if t.name in ("read", "public"):
            return {"k": rnd.choice(self.kecamatan)}
        if t.name == "join":
            program, year = rnd.choice(self.programs)
            return {"p": program, "t": year}
        if t.name == "match":
            picked = rnd.sample(self.people, 5)
            return {
                "r": [
                    {"nik": nik, "nama": nama if rnd.random() < 0.8 else "Bukan Namanya"}
                    for nik, nama in picked
                ]
            }
        return {}


@dataclass
class Seen:
    """One request as its client saw it."""

    at: float  # seconds since the soak began
    phase: str
    template: str
    subject: str
    status: int  # 0: no HTTP answer (the connection broke)
    seconds: float
    request_id: str | None
    codes: tuple[str, ...]
    released: bool  # an audited template's answer with its root not null
    fuzz: bool = False
    broken: str = ""  # why there was no HTTP answer


@dataclass
class Rules:
    """What every answer is held to. `secrets[subject]`: values it may not see."""

    secrets: dict[str, frozenset[str]]
    hidden_niks: dict[str, bool]  # subject -> NIKs are hidden from it
    problems_found: list[str] = field(default_factory=list)

    def check(self, seen: Seen, body: Any, text: str, asked: str, store_down: bool) -> None:
        """Record what `seen`'s answer broke (`asked`: the caller's own words)."""
        where = f"{seen.phase} {seen.template} ({seen.subject}) request {seen.request_id}"
        if seen.status >= 500 and not (store_down and seen.codes == ("AUDIT_UNAVAILABLE",)):
            self.problems_found.append(f"{where}: HTTP {seen.status} {text[:200]}")
        for code in seen.codes:
            if code not in CODES:
                self.problems_found.append(f"{where}: undocumented error code {code}")
            if code == "INTERNAL":  # documented, and always the hub's own fault
                self.problems_found.append(f"{where}: INTERNAL, asked {asked[:8000]}")
        if body is None and seen.status:
            self.problems_found.append(f"{where}: HTTP {seen.status} without a JSON body: {text[:200]}")
        leaked = {v for v in self.leaked(seen.subject, body, text) if v not in asked}  # not its own words
        leaked.discard(seen.request_id or "")  # a request id of 16 digits looks like a NIK
        if leaked:  # synthetic values: shown, so that the answer can be found again
            shown = ", ".join(sorted(leaked)[:3])
            self.problems_found.append(f"{where}: {len(leaked)} values {seen.subject} may not read: {shown}")

    def leaked(self, subject: str, body: Any, text: str) -> set[str]:
        """Hidden strings among the answer's JSON values, and NIKs anywhere in its text."""
        secrets = self.secrets.get(subject, frozenset())
        found = {s for s in strings_in(body) if s in secrets}
        if self.hidden_niks.get(subject):
            found |= set(NIK.findall(text))
        return found


def codes_of(body: Any) -> tuple[str, ...]:
    if not isinstance(body, dict):
        return ()
    return tuple(sorted({str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []}))


def released(t: Template, status: int, body: Any) -> bool:
    if not t.audited or status != 200 or not isinstance(body, dict):
        return False
    data = body.get("data") or {}
    return (data.get(t.root[0]) or {}).get(t.root[1]) is not None


def weighted(templates: Iterable[Template]) -> list[Template]:
    return [t for t in templates for _ in range(t.weight)]


@dataclass(frozen=True)
class Reply:
    """An answer as its client read it; status 0 when none came (`broken` says why)."""

    status: int
    text: str
    request_id: str | None
    body: Any  # parsed JSON, None if not JSON
    seconds: float
    broken: str = ""


def reply(t0: float, r: httpx.Response | None, error: Exception | None = None) -> Reply:
    seconds = time.monotonic() - t0
    if r is None:
        return Reply(0, "", None, None, seconds, f"{type(error).__name__}: {error}"[:200])
    try:
        body = json.loads(r.text) if r.text else None
    except json.JSONDecodeError:
        body = None
    return Reply(r.status_code, r.text, r.headers.get("x-request-id"), body, seconds)


def post(http: httpx.Client, url: str, asked: str, key: str | None) -> tuple[float, Reply]:
    """Send `asked` (a JSON body) as `key`'s caller: when it left, and its reply."""
    t0 = time.monotonic()
    try:
        return t0, reply(t0, http.post(url, content=asked.encode(), headers=headers_for(key)))
    except httpx.HTTPError as e:
        return t0, reply(t0, None, e)


def headers_for(key: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    return headers


async def send(
    http: httpx.AsyncClient,
    t: Template,
    key: str | None,
    variables: dict[str, Any],
    started: float,
    phase: str,
) -> tuple[Seen, Reply, str]:
    """Send one request of `t`: what was seen, the reply, and the request's text."""
    asked = json.dumps({"query": t.query, "variables": variables}, ensure_ascii=False)
    t0 = time.monotonic()
    try:
        got = reply(t0, await http.post(t.path, content=asked.encode(), headers=headers_for(key)))
    except httpx.HTTPError as e:
        got = reply(t0, None, e)
    seen = Seen(
        t0 - started, phase, t.name, t.subject, got.status, got.seconds, got.request_id, codes_of(got.body),
        released(t, got.status, got.body), broken=got.broken,
    )  # fmt: skip
    return seen, got, asked
