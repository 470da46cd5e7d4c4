"""Reads under the policy, through HTTP against a real hub on SQLite (docs/design.md §5):
what a subject may not read never reaches it, in data, errors or cursors. Random reads
by subjects with random rights are held to the oracle of their policy; then the
particular rules: a read that uses no field is an exact count and needs `read` on some
field, `eq` and
`in` are all a match-only field allows, a sort needs read, and the fast path keeps no
decision from one subject or one filter to the next."""

from __future__ import annotations

import base64
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from hub.gql.scalars import decimal_text
from tests.support.answers import numbers_in, strings_in
from tests.support.authz import (
    ALL_FIELDS,
    DINSOS,
    DUKCAPIL,
    PENDUDUK,
    PENERIMA,
    PEOPLE,
    PROPERTY_SUBJECTS,
    RECIPIENTS,
    Town,
    forbidden,
)

# --- values as the API writes them ---------------------------------------------------------------


def as_json(type_: str, v: Any) -> Any:
    if v is None:
        return None
    if type_ == "date":
        return v.isoformat()
    if type_ == "decimal":
        return decimal_text(v)
    return v


def as_input(type_: str, v: Any) -> Any:
    return str(v) if type_ == "decimal" else as_json(type_, v)


def text_values(fields: dict[str, tuple[str, str, str]], rows: list[dict[str, Any]], name: str) -> set[str]:
    """A field's stored values as they would appear in a response, if they are text."""
    _, key, type_ = fields[name]
    if type_ not in ("string", "date", "decimal"):
        return set()
    return {as_json(type_, r[key]) for r in rows if r[key] is not None}


def cursors_in(value: Any) -> Iterator[bytes]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("cursor", "endCursor") and isinstance(v, str):
                yield base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
            else:
                yield from cursors_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from cursors_in(v)


def assert_no_leak(town: Town, subject: str, raw: str, body: dict[str, Any], given: set[str]) -> None:
    """No stored value of a field `subject` may not read is anywhere in the response:
    not as a value, not inside an error message, not inside a cursor. Values the
    subject may read elsewhere (a recipient's NIK is a resident's NIK) or gave itself
    do not count."""
    unreadable: set[str] = set()
    readable: set[str] = set(given)
    numbers: set[tuple[type, float]] = set()  # (type, value): a count of 147 is not a height of 147.0
    for fields, rows, ds in ((PENDUDUK, PEOPLE, DUKCAPIL), (PENERIMA, RECIPIENTS, DINSOS)):
        for name, (field, key, _) in fields.items():
            may_read = town.may(subject, f"{ds}.{field}", "read")
            (readable if may_read else unreadable).update(text_values(fields, rows, name))
            if not may_read and field in ("tinggi", "nominal"):  # distinctive numbers
                numbers |= {(type(r[key]), r[key]) for r in rows}
    secret = unreadable - readable
    leaked = [s for s in strings_in(body) if s in secret]
    leaked += [v for v in secret if len(v) >= 8 and v in raw]
    leaked += [v for c in cursors_in(body.get("data")) for v in secret if len(v) >= 6 and v.encode() in c]
    leaked += [n for n in numbers_in(body.get("data")) if (type(n), n) in numbers]
    assert not leaked, f"{subject} got values it may not read: {leaked[:5]}"


# --- the property: random queries by random subjects ---------------------------------------------

OPS = {
    "string": ["eq", "neq", "in", "nin", "lt", "lte", "gt", "gte", "isNull", "like"],
    "date": ["eq", "neq", "in", "nin", "lt", "lte", "gt", "gte", "isNull"],
    "boolean": ["eq", "neq", "isNull"],
    "float": ["eq", "neq", "in", "nin", "lt", "gte", "isNull"],
    "decimal": ["eq", "neq", "in", "lt", "gt", "isNull"],
    "integer": ["eq", "neq", "in", "nin", "lte", "gt", "isNull"],
}
STORED = {
    name: sorted({p[key] for p in PEOPLE if p[key] is not None}, key=repr)
    for name, (_, key, _) in PENDUDUK.items()
}


COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "in": lambda v, x: v in x,
    "nin": lambda v, x: v not in x,
}


