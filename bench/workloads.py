"""The five read workloads: their GraphQL, their request bodies and how to read
an answer so that the hub's, the floor's and PostGraphile's can be compared.

The hub and the floor receive the very same bodies (the floor recognises the query
text); PostGraphile gets its own query for W1 and W2 (its schema has other names)
and takes no part in W3 to W5.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NODE_FIELDS = "nik nama jenisKelamin tanggalLahir kecamatan kelurahan pekerjaan"
READ = (
    "query($k: String, $n: Int) { dukcapil { penduduk(where: {kecamatan: {eq: $k}}, first: $n) "
    f"{{ nodes {{ {NODE_FIELDS} }} }} }} }}"
)
RECIPIENTS = (
    "query($p: String, $t: BigInt, $n: Int) { dinsos { penerima(where: {program: {eq: $p}, tahun: {eq: $t}}, "
    "first: $n) { nodes { id nik program nominal tahun penduduk { nik nama kecamatan } } } } }"
)
MATCH = (
    "query($r: [DukcapilPendudukMatchInput!]!) "
    "{ dukcapil { pendudukMatch(records: $r) { index found nama } } }"
)
COUNT = "{ dukcapil { pendudukAggregate(groupBy: [kecamatan]) { group { kecamatan } count } } }"
# PostGraphile 4's names for the same table (checked against its introspection at the start).
POSTGRAPHILE_READ = (
    "query($k: String, $n: Int) { allPenduduks(condition: {kecamatan: $k}, first: $n, orderBy: NIK_ASC) "
    f"{{ nodes {{ {NODE_FIELDS} }} }} }}"
)

RECIPIENT_PAGE = 100
MATCH_RECORDS = 1000
MATCH_SETS = 8
MATCH_SEED = 20_240_603


@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    bodies: dict[str, list[str]]  # target -> request bodies, sent in rotation
    answer: Callable[[str, Any], Any]  # (target, parsed JSON) -> what must agree across targets
    describe: Callable[[Any], str]  # one line on a normalised answer (for the check's output)


def _body(query: str, variables: dict[str, Any] | None = None) -> str:
    return json.dumps({"query": query, "variables": variables or {}}, separators=(",", ":"))


def _read_nodes(target: str, answer: Any) -> Any:
    if target == "postgraphile":
        return answer["data"]["allPenduduks"]["nodes"]
    return answer["data"]["dukcapil"]["penduduk"]["nodes"]


def read_workload(name: str, rows: int, kecamatan: list[str], postgraphile: bool) -> Workload:
    ours = [_body(READ, {"k": k, "n": rows}) for k in kecamatan]
    bodies = {"hub": ours, "floor": ours}
    if postgraphile:
        bodies["postgraphile"] = [_body(POSTGRAPHILE_READ, {"k": k, "n": rows}) for k in kecamatan]
    return Workload(
        name, f"{rows:,} rows x 7, by kecamatan", bodies, _read_nodes, lambda nodes: f"{len(nodes)} rows"
    )


def _recipient_nodes(_target: str, answer: Any) -> Any:
    return answer["data"]["dinsos"]["penerima"]["nodes"]


def _describe_recipients(nodes: Any) -> str:
    unknown = sum(1 for n in nodes if n["penduduk"] is None)
    return f"{len(nodes)} recipients, {unknown} without a resident"


def recipients_workload(pairs: list[tuple[str, int]]) -> Workload:
    bodies = [_body(RECIPIENTS, {"p": p, "t": t, "n": RECIPIENT_PAGE}) for p, t in pairs]
    return Workload(
        "W3",
        f"{RECIPIENT_PAGE} recipients + resident (2 databases)",
        {"hub": bodies, "floor": bodies},
        _recipient_nodes,
        _describe_recipients,
    )


def match_sets(people: list[tuple[str, str]]) -> list[list[dict[str, str]]]:
    """`MATCH_SETS` batches of `MATCH_RECORDS` records from the residents' (nik, nama),
    fixed seed: 70% known NIKs (half with the exact name, a fifth with the name
    upper-cased and padded, which matches after normalisation, some with another
    resident's name, some with no name) and 30% NIKs no resident has."""
    rnd = random.Random(MATCH_SEED)
    names = sorted({nama for _, nama in people})
    out = []
    for _ in range(MATCH_SETS):
        records: list[dict[str, str]] = []
        for nik, nama in rnd.sample(people, MATCH_RECORDS * 7 // 10):
            x = rnd.random()
            if x < 0.5:
                records.append({"nik": nik, "nama": nama})
            elif x < 0.7:
                records.append({"nik": nik, "nama": f"  {nama.upper().replace(' ', '   ')} "})
            elif x < 0.85:
                records.append({"nik": nik, "nama": rnd.choice(names)})
            else:
                records.append({"nik": nik})
        while len(records) < MATCH_RECORDS:
            records.append({"nik": f"2199{rnd.randrange(10**12):012d}", "nama": rnd.choice(names)})
        rnd.shuffle(records)
        out.append(records)
    return out


def _matches(_target: str, answer: Any) -> Any:
    return answer["data"]["dukcapil"]["pendudukMatch"]


def _describe_matches(matches: Any) -> str:
    found = sum(1 for m in matches if m["found"])
    agree = sum(1 for m in matches if m["nama"])
    return f"{len(matches)} records, {found} found, {agree} with the name agreeing"


def match_workload(people: list[tuple[str, str]]) -> Workload:
    bodies = [_body(MATCH, {"r": records}) for records in match_sets(people)]
    return Workload(
        "W4",
        f"match {MATCH_RECORDS:,} records",
        {"hub": bodies, "floor": bodies},
        _matches,
        _describe_matches,
    )


def _groups(_target: str, answer: Any) -> Any:
    groups = answer["data"]["dukcapil"]["pendudukAggregate"]
    return sorted((g["group"]["kecamatan"], g["count"]) for g in groups)


def count_workload() -> Workload:
    bodies = [_body(COUNT)]
    return Workload(
        "W5",
        "count by kecamatan",
        {"hub": bodies, "floor": bodies},
        _groups,
        lambda groups: f"{len(groups)} groups, {sum(c for _, c in groups):,} rows",
    )
