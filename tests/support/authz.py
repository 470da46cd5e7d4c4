"""The authorization tests' town (tests/test_authorization_*.py): the test regency on
SQLite with a catalog and a policy of their own, the plain-Python oracle of that policy
(tests/support/policy_oracle.py) and a client per subject. tests/conftest.py starts one
per test module as the `town` fixture.

The policy gives twenty `user:s<i>` random rules (seeded, the same every run) for the
property tests, and four named subjects one right each: `user:matcher` may only match,
`user:counter` only count, `user:reader` read what the counter counts, `user:checker`
compare NIKs and names and read the kecamatan. The public may read the kecamatan and aggregate
what is public; nothing of Dinsos.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.catalogs import Spec, penduduk
from tests.support.policy_oracle import Oracle, RuleSet
from tests.support.regency import Regency, client_for, http_client, make_rows, start_regency, write_policies


async def start_variant(tmp: Path, rules: str, residents: Spec | None = None) -> Regency:
    """The test regency on SQLite, with `residents` as Dukcapil's dataset (`penduduk()`
    unless given) and `rules` as policy.csv. Its client holds a key for `user:tester`."""
    write_policies(tmp / "policies", rules)
    return await start_regency("sqlite", tmp, residents=residents)


PEOPLE, RECIPIENTS = make_rows()  # the rows start_variant loads (deterministic)

# graphql name -> (catalog field, row key, type)
PENDUDUK = {
    "nik": ("nik", "nik", "string"),
    "nama": ("nama", "nama", "string"),
    "kecamatan": ("kecamatan", "kecamatan", "string"),
    "tanggalLahir": ("tanggal_lahir", "tanggal_lahir", "date"),
    "statusHidup": ("status_hidup", "is_alive", "boolean"),
    "tinggi": ("tinggi", "tinggi", "float"),
    "saldo": ("saldo", "saldo", "decimal"),
    "anak": ("anak", "anak", "integer"),
}
PENERIMA = {
    "id": ("id", "id", "integer"),
    "nik": ("nik", "nik", "string"),
    "program": ("program", "program", "string"),
    "nominal": ("nominal", "nominal", "integer"),
    "tahun": ("tahun", "tahun", "integer"),
}
DUKCAPIL, DINSOS = "dukcapil.penduduk", "dinsos.penerima_bansos"
ALL_FIELDS = [f"{DUKCAPIL}.{c}" for c, _, _ in PENDUDUK.values()] + [
    f"{DINSOS}.{c}" for c, _, _ in PENERIMA.values()
]


# nama is compared after normalisation; status_hidup is public (it has small groups)
RESIDENTS = penduduk(
    fields={
        "nama": {"normalize": ["trim", "collapse_spaces", "casefold"]},
        "status_hidup": {"classification": "public"},
    }
)


# --- the policy: random subjects for the property test, and named ones ----------------------------

PROPERTY_SUBJECTS = [f"user:s{i}" for i in range(20)] + ["opd:dinsos", "opd:dukcapil"]
GRANTS = [["read"], ["match"], ["aggregate"], ["match", "aggregate"], []]


def property_rules() -> list[str]:
    """Each of user:s0..s19 gets its own random rules (seeded: the same every run)."""
    rnd = random.Random(1931)
    lines = [
        "p, user:s0, *, read, allow",
        f"p, user:s1, {DUKCAPIL}.nik, match, allow",
        f"p, user:s1, {DINSOS}.nik, match, allow",
        f"p, user:s1, {DINSOS}.program, read, allow",
    ]
    for i in range(2, 20):
        s = f"user:s{i}"
        for obj in ALL_FIELDS:
            (actions,) = rnd.choices(GRANTS, weights=[35, 20, 7, 6, 32])
            lines += [f"p, {s}, {obj}, {a}, allow" for a in actions]
        if i % 4 == 0:  # a wildcard with a hole in it
            hole = rnd.choice(list(PENDUDUK.values()))[0]
            lines += [f"p, {s}, {DUKCAPIL}.*, read, allow", f"p, {s}, {DUKCAPIL}.{hole}, read, deny"]
        if i % 5 == 0:  # a role, granting a classification and a prefix
            lines += [
                f"g, {s}, role:r{i}",
                f"p, role:r{i}, class:internal, read, allow",
                f"p, role:r{i}, {DINSOS}.*, match, allow",
            ]
    return lines


NAMED_RULES = f"""
# match without read
p, user:matcher, {DUKCAPIL}.nik, match, allow
p, user:matcher, {DUKCAPIL}.nama, match, allow
# count without read, and read
p, user:counter, {DUKCAPIL}.kecamatan, aggregate, allow
p, user:counter, {DUKCAPIL}.status_hidup, aggregate, allow
p, user:counter, {DUKCAPIL}.anak, aggregate, allow
p, user:reader, {DUKCAPIL}.kecamatan, read, allow
p, user:reader, {DUKCAPIL}.status_hidup, read, allow
p, user:reader, {DUKCAPIL}.anak, read, allow
# compare NIKs and names (match), read only the kecamatan
p, user:checker, {DUKCAPIL}.nik, match, allow
p, user:checker, {DUKCAPIL}.nama, match, allow
p, user:checker, {DUKCAPIL}.kecamatan, read, allow
# join residents to recipients, read residents' names, nothing of the recipients
p, user:linker, {DUKCAPIL}.nik, match, allow
p, user:linker, {DINSOS}.nik, match, allow
p, user:linker, {DUKCAPIL}.nama, read, allow
# the public: only public-classified fields; nothing of dinsos
p, public, class:public, aggregate, allow
p, public, {DUKCAPIL}.kecamatan, read, allow
p, public, {DINSOS}.*, *, deny
"""
POLICY = "\n".join(property_rules()) + "\n" + NAMED_RULES
NAMED = ["user:matcher", "user:counter", "user:reader", "user:checker", "user:linker"]


class Town:
    """The hub, the oracle of its policy, a client per subject and one without a key."""

    def __init__(
        self, regency: Regency, oracle: Oracle, clients: dict[str, httpx.AsyncClient], tmp: Path
    ) -> None:
        self.regency, self.oracle, self.clients, self.tmp = regency, oracle, clients, tmp
        self.public = http_client(regency.hub)

    def __repr__(self) -> str:
        return "Town()"

    def may(self, subject: str, obj: str, action: str) -> bool:
        return self.oracle.allows(subject, obj, action)

    async def post(self, subject: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.clients[subject].post("/graphql", json={"query": query, "variables": variables})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@asynccontextmanager
async def started_town(tmp: Path) -> AsyncIterator[Town]:
    """The town in `tmp`, until the block ends."""
    regency = await start_variant(tmp, POLICY, RESIDENTS)
    assert regency.people == PEOPLE
    oracle = Oracle(RuleSet.parse(POLICY), regency.hub.catalog)
    subjects = {s: await client_for(regency.hub, s) for s in PROPERTY_SUBJECTS + NAMED}
    town = Town(regency, oracle, subjects, tmp)
    try:
        yield town
    finally:
        for c in [*subjects.values(), town.public]:
            await c.aclose()
        await regency.close()


def forbidden(body: dict[str, Any]) -> list[list[Any]]:
    """The paths of the FORBIDDEN errors; fails on any other error."""
    errors = body.get("errors", [])
    assert all(e["extensions"]["code"] == "FORBIDDEN" for e in errors), errors
    return [e["path"] for e in errors]


def stored_groups() -> dict[tuple[Any, Any], list[dict[str, Any]]]:
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for p in PEOPLE:
        groups.setdefault((p["kecamatan"], p["is_alive"]), []).append(p)
    return groups