@dataclass(frozen=True)
class Cond:
    name: str  # graphql name of a penduduk field
    op: str
    value: Any  # python value (list for in/nin, pattern for like, bool for isNull)

    @property
    def field(self) -> str:
        return PENDUDUK[self.name][0]

    def action(self, negated: bool = False) -> str:
        """`match` suffices for eq/in; under `not` they ask what neq/nin ask: `read`."""
        return "match" if self.op in ("eq", "in") and not negated else "read"

    def as_where(self) -> dict[str, Any]:
        type_ = PENDUDUK[self.name][2]
        if self.op in ("in", "nin"):
            value: Any = [as_input(type_, v) for v in self.value]
        elif self.op in ("isNull", "like"):
            value = self.value
        else:
            value = as_input(type_, self.value)
        return {self.name: {self.op: value}}

    def holds(self, row: dict[str, Any]) -> bool:
        v = row[PENDUDUK[self.name][1]]
        if self.op == "isNull":
            return (v is None) is self.value
        if v is None:
            return self.op in ("neq", "nin")  # the hub's two-valued logic (see test_read_api)
        if self.op == "like":
            regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in self.value)
            return re.fullmatch(regex, v, re.IGNORECASE | re.DOTALL) is not None
        return bool(COMPARE[self.op](v, self.value))

    def given(self) -> set[str]:
        values = self.value if self.op in ("in", "nin") else [self.value]
        return {str(as_json(PENDUDUK[self.name][2], v)) for v in values if not isinstance(v, bool)}


@st.composite
def conds(draw: st.DrawFn) -> Cond:
    name = draw(st.sampled_from(list(PENDUDUK)))
    op = draw(st.sampled_from(OPS[PENDUDUK[name][2]]))
    stored = st.sampled_from(STORED[name])
    if op == "isNull":
        return Cond(name, op, draw(st.booleans()))
    if op in ("in", "nin"):
        return Cond(name, op, tuple(draw(st.lists(stored, min_size=1, max_size=3, unique=True))))
    if op == "like":
        v = draw(stored)
        i = draw(st.integers(0, len(v) - 1))
        part = v[i : draw(st.integers(i + 1, min(len(v), i + 4)))]
        return Cond(name, op, "%" + (part.upper() if draw(st.booleans()) else part) + "%")
    return Cond(name, op, draw(stored))


@dataclass(frozen=True)
class Read:
    subject: str
    fields: tuple[str, ...]
    rel: tuple[str, ...] | None
    via: str  # nodes | edges
    conds: tuple[Cond, ...]
    combine: str  # and | or | not
    order: tuple[tuple[str, bool], ...]
    first: int
    extras: frozenset[str]

    def where(self) -> dict[str, Any] | None:
        if not self.conds:
            return None
        parts = [c.as_where() for c in self.conds]
        return {"not": {"and": parts}} if self.combine == "not" else {self.combine: parts}

    def holds(self, row: dict[str, Any]) -> bool:
        results = [c.holds(row) for c in self.conds]
        if not results:
            return True
        return {"and": all, "or": any, "not": lambda r: not all(r)}[self.combine](results)

    def query(self) -> str:
        node = " ".join(self.fields)
        if self.rel is not None:
            node += f" penerimaBansos {{ {' '.join(self.rel)} }}"
        parts = [f"nodes {{ {node} }}" if self.via == "nodes" else f"edges {{ cursor node {{ {node} }} }}"]
        parts += ["edges { cursor }"] if "cursor" in self.extras and self.via == "nodes" else []
        parts += ["pageInfo { hasNextPage endCursor }"] if "pageInfo" in self.extras else []
        parts += ["totalCount"] if "totalCount" in self.extras else []
        return (
            "query($where: DukcapilPendudukWhere, $orderBy: [DukcapilPendudukOrderBy!], $first: Int, $after: String) {"
            " dukcapil { penduduk(where: $where, orderBy: $orderBy, first: $first, after: $after) {"
            f" {' '.join(parts)} }} }} }}"
        )

    def variables(self, after: str | None = None) -> dict[str, Any]:
        order = [{name: "DESC" if desc else "ASC"} for name, desc in self.order]
        return {"where": self.where(), "orderBy": order or None, "first": self.first, "after": after}


orders = st.tuples(st.sampled_from(list(PENDUDUK)), st.booleans())


@st.composite
def reads(draw: st.DrawFn) -> Read:
    fields = tuple(draw(st.lists(st.sampled_from(list(PENDUDUK)), unique=True, max_size=5)))
    rel = draw(st.none() | st.lists(st.sampled_from(list(PENERIMA)), unique=True, min_size=1, max_size=3))
    return Read(
        subject=draw(st.sampled_from(PROPERTY_SUBJECTS)),
        fields=fields if fields or rel is not None else ("anak",),
        rel=None if rel is None else tuple(rel),
        via=draw(st.sampled_from(["nodes", "nodes", "edges"])),
        conds=tuple(draw(st.lists(conds(), max_size=3))),
        combine=draw(st.sampled_from(["and", "and", "or", "not"])),
        order=tuple(draw(st.lists(orders, unique_by=lambda t: t[0], max_size=2))),
        first=draw(st.integers(1, 30)),
        extras=frozenset(draw(st.sets(st.sampled_from(["cursor", "pageInfo", "totalCount"])))),
    )


def anchored(q: Read, only: list[Cond]) -> bool:
    """hub/policy/access.py's rule, restated: comparisons of fields the caller may only
    match stand at the top level of the filter (`and`), beside `nik: {eq}` or `{in}`,
    each with one value (the key itself excepted)."""
    named = any(c.field == "nik" and c.op in ("eq", "in") for c in q.conds)
    one_value = all(c.field == "nik" or c.op == "eq" or len(c.value) == 1 for c in only)
    return q.combine == "and" and named and one_value


def expected_rows(q: Read) -> list[dict[str, Any]]:
    rows = sorted((p for p in PEOPLE if q.holds(p)), key=lambda p: p["nik"])
    for name, desc in reversed(q.order):  # stable sorts, last key first; NULLs as the largest value
        key = PENDUDUK[name][1]
        rows.sort(key=lambda p, k=key: (p[k] is None, 0 if p[k] is None else p[k]), reverse=desc)
    return rows


def grants_of(nik: str) -> list[dict[str, Any]]:
    return sorted((r for r in RECIPIENTS if r["nik"] == nik), key=lambda r: r["id"])


async def fetch(town: Town, q: Read, after: str | None = None) -> dict[str, Any]:
    """One page, checked for leaks."""
    r = await town.clients[q.subject].post(
        "/graphql", json={"query": q.query(), "variables": q.variables(after)}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert_no_leak(town, q.subject, r.text, body, {v for c in q.conds for v in c.given()})
    return body


@settings(max_examples=400, deadline=None, derandomize=True)
@given(q=reads())
async def test_random_reads_release_exactly_what_the_policy_allows(town: Town, q: Read) -> None:
    body = await fetch(town, q)

    def may(field: str, action: str, ds: str = DUKCAPIL) -> bool:
        return town.may(q.subject, f"{ds}.{field}", action)

    negated = q.combine == "not"
    filter_ok = all(may(c.field, c.action(negated)) for c in q.conds)
    sort_ok = all(may(PENDUDUK[name][0], "read") for name, _ in q.order)
    if not (filter_ok and sort_ok):
        # a filter or sort is a question about the value: the whole dataset field is refused
        event("refused: filter or sort")
        assert body["data"] == {"dukcapil": {"penduduk": None}}, body
        assert forbidden(body) == [["dukcapil", "penduduk"]]
        return
    only = [c for c in q.conds if c.action(negated) == "match" and not may(c.field, "read")]
    if only and not anchored(q, only):
        # comparing a field the caller may not read is a verification of named rows
        event("refused: a comparison not anchored by the key")
        assert body["data"] == {"dukcapil": {"penduduk": None}}, body
        assert forbidden(body) == [["dukcapil", "penduduk"]]
        return

    at = ["dukcapil", "penduduk", *(["nodes"] if q.via == "nodes" else ["edges", "node"])]
    nodes_of = (
        (lambda page: page["nodes"])
        if q.via == "nodes"
        else (lambda page: [e["node"] for e in page["edges"]])
    )
    joins = may("nik", "match") and may("nik", "match", DINSOS)
    uses = (
        q.conds
        or q.order
        or (q.rel is not None and joins)
        or any(may(PENDUDUK[f][0], "read") for f in q.fields)
    )
    if not uses and not any(may(field, "read") for field, _, _ in PENDUDUK.values()):
        # Everything selected is forbidden and nothing else is used: what is left is a bare
        # count, which the caller may not have (test_selecting_a_forbidden_field_...).
        # Here only: nothing selected is released, whatever the shape of the refusal.
        event("refused or nulled: a bare count")
        page = body["data"]["dukcapil"]["penduduk"]
        assert page is None or all(v is None for n in nodes_of(page) for v in n.values()), body
        return

    denied = [[*at, f] for f in q.fields if not may(PENDUDUK[f][0], "read")]
    # a list of recipients showing nothing readable is an exact count of them: refused whole
    counted = not any(may(field, "read", DINSOS) for field, _, _ in PENERIMA.values())
    if q.rel is not None and (not joins or counted):
        joins = False
        denied.append([*at, "penerimaBansos"])
    elif q.rel is not None:
        denied += [[*at, "penerimaBansos", f] for f in q.rel if not may(PENERIMA[f][0], "read", DINSOS)]

    def grant(g: dict[str, Any]) -> dict[str, Any]:
        assert q.rel is not None
        return {f: g[PENERIMA[f][1]] if may(PENERIMA[f][0], "read", DINSOS) else None for f in q.rel}

    def expected_nodes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for p in rows:
            node: dict[str, Any] = {}
            for f in q.fields:
                _, key, type_ = PENDUDUK[f]
                node[f] = as_json(type_, p[key]) if may(PENDUDUK[f][0], "read") else None
            if q.rel is not None:
                node["penerimaBansos"] = [grant(g) for g in grants_of(p["nik"])] if joins else None
            out.append(node)
        return out

    matching = expected_rows(q)
    event(f"answered, {'some' if denied else 'no'} field forbidden")
    assert sorted(forbidden(body)) == sorted(denied), body.get("errors")
    page = body["data"]["dukcapil"]["penduduk"]
    assert nodes_of(page) == expected_nodes(matching[: q.first])
    if "totalCount" in q.extras:
        assert page["totalCount"] == len(matching)
    if "cursor" in q.extras and q.via == "nodes":
        assert len(page["edges"]) == len(matching[: q.first])
    if "pageInfo" in q.extras:
        assert page["pageInfo"]["hasNextPage"] == (len(matching) > q.first)
        assert (page["pageInfo"]["endCursor"] is None) == (not matching)
        if page["pageInfo"]["hasNextPage"]:  # the opaque cursor works even when its values are secret
            event("second page")
            body = await fetch(town, q, after=page["pageInfo"]["endCursor"])
            assert sorted(forbidden(body)) == sorted(denied), body.get("errors")
            assert nodes_of(body["data"]["dukcapil"]["penduduk"]) == expected_nodes(
                matching[q.first : 2 * q.first]
            )


def test_the_random_policies_give_every_kind_of_subject(town: Town) -> None:
    """The property above meets readers, matchers, the forbidden and mixed subjects."""
    kinds = Counter[str]()
    for s in PROPERTY_SUBJECTS:
        for field in ALL_FIELDS:
            read, match = town.may(s, field, "read"), town.may(s, field, "match")
            kinds["read" if read else "match only" if match else "nothing"] += 1
    assert min(kinds.values()) >= 40, kinds
    joined = [
        s for s in PROPERTY_SUBJECTS if all(town.may(s, f"{ds}.nik", "match") for ds in (DUKCAPIL, DINSOS))
    ]
    assert 3 <= len(joined) <= len(PROPERTY_SUBJECTS) - 3, joined


def may_count(town: Town, subject: str) -> bool:
    """May count the residents exactly: may read some field of every row."""
    return any(town.may(subject, f"{DUKCAPIL}.{f}", "read") for f, _, _ in PENDUDUK.values())


@pytest.mark.parametrize("subject", ["opd:dinsos", "user:matcher", "user:counter"])
@pytest.mark.parametrize(
    "selection",
    ["totalCount", "pageInfo { hasNextPage } nodes { __typename }", "edges { cursor }"],
)
async def test_a_read_that_uses_no_field_is_a_count(town: Town, subject: str, selection: str) -> None:
    """`totalCount`, or counting the rows of a page, is an exact count of the rows: it
    needs `read` on some field (listing that field would count them too). Who may only
    aggregate gets the perturbed count of the Aggregate field, never this side door
    (hub.policy.access.restrict)."""
    assert not may_count(town, subject)
    body = await town.post(subject, "{ dukcapil { pendudukAggregate { count perturbed } } }")
    if subject == "user:counter":
        assert body["data"]["dukcapil"]["pendudukAggregate"][0]["perturbed"] is True
    else:
        assert forbidden(body) == [["dukcapil", "pendudukAggregate"]]  # the aggregate API refuses
    body = await town.post(subject, f"{{ dukcapil {{ penduduk(first: 1000) {{ {selection} }} }} }}")
    assert body["data"] == {"dukcapil": {"penduduk": None}}, body
    assert forbidden(body) == [["dukcapil", "penduduk"]]
    assert "Aggregate" in body["errors"][0]["message"]
    body = await town.post("user:reader", f"{{ dukcapil {{ penduduk(first: 1000) {{ {selection} }} }} }}")
    assert "errors" not in body, body  # read on some field: the count is allowed


async def test_a_list_of_related_rows_showing_nothing_readable_is_refused(town: Town) -> None:
    """user:linker may join residents to recipients but read nothing of the recipients:
    the list of null recipients per resident would be their exact number."""
    query = "{ dukcapil { penduduk(first: 50) { nodes { nama penerimaBansos { program } } } } }"
    body = await town.post("user:linker", query)
    nodes = body["data"]["dukcapil"]["penduduk"]["nodes"]
    assert nodes and all(n["penerimaBansos"] is None and n["nama"] for n in nodes)
    assert {tuple(p[3:]) for p in forbidden(body)} == {("penerimaBansos",)}
    assert "you may not read dukcapil.penduduk.penerima_bansos" in body["errors"][0]["message"]
    body = await town.post("user:reader", query.replace("nama ", "kecamatan "))  # no join: refused as before
    assert {tuple(p[3:]) for p in forbidden(body)} == {("penerimaBansos",)}


@pytest.mark.parametrize("subject", ["opd:dinsos", "user:matcher", "user:counter"])
async def test_selecting_a_forbidden_field_does_not_unlock_the_count(town: Town, subject: str) -> None:
    assert not may_count(town, subject)
    assert not town.may(subject, f"{DUKCAPIL}.nama", "read")
    body = await town.post(subject, "{ dukcapil { penduduk(first: 1000) { totalCount nodes { nama } } } }")
    assert body["data"] == {"dukcapil": {"penduduk": None}}, body["data"]  # today: totalCount 400
    assert forbidden(body)


# --- filters on a match-only field ---------------------------------------------------------------

COUNT = "query($where: DukcapilPendudukWhere) { dukcapil { penduduk(where: $where) { totalCount } } }"


NIK5, NIK6, NAMA5 = PEOPLE[5]["nik"], PEOPLE[6]["nik"], PEOPLE[5]["nama"]


def named(name: str) -> int:
    return sum(p["nama"] == name for p in PEOPLE)


@pytest.mark.parametrize(
    ("where", "count"),
    [
        ({"nik": {"eq": NIK5}}, 1),
        ({"nik": {"in": [NIK5, NIK6, "0000"]}}, 2),
        ({"nik": {"eq": NIK5}, "nama": {"eq": NAMA5}}, 1),
        (
            {"and": [{"nik": {"in": [NIK5, NIK6]}}, {"nama": {"in": [NAMA5]}}]},
            1 + (PEOPLE[6]["nama"] == NAMA5),
        ),
        ({"nik": {"eq": NIK5}, "nama": {"eq": NAMA5 + "?"}}, 0),
        # a verification names its rows by the key, at the top level, one value each
        ({"nama": {"eq": NAMA5}}, None),
        ({"nik": {"eq": NIK5}, "nama": {"in": [NAMA5, "Zulkifli"]}}, None),
        ({"or": [{"nik": {"eq": NIK5}}, {"nama": {"in": ["Zulkifli"]}}]}, None),
        ({"nik": {"eq": NIK5}, "or": [{"nama": {"eq": NAMA5}}]}, None),
        # other operators ask for the value itself
        ({"nik": {"neq": NIK5}}, None),
        ({"nik": {"nin": [NIK5]}}, None),
        ({"nik": {"lt": NIK5}}, None),
        ({"nik": {"gte": NIK5}}, None),
        ({"nama": {"like": "%an%"}}, None),
        ({"nama": {"isNull": False}}, None),
        ({"and": [{"nik": {"eq": NIK5}}, {"nama": {"like": "S%"}}]}, None),
        ({"kecamatan": {"eq": "Meral"}}, None),  # no permission at all
    ],
)
async def test_a_match_only_field_is_compared_by_eq_or_in_on_rows_named_by_the_key(
    town: Town, where: dict[str, Any], count: int | None
) -> None:
    body = await town.post("user:matcher", COUNT, {"where": where})
    if count is not None:
        assert "errors" not in body, body
        assert body["data"]["dukcapil"]["penduduk"]["totalCount"] == count
    else:
        assert body["data"] == {"dukcapil": {"penduduk": None}}
        assert forbidden(body) == [["dukcapil", "penduduk"]]


async def test_sorting_by_a_field_one_may_not_read_is_forbidden(town: Town) -> None:
    query = "{ dukcapil { penduduk(orderBy: [{nik: DESC}], first: 2) { totalCount } } }"
    body = await town.post("user:matcher", query)
    assert body["data"] == {"dukcapil": {"penduduk": None}}
    assert forbidden(body) == [["dukcapil", "penduduk"]]


async def test_one_document_asked_in_turn_by_subjects_with_different_rights(town: Town) -> None:
    """The fast path keeps what a document's selection yields from request to request
    (hub/gql/step_cache.py): every subject must still get exactly its own answer, as
    graphql-core's executor (which keeps nothing) gives it."""
    query = """query($k: String) { dukcapil { penduduk(where: {kecamatan: {eq: $k}}, first: 3) {
        totalCount nodes { nik nama kecamatan statusHidup anak } } } }"""
    service = town.regency.hub.graphql
    subjects = ["user:reader", "user:counter", "user:matcher", *PROPERTY_SUBJECTS[:3]]
    expected = {}
    service.fast = False
    try:
        for subject in subjects:
            expected[subject] = await town.post(subject, query, {"k": "Meral"})
    finally:
        service.fast = True
    assert len({repr(strip_ids(b)) for b in expected.values()}) > 2  # the rights differ
    for _ in range(3):
        for subject in subjects:
            body = await town.post(subject, query, {"k": "Meral"})
            assert strip_ids(body) == strip_ids(expected[subject]), subject


async def test_a_kept_policy_outcome_follows_the_filter_and_order_given_in_variables(town: Town) -> None:
    """The fast path keeps the policy's outcome per plan structure (hub/gql/schema.py's
    `decide_read`). One document whose filter and order come in variables asks
    different things of the policy: `eq` on a name beside the key needs match, `eq` on a
    name alone is a search, `neq` needs read, and an order needs read. Each request must
    get its own decision, in any order."""
    query = """query($w: DukcapilPendudukWhere, $o: [DukcapilPendudukOrderBy!]) {
        dukcapil { penduduk(where: $w, orderBy: $o, first: 2) { nodes { kecamatan } } } }"""
    person = PEOPLE[0]
    eq = {"w": {"nik": {"eq": person["nik"]}, "nama": {"eq": person["nama"]}}}
    search = {"w": {"nama": {"eq": person["nama"]}}}
    neq = {"w": {"nama": {"neq": person["nama"]}}}
    by_kecamatan, by_nama = {"o": [{"kecamatan": "ASC"}]}, {"o": [{"nama": "ASC"}]}
    for _ in range(2):
        body = await town.post("user:checker", query, eq)
        assert not forbidden(body)
        assert body["data"]["dukcapil"]["penduduk"]["nodes"] == [{"kecamatan": person["kecamatan"]}]
        assert forbidden(await town.post("user:checker", query, search)) == [["dukcapil", "penduduk"]]
        assert forbidden(await town.post("user:checker", query, neq)) == [["dukcapil", "penduduk"]]
        assert not forbidden(await town.post("user:checker", query, by_kecamatan))
        assert forbidden(await town.post("user:checker", query, by_nama)) == [["dukcapil", "penduduk"]]


def strip_ids(body: dict[str, Any]) -> dict[str, Any]:
    for error in body.get("errors", []):
        error.get("extensions", {}).pop("requestId", None)
    return body
